/**
 * Opens the directory backend the configuration names: SQLite (embedded, the default) or
 * LDAP. The settings type is structural so that `store/` does not depend on `config/`; the
 * `directory` section of the validated configuration satisfies it.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DirectoryError, type Directory } from './directory.ts';
import { SqliteDirectory } from './sqlite-directory.ts';

/** The `directory` configuration section, as `openDirectory` needs it. */
export interface DirectorySettings {
  readonly backend: 'sqlite' | 'ldap';
  /** Realms an HA1 is kept for. */
  readonly realms: readonly string[];
  readonly sqlite: { readonly file: string | null };
  readonly ldap: {
    readonly url: string | null;
    readonly bindDn: string | null;
    readonly bindPassword: string | null;
    readonly bindPasswordFile: string | null;
    readonly usersDn: string | null;
    readonly groupsDn: string | null;
    readonly tlsCaFile: string | null;
  };
}

/** The SQLite file when none is configured. */
export const DEFAULT_DIRECTORY_FILE = 'directory.sqlite';
/** Secret and CA files are small; anything larger is a mistake, not a key. */
const MAX_SECRET_FILE_BYTES = 1024 * 1024;

/** Where the SQLite directory lives: the configured file, else `<dataDir>/directory.sqlite`. */
export function sqliteDirectoryPath(settings: DirectorySettings, dataDir: string): string {
  // Relative paths are relative to the working directory, like every path in the file.
  return settings.sqlite.file === null
    ? join(resolve(dataDir), DEFAULT_DIRECTORY_FILE)
    : resolve(settings.sqlite.file);
}

function readSmallFile(path: string, what: string): string {
  try {
    const size = statSync(path).size;
    if (size > MAX_SECRET_FILE_BYTES) {
      throw new DirectoryError(
        'backend',
        `${what} ${path} is larger than ${MAX_SECRET_FILE_BYTES}`,
      );
    }
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof DirectoryError) throw error;
    throw new DirectoryError('backend', `cannot read ${what} ${path}`, { cause: error });
  }
}

function required(value: string | null, key: string): string {
  if (value === null) {
    throw new DirectoryError('backend', `directory.ldap.${key} is required for the LDAP backend`);
  }
  return value;
}

/**
 * Opens the configured directory; `DirectoryError('backend')` when it cannot be opened
 * (unreadable file, newer schema, LDAP server down or refusing the bind).
 */
export async function openDirectory(
  settings: DirectorySettings,
  dataDir: string,
): Promise<Directory> {
  if (settings.backend === 'sqlite') {
    const path = sqliteDirectoryPath(settings, dataDir);
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new DirectoryError('backend', `cannot create ${dirname(path)}`, { cause: error });
    }
    return SqliteDirectory.open({ path, realms: settings.realms });
  }
  const ldap = settings.ldap;
  const bindPassword =
    ldap.bindPasswordFile === null
      ? required(ldap.bindPassword, 'bindPassword')
      : // The first line: files written by `echo` end in a newline that is not the password.
        (readSmallFile(resolve(ldap.bindPasswordFile), 'directory.ldap.bindPasswordFile').split(
          /\r?\n/,
        )[0] ?? '');
  const tlsCa =
    ldap.tlsCaFile === null
      ? undefined
      : readSmallFile(resolve(ldap.tlsCaFile), 'directory.ldap.tlsCaFile');
  // Loaded on demand: an SQLite deployment never loads the LDAP client.
  const { LdapDirectory } = await import('./ldap-directory.ts');
  return LdapDirectory.open({
    url: required(ldap.url, 'url'),
    bindDn: required(ldap.bindDn, 'bindDn'),
    bindPassword,
    usersDn: required(ldap.usersDn, 'usersDn'),
    groupsDn: required(ldap.groupsDn, 'groupsDn'),
    realms: settings.realms,
    ...(tlsCa === undefined ? {} : { tlsCa }),
  });
}

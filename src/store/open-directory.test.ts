import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DirectoryError } from './directory.ts';
import { openDirectory, sqliteDirectoryPath, type DirectorySettings } from './open-directory.ts';

const scratch = mkdtempSync(join(tmpdir(), 'rampart-open-directory-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

const NO_LDAP: DirectorySettings['ldap'] = {
  url: null,
  bindDn: null,
  bindPassword: null,
  bindPasswordFile: null,
  usersDn: null,
  groupsDn: null,
  tlsCaFile: null,
};

const sqlite = (file: string | null): DirectorySettings => ({
  backend: 'sqlite',
  realms: ['example.test'],
  sqlite: { file },
  ldap: NO_LDAP,
});

const isBackendError = (error: unknown): boolean =>
  error instanceof DirectoryError && error.reason === 'backend';

describe('openDirectory', () => {
  test('SQLite by default at <dataDir>/directory.sqlite, creating the data directory', async () => {
    const dataDir = join(scratch, 'new', 'data');
    assert.equal(sqliteDirectoryPath(sqlite(null), dataDir), join(dataDir, 'directory.sqlite'));
    const directory = await openDirectory(sqlite(null), dataDir);
    await directory.addUser({ address: 'a@example.test', password: 'pw' });
    assert.equal(
      (await directory.digestHa1('a@example.test', 'example.test', 'MD5')) !== undefined,
      true,
    );
    await directory.close();
    assert.ok(existsSync(join(dataDir, 'directory.sqlite')));
  });

  test('a configured SQLite file wins over the data directory', async () => {
    const file = join(scratch, 'elsewhere', 'dir.sqlite');
    const directory = await openDirectory(sqlite(file), join(scratch, 'unused'));
    await directory.close();
    assert.ok(existsSync(file));
    assert.ok(!existsSync(join(scratch, 'unused', 'directory.sqlite')));
  });

  test('LDAP: an unreadable bind password file or CA file is a backend error', async () => {
    const ldap = {
      ...NO_LDAP,
      url: 'ldap://127.0.0.1:1',
      bindDn: 'cn=rampart',
      usersDn: 'ou=people',
      groupsDn: 'ou=groups',
    };
    await assert.rejects(
      openDirectory(
        {
          ...sqlite(null),
          backend: 'ldap',
          ldap: { ...ldap, bindPasswordFile: join(scratch, 'no') },
        },
        scratch,
      ),
      isBackendError,
    );
    const password = join(scratch, 'password');
    writeFileSync(password, 'secret\n');
    await assert.rejects(
      openDirectory(
        {
          ...sqlite(null),
          backend: 'ldap',
          ldap: { ...ldap, bindPasswordFile: password, tlsCaFile: join(scratch, 'no-ca.pem') },
        },
        scratch,
      ),
      isBackendError,
    );
    // Nothing listens on port 1: the bind fails, as a backend error.
    await assert.rejects(
      openDirectory(
        { ...sqlite(null), backend: 'ldap', ldap: { ...ldap, bindPassword: 'x' } },
        scratch,
      ),
      isBackendError,
    );
  });
});

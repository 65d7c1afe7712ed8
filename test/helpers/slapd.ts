/**
 * A throwaway OpenLDAP for one test: temp dir, cn=config built offline with `slapadd -n0`,
 * an mdb database for dc=example,dc=test seeded offline with `slapadd`, the
 * core/cosine/nis/inetorgperson schemas plus test/fixtures/ldap/rampart.ldif, and ACLs that
 * keep the digest HA1 and password hashes readable by the service account alone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from 'ldapts';
import { freePort, tcpAccepts } from './ports.ts';
import { createTestPki } from './tls.ts';
import { requireProgram, startProcess, waitUntil } from './process.ts';
import type { ManagedProcess } from './process.ts';

const execFileAsync = promisify(execFile);

/** The Debian packages that bring slapd, slapadd and the schema files. */
const DEBIAN_PACKAGES = 'slapd ldap-utils';
const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIR = '/usr/lib/ldap';
const RAMPART_SCHEMA = fileURLToPath(new URL('../fixtures/ldap/rampart.ldif', import.meta.url));

export const SUFFIX = 'dc=example,dc=test';
export const USERS_DN = `ou=users,${SUFFIX}`;
export const GROUPS_DN = `ou=groups,${SUFFIX}`;
export const SERVICE_DN = `cn=rampart,${SUFFIX}`;
export const ROOT_DN = `cn=admin,${SUFFIX}`;

/** A running slapd. */
export interface SlapdInstance {
  /** `ldap://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** `ldaps://127.0.0.1:<port>` when started with `tls` (plain `url` then offers StartTLS). */
  readonly ldapsUrl: string | undefined;
  /** The CA that signed slapd's certificate (SAN IP:127.0.0.1), when started with `tls`. */
  readonly caCertFile: string | undefined;
  readonly workDir: string;
  readonly suffix: string;
  readonly usersDn: string;
  readonly groupsDn: string;
  /** The service account Rampart binds as (may write ou=users and ou=groups). */
  readonly serviceDn: string;
  readonly servicePassword: string;
  /** The rootdn: for test setup only (seeding entries the service account may not write). */
  readonly rootDn: string;
  readonly rootPassword: string;
  readonly process: ManagedProcess;
  /** Stops slapd and starts it again on the same port and data (a reconnect test). */
  restart(): Promise<void>;
  /** Stops slapd (SIGTERM, then SIGKILL) and removes the work dir. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startSlapd}. */
export interface SlapdOptions {
  readonly startTimeoutMs?: number;
  /** Also serve TLS: StartTLS on `url` and an `ldaps://` listener (RFC 4513 §3). */
  readonly tls?: boolean;
}

/** `{SSHA}` userPassword value (OpenLDAP's default scheme): base64(SHA1(pw || salt) || salt). */
export function sshaPassword(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

interface TlsFiles {
  readonly caCertFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
}

function configLdif(workDir: string, rootPassword: string, tls: TlsFiles | undefined): string {
  const secretAttrs = 'attrs=rampartDigestHa1,rampartPasswordHash,userPassword';
  const tlsLines =
    tls === undefined
      ? ''
      : `olcTLSCACertificateFile: ${tls.caCertFile}
olcTLSCertificateFile: ${tls.serverCertFile}
olcTLSCertificateKeyFile: ${tls.serverKeyFile}
`;
  return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${join(workDir, 'slapd.pid')}
olcArgsFile: ${join(workDir, 'slapd.args')}
${tlsLines}
dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: ${MODULE_DIR}
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://${SCHEMA_DIR}/core.ldif

include: file://${SCHEMA_DIR}/cosine.ldif

include: file://${SCHEMA_DIR}/nis.ldif

include: file://${SCHEMA_DIR}/inetorgperson.ldif

include: file://${RAMPART_SCHEMA}

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: ${SUFFIX}
olcDbDirectory: ${join(workDir, 'data')}
olcDbMaxSize: 268435456
olcRootDN: ${ROOT_DN}
olcRootPW: ${sshaPassword(rootPassword)}
olcDbIndex: objectClass eq
olcDbIndex: rampartSipAddress eq,sub
olcDbIndex: member eq
olcDbIndex: cn eq
olcLimits: {0}dn.exact="${SERVICE_DN}" size=unlimited time=unlimited
olcAccess: {0}to ${secretAttrs} by dn.exact="${SERVICE_DN}" write by anonymous auth by * none
olcAccess: {1}to dn.subtree="${USERS_DN}" by dn.exact="${SERVICE_DN}" write by * read
olcAccess: {2}to dn.subtree="${GROUPS_DN}" by dn.exact="${SERVICE_DN}" write by * read
olcAccess: {3}to * by dn.exact="${SERVICE_DN}" read by * read
`;
}

function dataLdif(servicePassword: string): string {
  return `dn: ${SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Rampart test

dn: ${USERS_DN}
objectClass: organizationalUnit
ou: users

dn: ${GROUPS_DN}
objectClass: organizationalUnit
ou: groups

dn: ${SERVICE_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: rampart
description: Rampart service account
userPassword: ${sshaPassword(servicePassword)}
`;
}

async function run(program: string, args: readonly string[]): Promise<void> {
  try {
    await execFileAsync(program, args, { timeout: 30_000 });
  } catch (error) {
    const detail =
      typeof error === 'object' && error !== null && 'stderr' in error ? String(error.stderr) : '';
    throw new Error(`${program} ${args.join(' ')} failed: ${detail}`, { cause: error });
  }
}

/** True once slapd answers an anonymous root DSE read (RFC 4512 §5.1). */
async function answers(url: string): Promise<boolean> {
  const client = new Client({ url, connectTimeout: 500, timeout: 1000 });
  try {
    await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] });
    return true;
  } catch {
    return false;
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/**
 * Starts slapd on ldap://127.0.0.1:<free port>. Throws, naming `slapd ldap-utils`, when the
 * programs are missing.
 */
export async function startSlapd(options: SlapdOptions = {}): Promise<SlapdInstance> {
  const slapd = requireProgram('slapd', DEBIAN_PACKAGES);
  const slapadd = requireProgram('slapadd', DEBIAN_PACKAGES);
  const timeoutMs = options.startTimeoutMs ?? 15_000;
  const workDir = await mkdtemp(join(tmpdir(), 'rampart-slapd-'));
  try {
    const configDir = join(workDir, 'slapd.d');
    await mkdir(configDir);
    await mkdir(join(workDir, 'data'));
    const rootPassword = randomBytes(12).toString('hex');
    const servicePassword = randomBytes(12).toString('hex');
    let tls: TlsFiles | undefined;
    if (options.tls === true) {
      const pkiDir = join(workDir, 'pki');
      await mkdir(pkiDir);
      tls = await createTestPki(pkiDir);
    }
    await writeFile(join(workDir, 'config.ldif'), configLdif(workDir, rootPassword, tls));
    await writeFile(join(workDir, 'data.ldif'), dataLdif(servicePassword));
    await run(slapadd, ['-n0', '-F', configDir, '-l', join(workDir, 'config.ldif')]);
    await run(slapadd, ['-b', SUFFIX, '-F', configDir, '-l', join(workDir, 'data.ldif')]);

    const port = await freePort();
    const url = `ldap://127.0.0.1:${port}`;
    const ldapsUrl = tls === undefined ? undefined : `ldaps://127.0.0.1:${await freePort()}`;
    const listeners = ldapsUrl === undefined ? `${url}/` : `${url}/ ${ldapsUrl}/`;
    const launch = async (): Promise<ManagedProcess> => {
      // -d keeps slapd in the foreground (logs on stderr); 0 logs nothing but fatal errors.
      const managed = startProcess('slapd', slapd, ['-d', '0', '-h', listeners, '-F', configDir]);
      try {
        await waitUntil(
          async () => {
            if (managed.hasExited) throw new Error(`slapd exited:\n${managed.stderr()}`);
            return (await tcpAccepts(port)) && (await answers(url));
          },
          timeoutMs,
          () => `slapd did not answer on ${url} within ${timeoutMs} ms\n${managed.stderr()}`,
          100,
        );
      } catch (error) {
        await managed.stop('SIGKILL');
        throw error;
      }
      return managed;
    };

    let current = await launch();
    let stopped = false;
    const instance: SlapdInstance = {
      url,
      port,
      ldapsUrl,
      caCertFile: tls?.caCertFile,
      workDir,
      suffix: SUFFIX,
      usersDn: USERS_DN,
      groupsDn: GROUPS_DN,
      serviceDn: SERVICE_DN,
      servicePassword,
      rootDn: ROOT_DN,
      rootPassword,
      get process() {
        return current;
      },
      async restart() {
        await current.stop('SIGTERM', 5000);
        current = await launch();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await current.stop('SIGTERM', 5000);
        } finally {
          await rm(workDir, { recursive: true, force: true });
        }
      },
    };
    return instance;
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

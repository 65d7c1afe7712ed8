/**
 * The registrars `npm run bench:registrar` compares, behind one interface: Kamailio 5.6
 * (bench/registrar/kamailio.cfg: auth_db over db_text + usrloc in memory) and Rampart's Front
 * End (not wired yet).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { promisify } from 'node:util';
import { startKamailio } from '../../test/helpers/kamailio.ts';
import type { KamailioInstance } from '../../test/helpers/kamailio.ts';
import { freePort } from '../../test/helpers/ports.ts';
import { startProcess, type ManagedProcess } from '../../test/helpers/process.ts';
import { startRampart, type RampartInstance } from '../../test/helpers/rampart.ts';
import { SqliteDirectory } from '../../src/store/sqlite-directory.ts';
import { processTree } from '../turn/proc.ts';
import { dbTextHtableAuthTable, dbTextSubscriberTable, dbTextVersionTable } from './report.ts';
import type { RegistrarUser } from './report.ts';

const HERE = import.meta.dirname;
const execFileAsync = promisify(execFile);

/** What every server under test is configured with. */
export interface RegistrarSettings {
  /** Digest realm (RFC 3261 §22.1), also the SIP domain of every AOR. */
  readonly realm: string;
  /** Worker processes (Kamailio `children`, Rampart `workers`). */
  readonly children: number;
}

/** A registrar + authenticating server under test, listening on UDP. */
export interface RegistrarUnderTest {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly transport: 'udp';
  readonly realm: string;
  /**
   * Makes exactly `users` (and no one else) able to authenticate, with their passwords, in
   * the server's realm. May restart the server: bindings are lost, `pid()` changes.
   */
  provision(users: readonly RegistrarUser[]): Promise<void>;
  /** Every live process of the server now (memory is summed over them). */
  pid(): number[];
  stop(): Promise<void>;
  /** Bytes in use in the server's own shared-memory pool, when it has one (Kamailio). */
  sharedPoolBytes?(): Promise<number | undefined>;
  /** Bindings the server holds, as it counts them, to cross-check sipp's count. */
  bindingCount?(): Promise<number | undefined>;
  /** Tail of the server's log, for failed steps. */
  logs?(): string;
}

/** Starts a server with no users. */
export type RegistrarFactory = (settings: RegistrarSettings) => Promise<RegistrarUnderTest>;

/** Parses `kamcmd core.shmmem` output (`real_used: N` in a `{ … }` block). */
export function parseShmRealUsed(text: string): number | undefined {
  const match = /^\s*real_used:\s*(\d+)\s*$/m.exec(text);
  return match === null ? undefined : Number(match[1]);
}

/** Parses one `group:name = N` line of `kamcmd stats.get_statistics`. */
export function parseKamailioStat(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    const [key, value] = line.split('=').map((part) => part.trim());
    if (key === name && value !== undefined && /^\d+$/.test(value)) return Number(value);
  }
  return undefined;
}

/** Where Kamailio reads credentials from (see bench/registrar/kamailio.cfg). */
export type KamailioCredentialStore = 'db_text' | 'htable';
/** Where Kamailio keeps bindings: shared memory only, or also written through to SQLite. */
export type KamailioBindingStore = 'memory' | 'sqlite';

/** Kamailio's schema files for db_sqlite (Debian `kamailio-sqlite-modules`). */
const KAMAILIO_SQLITE_SCHEMA = '/usr/share/kamailio/db_sqlite';

/**
 * A new SQLite file with Kamailio's `version` and usrloc `location` tables (its own schema
 * files), in WAL mode. Throws naming the package when db_sqlite is not installed.
 */
async function createLocationDb(file: string): Promise<void> {
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(KAMAILIO_SQLITE_SCHEMA, name), 'utf8');
    } catch {
      throw new Error(
        `${join(KAMAILIO_SQLITE_SCHEMA, name)} missing: install kamailio-sqlite-modules ` +
          '(apt-get install kamailio-sqlite-modules) for kamailio-htable-sqlite',
      );
    }
  };
  const db = new DatabaseSync(file);
  try {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(await read('standard-create.sql'));
    db.exec(await read('usrloc-create.sql'));
  } finally {
    db.close();
  }
}

/**
 * Kamailio 5.6 with bench/registrar/kamailio.cfg, credentials in `store`. The db_text
 * directory and the ctl socket live in a temp dir of their own that outlives restarts:
 * db_text caches a table the first time it is read and never re-reads it (htable loads it
 * once at start), so `provision` rewrites the tables and restarts Kamailio on the same port.
 */
export function kamailioRegistrar(
  store: KamailioCredentialStore,
  bindings: KamailioBindingStore = 'memory',
): RegistrarFactory {
  return (settings) => startKamailioRegistrar(settings, store, bindings);
}

/** {@link kamailioRegistrar}: starts it, with no users. */
export async function startKamailioRegistrar(
  settings: RegistrarSettings,
  store: KamailioCredentialStore = 'db_text',
  bindings: KamailioBindingStore = 'memory',
): Promise<RegistrarUnderTest> {
  const template = await readFile(resolve(HERE, 'kamailio.cfg'), 'utf8');
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-registrar-kamailio-'));
  const dbDir = join(dataDir, 'db');
  const ctlSocket = join(dataDir, 'ctl.sock');
  const locationDb = join(dataDir, 'location.sqlite');
  const secret = `bench-${Date.now().toString(36)}-${process.pid}`;
  const port = await freePort();
  let instance: KamailioInstance | undefined;

  const writeTables = async (users: readonly RegistrarUser[]): Promise<void> => {
    await rm(dbDir, { recursive: true, force: true });
    await mkdir(dbDir, { recursive: true });
    await writeFile(join(dbDir, 'version'), dbTextVersionTable());
    await writeFile(
      join(dbDir, 'subscriber'),
      dbTextSubscriberTable(store === 'db_text' ? users : [], settings.realm, settings.realm),
    );
    await writeFile(
      join(dbDir, 'htable_auth'),
      dbTextHtableAuthTable(store === 'htable' ? users : [], settings.realm),
    );
    if (bindings === 'sqlite') {
      for (const suffix of ['', '-wal', '-shm']) await rm(locationDb + suffix, { force: true });
      await createLocationDb(locationDb);
    }
  };
  const start = async (): Promise<void> => {
    instance = await startKamailio({
      listen: [{ proto: 'udp', port }],
      // Same pool sizes as bench/sip: 512 MB shared holds 100k bindings and the cached table.
      sharedMemoryMb: 512,
      privateMemoryMb: 32,
      config: ({ listenLines }) =>
        template
          .replaceAll('__AUTH_DEFINE__', store === 'htable' ? '#!define AUTH_HTABLE' : '')
          .replaceAll('__BINDINGS_DEFINE__', bindings === 'sqlite' ? '#!define UL_SQLITE' : '')
          .replaceAll('__UL_DB_FILE__', locationDb)
          .replaceAll('__LISTEN__', listenLines)
          .replaceAll('__CHILDREN__', String(settings.children))
          .replaceAll('__DOMAIN__', settings.realm)
          .replaceAll('__REALM__', settings.realm)
          .replaceAll('__SECRET__', secret)
          .replaceAll('__DB_URL__', `text://${dbDir}`)
          .replaceAll('__CTL_SOCKET__', ctlSocket),
    });
  };
  const kamcmd = async (...command: string[]): Promise<string | undefined> => {
    try {
      const { stdout } = await execFileAsync('kamcmd', ['-s', `unix:${ctlSocket}`, ...command], {
        timeout: 5000,
      });
      return stdout;
    } catch {
      return undefined; // kamcmd missing or ctl not answering: the figure is reported as n/a
    }
  };

  try {
    await writeTables([]);
    await start();
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    name:
      (store === 'htable' ? 'kamailio-htable' : 'kamailio') +
      (bindings === 'sqlite' ? '-sqlite' : ''),
    host: '127.0.0.1',
    port,
    transport: 'udp',
    realm: settings.realm,
    async provision(users) {
      await instance?.stop();
      instance = undefined;
      await writeTables(users);
      await start();
    },
    pid: () => (instance === undefined ? [] : processTree(instance.process.pid)),
    async stop() {
      await instance?.stop();
      instance = undefined;
      await rm(dataDir, { recursive: true, force: true });
    },
    async sharedPoolBytes() {
      const text = await kamcmd('core.shmmem');
      return text === undefined ? undefined : parseShmRealUsed(text);
    },
    async bindingCount() {
      const text = await kamcmd('stats.get_statistics', 'usrloc:');
      return text === undefined ? undefined : parseKamailioStat(text, 'usrloc:location_contacts');
    },
    logs: () => instance?.process.stderr().slice(-4000) ?? '',
  };
}

/**
 * Rampart's Front End registrar (same realm, HA1-only credentials, bindings in memory,
 * `workers` = `children`). To be wired by the integrator once the Front End exists.
 */
export const startRampartRegistrar: RegistrarFactory = async (settings) => {
  const work = await mkdtemp(join(tmpdir(), 'bench-registrar-rampart-'));
  const directoryFile = join(work, 'directory.sqlite');
  let instance: RampartInstance | undefined;
  // The Front End alone: no edges, no Director. Its state lives in one process (the
  // internal servers run in the first worker only), so `children` does not apply.
  const config = {
    domains: [settings.realm],
    log: { level: 'warn' },
    'access-edge': { enabled: false },
    'av-edge': { enabled: false },
    director: { enabled: false },
    directory: { sqlite: { file: directoryFile } },
    'front-end': {
      tcp: null,
      tls: null,
      serverTls: null,
      // sipp 3.6 answers only an MD5 first challenge.
      digestAlgorithms: ['MD5'],
      registrar: { maxBindings: 1_000_000, maxExpiresSeconds: 7200 },
      lockout: { maxFailures: 1_000_000 },
    },
  };
  const start = async (): Promise<void> => {
    instance = await startRampart({ config, startTimeoutMs: 60_000 });
  };
  const stopServer = async (): Promise<void> => {
    await instance?.stop();
    instance = undefined;
  };
  const server: RegistrarUnderTest = {
    name: 'rampart',
    host: '127.0.0.1',
    get port(): number {
      if (instance === undefined) throw new Error('rampart is not running');
      return instance.endpoint('front-end', 'internal', 'udp').port;
    },
    transport: 'udp',
    realm: settings.realm,
    provision: async (users) => {
      await stopServer();
      await rm(directoryFile, { force: true });
      const directory = SqliteDirectory.open({ path: directoryFile, realms: [settings.realm] });
      try {
        // Every user may hold as many contacts as the memory step registers.
        await directory.addUsers(
          users.map((u) => ({
            address: `${u.user}@${settings.realm}`,
            password: u.password,
            policy: { maxEndpoints: 64 },
          })),
        );
      } finally {
        await directory.close();
      }
      await start();
    },
    pid: () => {
      const pid = instance?.process.pid;
      return pid === undefined ? [] : processTree(pid);
    },
    stop: async () => {
      await stopServer();
      await rm(work, { recursive: true, force: true });
    },
    logs: () => instance?.process.stderr().slice(-4000) ?? '',
  };
  await start();
  return server;
};

/**
 * The floor (`node-floor.ts`): the least a Node.js registrar does for the REGISTER load —
 * digest check and a Map, nothing else. REGISTER only (its MESSAGE steps fail).
 */
export const startNodeFloorRegistrar: RegistrarFactory = async (settings) => {
  const work = await mkdtemp(join(tmpdir(), 'bench-registrar-floor-'));
  const usersFile = join(work, 'users.json');
  await writeFile(usersFile, '[]');
  const port = await freePort();
  let managed: ManagedProcess | undefined;
  const start = async (): Promise<void> => {
    const started = startProcess('node-floor', process.execPath, [
      resolve(HERE, 'node-floor.ts'),
      '--port',
      String(port),
      '--realm',
      settings.realm,
      '--users',
      usersFile,
    ]);
    managed = started;
    await started.waitForOutput(/listening/, 10_000);
  };
  const stopServer = async (): Promise<void> => {
    await managed?.stop('SIGTERM', 5000);
    managed = undefined;
  };
  await start();
  return {
    name: 'node-floor',
    host: '127.0.0.1',
    port,
    transport: 'udp',
    realm: settings.realm,
    provision: async (users) => {
      await stopServer();
      await writeFile(usersFile, JSON.stringify(users));
      await start();
    },
    pid: () => (managed === undefined ? [] : [managed.pid]),
    stop: async () => {
      await stopServer();
      await rm(work, { recursive: true, force: true });
    },
    logs: () => managed?.stderr().slice(-4000) ?? '',
  };
};

/** Servers by the name `--servers` takes. */
export const REGISTRAR_FACTORIES: Readonly<Record<string, RegistrarFactory>> = {
  kamailio: kamailioRegistrar('db_text'),
  'kamailio-htable': kamailioRegistrar('htable'),
  'kamailio-htable-sqlite': kamailioRegistrar('htable', 'sqlite'),
  'node-floor': startNodeFloorRegistrar,
  rampart: startRampartRegistrar,
};

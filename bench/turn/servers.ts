/**
 * The servers the TURN benchmark compares, each started pinned to the server core with the
 * same realm, REST secret and relay range: coturn (Debian `coturn`, `turnserver`) and
 * Rampart's A/V Edge. Plus the echo peer, pinned to the load core.
 */
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MAGIC_COOKIE, STUN_METHOD, encodeMessageType } from '../../src/codec/stun/index.ts';
import { COTURN_PACKAGE, renderCoturnBenchConfig } from '../../test/helpers/coturn.ts';
import { freePort } from '../../test/helpers/ports.ts';
import { requireProgram, startProcess, waitUntil } from '../../test/helpers/process.ts';
import type { ManagedProcess } from '../../test/helpers/process.ts';
import { startRampart } from '../../test/helpers/rampart.ts';
import { pinProcesses, processTree } from './proc.ts';

const HERE = import.meta.dirname;

/** What both servers are configured with. */
export interface TurnBenchSettings {
  readonly realm: string;
  /** The TURN REST API shared secret (≥ 16 characters). */
  readonly secret: string;
  readonly relayMinPort: number;
  readonly relayMaxPort: number;
  /** Cores for `taskset -c` (e.g. '0'). */
  readonly serverCpus: string;
  /** Rampart workers, and coturn relay threads. */
  readonly workers: number;
  /** NODE_OPTIONS of the Rampart process ('' = none, as operators run it by default). */
  readonly rampartNodeOptions?: string;
}

/** A server under test. */
export interface TurnServerUnderTest {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Root of the server's process tree: CPU and RSS are summed over it. */
  readonly pid: number;
  /** The configuration it runs with, for the report. */
  readonly config: string;
  logs(): string;
  stop(): Promise<void>;
}

/** Starts a server; see {@link SERVER_FACTORIES}. */
export type TurnServerFactory = (settings: TurnBenchSettings) => Promise<TurnServerUnderTest>;

/** True once a STUN Binding request to host:port gets any answer within `timeoutMs`. */
export function stunAnswers(host: string, port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createSocket('udp4');
    const request = Buffer.alloc(20);
    request.writeUInt16BE(encodeMessageType(STUN_METHOD.Binding, 'request'), 0);
    request.writeUInt32BE(MAGIC_COOKIE, 4);
    request.writeUInt32BE(0x62656e63, 8);
    const done = (answered: boolean): void => {
      clearTimeout(timer);
      socket.close();
      resolvePromise(answered);
    };
    const timer = setTimeout(() => {
      done(false);
    }, timeoutMs);
    socket.on('message', () => {
      done(true);
    });
    socket.on('error', () => undefined);
    socket.send(request, port, host);
  });
}

/**
 * coturn 4.6: `taskset -c <cpus> turnserver -c <conf>`, the conf rendered from the template
 * `bench/turn/coturn.conf` (test/helpers/coturn.ts) with this run's port, realm, secret and
 * relay range, plus `relay-threads=<workers>` so it gets as many relay threads as Rampart
 * gets workers.
 */
export const startCoturn: TurnServerFactory = async (settings) => {
  const turnserver = requireProgram('turnserver', COTURN_PACKAGE);
  const dir = await mkdtemp(join(tmpdir(), 'bench-coturn-'));
  const port = await freePort();
  const rendered = await renderCoturnBenchConfig({
    port,
    realm: settings.realm,
    secret: settings.secret,
    relayPorts: { min: settings.relayMinPort, max: settings.relayMaxPort },
    stateDir: dir,
  });
  const config = `${rendered}\n# bench/turn/servers.ts\nrelay-threads=${settings.workers}\n`;
  const configFile = join(dir, 'turnserver.conf');
  await writeFile(configFile, config);
  const managed = startProcess(
    'coturn',
    'taskset',
    ['-c', settings.serverCpus, turnserver, '-c', configFile],
    { outputCapBytes: 64 * 1024, cwd: dir },
  );
  const stop = async (): Promise<void> => {
    await managed.stop('SIGTERM', 5000);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      async () => managed.hasExited || (await stunAnswers('127.0.0.1', port)),
      15_000,
      () => `coturn did not answer STUN on ${port}\n${managed.stdout().slice(-3000)}`,
    );
    if (managed.hasExited)
      throw new Error(`coturn exited at start\n${managed.stdout().slice(-3000)}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: 'coturn',
    host: '127.0.0.1',
    port,
    pid: managed.pid, // taskset execs turnserver: same pid
    config,
    logs: () => managed.stdout().slice(-4000) + managed.stderr().slice(-4000),
    stop,
  };
};

/** The Rampart config of the benchmark: the A/V Edge alone, same realm, secret and relays. */
export function rampartConfig(settings: TurnBenchSettings): Record<string, unknown> {
  return {
    'access-edge': { enabled: false },
    'av-edge': {
      realm: settings.realm,
      // 127.0.0.2: the echo peer on 127.0.0.1 is then not one of the server's own addresses
      // (those are relayed to only at relay-range ports, an SSRF rule coturn does not have).
      external: { host: '127.0.0.2', udp: 0, tcp: null, tls: null },
      internal: { host: '127.0.0.3', udp: null, tcp: null },
      relay: { minPort: settings.relayMinPort, maxPort: settings.relayMaxPort },
      auth: { secrets: [settings.secret] },
      peers: { allowLoopback: true },
      // No per-user quota, as coturn's default (every generator allocation is user "bench").
      // The per-source 401 limit stays on (coturn has none), raised from the default 20/s so
      // the generator's setup bursts (hundreds of Allocates a second from one address) pass.
      allocations: { perUser: 1_000_000, total: 1_000_000 },
      limits: { challengesPerSecondPerSource: 2000 },
    },
    workers: settings.workers,
  };
}

/**
 * Rampart (`startRampart`: `node bin/rampart.mjs start --ephemeral-ports …`), then every
 * thread of its process tree pinned with `taskset -a -p -c` (workers forked later inherit).
 */
export const startRampartAvEdge: TurnServerFactory = async (settings) => {
  const config = rampartConfig(settings);
  const nodeOptions = settings.rampartNodeOptions ?? '';
  const rampart = await startRampart({
    config,
    startTimeoutMs: 30_000,
    ...(nodeOptions === '' ? {} : { env: { NODE_OPTIONS: nodeOptions } }),
  });
  try {
    const endpoint = rampart.endpoint('av-edge', 'external', 'udp');
    pinProcesses(processTree(rampart.process.pid), settings.serverCpus);
    await waitUntil(
      () => stunAnswers(endpoint.host, endpoint.port),
      10_000,
      () => `rampart av-edge does not answer STUN on ${endpoint.port}`,
    );
    return {
      name: 'rampart',
      host: endpoint.host,
      port: endpoint.port,
      pid: rampart.process.pid,
      config: JSON.stringify(
        nodeOptions === '' ? config : { ...config, NODE_OPTIONS: nodeOptions },
      ),
      logs: () => rampart.process.stdout().slice(-4000) + rampart.process.stderr().slice(-4000),
      stop: async () => {
        await rampart.stop();
      },
    };
  } catch (error) {
    await rampart.stop();
    throw error;
  }
};

/**
 * The floor (`node-floor.ts`): the least a Node.js TURN server does for this load, in Node's
 * dgram, pinned like the others. Not a TURN server: it checks nothing.
 */
export const startNodeFloor: TurnServerFactory = async (settings) => {
  const port = await freePort();
  const managed = startProcess('node-floor', 'taskset', [
    '-c',
    settings.serverCpus,
    process.execPath,
    ...(settings.rampartNodeOptions ? settings.rampartNodeOptions.split(' ') : []),
    resolve(HERE, 'node-floor.ts'),
    '--port',
    String(port),
    '--realm',
    settings.realm,
  ]);
  const stop = async (): Promise<void> => {
    await managed.stop('SIGTERM', 5000);
  };
  try {
    await waitUntil(
      async () => managed.hasExited || (await stunAnswers('127.0.0.1', port)),
      15_000,
      () => `node-floor did not answer STUN on ${port}\n${managed.stderr().slice(-3000)}`,
    );
    if (managed.hasExited) throw new Error(`node-floor exited\n${managed.stderr().slice(-3000)}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: 'node-floor',
    host: '127.0.0.1',
    port,
    pid: managed.pid, // taskset execs node: same pid
    config: 'bench/turn/node-floor.ts',
    logs: () => managed.stdout().slice(-4000) + managed.stderr().slice(-4000),
    stop,
  };
};

/** Servers by the name `--candidate` / `--baseline` take. */
export const SERVER_FACTORIES: Readonly<Record<string, TurnServerFactory>> = {
  coturn: startCoturn,
  rampart: startRampartAvEdge,
  'node-floor': startNodeFloor,
};

/** The echo peer (bench/turn/echo.ts), pinned to `cpus`. */
export interface EchoPeer {
  readonly port: number;
  readonly pid: number;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** Starts `taskset -c <cpus> node bench/turn/echo.ts` and reads its port. */
export async function startEchoPeer(cpus: string): Promise<EchoPeer> {
  const managed = startProcess('echo-peer', 'taskset', [
    '-c',
    cpus,
    process.execPath,
    resolve(HERE, 'echo.ts'),
    '--max-seconds',
    '7200',
  ]);
  await managed.waitForOutput(/"port":\d+/, 10_000);
  const port = Number(/"port":(\d+)/.exec(managed.stdout())?.[1]);
  return {
    port,
    pid: managed.pid,
    process: managed,
    stop: async () => {
      await managed.stop('SIGTERM', 2000);
    },
  };
}

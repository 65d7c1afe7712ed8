/**
 * What `npm run bench:edge` runs: the internal next hop (a Kamailio registrar on TCP, the same
 * behind both edges) and the two edges under test, Rampart's Access Edge and Kamailio 5.6 as a
 * TLS edge proxy, both with one throwaway certificate.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { configSchema } from '../../src/config/schema.ts';
import { startKamailio } from '../../test/helpers/kamailio.ts';
import type { KamailioInstance } from '../../test/helpers/kamailio.ts';
import { kamailioTlsConfig } from '../../test/helpers/kamailio-relay.ts';
import { freePorts } from '../../test/helpers/ports.ts';
import { startRampart } from '../../test/helpers/rampart.ts';
import type { TestPki } from '../../test/helpers/tls.ts';
import { parseShmRealUsed } from '../registrar/servers.ts';
import { processTree } from '../turn/proc.ts';

const HERE = import.meta.dirname;
const execFileAsync = promisify(execFile);

/**
 * Where Rampart's edge learns its next hop. `internal.nextHop` turns on the remote-user policy
 * (trust headers stripped, Path with a flow token on REGISTER, topology hidden); `routes` is the
 * static route of a plain proxy. Switch here. When the running Rampart's schema does not know
 * `access-edge.internal` yet, {@link rampartNextHopSetting} falls back to `routes`.
 */
export const RAMPART_NEXT_HOP_SETTING: RampartNextHopSetting = 'internal.nextHop';

/** See {@link RAMPART_NEXT_HOP_SETTING}. */
export type RampartNextHopSetting = 'internal.nextHop' | 'routes';

/** What both edges are configured with. */
export interface EdgeSettings {
  /** The SIP domain relayed to the next hop. */
  readonly domain: string;
  /** The internal next hop, `sip:127.0.0.1:<port>;transport=tcp`. */
  readonly nextHop: string;
  /** Worker processes (Kamailio `children` and `tcp_children`, Rampart `workers`). */
  readonly children: number;
  /** Certificate and key the edge presents; the CA clients verify it with. */
  readonly pki: TestPki;
  /** Idle TLS connections the memory phase opens (limits are sized for them). */
  readonly connections: number;
  /** Distinct client source addresses the connections come from. */
  readonly sourceAddresses: number;
}

/** An edge under test, listening on TLS on 127.0.0.1. */
export interface EdgeUnderTest {
  readonly name: string;
  readonly tls: { readonly host: string; readonly port: number };
  /** Every live process of the edge (memory is summed over them). */
  pids(): number[];
  /** Bytes in use in the edge's own shared-memory pool, when it has one (Kamailio). */
  sharedPoolBytes?(): Promise<number | undefined>;
  /** How the edge was set up, for the results file. */
  readonly setup: Readonly<Record<string, unknown>>;
  /** Tail of the edge's log, for failed steps. */
  logs(): string;
  stop(): Promise<void>;
}

/** Starts an edge. */
export type EdgeFactory = (settings: EdgeSettings) => Promise<EdgeUnderTest>;

/** The internal registrar both edges relay to. */
export interface NextHop {
  readonly port: number;
  /** `sip:127.0.0.1:<port>;transport=tcp`. */
  readonly uri: string;
  pids(): number[];
  logs(): string;
  stop(): Promise<void>;
}

async function template(name: string): Promise<string> {
  return readFile(resolve(HERE, name), 'utf8');
}

/** Kamailio 5.6 registrar with bench/edge/kamailio-registrar.cfg on TCP 127.0.0.1. */
export async function startNextHop(children: number): Promise<NextHop> {
  const text = await template('kamailio-registrar.cfg');
  const [port] = await freePorts(1);
  const instance = await startKamailio({
    listen: [{ proto: 'tcp', port: port! }],
    // --users bindings (Expires 3600, each with its Path): far below what 512 MB holds.
    sharedMemoryMb: 512,
    config: ({ listenLines }) =>
      text.replaceAll('__LISTEN__', listenLines).replaceAll('__CHILDREN__', String(children)),
  });
  return {
    port: port!,
    uri: `sip:127.0.0.1:${port!};transport=tcp`,
    pids: () => processTree(instance.process.pid),
    logs: () => instance.process.stderr().slice(-3000),
    stop: () => instance.stop(),
  };
}

/** Fills bench/edge/kamailio-edge.cfg. */
export function kamailioEdgeConfig(
  text: string,
  values: {
    readonly listenLines: string;
    readonly children: number;
    readonly domain: string;
    readonly nextHop: string;
    readonly maxConnections: number;
    readonly tlsConfigFile: string;
    readonly ctlSocket: string;
    /** Load topoh: Via, Record-Route, Route, Contact and Call-ID masked. */
    readonly topologyHiding: boolean;
    /** topoh's mask key. */
    readonly secret: string;
  },
): string {
  const filled = text
    .replaceAll('__DEFINES__', values.topologyHiding ? '#!define WITH_TOPOH' : '')
    .replaceAll('__SECRET__', values.secret)
    .replaceAll('__LISTEN__', values.listenLines)
    .replaceAll('__CHILDREN__', String(values.children))
    .replaceAll('__DOMAIN__', values.domain)
    .replaceAll('__NEXT_HOP__', values.nextHop)
    .replaceAll('__MAX_CONNECTIONS__', String(values.maxConnections))
    // One descriptor per connection, plus the ones Kamailio passes between its processes.
    .replaceAll('__OPEN_FILES__', String(values.maxConnections * 2 + 1024))
    .replaceAll('__TLS_CFG__', values.tlsConfigFile)
    .replaceAll('__CTL_SOCKET__', values.ctlSocket);
  const left = /__[A-Z_]+__/.exec(filled);
  if (left !== null) throw new Error(`kamailio-edge.cfg: placeholder ${left[0]} not filled`);
  return filled;
}

/**
 * Kamailio 5.6 with bench/edge/kamailio-edge.cfg: TLS on the external side, a TCP socket on
 * the internal side (Kamailio sends TCP only from a TCP socket it listens on); with
 * `topologyHiding`, the topoh module too.
 */
export function kamailioEdge(topologyHiding: boolean): EdgeFactory {
  return (settings) => startKamailioEdge(settings, topologyHiding);
}

async function startKamailioEdge(
  settings: EdgeSettings,
  topologyHiding: boolean,
): Promise<EdgeUnderTest> {
  const text = await template('kamailio-edge.cfg');
  const [tlsPort, tcpPort] = await freePorts(2);
  let instance: KamailioInstance | undefined;
  const maxConnections = settings.connections + 1024;
  instance = await startKamailio({
    listen: [
      { proto: 'tls', port: tlsPort! },
      { proto: 'tcp', port: tcpPort! },
    ],
    files: {
      'tls.cfg': kamailioTlsConfig(settings.pki.serverCertFile, settings.pki.serverKeyFile),
    },
    // The tls module keeps OpenSSL's per-connection state in the shared pool.
    sharedMemoryMb: 1024,
    config: ({ workDir, listenLines }) =>
      kamailioEdgeConfig(text, {
        listenLines,
        children: settings.children,
        domain: settings.domain,
        nextHop: settings.nextHop,
        maxConnections,
        tlsConfigFile: join(workDir, 'tls.cfg'),
        ctlSocket: join(workDir, 'ctl.sock'),
        topologyHiding,
        secret: randomBytes(16).toString('hex'),
      }),
  });
  const ctlSocket = join(instance.workDir, 'ctl.sock');
  return {
    name: topologyHiding ? 'kamailio-topoh' : 'kamailio',
    tls: { host: '127.0.0.1', port: tlsPort! },
    pids: () => (instance === undefined ? [] : processTree(instance.process.pid)),
    async sharedPoolBytes() {
      try {
        const { stdout } = await execFileAsync(
          'kamcmd',
          ['-s', `unix:${ctlSocket}`, 'core.shmmem'],
          {
            timeout: 5000,
          },
        );
        return parseShmRealUsed(stdout);
      } catch {
        return undefined; // kamcmd missing or ctl not answering: reported as n/a
      }
    },
    setup: {
      config: 'bench/edge/kamailio-edge.cfg',
      topologyHiding,
      children: settings.children,
      tcpChildren: settings.children,
      maxConnections,
      internalTcpPort: tcpPort!,
    },
    logs: () => instance?.process.stderr().slice(-4000) ?? '',
    async stop() {
      await instance?.stop();
      instance = undefined;
    },
  };
}

/** Whether the Rampart being run accepts `accessEdge` as its `access-edge` section. */
function rampartAccepts(accessEdge: Record<string, unknown>): boolean {
  return configSchema.safeParse({ 'access-edge': accessEdge }).success;
}

/**
 * {@link RAMPART_NEXT_HOP_SETTING}, or `routes` when this Rampart's schema has no
 * `access-edge.internal` yet.
 */
export function rampartNextHopSetting(): RampartNextHopSetting {
  if (RAMPART_NEXT_HOP_SETTING === 'routes') return 'routes';
  const probe = { internal: { tls: null, tcp: 0, nextHop: 'sip:127.0.0.1:5090;transport=tcp' } };
  return rampartAccepts(probe) ? 'internal.nextHop' : 'routes';
}

/** Whether this Rampart's schema has the per-address and per-user message rate limits. */
export function rampartHasFloodLimits(): boolean {
  return rampartAccepts({ limits: { messagesPerSecondPerIp: 1, messagesPerSecondPerUser: 1 } });
}

/** A flood limit no benchmark step reaches (Kamailio runs without pike / ratelimit). */
const UNREACHED_RATE = 1_000_000;

/**
 * The `rampart start --config` object: the Access Edge alone (no Director, Front End or A/V
 * Edge), TLS on 127.0.0.1 with the benchmark's certificate, the next hop set as `setting` says,
 * connection caps sized for the memory phase and, when `floodLimits`, message rate limits out
 * of reach: one socat bridge carries every benchmark message from one address.
 */
export function rampartEdgeConfig(
  settings: Omit<EdgeSettings, 'pki'> & {
    readonly certFile: string;
    readonly keyFile: string;
    readonly caFile: string;
  },
  setting: RampartNextHopSetting,
  floodLimits: boolean,
): Record<string, unknown> {
  const perAddress = Math.ceil(settings.connections / Math.max(1, settings.sourceAddresses));
  return {
    domains: [settings.domain],
    workers: settings.children,
    log: { level: 'warn' },
    tls: { certFile: settings.certFile, keyFile: settings.keyFile, caFile: settings.caFile },
    director: { enabled: false },
    'front-end': { enabled: false },
    'av-edge': { enabled: false },
    'access-edge': {
      external: {
        host: '127.0.0.1',
        udp: null,
        // A plain proxy sends TCP only from a TCP listener of its own (so does Kamailio): with
        // static routes that is the external one, which no benchmark client uses.
        tcp: setting === 'routes' ? 0 : null,
        tls: 0,
        ws: null,
        wss: null,
      },
      ...(setting === 'internal.nextHop'
        ? { internal: { host: '127.0.0.1', tls: null, tcp: 0, nextHop: settings.nextHop } }
        : { routes: [{ domain: settings.domain, nextHop: settings.nextHop }] }),
      limits: {
        // Twice what one address opens, so that the cap is never what closes a connection.
        maxConnectionsPerIp: Math.max(50, perAddress * 2),
        maxConnections: settings.connections + 1024,
        ...(floodLimits
          ? { messagesPerSecondPerIp: UNREACHED_RATE, messagesPerSecondPerUser: UNREACHED_RATE }
          : {}),
      },
    },
  };
}

/** Rampart (`node bin/rampart.mjs start`) with {@link rampartEdgeConfig}. */
export const startRampartEdge: EdgeFactory = async (settings) => {
  const setting = rampartNextHopSetting();
  const floodLimits = rampartHasFloodLimits();
  const config = rampartEdgeConfig(
    {
      ...settings,
      certFile: settings.pki.serverCertFile,
      keyFile: settings.pki.serverKeyFile,
      caFile: settings.pki.caCertFile,
    },
    setting,
    floodLimits,
  );
  const rampart = await startRampart({ config, startTimeoutMs: 30_000 });
  try {
    const endpoint = rampart.endpoint('access-edge', 'external', 'tls');
    return {
      name: 'rampart',
      tls: { host: endpoint.host, port: endpoint.port },
      pids: () => processTree(rampart.process.pid),
      setup: {
        nextHopSetting: setting,
        floodLimitsRaised: floodLimits,
        workers: settings.children,
        accessEdge: config['access-edge'],
      },
      logs: () =>
        `--- stdout\n${rampart.process.stdout().slice(-3000)}\n` +
        `--- stderr\n${rampart.process.stderr().slice(-3000)}`,
      async stop() {
        await rampart.stop();
      },
    };
  } catch (error) {
    await rampart.stop();
    throw error;
  }
};

/** Edges by the name `--servers` takes. */
export const EDGE_FACTORIES: Readonly<Record<string, EdgeFactory>> = {
  rampart: startRampartEdge,
  kamailio: kamailioEdge(false),
  'kamailio-topoh': kamailioEdge(true),
};

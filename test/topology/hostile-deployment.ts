// The deployment the hostile-input tests attack: the Access Edge alone in the DMZ, the
// Director and Front End (with the SQLite directory) on `corp`, one PKI shared by both, a
// capture of everything that reaches `corp`, the edge's log lines as they are written, and
// agents (hostile-agent.ts) on the Internet client, the home host and `corp2`.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CallIdMask } from '../../src/proto/sip-edge/topology.ts';
import { decodeSipOn, readSip, startCapture } from './capture.ts';
import type { Capture, CapturedSip } from './capture.ts';
import { NODE_BINARY, REPO_ROOT } from './netns.ts';
import type { Topology } from './netns.ts';
import { startAgent } from './hostile-remote.ts';
import type { Agent } from './hostile-remote.ts';
import { createSharedPki, startRampartIn } from './rampart-in-netns.ts';
import type { NetnsRampart, SharedPki } from './rampart-in-netns.ts';

export const DOMAIN = 'example.test';
/** The Director's mutual-TLS listener: the edge's next hop. */
export const DIRECTOR_PORT = 5072;
export const FRONT_END_PORT = 5080;
export const EDGE_INTERNAL_TLS = 5065;
export const ADMIN_PORT = 8080;

/** Users of the directory and their passwords. */
export const USERS = {
  /** Internal, on corp2, registered at the Front End over TCP. */
  alice: 'alice-secret',
  /** Remote, at home behind the NAT: the legitimate user. */
  bob: 'bob-secret',
  /** Remote, on the Internet client: a real account used to spoof trust headers. */
  mallory: 'mallory-secret',
} as const;

/** The Access Edge's limits for these tests (small timeouts keep the file fast). */
export const EDGE_LIMITS = {
  maxConnectionsPerIp: 50,
  handshakeTimeoutMs: 2000,
  idleTimeoutMs: 8000,
  messagesPerSecondPerIp: 100,
  // The legitimate user sends two requests per MESSAGE (the 407 round) at 40 MESSAGEs/s.
  messagesPerSecondPerUser: 200,
  banSeconds: 60,
} as const;

/** One parsed JSON log line of a Rampart process, with when the test saw it. */
export interface LogLine {
  readonly seenAt: number;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly text: string;
}

/** Every log line a Rampart process writes (JSON on stderr), uncapped. */
export class LogWatch {
  readonly lines: LogLine[] = [];

  constructor(rampart: NetnsRampart) {
    let pending = '';
    rampart.process.child.stderr?.on('data', (chunk: string | Buffer) => {
      pending += chunk.toString();
      for (;;) {
        const end = pending.indexOf('\n');
        if (end < 0) break;
        const text = pending.slice(0, end);
        pending = pending.slice(end + 1);
        try {
          const fields = JSON.parse(text) as Record<string, unknown>;
          this.lines.push({ seenAt: Date.now(), fields, text });
        } catch {
          // not a JSON line (a Node warning): not a log line
        }
      }
    });
  }

  /** Lines whose `event` is `event` (and every other given field matches). */
  events(event: string, fields: Readonly<Record<string, unknown>> = {}): LogLine[] {
    return this.lines.filter(
      (line) =>
        line.fields['event'] === event &&
        Object.entries(fields).every(([key, value]) => line.fields[key] === value),
    );
  }
}

/** The running deployment. */
export interface Deployment {
  readonly pki: SharedPki;
  readonly corp: NetnsRampart;
  readonly dmz: NetnsRampart;
  readonly edgeLog: LogWatch;
  readonly corpLog: LogWatch;
  /** Key log of the DMZ Rampart: decrypts both sides of the edge's TLS. */
  readonly keylogFile: string;
  /** Everything that reaches corp's interface, from before the edge started. */
  readonly corpCapture: Capture;
  readonly client: Agent;
  readonly home: Agent;
  readonly corp2: Agent;
  /** The SIP messages captured on corp so far (TLS decrypted), after `settleMs`. */
  corpSip(settleMs?: number): Promise<CapturedSip[]>;
  /** A Prometheus counter or gauge from an admin API, summed over series matching `labels`. */
  metric(target: 'dmz' | 'corp', name: string, labels?: string): Promise<number>;
  /** A Call-ID from outside as the inside sees it: the edge masks Call-IDs that cross. */
  insideCallId(callId: string): string;
  /** Connects user agent `name` of `agent` as `user` to the edge's external TLS listener. */
  connectRemote(agent: Agent, name: string, user: keyof typeof USERS): Promise<void>;
  /** VmRSS of the DMZ Rampart in KiB. */
  edgeRssKib(): Promise<number>;
  stop(): Promise<void>;
}

async function addUsers(topo: Topology, corp: NetnsRampart, dir: string): Promise<void> {
  const csv = join(dir, 'users.csv');
  const rows = Object.entries(USERS).map(([user, password]) => `${user}@${DOMAIN},${password}`);
  await writeFile(csv, ['address,password', ...rows, ''].join('\n'));
  await topo.runOk(
    'corp',
    [
      NODE_BINARY,
      join(REPO_ROOT, 'bin/rampart.mjs'),
      'user',
      'import',
      csv,
      '--config',
      corp.configFile,
      '--data-dir',
      corp.dataDir,
    ],
    { cwd: REPO_ROOT, timeoutMs: 20_000 },
  );
}

/** Reads a capture that is still being written; a block cut short is retried. */
async function readLive(file: string, keylogFile: string): Promise<CapturedSip[]> {
  const decodeAs = [
    ...decodeSipOn('tls', DIRECTOR_PORT),
    ...decodeSipOn('tls', EDGE_INTERNAL_TLS),
    ...decodeSipOn('udp', FRONT_END_PORT),
    ...decodeSipOn('tcp', FRONT_END_PORT),
  ];
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await readSip(file, { keylogFile, decodeAs });
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
  throw lastError;
}

/** Sums the samples of `name` whose label set contains `labels`. */
export function sumMetric(text: string, name: string, labels = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!line.includes(labels)) continue;
    total += Number(line.split(' ').pop());
  }
  return total;
}

/** Builds the deployment on a built topology; `dir` holds the PKI, key log and captures. */
export async function startDeployment(topo: Topology, dir: string): Promise<Deployment> {
  const { addr } = topo;
  const pki = await createSharedPki(join(dir, 'pki'), {
    // SipUa (test/helpers/sip-ua.ts) asks for SNI "localhost" and checks the name.
    dmz: [addr.dmzExternal, addr.dmzInternal, 'localhost', 'edge.example.test'],
    corp: [addr.corp, 'pool.corp.example.test'],
  });
  const keylogFile = join(dir, 'dmz-keys.log');
  const corpCapture = await startCapture(topo, {
    role: 'corp',
    iface: topo.iface.corp,
    file: join(dir, 'corp.pcapng'),
    filter: 'tcp or udp',
  });
  const corp = await startRampartIn(topo, 'corp', {
    config: {
      domains: [DOMAIN],
      tls: pki.tlsConfig('corp'),
      admin: { host: addr.corp, port: ADMIN_PORT },
      shutdown: { drainTimeoutMs: 200 },
      'access-edge': { enabled: false },
      'av-edge': { enabled: false },
      director: {
        host: addr.corp,
        udp: null,
        tcp: null,
        tls: null,
        serverTls: DIRECTOR_PORT,
        digestAlgorithms: ['MD5'],
      },
      'front-end': {
        host: addr.corp,
        udp: FRONT_END_PORT,
        tcp: FRONT_END_PORT,
        tls: null,
        serverTls: 5082,
        digestAlgorithms: ['MD5'],
      },
    },
  });
  const corpLog = new LogWatch(corp);
  await addUsers(topo, corp, dir);
  const dmz = await startRampartIn(topo, 'dmz', {
    keylogFile,
    config: {
      domains: [DOMAIN],
      tls: pki.tlsConfig('dmz'),
      admin: { host: addr.dmzInternal, port: ADMIN_PORT },
      shutdown: { drainTimeoutMs: 200 },
      director: { enabled: false },
      'front-end': { enabled: false },
      'av-edge': { enabled: false },
      'access-edge': {
        external: { host: addr.dmzExternal, udp: 5060, tcp: 5060, tls: 5061, ws: null, wss: 5063 },
        internal: {
          host: addr.dmzInternal,
          tls: EDGE_INTERNAL_TLS,
          nextHop: `sip:${addr.corp}:${String(DIRECTOR_PORT)};transport=tls`,
        },
        limits: EDGE_LIMITS,
      },
    },
  });
  const edgeLog = new LogWatch(dmz);
  const callIdMask = new CallIdMask(
    (await readFile(join(dmz.dataDir, 'sip-secret'), 'utf8')).trim(),
  );
  const [client, home, corp2] = await Promise.all([
    startAgent(topo, 'client', dir),
    startAgent(topo, 'home', dir),
    startAgent(topo, 'corp2', dir),
  ]);
  const deployment: Deployment = {
    pki,
    corp,
    dmz,
    edgeLog,
    corpLog,
    keylogFile,
    corpCapture,
    client,
    home,
    corp2,
    async corpSip(settleMs = 700) {
      await new Promise((resolve) => setTimeout(resolve, settleMs));
      return readLive(corpCapture.file, keylogFile);
    },
    async metric(target, name, labels = '') {
      const host = target === 'dmz' ? addr.dmzInternal : addr.corp;
      const { status, text } = await corp2.call('http.get', {
        url: `http://${host}:${String(ADMIN_PORT)}/metrics`,
      });
      if (status !== 200) throw new Error(`metrics of ${target}: HTTP ${String(status)}`);
      return sumMetric(text, name, labels);
    },
    insideCallId(callId) {
      return callIdMask.mask(callId.trim());
    },
    async connectRemote(agent, name, user) {
      await agent.call('ua.connect', {
        name,
        host: addr.dmzExternal,
        port: 5061,
        transport: 'tls',
        user,
        password: USERS[user],
        caFile: pki.caFile,
      });
    },
    async edgeRssKib() {
      const status = await readFile(`/proc/${String(dmz.process.pid)}/status`, 'utf8');
      const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
      if (match === null) throw new Error(`no VmRSS in /proc/${String(dmz.process.pid)}/status`);
      return Number(match[1]);
    },
    async stop() {
      await Promise.allSettled([client.stop(), home.stop(), corp2.stop()]);
      await Promise.allSettled([dmz.stop(), corp.stop()]);
      await corpCapture.stop(0);
    },
  };
  return deployment;
}

/**
 * coturn 4.6 (`turnserver`, Debian package `coturn`) as a real peer: the reference TURN
 * server the A/V Edge is tested and benchmarked against.
 *
 * {@link startCoturn} runs it in the foreground on 127.0.0.1 with a generated config file in
 * a temp dir (never /etc/turnserver.conf, never the system SQLite db), logging on stdout.
 * {@link writeCoturnBenchConfig} renders the benchmark's config from the commented template
 * `bench/turn/coturn.conf`.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, tcpAccepts, udpBound } from './ports.ts';
import { requireProgram, startProcess, waitUntil } from './process.ts';
import type { ManagedProcess } from './process.ts';
import { createTestPki } from './tls.ts';

/** Debian package that ships turnserver and the turnutils_* tools. */
export const COTURN_PACKAGE = 'coturn';

/** Template of the benchmark's coturn config (placeholders `@@NAME@@`). */
export const COTURN_BENCH_TEMPLATE = resolve(import.meta.dirname, '../../bench/turn/coturn.conf');

/** How coturn authenticates allocations. The two cannot be mixed in one coturn. */
export type CoturnAuth =
  /** TURN REST API: `use-auth-secret` + `static-auth-secret` (time-limited usernames). */
  | { readonly kind: 'rest'; readonly secret: string }
  /** Long-term credentials with static `user=name:password` entries (`lt-cred-mech`). */
  | { readonly kind: 'users'; readonly users: Readonly<Record<string, string>> };

/** An inclusive UDP port range for relayed transport addresses (`min-port`/`max-port`). */
export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** Options of {@link startCoturn}. */
export interface CoturnOptions {
  readonly auth: CoturnAuth;
  /** Default realm (`realm=`); default `rampart.test`. */
  readonly realm?: string;
  /** Open a TLS (and DTLS) listener with a throwaway certificate; default true. */
  readonly tls?: boolean;
  /**
   * Relay range; default a random 400-port block in 61000–65399, above Linux's ephemeral
   * range (32768–60999) so ports handed out by the kernel (freePort) never collide.
   */
  readonly relayPorts?: PortRange;
  /** `allow-loopback-peers`: coturn refuses 127.0.0.0/8 peers without it. Default true. */
  readonly allowLoopbackPeers?: boolean;
  /** `verbose` logging (one line per allocation / permission / channel). Default false. */
  readonly verbose?: boolean;
  /** Raw config lines appended last. */
  readonly extraConfig?: readonly string[];
  readonly startTimeoutMs?: number;
}

/** A running coturn on 127.0.0.1. */
export interface CoturnInstance {
  readonly host: string;
  /** UDP and TCP listening port (`listening-port`). */
  readonly port: number;
  /** TLS and DTLS listening port (`tls-listening-port`), when TLS is on. */
  readonly tlsPort: number | undefined;
  /** CA that signed the server certificate, when TLS is on (pass to clients to verify). */
  readonly caCertFile: string | undefined;
  readonly realm: string;
  readonly auth: CoturnAuth;
  readonly relayPorts: PortRange;
  readonly workDir: string;
  readonly configFile: string;
  readonly process: ManagedProcess;
  /** SIGTERM (SIGKILL after 3 s), then removes the temp dir. Idempotent. */
  close(): Promise<void>;
}

/** Everything that varies in a generated coturn config. */
export interface CoturnConfigParams {
  readonly listenIp: string;
  readonly port: number;
  readonly realm: string;
  readonly auth: CoturnAuth;
  readonly relayIp: string;
  readonly relayPorts: PortRange;
  /** TLS listener port and PEM files; omit for `no-tls` + `no-dtls`. */
  readonly tls?: { readonly port: number; readonly certFile: string; readonly keyFile: string };
  readonly allowLoopbackPeers: boolean;
  readonly verbose: boolean;
  /** SQLite user db path: coturn otherwise opens /var/lib/turn/turndb. */
  readonly userDbFile: string;
  readonly pidFile: string;
  readonly extraConfig?: readonly string[];
}

function authLines(auth: CoturnAuth): string[] {
  switch (auth.kind) {
    case 'rest':
      return ['use-auth-secret', `static-auth-secret=${auth.secret}`];
    case 'users':
      return [
        'lt-cred-mech',
        ...Object.entries(auth.users).map(([name, password]) => `user=${name}:${password}`),
      ];
  }
}

/** coturn config text (one `option[=value]` per line) for `params`. */
export function coturnConfig(params: CoturnConfigParams): string {
  const lines = [
    `listening-ip=${params.listenIp}`,
    `listening-port=${params.port}`,
    `relay-ip=${params.relayIp}`,
    `min-port=${params.relayPorts.min}`,
    `max-port=${params.relayPorts.max}`,
    `realm=${params.realm}`,
    ...authLines(params.auth),
    'fingerprint',
    ...(params.tls === undefined
      ? ['no-tls', 'no-dtls']
      : [
          `tls-listening-port=${params.tls.port}`,
          `cert=${params.tls.certFile}`,
          `pkey=${params.tls.keyFile}`,
        ]),
    ...(params.allowLoopbackPeers ? ['allow-loopback-peers'] : []),
    'no-multicast-peers',
    'no-cli',
    `userdb=${params.userDbFile}`,
    'log-file=stdout',
    'simple-log',
    ...(params.verbose ? ['verbose'] : []),
    `pidfile=${params.pidFile}`,
    ...(params.extraConfig ?? []),
  ];
  return `${lines.join('\n')}\n`;
}

function randomRelayRange(): PortRange {
  const block = 400;
  const min = 61000 + block * Math.floor(Math.random() * 11);
  return { min, max: min + block - 1 };
}

/**
 * True when a STUN Binding request to `host:port` over UDP gets a Binding success response
 * with the same transaction id within `timeoutMs`.
 */
export function stunBindingResponds(
  port: number,
  host = '127.0.0.1',
  timeoutMs = 300,
): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createSocket('udp4');
    const transactionId = randomBytes(12);
    const request = Buffer.alloc(20);
    request.writeUInt16BE(0x0001, 0); // Binding request
    request.writeUInt16BE(0, 2);
    request.writeUInt32BE(0x2112a442, 4);
    transactionId.copy(request, 8);
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      resolvePromise(ok);
    };
    const timer = setTimeout(() => {
      finish(false);
    }, timeoutMs);
    socket.on('error', () => {
      finish(false);
    });
    socket.on('message', (message: Buffer) => {
      if (
        message.length >= 20 &&
        message.readUInt16BE(0) === 0x0101 &&
        message.subarray(8, 20).equals(transactionId)
      ) {
        finish(true);
      }
    });
    socket.send(request, port, host, (error) => {
      if (error) finish(false);
    });
  });
}

async function waitReady(
  managed: ManagedProcess,
  port: number,
  tlsPort: number | undefined,
  timeoutMs: number,
): Promise<void> {
  // "Total General servers" comes once every listener is open; auth threads follow.
  await managed.waitForOutput(/Total General servers/, timeoutMs);
  await waitUntil(
    async () =>
      managed.hasExited ||
      ((await udpBound(port)) &&
        (await tcpAccepts(port)) &&
        (tlsPort === undefined || (await tcpAccepts(tlsPort))) &&
        (await stunBindingResponds(port))),
    timeoutMs,
    () =>
      `coturn did not answer on 127.0.0.1:${port}${tlsPort === undefined ? '' : ` / TLS ${tlsPort}`} ` +
      `within ${timeoutMs} ms\n${managed.stdout().slice(-4000)}\n${managed.stderr().slice(-2000)}`,
  );
  if (managed.hasExited) {
    throw new Error(
      `turnserver exited at start\n${managed.stdout().slice(-6000)}\n${managed.stderr().slice(-2000)}`,
    );
  }
}

/**
 * Starts `turnserver -c <generated config>` on 127.0.0.1 (ephemeral listening ports, a
 * throwaway CA-signed certificate for TLS/DTLS) and resolves once it answers a STUN Binding
 * on UDP and accepts TCP (and TLS) connections. Retries with fresh ports if a port was
 * taken meanwhile.
 */
export async function startCoturn(options: CoturnOptions): Promise<CoturnInstance> {
  const turnserver = requireProgram('turnserver', COTURN_PACKAGE);
  const attempts = 3;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const workDir = await mkdtemp(join(tmpdir(), 'rampart-coturn-'));
    let managed: ManagedProcess | undefined;
    try {
      const useTls = options.tls ?? true;
      const port = await freePort();
      const tlsPort = useTls ? await freePort() : undefined;
      const pki = useTls ? await createTestPki(workDir) : undefined;
      const realm = options.realm ?? 'rampart.test';
      const relayPorts = options.relayPorts ?? randomRelayRange();
      const configFile = join(workDir, 'turnserver.conf');
      await writeFile(
        configFile,
        coturnConfig({
          listenIp: '127.0.0.1',
          port,
          realm,
          auth: options.auth,
          relayIp: '127.0.0.1',
          relayPorts,
          ...(tlsPort !== undefined && pki !== undefined
            ? {
                tls: { port: tlsPort, certFile: pki.serverCertFile, keyFile: pki.serverKeyFile },
              }
            : {}),
          allowLoopbackPeers: options.allowLoopbackPeers ?? true,
          verbose: options.verbose ?? false,
          userDbFile: join(workDir, 'turndb'),
          pidFile: join(workDir, 'turnserver.pid'),
          ...(options.extraConfig !== undefined ? { extraConfig: options.extraConfig } : {}),
        }),
      );
      const started = startProcess('turnserver', turnserver, ['-c', configFile], { cwd: workDir });
      managed = started;
      await waitReady(started, port, tlsPort, options.startTimeoutMs ?? 10_000);
      let closed = false;
      return {
        host: '127.0.0.1',
        port,
        tlsPort,
        caCertFile: pki?.caCertFile,
        realm,
        auth: options.auth,
        relayPorts,
        workDir,
        configFile,
        process: started,
        async close(): Promise<void> {
          if (closed) return;
          closed = true;
          await started.stop('SIGTERM', 3000);
          await rm(workDir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      lastError = error;
      if (managed !== undefined) await managed.stop('SIGKILL', 1000);
      await rm(workDir, { recursive: true, force: true });
    }
  }
  throw new Error(`turnserver failed to start after ${attempts} attempts: ${String(lastError)}`);
}

/** Parameters of the benchmark's coturn config (see `bench/turn/coturn.conf`). */
export interface CoturnBenchConfigParams {
  /** Address coturn listens on and relays from; default 127.0.0.1. */
  readonly listenIp?: string;
  /** UDP+TCP listening port. */
  readonly port: number;
  readonly realm: string;
  /** TURN REST API shared secret (`static-auth-secret`). */
  readonly secret: string;
  /** Relay range; default 61000–65535 (above the kernel's ephemeral range). */
  readonly relayPorts?: PortRange;
  /** TLS/DTLS listener; omit to disable both (`no-tls`, `no-dtls`). */
  readonly tls?: { readonly port: number; readonly certFile: string; readonly keyFile: string };
  /** Directory for the pid file and the SQLite user db. */
  readonly stateDir: string;
  /** Template text; default the content of {@link COTURN_BENCH_TEMPLATE}. */
  readonly template?: string;
}

/** Renders the benchmark's coturn config: every `@@NAME@@` of the template substituted. */
export async function renderCoturnBenchConfig(params: CoturnBenchConfigParams): Promise<string> {
  const template = params.template ?? (await readFile(COTURN_BENCH_TEMPLATE, 'utf8'));
  const relay = params.relayPorts ?? { min: 61000, max: 65535 };
  const listenIp = params.listenIp ?? '127.0.0.1';
  const values: Readonly<Record<string, string>> = {
    LISTEN_IP: listenIp,
    RELAY_IP: listenIp,
    PORT: String(params.port),
    REALM: params.realm,
    STATIC_AUTH_SECRET: params.secret,
    MIN_PORT: String(relay.min),
    MAX_PORT: String(relay.max),
    TLS:
      params.tls === undefined
        ? 'no-tls\nno-dtls'
        : `tls-listening-port=${params.tls.port}\ncert=${params.tls.certFile}\npkey=${params.tls.keyFile}`,
    USERDB_FILE: join(params.stateDir, 'turndb'),
    PID_FILE: join(params.stateDir, 'turnserver.pid'),
  };
  const rendered = template.replace(/@@([A-Z_]+)@@/g, (match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`coturn template: unknown placeholder ${match}`);
    return value;
  });
  return rendered;
}

/** Writes the benchmark's coturn config (rendered from `bench/turn/coturn.conf`) to `path`. */
export async function writeCoturnBenchConfig(
  path: string,
  params: CoturnBenchConfigParams,
): Promise<void> {
  await writeFile(path, await renderCoturnBenchConfig(params));
}

// Drives peer-script.ts inside the namespaces of a topology.
import { join } from 'node:path';
import type { ManagedProcess } from '../helpers/process.ts';
import { NODE_BINARY } from './netns.ts';
import type { Role, Topology } from './netns.ts';
import type { SendOutcome } from './peer-script.ts';

export type { SendOutcome } from './peer-script.ts';

/** Absolute path of the peer script (namespaces share the file system). */
export const PEER_SCRIPT = join(import.meta.dirname, 'peer-script.ts');

/** PEM files for a TLS peer. */
export interface PeerTls {
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Server: require a client certificate from this CA. Client: trust only this CA. */
  readonly caFile?: string;
}

function tlsEnv(peerTls: PeerTls | undefined): Record<string, string> {
  return {
    RT_TLS_CERT: peerTls?.certFile ?? '',
    RT_TLS_KEY: peerTls?.keyFile ?? '',
    RT_TLS_CA: peerTls?.caFile ?? '',
  };
}

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** Serve TLS instead of plain TCP (UDP is always served). */
  readonly tls?: PeerTls;
  readonly startTimeoutMs?: number;
}

/**
 * Starts a UDP + TCP (or TLS) server on `host:port` in `role`'s namespace that answers
 * with `{"from":"<source ip>:<port>","received":"<text>"}`; resolves once it is bound.
 */
export async function startServer(
  topo: Topology,
  role: Role,
  host: string,
  port: number,
  options: ServerOptions = {},
): Promise<ManagedProcess> {
  const argv = [NODE_BINARY, PEER_SCRIPT, 'serve', host, String(port)];
  if (options.tls !== undefined) argv.push('tls');
  const server = topo.exec(role, argv, { name: `${role}:serve`, env: tlsEnv(options.tls) });
  await server.waitForOutput(/^ready$/m, options.startTimeoutMs ?? 10_000);
  return server;
}

/** Options of {@link sendFrom}. */
export interface SendOptions {
  readonly timeoutMs?: number;
  readonly tls?: PeerTls;
  /** Node writes the TLS session keys here (`--tls-keylog`), so captures can be decrypted. */
  readonly keylogFile?: string;
}

/**
 * Sends `text` from `role`'s namespace to `host:port` and returns the first reply, or the
 * error code (`ENETUNREACH`, `ECONNREFUSED`, `ETIMEDOUT`, ...) when there is none.
 */
export async function sendFrom(
  topo: Topology,
  role: Role,
  transport: 'udp' | 'tcp' | 'tls',
  host: string,
  port: number,
  text: string,
  options: SendOptions = {},
): Promise<SendOutcome> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const argv = [NODE_BINARY];
  if (options.keylogFile !== undefined) argv.push(`--tls-keylog=${options.keylogFile}`);
  argv.push(PEER_SCRIPT, 'send', transport, host, String(port), text, String(timeoutMs));
  const result = await topo.runOk(role, argv, {
    name: `${role}:send`,
    env: tlsEnv(options.tls),
    timeoutMs: timeoutMs + 5000,
  });
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as SendOutcome;
  } catch {
    throw new Error(`peer-script printed no outcome:\n${result.stdout}\n${result.stderr}`);
  }
}

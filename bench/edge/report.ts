/**
 * Pure helpers of `npm run bench:edge`: client source addresses, the messages between the
 * benchmark and its idle-connection client, memory per connection, ratios and summary lines.
 */
import { rateRatio } from '../registrar/report.ts';

/**
 * sipp injection file (`-inf`, read SEQUENTIAL, wrapping around): one user name per line,
 * `u000000` … A bounded set, so that the registrar's table stops growing once every user has
 * registered and later steps only refresh bindings.
 */
export function usersCsv(count: number): string {
  if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
    throw new RangeError(`user count must be an integer in [1, 1e6], got ${count}`);
  }
  const lines = ['SEQUENTIAL'];
  for (let index = 0; index < count; index++) lines.push(`u${String(index).padStart(6, '0')}`);
  return lines.join('\n') + '\n';
}

/** Client source addresses are 127.0.0.2 … 127.0.0.(1 + count): all loopback (127.0.0.0/8). */
export const MAX_SOURCE_ADDRESSES = 250;

/** The source address of the `index`-th connection, round robin over `count` addresses. */
export function sourceAddress(index: number, count: number): string {
  if (!Number.isInteger(count) || count < 1 || count > MAX_SOURCE_ADDRESSES) {
    throw new RangeError(`source address count must be in [1, ${MAX_SOURCE_ADDRESSES}]`);
  }
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`bad index ${index}`);
  return `127.0.0.${2 + (index % count)}`;
}

/** Benchmark → idle-connection client (over the IPC channel of `fork`). */
export type ClientCommand =
  | { readonly type: 'open'; readonly count: number }
  | { readonly type: 'status' }
  | { readonly type: 'check' }
  | { readonly type: 'close' };

/** Idle-connection client → benchmark. */
export type ClientReport =
  | {
      readonly type: 'opened';
      /** Connections asked for by this command. */
      readonly requested: number;
      /** Connections of this command whose TLS handshake completed. */
      readonly established: number;
      /** This command's connections that answered the CRLFCRLF ping with a CRLF pong. */
      readonly ponged: number;
      /** Every connection open now (this command's and earlier ones). */
      readonly open: number;
      readonly failed: number;
      /** A few distinct failure reasons. */
      readonly errors: readonly string[];
      readonly milliseconds: number;
      readonly protocol: string | null;
      readonly cipher: string | null;
    }
  | {
      /** Counted without sending anything. */
      readonly type: 'status';
      readonly open: number;
      /** Connections the server closed since they were opened. */
      readonly closedByServer: number;
    }
  | {
      readonly type: 'checked';
      readonly open: number;
      /** Open connections that answered a second ping (sent at most <in-flight> at a time). */
      readonly ponged: number;
      /** Connections the server closed since they were opened. */
      readonly closedByServer: number;
    };

/** Whether `value` is a {@link ClientReport} (it comes from another process). */
export function isClientReport(value: unknown): value is ClientReport {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'opened' || type === 'status' || type === 'checked';
}

/** Counts the RFC 5626 §4.4.1 pongs (single CRLFs) in what a server sent on a quiet flow. */
export function countPongs(received: string): number {
  let count = 0;
  for (let at = received.indexOf('\r\n'); at !== -1; at = received.indexOf('\r\n', at + 2)) {
    count++;
  }
  return count;
}

/** (after - before) / connections, or null when not measured or no connection was added. */
export function perConnection(
  before: number | undefined,
  after: number | undefined,
  connections: number,
): number | null {
  if (before === undefined || after === undefined || !(connections > 0)) return null;
  return (after - before) / connections;
}

/** Memory an edge holds per idle TLS connection. */
export interface ConnectionMemory {
  /** Idle connections added between the two samples and still open at the second. */
  readonly connections: number;
  /** Summed PSS of the edge's processes at rest, with one connection (the warm-up). */
  readonly baselinePssBytes: number;
  /** Growth of summed PSS over the edge's processes, per connection: the figure compared. */
  readonly pssBytesPerConnection: number | null;
  /** Growth of summed VmRSS (counts a shared page once per process that maps it). */
  readonly rssBytesPerConnection: number | null;
  /** Kamailio only: growth of its shared pool's `real_used`. */
  readonly shmBytesPerConnection: number | null;
}

/** What was measured for one edge; an absent figure means the phase failed or did not run. */
export interface EdgeFigures {
  readonly name: string;
  readonly registerPerSecond?: number;
  readonly messagePerSecond?: number;
  readonly memory?: ConnectionMemory;
  readonly errors: readonly string[];
}

function formatBytes(value: number | null | undefined): string {
  return value === null || value === undefined ? 'n/a' : `${Math.round(value)} B`;
}

function formatRatio(value: number | null): string {
  return value === null ? 'n/a' : value.toFixed(2);
}

/**
 * Summary lines: each edge's figures, then `candidate`/other ratios (rates: higher is better;
 * bytes per connection: lower is better).
 */
export function summaryLines(edges: readonly EdgeFigures[], candidate = 'rampart'): string[] {
  const lines: string[] = [];
  for (const edge of edges) {
    const parts = [
      `REGISTER ${edge.registerPerSecond ?? 'n/a'}/s`,
      `MESSAGE ${edge.messagePerSecond ?? 'n/a'}/s`,
    ];
    if (edge.memory !== undefined) {
      const memory = edge.memory;
      parts.push(
        `per idle TLS connection (${memory.connections}): PSS ${formatBytes(memory.pssBytesPerConnection)}, ` +
          `RSS ${formatBytes(memory.rssBytesPerConnection)}` +
          `, PSS at rest ${(memory.baselinePssBytes / 1048576).toFixed(1)} MiB` +
          (memory.shmBytesPerConnection === null
            ? ''
            : `, shm pool ${formatBytes(memory.shmBytesPerConnection)}`),
      );
    }
    lines.push(
      `${edge.name}: ${parts.join(', ')}` +
        (edge.errors.length === 0 ? '' : ` [errors: ${edge.errors.join('; ')}]`),
    );
  }
  const a = edges.find((edge) => edge.name === candidate);
  if (a === undefined) return lines;
  for (const b of edges) {
    if (b === a) continue;
    const pss = rateRatio(
      a.memory?.pssBytesPerConnection ?? undefined,
      b.memory?.pssBytesPerConnection ?? undefined,
    );
    lines.push(
      `ratio ${a.name}/${b.name}: REGISTER ` +
        `${formatRatio(rateRatio(a.registerPerSecond, b.registerPerSecond))}, MESSAGE ` +
        `${formatRatio(rateRatio(a.messagePerSecond, b.messagePerSecond))} (higher is better); ` +
        `PSS per connection ${formatRatio(pss)} (lower is better)`,
    );
  }
  return lines;
}

/** `YYYY-MM-DD` of `date` in UTC: the results file name. */
export function resultsDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

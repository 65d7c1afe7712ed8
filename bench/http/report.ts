/** Parsing wrk's output and the bench:http table. */

/** What one wrk run measured. */
export interface WrkResult {
  readonly requestsPerSecond: number;
  /** 99th percentile latency, milliseconds. */
  readonly p99Ms: number;
  readonly p50Ms: number;
  /** Bytes per second read by wrk (headers and bodies). */
  readonly transferBytesPerSecond: number;
  readonly requests: number;
  /** Socket errors of any kind (connect, read, write, timeout). */
  readonly errors: number;
  readonly non2xx: number;
}

const TIME_UNITS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
const SIZE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
};

function milliseconds(value: string, unit: string): number {
  return Number(value) * (TIME_UNITS[unit] ?? Number.NaN);
}

/** Parses wrk 4 output (run with --latency). Missing figures are NaN. */
export function parseWrk(text: string): WrkResult {
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const transfer = /Transfer\/sec:\s+([\d.]+)([KMGT]?B)/.exec(text);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\b/m.exec(text);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\b/m.exec(text);
  const requests = /(\d+) requests in/.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requestsPerSecond: rate === null ? Number.NaN : Number(rate[1]),
    p99Ms: p99 === null ? Number.NaN : milliseconds(p99[1] ?? '', p99[2] ?? ''),
    p50Ms: p50 === null ? Number.NaN : milliseconds(p50[1] ?? '', p50[2] ?? ''),
    transferBytesPerSecond:
      transfer === null
        ? Number.NaN
        : Number(transfer[1]) * (SIZE_UNITS[transfer[2] ?? ''] ?? Number.NaN),
    requests: requests === null ? 0 : Number(requests[1]),
    errors: socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
  };
}

/** One proxy's figures. */
export interface ProxyFigures {
  readonly small: WrkResult;
  readonly big: WrkResult;
  /**
   * CPU time of the proxy's process tree (user + system, every thread) per small request at
   * saturation, microseconds: steadier than req/s on a shared machine, where time stolen by
   * other guests lowers the rate but is not charged to the process.
   */
  readonly smallCpuMicrosPerRequest?: number;
}

/** Rampart relative to nginx; every ratio ≥ 1 means Rampart is at least as good. */
export interface Ratios {
  /** Small responses, req/s: Rampart / nginx. */
  readonly smallRequestsPerSecond: number;
  /** Small responses, p99 latency: nginx / Rampart (lower latency is better). */
  readonly smallP99: number;
  /** 10 MB file, transfer rate: Rampart / nginx. */
  readonly bigTransfer: number;
  /** Small responses, CPU per request: nginx / Rampart (less CPU is better), when measured. */
  readonly smallCpuPerRequest?: number;
}

function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** The ratios of Rampart's figures to nginx's. */
export function ratios(rampart: ProxyFigures, nginx: ProxyFigures): Ratios {
  return {
    smallRequestsPerSecond: round(rampart.small.requestsPerSecond / nginx.small.requestsPerSecond),
    smallP99: round(nginx.small.p99Ms / rampart.small.p99Ms),
    bigTransfer: round(rampart.big.transferBytesPerSecond / nginx.big.transferBytesPerSecond),
    ...(rampart.smallCpuMicrosPerRequest === undefined ||
    nginx.smallCpuMicrosPerRequest === undefined
      ? {}
      : {
          smallCpuPerRequest: round(
            nginx.smallCpuMicrosPerRequest / rampart.smallCpuMicrosPerRequest,
          ),
        }),
  };
}

/** The table bench:http prints. */
export function formatTable(
  rampart: ProxyFigures,
  nginx: ProxyFigures,
  names: readonly [string, string] = ['rampart', 'nginx'],
): string {
  const r = ratios(rampart, nginx);
  const mb = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(1)} MiB/s`;
  const rows: string[][] = [
    ['metric', names[0], names[1], `ratio (≥ 1: ${names[0]} as good)`],
    [
      'small: req/s',
      rampart.small.requestsPerSecond.toFixed(0),
      nginx.small.requestsPerSecond.toFixed(0),
      r.smallRequestsPerSecond.toFixed(2),
    ],
    [
      'small: p99 latency',
      `${rampart.small.p99Ms.toFixed(2)} ms`,
      `${nginx.small.p99Ms.toFixed(2)} ms`,
      r.smallP99.toFixed(2),
    ],
    [
      '10 MB file: transfer',
      mb(rampart.big.transferBytesPerSecond),
      mb(nginx.big.transferBytesPerSecond),
      r.bigTransfer.toFixed(2),
    ],
  ];
  if (r.smallCpuPerRequest !== undefined)
    rows.push([
      'small: CPU per request',
      `${(rampart.smallCpuMicrosPerRequest ?? Number.NaN).toFixed(1)} µs`,
      `${(nginx.smallCpuMicrosPerRequest ?? Number.NaN).toFixed(1)} µs`,
      r.smallCpuPerRequest.toFixed(2),
    ]);
  const widths = (rows[0] ?? []).map((_, i) =>
    Math.max(...rows.map((row) => (row[i] ?? '').length)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

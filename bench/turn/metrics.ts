/**
 * The metrics of `npm run bench:turn`: which load-generator runs each needs (full and
 * `--quick` sizes), which figures it reports, which way is better, and the issue's goals.
 * Pure: run.ts does the I/O.
 */

/** Problem size: the issue's numbers, or small ones for a smoke run. */
export type Scale = 'full' | 'quick';

/** One figure in the report table. */
export interface MetricRow {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /**
   * The issue's goal for the candidate, as text, and its check on the medians (ratio is
   * candidate / baseline, null when undefined).
   */
  readonly goal?: {
    readonly text: string;
    readonly met: (candidate: number, ratio: number | null) => boolean;
  };
}

/** One generator output: the `result` object load.ts printed. */
export type LoadResult = Readonly<Record<string, unknown>>;

/** A metric: generator runs against one server instance, and how to read them. */
export interface MetricPlan {
  readonly name: string;
  readonly description: string;
  readonly rows: readonly MetricRow[];
  /** Generator argument lists (after the common ones), run in order on the same server. */
  runs(scale: Scale): readonly (readonly string[])[];
  /** Seconds after which a generator run is killed. */
  readonly timeoutSeconds: number;
  /** What qualifies the figures (who was the bottleneck, …), for the log and the report. */
  note?(results: readonly LoadResult[]): string;
  /** Row key → value, from the results of {@link runs} in the same order. */
  extract(results: readonly LoadResult[]): Readonly<Record<string, number | null>>;
}

/** The number at `path` in `value` (dot-separated keys), or null. */
export function numberAt(value: unknown, path: string): number | null {
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null) return null;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'number' && Number.isFinite(current) ? current : null;
}

function sized(scale: Scale, full: Record<string, number>, quick: Record<string, number>) {
  const chosen = scale === 'full' ? full : quick;
  return Object.entries(chosen).flatMap(([key, value]) => [`--${key}`, String(value)]);
}

/** Core load and kernel drops of a paced run, for the log. */
function coresNote(run: LoadResult | undefined): string {
  const drops = ['server', 'generator', 'echo']
    .map((owner) => `${owner} ${numberAt(run, `udpDropped.${owner}`) ?? '?'}`)
    .join(' ');
  return (
    `server core ${numberAt(run, 'serverCoreBusy')?.toFixed(2) ?? '?'}, ` +
    `load core ${numberAt(run, 'loadCoreBusy')?.toFixed(2) ?? '?'}, kernel drops ${drops}`
  );
}

const PACED_FULL = { allocations: 500, rate: 50, seconds: 10 };
const PACED_QUICK = { allocations: 50, rate: 50, seconds: 3 };

const KIB = 1024;

/** Every metric, in report order. */
export const METRICS: readonly MetricPlan[] = [
  {
    name: 'paced',
    description: 'paced media: N allocations × R packets/s each, loss, round trip, jitter',
    rows: [
      { key: 'lossPercent', label: 'paced media loss', unit: '%', better: 'lower' },
      { key: 'rttMedianMs', label: 'paced media RTT p50', unit: 'ms', better: 'lower' },
      { key: 'rttP99Ms', label: 'paced media RTT p99', unit: 'ms', better: 'lower' },
      { key: 'jitterMs', label: 'paced media jitter', unit: 'ms', better: 'lower' },
    ],
    runs: (scale) => [['--mode', 'paced', ...sized(scale, PACED_FULL, PACED_QUICK)]],
    timeoutSeconds: 180,
    note: ([run]) => coresNote(run),
    extract: ([paced]) => {
      const loss = numberAt(paced, 'media.lossFraction');
      return {
        lossPercent: loss === null ? null : loss * 100,
        rttMedianMs: numberAt(paced, 'media.rttMedianMs'),
        rttP99Ms: numberAt(paced, 'media.rttP99Ms'),
        jitterMs: numberAt(paced, 'media.jitterMeanMs'),
      };
    },
  },
  {
    name: 'cpu',
    description: 'server CPU-seconds per million relayed packets at a fixed offered load',
    rows: [
      {
        key: 'cpuSecondsPerMillion',
        label: 'CPU-s per 1M relayed',
        unit: 's',
        better: 'lower',
        goal: { text: '≤ 1.0× baseline', met: (_c, ratio) => ratio !== null && ratio <= 1 },
      },
    ],
    runs: (scale) => [
      [
        '--mode',
        'paced',
        ...sized(
          scale,
          { allocations: 200, rate: 100, seconds: 10 },
          { allocations: 50, rate: 100, seconds: 3 },
        ),
      ],
    ],
    timeoutSeconds: 180,
    extract: ([run]) => ({
      cpuSecondsPerMillion: numberAt(run, 'serverCpuSecondsPerMillionRelayed'),
    }),
    note: ([run]) =>
      `offered ${numberAt(run, 'media.offeredPps')?.toFixed(0) ?? '?'} pkt/s, ` +
      `${numberAt(run, 'relayedPackets') ?? '?'} packets relayed, ` +
      `server CPU ${numberAt(run, 'serverCpuSeconds')?.toFixed(2) ?? '?'} s, ` +
      `loss ${((numberAt(run, 'media.lossFraction') ?? Number.NaN) * 100).toFixed(3)}%`,
  },
  {
    name: 'saturation',
    description: 'highest received packets/s with ≤ 1 % loss (ramp, then bisect)',
    rows: [
      {
        key: 'maxReceivedPps',
        label: 'saturation (≤1% loss)',
        unit: 'pkt/s',
        better: 'higher',
        goal: { text: '≥ 1.0× baseline', met: (_c, ratio) => ratio !== null && ratio >= 1 },
      },
    ],
    runs: (scale) => [
      [
        '--mode',
        'saturation',
        ...sized(
          scale,
          { allocations: 200, 'step-seconds': 3, 'start-rate': 10_000, 'budget-seconds': 60 },
          { allocations: 50, 'step-seconds': 1, 'start-rate': 5_000, 'budget-seconds': 12 },
        ),
      ],
    ],
    timeoutSeconds: 240,
    extract: ([run]) => ({ maxReceivedPps: numberAt(run, 'maxReceivedPps') }),
    note: ([run]) => {
      const steps = (run?.['steps'] ?? []) as readonly LoadResult[];
      const failing = steps
        .filter((s) => s['verdict'] !== 'ok')
        .sort((a, b) => (numberAt(a, 'rate') ?? 0) - (numberAt(b, 'rate') ?? 0))[0];
      return (
        `limited by ${String(run?.['limitedBy'])}` +
        (failing === undefined
          ? ''
          : ` (first failing step ${numberAt(failing, 'rate')} pkt/s: server core ` +
            `${numberAt(failing, 'serverCoreBusy')?.toFixed(2) ?? '?'}, load core ` +
            `${numberAt(failing, 'loadCoreBusy')?.toFixed(2) ?? '?'})`)
      );
    },
  },
  {
    name: 'memory',
    description: 'RSS per allocation while holding N allocations (each with a channel)',
    rows: [
      {
        key: 'kibPerAllocation',
        label: 'RSS per allocation',
        unit: 'KiB',
        better: 'lower',
        goal: { text: '≤ 10 KiB', met: (candidate) => candidate <= 10 },
      },
    ],
    runs: (scale) => [
      ['--mode', 'hold', ...sized(scale, { allocations: 5000 }, { allocations: 500 })],
    ],
    timeoutSeconds: 240,
    note: ([run]) =>
      `held ${numberAt(run, 'held') ?? '?'}/${numberAt(run, 'requested') ?? '?'}, RSS ` +
      `${((numberAt(run, 'rssBeforeBytes') ?? 0) / 1048576).toFixed(1)} → ` +
      `${((numberAt(run, 'rssHoldingBytes') ?? 0) / 1048576).toFixed(1)} MiB`,
    extract: ([run]) => {
      const bytes = numberAt(run, 'bytesPerAllocation');
      return { kibPerAllocation: bytes === null ? null : bytes / KIB };
    },
  },
  {
    name: 'churn',
    description: 'RSS growth over cycles of allocate + ChannelBind + Refresh(0)',
    rows: [
      { key: 'growthKib', label: 'RSS growth, churn', unit: 'KiB', better: 'lower' },
      {
        key: 'growthPerCycleKib',
        label: 'RSS growth per cycle',
        unit: 'KiB',
        better: 'lower',
        // Zero growth, to page granularity: at most one 4 KiB page per cycle.
        goal: { text: '≈ 0 (≤ 4 KiB)', met: (candidate) => candidate <= 4 },
      },
    ],
    runs: (scale) => [
      [
        '--mode',
        'churn',
        ...sized(
          scale,
          { cycles: 10, allocations: 1000, 'settle-ms': 1000 },
          { cycles: 3, allocations: 200, 'settle-ms': 500 },
        ),
      ],
    ],
    timeoutSeconds: 300,
    extract: ([run]) => {
      const bytes = numberAt(run, 'growthBytes');
      const cycles = numberAt(run, 'cycles');
      return {
        growthKib: bytes === null ? null : bytes / KIB,
        growthPerCycleKib:
          bytes === null || cycles === null || cycles < 2 ? null : bytes / KIB / (cycles - 1),
      };
    },
  },
  {
    name: 'binding',
    description: 'Binding requests/s (pipelined, bounded window)',
    rows: [
      {
        key: 'bindingPerSecond',
        label: 'Binding requests/s',
        unit: 'req/s',
        better: 'higher',
        goal: { text: '≥ 1.0× baseline', met: (_c, ratio) => ratio !== null && ratio >= 1 },
      },
    ],
    runs: (scale) => [
      [
        '--mode',
        'binding',
        ...sized(
          scale,
          { seconds: 5, sockets: 8, window: 16 },
          { seconds: 2, sockets: 4, window: 16 },
        ),
      ],
    ],
    timeoutSeconds: 60,
    extract: ([run]) => ({ bindingPerSecond: numberAt(run, 'responsesPerSecond') }),
    note: ([run]) =>
      `server core ${numberAt(run, 'serverCoreBusy')?.toFixed(2) ?? '?'}, ` +
      `load core ${numberAt(run, 'loadCoreBusy')?.toFixed(2) ?? '?'}, ` +
      `timeouts ${numberAt(run, 'timeouts') ?? '?'}`,
  },
  {
    name: 'flood',
    description: 'paced media loss without, then with, a flood of invalid STUN',
    rows: [
      { key: 'lossWithoutPercent', label: 'media loss, no flood', unit: '%', better: 'lower' },
      { key: 'lossWithPercent', label: 'media loss, STUN flood', unit: '%', better: 'lower' },
      {
        key: 'extraLossPercent',
        label: 'extra loss from flood',
        unit: 'pp',
        better: 'lower',
        goal: { text: '0', met: (candidate) => candidate <= 0 },
      },
      { key: 'rttP99WithMs', label: 'RTT p99, STUN flood', unit: 'ms', better: 'lower' },
    ],
    runs: (scale) => {
      const media = ['--mode', 'paced', ...sized(scale, PACED_FULL, PACED_QUICK)];
      const floodRate = scale === 'full' ? 50_000 : 10_000;
      return [media, [...media, '--flood-rate', String(floodRate)]];
    },
    timeoutSeconds: 180,
    note: ([without, withFlood]) =>
      `alone: ${coresNote(without)}; with flood: ${coresNote(withFlood)}, flood sent ` +
      `${numberAt(withFlood, 'flood.sentPerSecond')?.toFixed(0) ?? '?'} pkt/s, ` +
      `answered ${numberAt(withFlood, 'flood.responses') ?? '?'}`,
    extract: ([without, withFlood]) => {
      const before = numberAt(without, 'media.lossFraction');
      const during = numberAt(withFlood, 'media.lossFraction');
      return {
        lossWithoutPercent: before === null ? null : before * 100,
        lossWithPercent: during === null ? null : during * 100,
        extraLossPercent: before === null || during === null ? null : (during - before) * 100,
        rttP99WithMs: numberAt(withFlood, 'media.rttP99Ms'),
      };
    },
  },
];

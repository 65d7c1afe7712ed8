/**
 * The report of `npm run bench:turn`, pure: per-run records, medians per side, ratios and
 * goals as a table (JSON and text), and the warnings (failed or disturbed runs).
 */
import { numberAt, type LoadResult, type MetricPlan } from './metrics.ts';
import { median, ratio } from './stats.ts';

/** One metric run on one server: row values or why it failed. */
export interface RunRecord {
  readonly server: string;
  readonly round: number;
  readonly values: Readonly<Record<string, number | null>>;
  readonly results: readonly LoadResult[];
  readonly note?: string;
  readonly error?: string;
  /** The most CPU (cores' worth) processes outside the benchmark used during a window. */
  readonly foreignBusy?: number;
  /** The busiest such process. */
  readonly foreignCommand?: string;
}

/** Above this (cores' worth of other processes' CPU), a run is disturbed and rerun. */
export const DISTURBED_FOREIGN_BUSY = 0.1;

/** The largest foreign CPU any of `results` saw (paced/binding windows, saturation steps). */
export function foreignBusyOf(results: readonly LoadResult[]): { busy: number; command?: string } {
  let most: { busy: number; command?: string } = { busy: 0 };
  for (const result of results) {
    const windows = [
      result['interference'],
      ...((result['steps'] ?? []) as readonly LoadResult[]).map((step) => step['interference']),
    ];
    for (const window of windows) {
      const busy = numberAt(window, 'foreignBusy');
      if (busy === null || busy <= most.busy) continue;
      const command = (window as Record<string, unknown>)['topForeignCommand'];
      most = { busy, ...(typeof command === 'string' ? { command } : {}) };
    }
  }
  return most;
}

/** A number for the text table: 3 significant-ish digits, 'n/a' when absent. */
export function format(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return 'n/a';
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 0.1) return value.toFixed(2);
  return value.toPrecision(2);
}

/** The median of a row over the runs of one server, null if no run produced it. */
export function medianOf(
  records: readonly RunRecord[],
  server: string,
  key: string,
): number | null {
  const values = records
    .filter((r) => r.server === server)
    .map((r) => r.values[key])
    .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return values.length === 0 ? null : median(values);
}

/** Which server each side ran. */
export interface SideNames {
  readonly baseline: string;
  readonly candidate: string;
}

/** One table row: medians of both sides, ratio, the goal and whether the candidate meets it. */
export interface TableRow {
  readonly metric: string;
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly baseline: number | null;
  readonly candidate: number | null;
  readonly ratio: number | null;
  readonly goal: string | null;
  readonly goalMet: boolean | null;
}

/**
 * The table over `metrics`: for each row, the median over rounds of each side (records are
 * labelled 'baseline' / 'candidate'), candidate / baseline, and the goal check.
 */
export function buildTable(
  metrics: readonly MetricPlan[],
  perMetric: Readonly<Record<string, readonly RunRecord[]>>,
  names: SideNames,
): { table: TableRow[]; rendered: string } {
  const table: TableRow[] = [];
  const header = [
    'metric',
    'unit',
    `${names.baseline} (base)`,
    `${names.candidate} (cand)`,
    'ratio',
    'goal',
  ];
  const lines: string[][] = [header];
  for (const metric of metrics) {
    const records = perMetric[metric.name] ?? [];
    for (const row of metric.rows) {
      const base = medianOf(records, 'baseline', row.key);
      const cand = medianOf(records, 'candidate', row.key);
      const r = ratio(cand, base);
      const goalMet = row.goal === undefined || cand === null ? null : row.goal.met(cand, r);
      table.push({
        metric: metric.name,
        key: row.key,
        label: row.label,
        unit: row.unit,
        better: row.better,
        baseline: base,
        candidate: cand,
        ratio: r,
        goal: row.goal?.text ?? null,
        goalMet,
      });
      lines.push([
        row.label,
        row.unit,
        format(base),
        format(cand),
        r === null ? 'n/a' : `${r.toFixed(2)}×`,
        row.goal === undefined
          ? ''
          : `${row.goal.text}${goalMet === null ? '' : goalMet ? ' ✓' : ' ✗'}`,
      ]);
    }
  }
  const widths = header.map((_, column) => Math.max(...lines.map((l) => (l[column] ?? '').length)));
  const rendered = lines
    .map((l) =>
      l
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
  return { table, rendered };
}

/** One line per failed run and per run still disturbed by other processes after retries. */
export function collectWarnings(
  metrics: readonly MetricPlan[],
  perMetric: Readonly<Record<string, readonly RunRecord[]>>,
): string[] {
  const warnings: string[] = [];
  for (const metric of metrics) {
    for (const record of perMetric[metric.name] ?? []) {
      const where = `${metric.name} ${record.server} round ${record.round}`;
      if (record.error !== undefined) {
        warnings.push(`${where}: ${record.error.slice(0, 300)}`);
      } else if ((record.foreignBusy ?? 0) > DISTURBED_FOREIGN_BUSY) {
        warnings.push(
          `${where}: disturbed, other processes used ${(record.foreignBusy ?? 0).toFixed(2)} ` +
            `of a core (${record.foreignCommand ?? '?'})`,
        );
      }
    }
  }
  return warnings;
}

/**
 * Waiting for a server under test to go quiet: a rate step that overloaded it leaves a backlog
 * (requests queued in its socket buffer, work in flight) that would otherwise land on the next
 * step and fail it for the previous one's sake. Every server is waited for alike.
 */
import { sleep } from '../../test/helpers/process.ts';
import { cpuSeconds } from '../turn/proc.ts';

/** Options of {@link waitUntilIdle}. */
export interface IdleOptions {
  /** Length of one CPU sample. Default 250 ms. */
  readonly windowMs?: number;
  /** Idle means at most this fraction of one core over a window. Default 0.05. */
  readonly busyFraction?: number;
  /** Give up waiting after this long. Default 30 s. */
  readonly maxMs?: number;
}

/**
 * Resolves once the processes `pids()` used at most `busyFraction` of a core over a window of
 * `windowMs` (or after `maxMs`); with how long that took and whether they went quiet.
 */
export async function waitUntilIdle(
  pids: () => readonly number[],
  options: IdleOptions = {},
): Promise<{ readonly waitedMs: number; readonly idle: boolean }> {
  const windowMs = options.windowMs ?? 250;
  const busyFraction = options.busyFraction ?? 0.05;
  const maxMs = options.maxMs ?? 30_000;
  const started = performance.now();
  for (;;) {
    const before = cpuSeconds(pids());
    const from = performance.now();
    await sleep(windowMs);
    const used = cpuSeconds(pids()) - before;
    const now = performance.now();
    if (used <= (busyFraction * (now - from)) / 1000)
      return { waitedMs: now - started, idle: true };
    if (now - started >= maxMs) return { waitedMs: now - started, idle: false };
  }
}

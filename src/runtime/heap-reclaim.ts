/**
 * Gives the memory of a burst of ended sessions back to the system.
 *
 * State that lives longer than two young-generation collections (a TURN allocation lives for
 * minutes) is promoted to V8's old generation, where only a full collection frees it, and
 * V8 starts one when the old generation reaches a limit it raises as the heap grows. After
 * thousands of allocations end, their garbage can sit in the old generation (and keep an
 * enlarged young generation) until far later: RSS climbs cycle after cycle although the live
 * heap does not. coturn's malloc gives such memory back at once.
 *
 * The reclaimer counts ended sessions; once `afterReleased` have ended since the last
 * collection and none has ended for `quietMs`, it runs one full, memory-reducing collection
 * (V8's "last resort" collection: the one a low-memory notification runs), at most once per
 * `minIntervalMs`. Waiting for the burst to end means the pause (tens of milliseconds for a
 * heap of tens of MiB on a slow core; reported as a metric) lands when little is happening.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's gc extension (`--expose-gc`), with the options it takes. */
type GcFunction = (options?: {
  type?: 'major' | 'minor';
  execution?: 'sync' | 'async';
  flavor?: 'regular' | 'last-resort';
}) => void;

let gcFunction: GcFunction | undefined;

/** The process's gc function, exposing it on first use (once per process). */
function exposedGc(): GcFunction {
  if (gcFunction !== undefined) return gcFunction;
  setFlagsFromString('--expose-gc');
  // The flag applies to contexts created from now on: a fresh one hands out `gc`.
  gcFunction = runInNewContext('gc') as GcFunction;
  return gcFunction;
}

export interface HeapReclaimOptions {
  /** Ended sessions since the last collection that make one worth its pause; 0 = never. */
  readonly afterReleased: number;
  /** How long no session may have ended before collecting (the burst is over). */
  readonly quietMs: number;
  /** Fewest milliseconds between two collections. */
  readonly minIntervalMs: number;
  /** Told the pause of each collection, in seconds (for a metric or a log line). */
  readonly onReclaim?: (pauseSeconds: number) => void;
  readonly now?: () => number;
  /** The collection itself (tests); default: V8's memory-reducing full collection. */
  readonly collect?: () => void;
}

export class HeapReclaimer {
  private readonly options: HeapReclaimOptions;
  private readonly now: () => number;
  private released = 0;
  private lastReleaseAt = 0;
  private lastReclaimAt = -Infinity;
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(options: HeapReclaimOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /** One session (or `count`) ended. */
  noteReleased(count = 1): void {
    if (this.stopped || this.options.afterReleased === 0) return;
    this.released += count;
    this.lastReleaseAt = this.now();
    if (this.released >= this.options.afterReleased) this.arm(this.options.quietMs);
  }

  /** Collections done so far. */
  get reclaims(): number {
    return this.count;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delayMs: number): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.check();
    }, delayMs);
    this.timer.unref();
  }

  private check(): void {
    if (this.stopped || this.released < this.options.afterReleased) return;
    const now = this.now();
    const quietFor = now - this.lastReleaseAt;
    if (quietFor < this.options.quietMs) {
      this.arm(this.options.quietMs - quietFor);
      return;
    }
    const sinceLast = now - this.lastReclaimAt;
    if (sinceLast < this.options.minIntervalMs) {
      this.arm(this.options.minIntervalMs - sinceLast);
      return;
    }
    this.released = 0;
    this.lastReclaimAt = now;
    const started = performance.now();
    if (this.options.collect !== undefined) this.options.collect();
    else exposedGc()({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    this.count++;
    this.options.onReclaim?.((performance.now() - started) / 1000);
  }
}

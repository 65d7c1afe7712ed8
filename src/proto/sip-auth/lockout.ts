/**
 * Lockout after repeated authentication failures, per key (a user, a source address).
 *
 * `maxFailures` failures within `windowMs` lock the key for `baseLockMs`; each further lockout
 * doubles the lock (capped at `maxLockMs`) until the key has been quiet for `forgetAfterMs`.
 * Memory is bounded: at most `maxTrackedKeys` keys, the least recently touched forgotten first.
 * Sans-IO: time is `now` in milliseconds.
 */
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';

/** Options of {@link Lockout}. */
export interface LockoutOptions {
  /** Failures within the window that lock the key. Default 5. */
  readonly maxFailures?: number;
  /** Sliding window in which failures count. Default 15 minutes. */
  readonly windowMs?: number;
  /** First lock duration. Default 1 minute. */
  readonly baseLockMs?: number;
  /** Longest lock. Default 1 hour. */
  readonly maxLockMs?: number;
  /** Quiet time after which the doubling starts again from `baseLockMs`. Default 24 hours. */
  readonly forgetAfterMs?: number;
  /** Most keys tracked; the least recently touched is evicted first. Default 10000. */
  readonly maxTrackedKeys?: number;
}

/** Whether a key is locked now, and until when. */
export type LockState =
  { readonly locked: false } | { readonly locked: true; readonly until: number };

interface Entry {
  /** Times of the failures inside the window, oldest first; at most maxFailures. */
  failures: number[];
  lockedUntil: number;
  /** Lockouts so far; the next lasts baseLockMs * 2^lockouts. */
  lockouts: number;
  lastFailureAt: number;
}

const UNLOCKED: LockState = { locked: false };

/** Failure counting and lockout for one kind of key. */
export class Lockout {
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly baseLockMs: number;
  private readonly maxLockMs: number;
  private readonly forgetAfterMs: number;
  private readonly maxTrackedKeys: number;
  /** Insertion order is recency order: a touched key is re-inserted at the end. */
  private readonly entries = new Map<string, Entry>();

  constructor(options: LockoutOptions = {}) {
    this.maxFailures = options.maxFailures ?? 5;
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.baseLockMs = options.baseLockMs ?? 60_000;
    this.maxLockMs = options.maxLockMs ?? 3_600_000;
    this.forgetAfterMs = options.forgetAfterMs ?? 24 * 3_600_000;
    this.maxTrackedKeys = options.maxTrackedKeys ?? 10_000;
    if (this.maxFailures < 1 || this.maxTrackedKeys < 1 || this.baseLockMs > this.maxLockMs) {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'inconsistent lockout options');
    }
  }

  /** Number of keys tracked. */
  get size(): number {
    return this.entries.size;
  }

  /** Whether `key` is locked at `now`. */
  check(key: string, now: number): LockState {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.lockedUntil <= now) return UNLOCKED;
    return { locked: true, until: entry.lockedUntil };
  }

  /** Counts a failure; returns the lock it caused, if any. */
  recordFailure(key: string, now: number): LockState {
    let entry = this.entries.get(key);
    if (entry !== undefined) this.entries.delete(key);
    if (entry === undefined || now - entry.lastFailureAt > this.forgetAfterMs) {
      entry = { failures: [], lockedUntil: 0, lockouts: 0, lastFailureAt: now };
    }
    this.entries.set(key, entry);
    this.evict();
    if (entry.lockedUntil > now) return { locked: true, until: entry.lockedUntil };
    entry.lastFailureAt = now;
    entry.failures = entry.failures.filter((at) => now - at < this.windowMs);
    entry.failures.push(now);
    if (entry.failures.length < this.maxFailures) return UNLOCKED;
    const duration = Math.min(this.baseLockMs * 2 ** Math.min(entry.lockouts, 52), this.maxLockMs);
    entry.lockouts++;
    entry.failures = [];
    entry.lockedUntil = now + duration;
    return { locked: true, until: entry.lockedUntil };
  }

  /** Forgets the key's failures and lockouts (a successful authentication). */
  recordSuccess(key: string): void {
    this.entries.delete(key);
  }

  private evict(): void {
    while (this.entries.size > this.maxTrackedKeys) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) return;
      this.entries.delete(oldest.value);
    }
  }
}

/**
 * Rate limits with temporary bans, per key (a source address, a user): a token bucket of
 * `ratePerSecond` with a burst of twice that; a key that empties its bucket is banned for
 * `banMs`. Memory is bounded: at most `maxKeys` keys are tracked, the least recently seen
 * forgotten first (a flood of spoofed sources evicts itself, not the legitimate keys it
 * cannot outpace for long).
 */

/** What {@link FloodGuard.hit} decided. */
export type FloodVerdict = 'ok' | 'banned' | 'newly-banned';

interface Bucket {
  tokens: number;
  at: number;
  bannedUntil: number;
}

export interface FloodGuardOptions {
  readonly ratePerSecond: number;
  readonly banMs: number;
  readonly maxKeys?: number;
}

export class FloodGuard {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly banMs: number;
  private readonly maxKeys: number;

  constructor(options: FloodGuardOptions) {
    this.rate = options.ratePerSecond / 1000;
    this.burst = options.ratePerSecond * 2;
    this.banMs = options.banMs;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  /** Counts one message of `key` at time `now` (ms). */
  hit(key: string, now: number): FloodVerdict {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (oldest.done !== true) this.buckets.delete(oldest.value);
      }
      bucket = { tokens: this.burst, at: now, bannedUntil: 0 };
    } else {
      // Most recently seen last: Map keeps insertion order.
      this.buckets.delete(key);
    }
    this.buckets.set(key, bucket);
    if (bucket.bannedUntil > now) return 'banned';
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.rate);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 'ok';
    }
    bucket.bannedUntil = now + this.banMs;
    bucket.tokens = this.burst;
    return 'newly-banned';
  }

  /** Whether `key` is banned at `now`, without counting a message. */
  isBanned(key: string, now: number): boolean {
    return (this.buckets.get(key)?.bannedUntil ?? 0) > now;
  }

  /** Keys tracked (for metrics). */
  get size(): number {
    return this.buckets.size;
  }
}

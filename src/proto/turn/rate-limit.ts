import { randomBytes } from 'node:crypto';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';

/** A rate and a burst: `ratePerSecond` units refill per second, up to `burst` saved. */
export interface TokenBucketConfig {
  readonly ratePerSecond: number;
  readonly burst: number;
}

function checkConfig(name: string, config: TokenBucketConfig): void {
  if (!(config.ratePerSecond > 0 && Number.isFinite(config.ratePerSecond))) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, `${name}: ratePerSecond must be positive`);
  }
  if (!(config.burst > 0 && Number.isFinite(config.burst))) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, `${name}: burst must be positive`);
  }
}

/**
 * A token bucket refilled lazily from `now` (ms): four numbers, no timer. Starts full.
 * Throws RAMPART_ERR_INVALID_ARGUMENT on a non-positive rate or burst.
 */
export class TokenBucket {
  private readonly ratePerMs: number;
  private readonly burst: number;
  private tokens: number;
  private refilledAt: number;

  constructor(config: TokenBucketConfig, now: number) {
    checkConfig('token bucket', config);
    this.ratePerMs = config.ratePerSecond / 1000;
    this.burst = config.burst;
    this.tokens = config.burst;
    this.refilledAt = now;
  }

  /** Tokens available at `now`. */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** Takes `amount` tokens if there are that many at `now`; takes nothing otherwise. */
  tryTake(amount: number, now: number): boolean {
    this.refill(now);
    if (this.tokens < amount) return false;
    this.tokens -= amount;
    return true;
  }

  private refill(now: number): void {
    if (now <= this.refilledAt) return;
    this.tokens = Math.min(this.burst, this.tokens + (now - this.refilledAt) * this.ratePerMs);
    this.refilledAt = now;
  }
}

/** Byte caps of {@link BandwidthLimiter}; either may be absent (no cap). */
export interface BandwidthConfig {
  /** Per allocation, bytes; `burst` must cover the largest datagram. */
  readonly perAllocation?: TokenBucketConfig;
  /** For the whole server, bytes. */
  readonly total?: TokenBucketConfig;
}

/**
 * Relay byte caps (RFC 8656 §5: the server "should discard application data traffic that
 * exceeds the bandwidth quota"). A datagram passes only if the allocation's bucket and the
 * total bucket both have room, and then both are charged, so a refused datagram costs the
 * other budget nothing.
 */
export class BandwidthLimiter {
  private readonly perAllocation: TokenBucketConfig | undefined;
  private readonly total: TokenBucket | undefined;

  constructor(config: BandwidthConfig, now: number) {
    if (config.perAllocation !== undefined) checkConfig('perAllocation', config.perAllocation);
    this.perAllocation = config.perAllocation;
    this.total = config.total === undefined ? undefined : new TokenBucket(config.total, now);
  }

  /** A bucket for a new allocation (keep it beside the allocation); undefined when uncapped. */
  bucketForAllocation(now: number): TokenBucket | undefined {
    return this.perAllocation === undefined ? undefined : new TokenBucket(this.perAllocation, now);
  }

  /** Whether `bytes` may be relayed for the allocation owning `bucket` at `now`; charges if so. */
  allow(bucket: TokenBucket | undefined, bytes: number, now: number): boolean {
    if (bucket !== undefined && bucket.available(now) < bytes) return false;
    if (this.total !== undefined && !this.total.tryTake(bytes, now)) return false;
    if (bucket !== undefined) bucket.tryTake(bytes, now);
    return true;
  }
}

/** Configuration of {@link SourceRateLimiter}. */
export interface SourceRateLimiterConfig extends TokenBucketConfig {
  /** Number of slots, a power of two; memory is 16 bytes per slot. Default 4096. */
  readonly slots?: number;
  /** Hash keys (two 32-bit values); default random. For tests. */
  readonly seeds?: readonly [number, number];
}

/** MurmurHash3's fmix32 finaliser: every input bit affects every output bit. */
function fmix32(value: number): number {
  let hash = value;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** Seeded FNV-1a over UTF-16 code units, finalised with fmix32. */
function seededHash(text: string, seed: number): number {
  let hash = fmix32(seed ^ 0x811c9dc5);
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return fmix32(hash);
}

/**
 * Per-source rate limiting in fixed memory, for answers an unauthenticated packet can trigger
 * (401 challenges: a spoofed source must not turn the server into a reflector). Sources share
 * buckets in a table of `slots` entries; each source hashes (with secret random seeds) to two
 * slots, passes while either has a token, and pays from each that has one. A source is thus
 * throttled once both its slots are drained, which its own traffic does; an innocent source
 * is throttled only when both its slots collide with drained ones. Nothing is evicted, so a
 * flood of spoofed sources can neither grow memory nor refill anyone's bucket. Key by source
 * IP (not port).
 */
export class SourceRateLimiter {
  private readonly tokens: Float64Array;
  private readonly refilledAt: Float64Array;
  private readonly mask: number;
  private readonly ratePerMs: number;
  private readonly burst: number;
  private readonly seeds: readonly [number, number];

  /** Throws RAMPART_ERR_INVALID_ARGUMENT on a bad rate, burst or slot count. */
  constructor(config: SourceRateLimiterConfig) {
    checkConfig('source rate limiter', config);
    const slots = config.slots ?? 4096;
    if (!Number.isInteger(slots) || slots < 2 || slots > 1 << 24 || (slots & (slots - 1)) !== 0) {
      throw new RampartError(
        ERROR_CODES.INVALID_ARGUMENT,
        'slots must be a power of two, 2 to 2^24',
      );
    }
    this.mask = slots - 1;
    this.ratePerMs = config.ratePerSecond / 1000;
    this.burst = config.burst;
    this.tokens = new Float64Array(slots).fill(config.burst);
    this.refilledAt = new Float64Array(slots).fill(Number.NEGATIVE_INFINITY);
    const random = randomBytes(8);
    this.seeds = config.seeds ?? [random.readUInt32BE(0), random.readUInt32BE(4)];
  }

  /** Takes one token for `source` at `now` (ms); false when it is over its rate. */
  tryTake(source: string, now: number): boolean {
    const hash = seededHash(source, this.seeds[0]);
    const first = hash & this.mask;
    // The second slot comes from the whole 32-bit hash, so slots that collide in the low bits
    // of the first rarely collide in the second.
    const second = fmix32(hash ^ this.seeds[1]) & this.mask;
    this.refill(first, now);
    this.refill(second, now);
    const tokens = this.tokens;
    const firstTokens = tokens[first] ?? 0;
    const secondTokens = tokens[second] ?? 0;
    // Other sources only ever drain a shared slot, so the fuller slot is the better estimate
    // of this source's own budget (count-min, read for tokens instead of counts).
    if (firstTokens < 1 && secondTokens < 1) return false;
    if (firstTokens >= 1) tokens[first] = firstTokens - 1;
    if (second !== first && secondTokens >= 1) tokens[second] = secondTokens - 1;
    return true;
  }

  private refill(slot: number, now: number): void {
    const last = this.refilledAt[slot] ?? now;
    if (now <= last) return;
    const refilled = (this.tokens[slot] ?? 0) + (now - last) * this.ratePerMs;
    this.tokens[slot] = Number.isFinite(refilled) ? Math.min(this.burst, refilled) : this.burst;
    this.refilledAt[slot] = now;
  }
}

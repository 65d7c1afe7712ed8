import { timingSafeEqual } from 'node:crypto';
import { pooledRandomBytes } from '../../lib/ids.ts';
import { hmac } from '../../lib/hmac.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import type { NonceStatus } from './compute.ts';

/**
 * Stateless nonces (RFC 7616 §3.3 suggests "time-stamp H(time-stamp ":" ETag ":" secret)"):
 *
 *   base64url( version(1) ‖ timestamp(8, ms, big-endian) ‖ random(16) ‖ MAC(32) )
 *   MAC = HMAC-SHA-256(secret, version ‖ timestamp ‖ random ‖ len(realm) ‖ realm ‖ client ip)
 *
 * Any edge holding the secret can check a nonce without a lookup. Binding the realm (and,
 * optionally, the client address) keeps a nonce from being used elsewhere. `now` must
 * be a wall clock in epoch milliseconds (`Date.now()`) shared by every node checking the
 * nonce, not the monotonic clock.
 *
 * Replay: a stateless nonce is valid for its whole lifetime; add a
 * {@link NonceCountTracker} (per node, in memory) to refuse a repeated nonce-count.
 */
const NONCE_VERSION = 1;
const TIMESTAMP_BYTES = 8;
const RANDOM_BYTES = 16;
const MAC_BYTES = 32;
const NONCE_BYTES = 1 + TIMESTAMP_BYTES + RANDOM_BYTES + MAC_BYTES;
/** Shortest HMAC secret accepted, in bytes. */
export const MIN_NONCE_SECRET_BYTES = 16;

/** What a nonce is bound to; the same values must be given to create and check it. */
export interface NonceBinding {
  readonly realm: string;
  /** Bind to the client's address (breaks clients whose address changes mid-dialog). */
  readonly clientIp?: string;
}

/** Options of {@link createNonce}. */
export interface CreateNonceOptions extends NonceBinding {
  /** Random source; default `crypto.randomBytes`. For tests. */
  readonly randomBytes?: (size: number) => Uint8Array;
}

/** Options of {@link checkNonce}. */
export interface CheckNonceOptions extends NonceBinding {
  /** How far a timestamp may lie in the future (clock skew between edges). Default 5000. */
  readonly maxClockSkewMs?: number;
}

/** The secret as given (HMAC takes text as UTF-8), once checked for length. */
function checkedSecret(secret: Uint8Array | string): Uint8Array | string {
  const length = typeof secret === 'string' ? Buffer.byteLength(secret, 'utf8') : secret.length;
  if (length < MIN_NONCE_SECRET_BYTES) {
    throw new RampartError(
      ERROR_CODES.INVALID_ARGUMENT,
      `nonce secret must be at least ${MIN_NONCE_SECRET_BYTES} bytes`,
    );
  }
  return secret;
}

/** A realm's MAC input: its UTF-8 length (4 bytes, big-endian), then its bytes. */
const realmBytes = new Map<string, Buffer>();
const MAX_REALMS_CACHED = 64;

function realmInput(realm: string): Buffer {
  let bytes = realmBytes.get(realm);
  if (bytes === undefined) {
    const text = Buffer.from(realm, 'utf8');
    bytes = Buffer.alloc(4 + text.length);
    bytes.writeUInt32BE(text.length);
    text.copy(bytes, 4);
    if (realmBytes.size >= MAX_REALMS_CACHED) realmBytes.clear();
    realmBytes.set(realm, bytes);
  }
  return bytes;
}

function mac(secret: Uint8Array | string, head: Uint8Array, binding: NonceBinding): Buffer {
  const realm = realmInput(binding.realm);
  return binding.clientIp === undefined
    ? hmac('sha256', secret, head, realm)
    : hmac('sha256', secret, head, realm, binding.clientIp);
}

/**
 * Creates a stateless nonce for a challenge. Throws on a short secret or a negative or
 * non-finite `now` (programmer errors).
 */
export function createNonce(
  secret: Uint8Array | string,
  now: number,
  options: CreateNonceOptions,
): string {
  const key = checkedSecret(secret);
  if (!Number.isFinite(now) || now < 0) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'now must be epoch milliseconds');
  }
  const random = (options.randomBytes ?? pooledRandomBytes)(RANDOM_BYTES);
  if (random.length !== RANDOM_BYTES) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'randomBytes returned a wrong length');
  }
  const out = Buffer.alloc(NONCE_BYTES);
  out[0] = NONCE_VERSION;
  out.writeBigUInt64BE(BigInt(Math.floor(now)), 1);
  out.set(random, 1 + TIMESTAMP_BYTES);
  const head = out.subarray(0, 1 + TIMESTAMP_BYTES + RANDOM_BYTES);
  out.set(mac(key, head, options), head.length);
  return out.toString('base64url');
}

/**
 * Checks a nonce this server (or a peer with the same secret) created:
 * `valid` — authentic and younger than `maxAgeMs`;
 * `stale` — authentic but expired: if the response verifies, challenge again with
 * `stale=TRUE` so the client retries without asking the user (RFC 7616 §3.3);
 * `invalid` — not ours, altered, bound to another realm/client, or from the future.
 * Never throws on the nonce (network input).
 */
export function checkNonce(
  secret: Uint8Array | string,
  nonce: string,
  now: number,
  maxAgeMs: number,
  options: CheckNonceOptions,
): NonceStatus {
  const key = checkedSecret(secret);
  if (nonce.length > 128) return 'invalid';
  const raw = Buffer.from(nonce, 'base64url');
  // Buffer.from skips characters outside the alphabet; re-encoding refuses such input.
  if (raw.length !== NONCE_BYTES || raw.toString('base64url') !== nonce) return 'invalid';
  if (raw[0] !== NONCE_VERSION) return 'invalid';
  const head = raw.subarray(0, 1 + TIMESTAMP_BYTES + RANDOM_BYTES);
  const expected = mac(key, head, options);
  if (!timingSafeEqual(expected, raw.subarray(head.length))) return 'invalid';
  const issuedAt = Number(raw.readBigUInt64BE(1));
  if (issuedAt > now + (options.maxClockSkewMs ?? 5000)) return 'invalid';
  return now - issuedAt > maxAgeMs ? 'stale' : 'valid';
}

/** Options of {@link NonceCountTracker}. */
export interface NonceCountTrackerOptions {
  /** How long a nonce is remembered after its first use; at least the nonce lifetime. */
  readonly retainMs: number;
  /** Most nonces remembered; the oldest are forgotten first. Default 100000. */
  readonly maxNonces?: number;
  /** Most counts remembered per nonce; past it the nonce is refused. Default 1024. */
  readonly maxCountsPerNonce?: number;
}

interface TrackedNonce {
  readonly firstSeen: number;
  /** The first count used: most nonces see one (a fresh challenge per request). */
  readonly first: number;
  /** Every later count, once there is one. */
  more: Set<number> | undefined;
}

/** The issue time (epoch ms) a nonce of ours carries, or undefined when it is not one. */
function issuedAtOf(nonce: string): number | undefined {
  if (nonce.length > 128) return undefined;
  const raw = Buffer.from(nonce, 'base64url');
  if (raw.length !== NONCE_BYTES || raw[0] !== NONCE_VERSION) return undefined;
  return Number(raw.readBigUInt64BE(1));
}

/**
 * Optional replay detection by nonce-count (RFC 7616 §3.4: nc lets "the server ...
 * detect request replays"). Remembers which counts each nonce has used; a count seen
 * before is a replay. Counts may arrive out of order (UDP, parallel requests). State is
 * per process. A nonce forgotten after `retainMs` (which must cover the nonce lifetime) is
 * stale anyway; one forgotten earlier because `maxNonces` were held could be replayed, so
 * once that happened an unknown nonce issued before the last one forgotten is refused
 * (the client gets a fresh challenge): only nonces issued since then are new for sure.
 */
export class NonceCountTracker {
  private readonly nonces = new Map<string, TrackedNonce>();
  private readonly retainMs: number;
  private readonly maxNonces: number;
  private readonly maxCountsPerNonce: number;
  /** First use of the latest nonce forgotten for room; nonces issued until then are suspect. */
  private forgottenThrough = Number.NEGATIVE_INFINITY;

  constructor(options: NonceCountTrackerOptions) {
    this.retainMs = options.retainMs;
    this.maxNonces = options.maxNonces ?? 100_000;
    this.maxCountsPerNonce = options.maxCountsPerNonce ?? 1024;
  }

  /** Number of nonces remembered. */
  get size(): number {
    return this.nonces.size;
  }

  /**
   * Records `nc` for `nonce`; returns false for a replayed count, a nonce used too often,
   * or an unknown nonce that may have been forgotten for room. `nc` is the 8-hex-digit wire
   * value; `now` the wall clock (epoch ms) the nonces' timestamps use.
   */
  accept(nonce: string, nc: string, now: number): boolean {
    this.evict(now);
    const count = Number.parseInt(nc, 16);
    if (!Number.isInteger(count) || count < 1) return false;
    const tracked = this.nonces.get(nonce);
    if (tracked === undefined) {
      if (this.forgottenThrough !== Number.NEGATIVE_INFINITY) {
        const issuedAt = issuedAtOf(nonce);
        if (issuedAt === undefined || issuedAt <= this.forgottenThrough) return false;
      }
      // The nonce comes as a slice of its Authorization header's text: kept as it is, it would
      // keep that whole header value alive for as long as the nonce is remembered (minutes,
      // 100,000 of them). A copy holds its own characters only.
      this.nonces.set(Buffer.from(nonce, 'utf8').toString('utf8'), {
        firstSeen: now,
        first: count,
        more: undefined,
      });
      if (this.nonces.size > this.maxNonces) {
        const oldest = this.nonces.entries().next();
        if (oldest.done !== true) {
          this.nonces.delete(oldest.value[0]);
          this.forgottenThrough = Math.max(this.forgottenThrough, oldest.value[1].firstSeen);
        }
      }
      return true;
    }
    if (count === tracked.first || tracked.more?.has(count) === true) return false;
    if (1 + (tracked.more?.size ?? 0) >= this.maxCountsPerNonce) return false;
    (tracked.more ??= new Set()).add(count);
    return true;
  }

  private evict(now: number): void {
    for (const [nonce, tracked] of this.nonces) {
      if (now - tracked.firstSeen <= this.retainMs) return;
      this.nonces.delete(nonce);
    }
  }
}

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hmac } from '../../lib/hmac.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';

/**
 * Stateless, expiring STUN nonces that carry the RFC 8489 §9.2 security feature bits:
 *
 *   "obMatJos2" ‖ base64(features, 3 bytes) ‖ base64url(version ‖ issuedAt(6) ‖ random(8) ‖ MAC(16))
 *   MAC = HMAC-SHA-256(secret, cookie+features text ‖ version ‖ issuedAt ‖ random ‖ client key)
 *
 * The MAC covers the feature bits, so an attacker on the path who strips a bit (the bid-down
 * attack of RFC 8489 §9.2.1) turns the nonce invalid. Any edge holding a secret checks a nonce
 * without a lookup; give every node the same wall clock (`Date.now()`) when nonces cross nodes.
 */

/** RFC 8489 §9.2: the nonce cookie that tells the client the server implements RFC 8489. */
export const NONCE_COOKIE = 'obMatJos2';

/**
 * RFC 8489 §18.1 STUN Security Features, as 24-bit values: "bit 0 as the most significant bit
 * of the first byte and bit 23 as the least significant bit of the third byte".
 */
export const SECURITY_FEATURE_BITS = {
  /** Bit 0: the server offers PASSWORD-ALGORITHMS (§9.2.4). */
  PASSWORD_ALGORITHMS: 0x800000,
  /** Bit 1: the server accepts USERHASH (username anonymity, §9.2.4). */
  USERNAME_ANONYMITY: 0x400000,
} as const;

/** Decoded security feature bits of a nonce cookie. */
export interface SecurityFeatures {
  /** All 24 bits, including unassigned ones. */
  readonly bits: number;
  readonly passwordAlgorithms: boolean;
  readonly usernameAnonymity: boolean;
}

/** The result of {@link TurnNonces.check}. */
export type NonceCheck =
  | {
      /** `valid`: authentic and fresh. `stale`: authentic but expired — answer 438. */
      readonly status: 'valid' | 'stale';
      readonly features: SecurityFeatures;
      /** When it was issued, on the clock given to `issue`. */
      readonly issuedAt: number;
    }
  | { readonly status: 'invalid' };

/** Options of {@link TurnNonces}. */
export interface TurnNonceOptions {
  /** HMAC secrets, at least 16 bytes each: the first issues, all are accepted (rotation). */
  readonly secrets: readonly (string | Uint8Array)[];
  /** How long a nonce stays valid; default 600 000 ms (coturn's 600 s). */
  readonly lifetimeMs?: number;
  /** Feature bits to announce. */
  readonly features?: {
    readonly passwordAlgorithms?: boolean;
    readonly usernameAnonymity?: boolean;
  };
  /** How far an issue time may lie in the future (clock skew between edges); default 5000. */
  readonly maxClockSkewMs?: number;
  /** Random source; default `crypto.randomBytes`. For tests. */
  readonly randomBytes?: (size: number) => Uint8Array;
}

/** Shortest secret accepted, in bytes. */
export const MIN_TURN_NONCE_SECRET_BYTES = 16;
/** RFC 8489 §14.10: NONCE "MUST be fewer than 128 characters". */
export const MAX_NONCE_CHARS = 127;

const VERSION = 1;
const TIMESTAMP_BYTES = 6;
const RANDOM_BYTES = 8;
const MAC_BYTES = 16;
const HEAD_BYTES = 1 + TIMESTAMP_BYTES + RANDOM_BYTES;
const BODY_BYTES = HEAD_BYTES + MAC_BYTES;
const COOKIE_CHARS = NONCE_COOKIE.length + 4;
const INVALID: NonceCheck = Object.freeze({ status: 'invalid' });

/** The 4 base64 characters of 24 feature bits (RFC 8489 §9.2). */
export function encodeSecurityFeatures(bits: number): string {
  const bytes = Buffer.of((bits >>> 16) & 0xff, (bits >>> 8) & 0xff, bits & 0xff);
  return bytes.toString('base64');
}

function decodeFeatures(text: string): SecurityFeatures | undefined {
  const bytes = Buffer.from(text, 'base64');
  // Buffer.from skips characters outside the alphabet; re-encoding refuses such input.
  if (bytes.length !== 3 || bytes.toString('base64') !== text) return undefined;
  const bits = ((bytes[0] ?? 0) << 16) | ((bytes[1] ?? 0) << 8) | (bytes[2] ?? 0);
  return {
    bits,
    passwordAlgorithms: (bits & SECURITY_FEATURE_BITS.PASSWORD_ALGORITHMS) !== 0,
    usernameAnonymity: (bits & SECURITY_FEATURE_BITS.USERNAME_ANONYMITY) !== 0,
  };
}

/**
 * The feature bits of any nonce that starts with the nonce cookie, authentic or not (what a
 * client reads, RFC 8489 §9.2.5); undefined when there is no well-formed cookie.
 */
export function parseNonceCookie(nonce: string): SecurityFeatures | undefined {
  if (!nonce.startsWith(NONCE_COOKIE) || nonce.length < COOKIE_CHARS) return undefined;
  return decodeFeatures(nonce.slice(NONCE_COOKIE.length, COOKIE_CHARS));
}

function secretBytes(secret: string | Uint8Array): Uint8Array {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (bytes.length < MIN_TURN_NONCE_SECRET_BYTES) {
    throw new RampartError(
      ERROR_CODES.INVALID_ARGUMENT,
      `nonce secret must be at least ${MIN_TURN_NONCE_SECRET_BYTES} bytes`,
    );
  }
  return bytes;
}

/**
 * Issues and checks nonces for 401/438 answers (RFC 8656 §5: a new random nonce per first
 * Allocate attempt; RFC 8489 §9.2.4: "The server MUST NOT choose the same NONCE for two
 * requests unless they have the same source IP address and port" — every nonce carries 64
 * random bits). Throws RAMPART_ERR_INVALID_ARGUMENT on a short secret or bad lifetime.
 */
export class TurnNonces {
  /** How long a nonce stays valid, ms. */
  readonly lifetimeMs: number;
  private readonly secrets: readonly Uint8Array[];
  private readonly cookie: string;
  private readonly maxClockSkewMs: number;
  private readonly random: (size: number) => Uint8Array;

  constructor(options: TurnNonceOptions) {
    if (options.secrets.length === 0) {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'at least one nonce secret is needed');
    }
    this.secrets = options.secrets.map(secretBytes);
    this.lifetimeMs = options.lifetimeMs ?? 600_000;
    if (!Number.isFinite(this.lifetimeMs) || this.lifetimeMs <= 0) {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'lifetimeMs must be positive');
    }
    let bits = 0;
    // RFC 8489 §9.2.4: "If the server adds a PASSWORD-ALGORITHMS attribute, it MUST set the STUN
    // Security Feature "Password algorithms" bit to 1"; "The server MAY support anonymous
    // username, in which case it MUST set the STUN Security Feature "Username anonymity" bit".
    if (options.features?.passwordAlgorithms === true)
      bits |= SECURITY_FEATURE_BITS.PASSWORD_ALGORITHMS;
    if (options.features?.usernameAnonymity === true)
      bits |= SECURITY_FEATURE_BITS.USERNAME_ANONYMITY;
    this.cookie = NONCE_COOKIE + encodeSecurityFeatures(bits);
    this.maxClockSkewMs = options.maxClockSkewMs ?? 5000;
    this.random = options.randomBytes ?? randomBytes;
  }

  /**
   * A fresh nonce issued at `now` (ms). Give `clientAddressKey` (e.g. the 5-tuple's client
   * "ip port") to bind the nonce to that client; the same key must be given to `check`.
   */
  issue(now: number, clientAddressKey?: string): string {
    if (!Number.isSafeInteger(Math.floor(now)) || now < 0 || now >= 2 ** 48) {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'now must be milliseconds in [0, 2^48)');
    }
    const random = this.random(RANDOM_BYTES);
    if (random.length !== RANDOM_BYTES) {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'randomBytes returned a wrong length');
    }
    const body = Buffer.alloc(BODY_BYTES);
    body[0] = VERSION;
    body.writeUIntBE(Math.floor(now), 1, TIMESTAMP_BYTES);
    body.set(random, 1 + TIMESTAMP_BYTES);
    const head = body.subarray(0, HEAD_BYTES);
    const secret = this.secrets[0] ?? new Uint8Array(0);
    this.mac(secret, this.cookie, head, clientAddressKey).copy(body, HEAD_BYTES, 0, MAC_BYTES);
    return this.cookie + body.toString('base64url');
  }

  /**
   * Checks a nonce received in a request at `now`. `invalid` covers not ours, altered (feature
   * bits included), bound to another client, or dated too far in the future. Never throws on the
   * nonce (network input).
   */
  check(nonce: string, now: number, clientAddressKey?: string): NonceCheck {
    if (nonce.length > MAX_NONCE_CHARS || nonce.length <= COOKIE_CHARS) return INVALID;
    const features = parseNonceCookie(nonce);
    if (features === undefined) return INVALID;
    const cookie = nonce.slice(0, COOKIE_CHARS);
    const encodedBody = nonce.slice(COOKIE_CHARS);
    const body = Buffer.from(encodedBody, 'base64url');
    if (body.length !== BODY_BYTES || body.toString('base64url') !== encodedBody) return INVALID;
    if (body[0] !== VERSION) return INVALID;
    const head = body.subarray(0, HEAD_BYTES);
    const received = body.subarray(HEAD_BYTES);
    let authentic = false;
    for (const secret of this.secrets) {
      const expected = this.mac(secret, cookie, head, clientAddressKey).subarray(0, MAC_BYTES);
      // Every secret is tried so the time taken does not tell which one matched.
      if (timingSafeEqual(expected, received)) authentic = true;
    }
    if (!authentic) return INVALID;
    const issuedAt = body.readUIntBE(1, TIMESTAMP_BYTES);
    if (issuedAt > now + this.maxClockSkewMs) return INVALID;
    // RFC 8489 §9.2.4: "If the NONCE is no longer valid, the server MUST generate an error
    // response with an error code of 438 (Stale Nonce)."
    const status = now - issuedAt >= this.lifetimeMs ? 'stale' : 'valid';
    return { status, features, issuedAt };
  }

  private mac(
    secret: Uint8Array,
    cookie: string,
    head: Uint8Array,
    clientAddressKey: string | undefined,
  ): Buffer {
    const cookieBytes = Buffer.from(cookie, 'latin1');
    return clientAddressKey === undefined
      ? hmac('sha256', secret, cookieBytes, head)
      : hmac('sha256', secret, cookieBytes, head, '\u0000', clientAddressKey);
  }
}

/**
 * Password hashing for web sign-in (scrypt, RFC 7914) and the digest HA1 the SIP and HTTP
 * digest schemes need (RFC 3261 §22.4, RFC 7616 §3.4.2, RFC 8760). Shared by every
 * {@link Directory} backend.
 *
 * A stored hash describes itself: `scrypt$N$r$p$salt$key`, salt and key in base64url, so
 * parameters can be raised later without invalidating existing hashes ({@link needsRehash}).
 */
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Ha1Algorithm } from './directory.ts';

/** scrypt cost parameters (RFC 7914 §2). */
export interface ScryptParameters {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  /** Block size. */
  readonly r: number;
  /** Parallelisation. */
  readonly p: number;
}

/**
 * The parameters new hashes get: N=2^14, r=8, p=1 (16 MiB, ~25–40 ms here), the interactive
 * figure of RFC 7914 §2 and of the scrypt paper.
 */
export const DEFAULT_SCRYPT: ScryptParameters = Object.freeze({ N: 16384, r: 8, p: 1 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/**
 * Bounds on what a stored hash may ask for, so that a tampered row cannot make a sign-in
 * burn seconds of CPU or gigabytes of memory.
 */
const MAX_LOG2_N = 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;
const MAX_ENCODED_LENGTH = 512;

function scryptAsync(
  password: string,
  salt: Buffer,
  keyLength: number,
  parameters: ScryptParameters,
): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; Node's default maxmem (32 MiB) refuses N=2^15, r=8.
  const options: ScryptOptions = {
    N: parameters.N,
    r: parameters.r,
    p: parameters.p,
    maxmem: Math.max(32 * 1024 * 1024, 256 * parameters.N * parameters.r),
  };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (error, key) => {
      if (error === null) resolve(key);
      else reject(error);
    });
  });
}

/**
 * Hashes a password with a fresh random 16-byte salt, on the libuv thread pool (several
 * calls in flight use several threads). Returns the self-describing string.
 */
export async function hashPassword(
  password: string,
  parameters: ScryptParameters = DEFAULT_SCRYPT,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(password, salt, KEY_BYTES, parameters);
  return `scrypt$${parameters.N}$${parameters.r}$${parameters.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** A parsed stored hash. */
interface ParsedHash {
  readonly parameters: ScryptParameters;
  readonly salt: Buffer;
  readonly key: Buffer;
}

const INTEGER = /^[1-9][0-9]{0,9}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Parses and bounds-checks a stored hash; undefined when malformed or out of bounds. */
function parseHash(encoded: string): ParsedHash | undefined {
  if (encoded.length > MAX_ENCODED_LENGTH) return undefined;
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [, n, r, p, salt, key] = parts;
  if (n === undefined || r === undefined || p === undefined) return undefined;
  if (salt === undefined || key === undefined) return undefined;
  if (!INTEGER.test(n) || !INTEGER.test(r) || !INTEGER.test(p)) return undefined;
  if (!BASE64URL.test(salt) || !BASE64URL.test(key)) return undefined;
  const parameters = { N: Number(n), r: Number(r), p: Number(p) };
  // RFC 7914 §2: N must be a power of two greater than 1.
  if (parameters.N < 2 || (parameters.N & (parameters.N - 1)) !== 0) return undefined;
  if (parameters.N > 2 ** MAX_LOG2_N || parameters.r > MAX_R || parameters.p > MAX_P) {
    return undefined;
  }
  if (128 * parameters.N * parameters.r > MAX_MEMORY_BYTES) return undefined;
  const saltBytes = Buffer.from(salt, 'base64url');
  const keyBytes = Buffer.from(key, 'base64url');
  if (saltBytes.length < 8 || keyBytes.length < 16 || keyBytes.length > 64) return undefined;
  return { parameters, salt: saltBytes, key: keyBytes };
}

/**
 * True when `password` matches the stored hash; the comparison is constant time. A malformed
 * or out-of-bounds stored hash never matches (and never throws).
 */
export async function verifyPassword(encoded: string, password: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  if (parsed === undefined) return false;
  let key: Buffer;
  try {
    key = await scryptAsync(password, parsed.salt, parsed.key.length, parsed.parameters);
  } catch {
    return false;
  }
  return timingSafeEqual(key, parsed.key);
}

/** True when a stored hash is weaker than {@link DEFAULT_SCRYPT} (or unreadable). */
export function needsRehash(encoded: string, target: ScryptParameters = DEFAULT_SCRYPT): boolean {
  const parsed = parseHash(encoded);
  if (parsed === undefined) return true;
  const { N, r, p } = parsed.parameters;
  return N * r * p < target.N * target.r * target.p || parsed.key.length < KEY_BYTES;
}

/**
 * The digest HA1 in lower-case hex: H(username ":" realm ":" password), RFC 7616 §3.4.2
 * (and RFC 2617 §3.2.2.2, RFC 3261 §22.4), where H is MD5 or SHA-256 (RFC 8760 §2.2).
 * `user` is the user part of the address, before the '@'.
 */
export function computeHa1(
  user: string,
  realm: string,
  password: string,
  algorithm: Ha1Algorithm,
): string {
  return createHash(algorithm === 'MD5' ? 'md5' : 'sha256')
    .update(`${user}:${realm}:${password}`, 'utf8')
    .digest('hex');
}

/** The user part of a canonical address (`alice@example.test` → `alice`). */
export function userPart(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : address.slice(0, at);
}

/** Constant-time comparison of two hex digests of the same algorithm. */
export function ha1Equal(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

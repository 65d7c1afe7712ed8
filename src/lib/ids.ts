import { randomBytes } from 'node:crypto';

const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

// One crypto call fills a pool that serves many tokens (branches and tags are per message).
const POOL_BYTES = 4096;
let pool: Buffer = randomBytes(POOL_BYTES);
let poolOffset = 0;

/** A random token of `length` characters from [A-Za-z0-9], safe in any SIP token position. */
export function randomToken(length = 16): string {
  if (poolOffset + length > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, length));
    poolOffset = 0;
  }
  let out = '';
  for (let i = 0; i < length; i++) {
    out += TOKEN_ALPHABET[(pool[poolOffset + i] ?? 0) % TOKEN_ALPHABET.length] ?? 'x';
  }
  poolOffset += length;
  return out;
}

/**
 * `size` random bytes (a copy) from the same pool: one crypto call serves many small
 * draws, e.g. a Digest nonce's random part per challenge.
 */
export function pooledRandomBytes(size: number): Buffer {
  if (poolOffset + size > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, size));
    poolOffset = 0;
  }
  const out = Buffer.from(pool.subarray(poolOffset, poolOffset + size));
  poolOffset += size;
  return out;
}

/** RFC 3261 §8.1.1.7: branch IDs begin with the magic cookie "z9hG4bK". */
export const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

/** A new RFC 3261 branch parameter value. */
export function newBranch(): string {
  return BRANCH_MAGIC_COOKIE + randomToken(20);
}

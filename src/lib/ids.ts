import { randomBytes } from 'node:crypto';

const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A random token of `length` characters from [A-Za-z0-9], safe in any SIP token position. */
export function randomToken(length = 16): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += TOKEN_ALPHABET[byte % TOKEN_ALPHABET.length] ?? 'x';
  return out;
}

/** RFC 3261 §8.1.1.7: branch IDs begin with the magic cookie "z9hG4bK". */
export const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

/** A new RFC 3261 branch parameter value. */
export function newBranch(): string {
  return BRANCH_MAGIC_COOKIE + randomToken(20);
}

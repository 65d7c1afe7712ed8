import { hash as oneShotHash } from 'node:crypto';

/**
 * Digest algorithms Rampart computes: RFC 7616 §3.3 / RFC 8760 §2.1 (SIP), each with its
 * `-sess` variant (RFC 7616 §3.4.2).
 */
export const DIGEST_ALGORITHMS = [
  'MD5',
  'MD5-sess',
  'SHA-256',
  'SHA-256-sess',
  'SHA-512-256',
  'SHA-512-256-sess',
] as const;

/** One of {@link DIGEST_ALGORITHMS}, spelled as on the wire. */
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

/** The hash function under an algorithm; HA1 values are stored per hash. */
export type DigestHash = 'MD5' | 'SHA-256' | 'SHA-512-256';

const NODE_HASH: Readonly<Record<DigestHash, string>> = {
  MD5: 'md5',
  'SHA-256': 'sha256',
  // RFC 7616 §3.2: SHA-512/256 is SHA-512 truncated with its own IV (FIPS 180-4), not a slice.
  'SHA-512-256': 'sha512-256',
};

/** Length in hex characters of H(...) for each hash: the length of `response`. */
export const DIGEST_HEX_LENGTH: Readonly<Record<DigestHash, number>> = {
  MD5: 32,
  'SHA-256': 64,
  'SHA-512-256': 64,
};

/**
 * Looks an algorithm name up, compared case-insensitively like any token.
 * Returns `undefined` for names Rampart does not implement (e.g. `AKAv1-MD5`).
 */
export function lookupAlgorithm(name: string): DigestAlgorithm | undefined {
  const upper = name.toUpperCase();
  for (const algorithm of DIGEST_ALGORITHMS) {
    if (algorithm.toUpperCase() === upper) return algorithm;
  }
  return undefined;
}

/** The hash function an algorithm uses. */
export function hashOf(algorithm: DigestAlgorithm): DigestHash {
  if (algorithm.startsWith('SHA-512-256')) return 'SHA-512-256';
  if (algorithm.startsWith('SHA-256')) return 'SHA-256';
  return 'MD5';
}

/** Whether the algorithm is a `-sess` variant (RFC 7616 §3.4.2). */
export function isSessionAlgorithm(algorithm: DigestAlgorithm): boolean {
  return algorithm.endsWith('-sess');
}

/**
 * H(data) of RFC 7616 §3.4.1: the lower-case hex digest of the UTF-8 bytes of `data`.
 */
export function digestHex(hash: DigestHash, data: string | Uint8Array): string {
  // One-shot: a third of createHash().update().digest()'s cost for these short inputs.
  return oneShotHash(NODE_HASH[hash], data, 'hex');
}

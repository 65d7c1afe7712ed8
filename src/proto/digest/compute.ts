import { timingSafeEqual } from 'node:crypto';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import {
  DIGEST_HEX_LENGTH,
  digestHex,
  hashOf,
  isSessionAlgorithm,
  type DigestAlgorithm,
  type DigestHash,
} from './algorithm.ts';
import type { DigestQop } from './challenge.ts';
import type { DigestCredentials } from './credentials.ts';

/**
 * HA1 = H(username ":" realm ":" password) (RFC 7616 §3.4.2, RFC 2617 §3.2.2.2): what a
 * directory stores instead of the password, one value per hash function.
 */
export function computeHa1(
  hash: DigestHash,
  username: string,
  realm: string,
  password: string,
): string {
  return digestHex(hash, `${username}:${realm}:${password}`);
}

/** Inputs of {@link computeResponse}. */
export interface ResponseInput {
  readonly algorithm: DigestAlgorithm;
  /** H(username:realm:password) for the algorithm's hash, hex. */
  readonly ha1: string;
  readonly method: string;
  /** The `uri` parameter exactly as sent. */
  readonly uri: string;
  readonly nonce: string;
  /** Absent: legacy RFC 2069 computation without nc and cnonce. */
  readonly qop?: DigestQop;
  readonly nc?: string;
  readonly cnonce?: string;
  /** The message body, needed only for `qop=auth-int`. */
  readonly body?: string | Uint8Array;
}

function requireDefined(value: string | undefined, what: string): string {
  if (value === undefined) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, `${what} is required here`);
  }
  return value;
}

/**
 * The request-digest of RFC 7616 §3.4.1 (RFC 2617 §3.2.2.1 for MD5, RFC 8760 §2 for SIP),
 * lower-case hex. Throws when a value its qop or algorithm needs is missing (programmer
 * error: parsed credentials always carry them).
 */
export function computeResponse(input: ResponseInput): string {
  const hash = hashOf(input.algorithm);
  let ha1 = input.ha1.toLowerCase();
  if (isSessionAlgorithm(input.algorithm)) {
    // RFC 7616 §3.4.2: for -sess, A1 = H(username:realm:passwd) ":" nonce ":" cnonce.
    ha1 = digestHex(hash, `${ha1}:${input.nonce}:${requireDefined(input.cnonce, 'cnonce')}`);
  }
  // RFC 7616 §3.4.3: A2 = Method ":" request-uri, plus ":" H(entity-body) for auth-int.
  let a2 = `${input.method}:${input.uri}`;
  if (input.qop === 'auth-int') {
    if (input.body === undefined) {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'body is required for auth-int');
    }
    a2 += `:${digestHex(hash, input.body)}`;
  }
  const ha2 = digestHex(hash, a2);
  if (input.qop === undefined) {
    // RFC 2617 §3.2.2.1 (RFC 2069 compatibility): request-digest = KD(H(A1), nonce ":" H(A2)).
    return digestHex(hash, `${ha1}:${input.nonce}:${ha2}`);
  }
  const nc = requireDefined(input.nc, 'nc');
  const cnonce = requireDefined(input.cnonce, 'cnonce');
  // RFC 7616 §3.4.1: response = KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2)).
  return digestHex(hash, `${ha1}:${input.nonce}:${nc}:${cnonce}:${input.qop}:${ha2}`);
}

/** What a nonce check says: see `checkNonce` in nonce.ts. */
export type NonceStatus = 'valid' | 'stale' | 'invalid';

/** Why credentials were refused. Stable literals for logs and metrics. */
export type DigestRejectReason =
  | 'realm-mismatch'
  | 'uri-mismatch'
  | 'algorithm-not-accepted'
  | 'qop-required'
  | 'auth-int-unavailable'
  | 'userhash-unsupported'
  | 'unknown-user'
  | 'nonce-invalid'
  | 'response-mismatch'
  | 'nonce-count-replay';

/** The verdict of {@link verifyCredentials}. */
export type DigestVerdict =
  | { readonly outcome: 'authenticated'; readonly username: string }
  /** Right password, expired nonce: challenge again with `stale=TRUE` (RFC 7616 §3.3). */
  | { readonly outcome: 'stale' }
  | { readonly outcome: 'rejected'; readonly reason: DigestRejectReason };

/** Inputs of {@link verifyCredentials}. */
export interface VerifyInput {
  readonly credentials: DigestCredentials;
  /** Request method (for SIP, the CSeq method; ACK and CANCEL are never challenged). */
  readonly method: string;
  /**
   * HA1 for the credentials' hash: a hex string (for the credentials' hash) or a lookup
   * returning `undefined` for an unknown user or a hash not stored for them.
   */
  readonly ha1: string | ((hash: DigestHash, username: string) => string | undefined);
  /** Checks the nonce, e.g. `(n) => checkNonce(secret, n, now, maxAgeMs, binding)`. */
  readonly nonceCheck: (nonce: string) => NonceStatus;
  /** Realm this server challenged with; credentials for another realm are refused. */
  readonly realm?: string;
  /** When given, `uri` must equal it (RFC 7616 §3.4.6 SHOULD); compare as the caller sees fit otherwise. */
  readonly expectedUri?: string;
  /** Algorithms this server offered; default: any implemented. */
  readonly acceptedAlgorithms?: readonly DigestAlgorithm[];
  /** Refuse legacy (RFC 2069) responses without qop. Default false. */
  readonly requireQop?: boolean;
  /** The message body, to verify `qop=auth-int`; without it auth-int is refused. */
  readonly body?: string | Uint8Array;
  /**
   * Replay check, called only once the response has verified, e.g. a
   * {@link NonceCountTracker}. Without it a captured request can be replayed until the
   * nonce expires (stateless nonces remember nothing).
   */
  readonly nonceCountCheck?: (nonce: string, nc: string) => boolean;
}

/** Placeholder so a verification without a stored HA1 costs the same work. */
const DUMMY_HA1 = '0'.repeat(64);

/**
 * Verifies Digest credentials (RFC 7616 §3.4, RFC 3261 §22.4). The response is compared
 * in constant time. `stale` is returned only when the response is right for an expired
 * but authentic nonce, never for a wrong password. Never throws on parsed credentials.
 */
export function verifyCredentials(input: VerifyInput): DigestVerdict {
  const c = input.credentials;
  const reject = (reason: DigestRejectReason): DigestVerdict => ({ outcome: 'rejected', reason });
  if (input.realm !== undefined && c.realm !== input.realm) return reject('realm-mismatch');
  if (input.expectedUri !== undefined && c.uri !== input.expectedUri) return reject('uri-mismatch');
  if (input.acceptedAlgorithms !== undefined && !input.acceptedAlgorithms.includes(c.algorithm)) {
    return reject('algorithm-not-accepted');
  }
  if (c.qop === undefined && input.requireQop === true) return reject('qop-required');
  if (c.qop === 'auth-int' && input.body === undefined) return reject('auth-int-unavailable');
  if (c.userhash) return reject('userhash-unsupported');
  if ((c.qop !== undefined || c.algorithm.endsWith('-sess')) && c.cnonce === undefined) {
    return reject('response-mismatch');
  }
  const nonceStatus = input.nonceCheck(c.nonce);
  if (nonceStatus === 'invalid') return reject('nonce-invalid');
  const hash = hashOf(c.algorithm);
  const storedHa1 = typeof input.ha1 === 'string' ? input.ha1 : input.ha1(hash, c.username);
  const ha1Valid =
    storedHa1 !== undefined &&
    storedHa1.length === DIGEST_HEX_LENGTH[hash] &&
    /^[0-9a-fA-F]+$/.test(storedHa1);
  const expected = computeResponse({
    algorithm: c.algorithm,
    ha1: ha1Valid ? storedHa1 : DUMMY_HA1.slice(0, DIGEST_HEX_LENGTH[hash]),
    method: input.method,
    uri: c.uri,
    nonce: c.nonce,
    ...(c.qop === undefined ? {} : { qop: c.qop }),
    ...(c.nc === undefined ? {} : { nc: c.nc }),
    ...(c.cnonce === undefined ? {} : { cnonce: c.cnonce }),
    ...(input.body === undefined ? {} : { body: input.body }),
  });
  const given = Buffer.from(c.response, 'hex');
  const wanted = Buffer.from(expected, 'hex');
  const match = given.length === wanted.length && timingSafeEqual(given, wanted);
  if (!ha1Valid) return reject('unknown-user');
  if (!match) return reject('response-mismatch');
  // RFC 7616 §3.3 stale: the server SHOULD set stale=true only when "the nonce is invalid
  // and the response is valid for that nonce": the password was right.
  if (nonceStatus === 'stale') return { outcome: 'stale' };
  if (c.nc !== undefined && input.nonceCountCheck?.(c.nonce, c.nc) === false) {
    return reject('nonce-count-replay');
  }
  return { outcome: 'authenticated', username: c.username };
}

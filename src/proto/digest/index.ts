/**
 * Digest authentication building blocks (RFC 7616, RFC 8760, RFC 2617, RFC 3261 §22).
 * Sans-IO: every function takes its time as `now` and does no I/O.
 */
export {
  DIGEST_ALGORITHMS,
  DIGEST_HEX_LENGTH,
  digestHex,
  hashOf,
  isSessionAlgorithm,
  lookupAlgorithm,
  type DigestAlgorithm,
  type DigestHash,
} from './algorithm.ts';
export {
  MAX_AUTH_HEADER_LENGTH,
  MAX_AUTH_PARAMS,
  isToken,
  parseAuthHeader,
  type AuthHeaderValue,
  type AuthParam,
  type DigestParseError,
  type DigestParseReason,
} from './params.ts';
export {
  formatChallenge,
  isDigestScheme,
  parseChallenge,
  type DigestChallenge,
  type DigestChallengeInit,
  type DigestQop,
} from './challenge.ts';
export {
  formatCredentials,
  formatNonceCount,
  parseCredentials,
  type DigestCredentials,
  type DigestCredentialsInit,
} from './credentials.ts';
export {
  computeHa1,
  computeResponse,
  verifyCredentials,
  type DigestRejectReason,
  type DigestVerdict,
  type NonceStatus,
  type ResponseInput,
  type VerifyInput,
} from './compute.ts';
export {
  MIN_NONCE_SECRET_BYTES,
  NonceCountTracker,
  checkNonce,
  createNonce,
  type CheckNonceOptions,
  type CreateNonceOptions,
  type NonceBinding,
  type NonceCountTrackerOptions,
} from './nonce.ts';

/**
 * Sans-IO TURN building blocks (RFC 8656, RFC 8489 §9.2, TURN REST API): peer policy (SSRF
 * defence), long-term and REST credentials, stateless nonces, the allocation machine, the
 * allocation table with its relay port pool, and rate limiters. Every function takes its time
 * as `now` (ms) and does no I/O.
 */
export {
  formatIp,
  formatIpv4,
  formatIpv6,
  ipFromBytes,
  isIpv4Mapped,
  IPV4_MAPPED_PREFIX,
  parseIp,
  parseIpv4,
  parseIpv6,
  type IpAddress,
  type IpParseFailure,
} from './ip.ts';
export {
  parseIpRange,
  rangeSets,
  rangeSetsHave,
  RangeSet,
  singleAddressRange,
  type IpRange,
  type IpRangeError,
  type IpRangeFailure,
  type IpRangeSets,
} from './ip-range.ts';
export {
  canonicalPeerAddress,
  canonicalPeerFromBytes,
  canonicalPeerFromIp,
  rfc6052Embedded,
  RFC6052_PREFIX_LENGTHS,
  type CanonicalPeerAddress,
  type PeerEmbedding,
  type Rfc6052PrefixLength,
} from './peer-address.ts';
export {
  ipv4Category,
  ipv6Category,
  NEVER_RELAYABLE,
  type PeerCategory,
} from './peer-categories.ts';
export {
  createPeerPolicy,
  PeerPolicy,
  type PeerClassification,
  type PeerDecision,
  type PeerDenyReason,
  type PeerPolicyConfig,
  type PeerPolicyConfigError,
} from './peer-policy.ts';
export {
  DEFAULT_REST_SEPARATOR,
  escapeForLog,
  generateRestCredential,
  longTermKey,
  MAX_USERNAME_BYTES,
  opaqueString,
  parseRestUsername,
  PASSWORD_ALGORITHMS,
  restPassword,
  TurnCredentials,
  userHash,
  type CredentialFailure,
  type CredentialMatch,
  type PasswordAlgorithm,
  type RestCredential,
  type RestUsername,
  type RestUsernameFailure,
  type StaticTurnUser,
  type TurnCredentialsConfig,
} from './credentials.ts';
export {
  encodeSecurityFeatures,
  MAX_NONCE_CHARS,
  MIN_TURN_NONCE_SECRET_BYTES,
  NONCE_COOKIE,
  parseNonceCookie,
  SECURITY_FEATURE_BITS,
  TurnNonces,
  type NonceCheck,
  type SecurityFeatures,
  type TurnNonceOptions,
} from './nonce.ts';
export {
  ALLOCATION_TRANSITIONS,
  assertAllocationTransition,
  DEFAULT_ALLOCATION_LIMITS,
  desiredLifetimeSeconds,
  fiveTupleKey,
  peerKey,
  resolveAllocationLimits,
  TURN_CONSTANTS,
  type AllocationAction,
  type AllocationErrorCode,
  type AllocationErrorReason,
  type AllocationEvent,
  type AllocationLimits,
  type AllocationRequest,
  type AllocationState,
  type AllocationTerminationReason,
  type ChannelState,
  type FiveTuple,
  type TransportAddress,
  type TurnTransport,
} from './allocation-types.ts';
export { Allocation, type AllocationInit } from './allocation.ts';
export {
  AllocationTable,
  type AllocateCheck,
  type AllocationTableOptions,
  type AllocationTableSizes,
  type DueWork,
} from './allocation-table.ts';
export {
  RelayPortAllocator,
  RESERVATION_TOKEN_BYTES,
  type PortClaim,
  type PortRequest,
  type RelayPortOptions,
} from './relay-ports.ts';
export { DeadlineHeap } from '../../lib/deadline-heap.ts';
export {
  BandwidthLimiter,
  SourceRateLimiter,
  TokenBucket,
  type BandwidthConfig,
  type SourceRateLimiterConfig,
  type TokenBucketConfig,
} from './rate-limit.ts';
export {
  TurnAuthenticator,
  type AuthChallenge,
  type AuthFailureReason,
  type AuthOutcome,
  type TurnAuthenticatorOptions,
} from './authenticate.ts';

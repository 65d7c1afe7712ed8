/**
 * STUN and TURN wire constants: RFC 8489 (STUN), RFC 8656 (TURN), RFC 6062 (TURN TCP
 * allocations), RFC 8445 (ICE attributes carried in Binding requests). Names are the RFCs'
 * names with hyphens turned into underscores.
 */

/** RFC 8489 §5: "The Magic Cookie field MUST contain the fixed value 0x2112A442". */
export const MAGIC_COOKIE = 0x2112a442; // RFC 8489 §5

/** RFC 8489 §5: every STUN message starts with a 20-byte header. */
export const STUN_HEADER_LENGTH = 20;

/** RFC 8489 §5: the transaction ID is 96 bits. */
export const TRANSACTION_ID_LENGTH = 12;

/** RFC 8489 §14.7: FINGERPRINT is the CRC-32 of the message XOR'ed with this value. */
export const FINGERPRINT_XOR = 0x5354554e; // RFC 8489 §14.7

/** RFC 8489 §5: the largest message length a 16-bit field that is a multiple of 4 can hold. */
export const MAX_STUN_BODY_LENGTH = 0xfffc;

/** STUN methods (RFC 8489 §18.2, RFC 8656 §17, RFC 6062 §6.1). Methods are 12 bits. */
export const STUN_METHOD = {
  /** RFC 8489 §18.2. */
  Binding: 0x001,
  /** RFC 8656 §17: only request/response semantics defined. */
  Allocate: 0x003,
  /** RFC 8656 §17: only request/response semantics defined. */
  Refresh: 0x004,
  /** RFC 8656 §17: only indication semantics defined. */
  Send: 0x006,
  /** RFC 8656 §17: only indication semantics defined. */
  Data: 0x007,
  /** RFC 8656 §17: only request/response semantics defined. */
  CreatePermission: 0x008,
  /** RFC 8656 §17: only request/response semantics defined. */
  ChannelBind: 0x009,
  /** RFC 6062 §6.1. */
  Connect: 0x00a,
  /** RFC 6062 §6.1. */
  ConnectionBind: 0x00b,
  /** RFC 6062 §6.1. */
  ConnectionAttempt: 0x00c,
} as const;

/** One of the methods Rampart knows by name. Decoded messages carry any 12-bit method. */
export type StunMethodName = keyof typeof STUN_METHOD;

/**
 * RFC 8489 §5: "A class of 0b00 is a request, a class of 0b01 is an indication, a class of
 * 0b10 is a success response, and a class of 0b11 is an error response."
 */
export const STUN_CLASS = {
  request: 0b00,
  indication: 0b01,
  success: 0b10,
  error: 0b11,
} as const;

/** A STUN message class. */
export type StunClass = keyof typeof STUN_CLASS;

/** STUN attribute types (RFC 8489 §18.3, RFC 8656 §18, RFC 6062 §6.2, RFC 8445 §20.1). */
export const STUN_ATTR = {
  // RFC 8489 §18.3.1, comprehension-required.
  MAPPED_ADDRESS: 0x0001,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_MAPPED_ADDRESS: 0x0020,
  // RFC 8489 §18.3.2, comprehension-required.
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  PASSWORD_ALGORITHM: 0x001d,
  USERHASH: 0x001e,
  // RFC 8656 §18, comprehension-required.
  CHANNEL_NUMBER: 0x000c,
  LIFETIME: 0x000d,
  XOR_PEER_ADDRESS: 0x0012,
  DATA: 0x0013,
  XOR_RELAYED_ADDRESS: 0x0016,
  REQUESTED_ADDRESS_FAMILY: 0x0017,
  EVEN_PORT: 0x0018,
  REQUESTED_TRANSPORT: 0x0019,
  DONT_FRAGMENT: 0x001a,
  RESERVATION_TOKEN: 0x0022,
  // RFC 6062 §6.2, comprehension-required.
  CONNECTION_ID: 0x002a,
  // RFC 8445 §20.1 (ICE), carried in Binding requests.
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  // RFC 8656 §18, comprehension-optional.
  ADDITIONAL_ADDRESS_FAMILY: 0x8000,
  ADDRESS_ERROR_CODE: 0x8001,
  ICMP: 0x8004,
  // RFC 8489 §18.3.2, comprehension-optional.
  PASSWORD_ALGORITHMS: 0x8002,
  ALTERNATE_DOMAIN: 0x8003,
  // RFC 8489 §18.3.1, comprehension-optional.
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
  // RFC 8445 §20.1 (ICE), comprehension-optional.
  ICE_CONTROLLED: 0x8029,
  ICE_CONTROLLING: 0x802a,
} as const;

/** The name of a known attribute type. */
export type StunAttrName = keyof typeof STUN_ATTR;

/** Every attribute type in {@link STUN_ATTR}: what the decoder understands by default. */
export const KNOWN_ATTRIBUTE_TYPES: ReadonlySet<number> = new Set(Object.values(STUN_ATTR));

/**
 * RFC 8489 §14: "Attributes with type values between 0x0000 and 0x7FFF are
 * comprehension-required attributes, which means that the STUN agent cannot successfully
 * process the message unless it understands the attribute."
 */
export function isComprehensionRequired(attributeType: number): boolean {
  return attributeType < 0x8000;
}

/** STUN and TURN error codes (RFC 8489 §14.8, RFC 8656 §19, RFC 6062 §6.3, RFC 8445 §16.2). */
export const STUN_ERROR = {
  TRY_ALTERNATE: 300,
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  UNKNOWN_ATTRIBUTE: 420,
  ALLOCATION_MISMATCH: 437,
  STALE_NONCE: 438,
  ADDRESS_FAMILY_NOT_SUPPORTED: 440,
  WRONG_CREDENTIALS: 441,
  UNSUPPORTED_TRANSPORT_PROTOCOL: 442,
  PEER_ADDRESS_FAMILY_MISMATCH: 443,
  CONNECTION_ALREADY_EXISTS: 446,
  CONNECTION_TIMEOUT_OR_FAILURE: 447,
  ALLOCATION_QUOTA_REACHED: 486,
  ROLE_CONFLICT: 487,
  SERVER_ERROR: 500,
  INSUFFICIENT_CAPACITY: 508,
} as const;

/** One of the error codes of {@link STUN_ERROR}. */
export type StunErrorCode = (typeof STUN_ERROR)[keyof typeof STUN_ERROR];

/** The recommended reason phrase of each error code, as the IANA registry lists it. */
export const STUN_ERROR_REASON: Readonly<Record<StunErrorCode, string>> = {
  300: 'Try Alternate',
  400: 'Bad Request',
  // RFC 8489 §18.4: "IANA has changed the name of the 401 error code from "Unauthorized" to
  // "Unauthenticated"."
  401: 'Unauthenticated',
  403: 'Forbidden',
  420: 'Unknown Attribute',
  437: 'Allocation Mismatch',
  438: 'Stale Nonce',
  440: 'Address Family not Supported',
  441: 'Wrong Credentials',
  442: 'Unsupported Transport Protocol',
  443: 'Peer Address Family Mismatch',
  446: 'Connection Already Exists',
  447: 'Connection Timeout or Failure',
  486: 'Allocation Quota Reached',
  487: 'Role Conflict',
  500: 'Server Error',
  508: 'Insufficient Capacity',
};

/** The recommended reason phrase for `code`, or '' for a code not in {@link STUN_ERROR}. */
export function reasonPhrase(code: number): string {
  return (STUN_ERROR_REASON as Readonly<Record<number, string | undefined>>)[code] ?? '';
}

/** RFC 8489 §14.1: address family codes of MAPPED-ADDRESS and the attributes shaped like it. */
export const ADDRESS_FAMILY = { IPv4: 0x01, IPv6: 0x02 } as const;

/** RFC 8489 §18.5: the STUN Password Algorithms registry. */
export const PASSWORD_ALGORITHM = { MD5: 0x0001, SHA256: 0x0002 } as const;

/**
 * REQUESTED-TRANSPORT protocol numbers: RFC 8656 §18.8 allows 17 (UDP); RFC 6062 §5.1 adds
 * 6 (TCP).
 */
export const TRANSPORT_PROTOCOL = { UDP: 17, TCP: 6 } as const;

/** RFC 8656 §12: "0x4000 through 0x4FFF: These values are the allowed channel numbers". */
export const CHANNEL_NUMBER_MIN = 0x4000;
/**
 * The last channel number accepted. RFC 8656 §12 allows 0x4000–0x4FFF and reserves 0x5000–
 * 0x7FFF for DTLS-SRTP multiplexing (RFC 7983); RFC 5766 §11 allowed 0x4000–0x7FFF, and RFC
 * 5766 clients still use it (coturn's own client binds 0x6xxx). A TURN port multiplexes no
 * DTLS-SRTP, so the older range is accepted: every value whose top bits are 01.
 */
export const CHANNEL_NUMBER_MAX = 0x7fff;

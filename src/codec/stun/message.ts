/**
 * The decoded shape of a STUN message (RFC 8489 §5, §14) and the message-type bit layout.
 * Every Buffer here is a view of the `raw` input: nothing is copied.
 */
import { randomBytes } from 'node:crypto';
import { STUN_CLASS, TRANSACTION_ID_LENGTH, type StunClass } from './constants.ts';

/** One attribute as it appears in the message. */
export interface StunAttribute {
  /** Attribute type (16 bits). */
  readonly type: number;
  /** The value without padding: a subarray of `raw`. */
  readonly value: Buffer;
  /** Byte offset of the attribute's 4-byte header in `raw`. */
  readonly offset: number;
}

/** The fixed header fields of a message. */
export interface StunHeader {
  /** The 12-bit method; see `STUN_METHOD` for the ones Rampart knows. */
  readonly method: number;
  readonly cls: StunClass;
  /** The 96-bit transaction ID: a 12-byte subarray of `raw`. */
  readonly transactionId: Buffer;
}

/** A decoded STUN message. Buffers are subarrays of `raw`; valid until `raw` is reused. */
export interface StunMessage extends StunHeader {
  /** Exactly the message: header and attributes. */
  readonly raw: Buffer;
  /**
   * Attributes in order of appearance, MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and
   * FINGERPRINT included, but without those RFC 8489 §14.5/§14.6 say to ignore.
   */
  readonly attributes: readonly StunAttribute[];
  /** Offset in `raw` of the MESSAGE-INTEGRITY attribute header, if one counts. */
  readonly messageIntegrityOffset: number | undefined;
  /** Offset in `raw` of the MESSAGE-INTEGRITY-SHA256 attribute header, if one counts. */
  readonly messageIntegritySha256Offset: number | undefined;
  /** Offset in `raw` of the FINGERPRINT attribute header, if present. */
  readonly fingerprintOffset: number | undefined;
  /**
   * Comprehension-required attribute types the decoder did not understand, each once, in order
   * of first appearance. RFC 8489 §6.3.1: a server answers a request carrying any with 420 and
   * lists them in UNKNOWN-ATTRIBUTES.
   */
  readonly unknownComprehensionRequired: readonly number[];
  /** How many attributes were skipped because they followed an integrity attribute. */
  readonly ignoredAttributeCount: number;
}

/** Why a buffer is not a STUN message. */
export type StunDecodeErrorReason =
  | 'too-short'
  | 'not-stun'
  | 'bad-magic-cookie'
  | 'bad-length'
  | 'truncated'
  | 'trailing-bytes'
  | 'truncated-attribute'
  | 'bad-integrity-length'
  | 'bad-fingerprint-length'
  | 'attribute-after-fingerprint';

/** Where and why decoding failed. */
export interface StunDecodeError {
  readonly code: 'RAMPART_ERR_STUN_PARSE';
  readonly reason: StunDecodeErrorReason;
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;
  /** The attribute the problem is in, when it is in one. */
  readonly attributeType: number | undefined;
  /**
   * The header, when the first 20 bytes were a valid STUN header: enough for a server to
   * answer a malformed request with 400.
   */
  readonly header: StunHeader | undefined;
}

/** Why an attribute value does not have its RFC format. */
export type StunAttributeErrorReason =
  'bad-length' | 'unknown-address-family' | 'invalid-utf8' | 'too-long' | 'bad-error-code';

/** Where and why an attribute value failed to parse. */
export interface StunAttributeError {
  readonly code: 'RAMPART_ERR_STUN_PARSE';
  readonly reason: StunAttributeErrorReason;
  readonly attributeType: number;
  /** Offset of the attribute header in the message. */
  readonly offset: number;
}

/**
 * Packs method and class into the 14-bit message type (RFC 8489 §5): the class bits C1 and C0
 * sit at bits 8 and 4, the method fills M0–M3, M4–M6 and M7–M11 around them.
 */
export function encodeMessageType(method: number, cls: StunClass): number {
  const c = STUN_CLASS[cls];
  return (
    (method & 0x000f) |
    ((method & 0x0070) << 1) |
    ((method & 0x0f80) << 2) |
    ((c & 0b01) << 4) |
    ((c & 0b10) << 7)
  );
}

const CLASS_BY_BITS: readonly StunClass[] = ['request', 'indication', 'success', 'error'];

/** The method of a 14-bit message type (RFC 8489 §5). */
export function methodOfType(type: number): number {
  return (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
}

/** The class of a 14-bit message type (RFC 8489 §5). */
export function classOfType(type: number): StunClass {
  // Two bits always index one of the four entries.
  return CLASS_BY_BITS[((type >> 4) & 0b01) | ((type >> 7) & 0b10)] as StunClass;
}

/**
 * A fresh transaction ID. RFC 8489 §6: "The transaction ID MUST be uniformly and randomly
 * chosen from the interval 0 .. 2**96-1 and MUST be cryptographically random."
 */
export function newTransactionId(): Buffer {
  return randomBytes(TRANSACTION_ID_LENGTH);
}

/** The first attribute of `type` that counts (RFC 8489 §14: only the first need be processed). */
export function findAttribute(msg: StunMessage, type: number): StunAttribute | undefined {
  for (const attribute of msg.attributes) if (attribute.type === type) return attribute;
  return undefined;
}

/** Every attribute of `type` that counts, in order. */
export function findAttributes(msg: StunMessage, type: number): StunAttribute[] {
  return msg.attributes.filter((attribute) => attribute.type === type);
}

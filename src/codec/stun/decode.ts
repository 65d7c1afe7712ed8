/**
 * STUN message decoding (RFC 8489 §5, §14): checks the header, walks the attribute TLVs and
 * applies the ordering rules of MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT.
 * Attribute values stay views of the input; they are parsed further only by the getters in
 * `attributes-*.ts`. Never throws: malformed input comes back as a {@link StunDecodeError}.
 */
import { err, ok, type Result } from '../../lib/result.ts';
import {
  KNOWN_ATTRIBUTE_TYPES,
  MAGIC_COOKIE,
  STUN_ATTR,
  STUN_HEADER_LENGTH,
  isComprehensionRequired,
} from './constants.ts';
import { isValidSha256IntegrityLength } from './integrity.ts';
import {
  classOfType,
  methodOfType,
  type StunAttribute,
  type StunDecodeError,
  type StunDecodeErrorReason,
  type StunHeader,
  type StunMessage,
} from './message.ts';

/** Options of {@link decodeStun}. */
export interface DecodeStunOptions {
  /**
   * Attribute types the caller understands; comprehension-required types outside it are
   * reported in `unknownComprehensionRequired`. Default: every type of `STUN_ATTR`.
   */
  readonly knownAttributes?: ReadonlySet<number>;
}

/** RFC 8489 §14.5: "Since it uses the SHA-1 hash, the HMAC will be 20 bytes." */
const MESSAGE_INTEGRITY_LENGTH = 20;

/** Where an attribute sits relative to the integrity and fingerprint attributes. */
type Phase =
  'before-integrity' | 'after-integrity' | 'after-integrity-sha256' | 'after-fingerprint';

function failure(
  reason: StunDecodeErrorReason,
  offset: number,
  attributeType?: number,
  header?: StunHeader,
): { readonly ok: false; readonly error: StunDecodeError } {
  return err({ code: 'RAMPART_ERR_STUN_PARSE', reason, offset, attributeType, header });
}

/**
 * Decodes one whole STUN message: `raw` must hold exactly 20 + Message Length bytes (a UDP
 * datagram, or one frame from {@link StunStreamFramer}).
 *
 * Attribute values are subarrays of `raw`; valid until `raw` is reused.
 */
export function decodeStun(
  raw: Buffer,
  options: DecodeStunOptions = {},
): Result<StunMessage, StunDecodeError> {
  if (raw.length < STUN_HEADER_LENGTH) return failure('too-short', raw.length);
  // RFC 8489 §5: "The most significant 2 bits of every STUN message MUST be zeroes."
  if (((raw[0] as number) & 0xc0) !== 0) return failure('not-stun', 0);
  if (raw.readUInt32BE(4) !== MAGIC_COOKIE) return failure('bad-magic-cookie', 4);
  const type = raw.readUInt16BE(0);
  const header: StunHeader = {
    method: methodOfType(type),
    cls: classOfType(type),
    transactionId: raw.subarray(8, STUN_HEADER_LENGTH),
  };
  const length = raw.readUInt16BE(2);
  // RFC 8489 §5: "the last 2 bits of this field are always zero".
  if ((length & 3) !== 0) return failure('bad-length', 2, undefined, header);
  const end = STUN_HEADER_LENGTH + length;
  if (raw.length < end) return failure('truncated', raw.length, undefined, header);
  if (raw.length > end) return failure('trailing-bytes', end, undefined, header);

  const known = options.knownAttributes ?? KNOWN_ATTRIBUTE_TYPES;
  const attributes: StunAttribute[] = [];
  const unknown: number[] = [];
  let messageIntegrityOffset: number | undefined;
  let messageIntegritySha256Offset: number | undefined;
  let fingerprintOffset: number | undefined;
  let ignoredAttributeCount = 0;
  let phase: Phase = 'before-integrity';
  let offset = STUN_HEADER_LENGTH;

  while (offset < end) {
    // Attributes start on 4-byte boundaries and `end` is one, so a header always fits.
    const attributeType = raw.readUInt16BE(offset);
    const valueLength = raw.readUInt16BE(offset + 2);
    const valueStart = offset + 4;
    const valueEnd = valueStart + valueLength;
    if (valueEnd > end) return failure('truncated-attribute', offset, attributeType, header);
    // RFC 8489 §14: the value is padded to a multiple of 4; "The padding bits MUST be set to
    // zero on sending and MUST be ignored by the receiver." Since `end` is aligned, a value
    // that fits always has room for its padding.
    const next = (valueEnd + 3) & ~3;
    // RFC 8489 §14.7: "When present, the FINGERPRINT attribute MUST be the last attribute in
    // the message".
    if (phase === 'after-fingerprint') {
      return failure('attribute-after-fingerprint', offset, attributeType, header);
    }

    let counts = true;
    if (attributeType === STUN_ATTR.FINGERPRINT) {
      if (valueLength !== 4)
        return failure('bad-fingerprint-length', offset, attributeType, header);
      fingerprintOffset = offset;
      phase = 'after-fingerprint';
    } else if (phase === 'after-integrity-sha256') {
      // RFC 8489 §14.6: "agents MUST ignore all other attributes that follow
      // MESSAGE-INTEGRITY-SHA256" (FINGERPRINT excepted).
      counts = false;
    } else if (attributeType === STUN_ATTR.MESSAGE_INTEGRITY_SHA256) {
      if (!isValidSha256IntegrityLength(valueLength)) {
        return failure('bad-integrity-length', offset, attributeType, header);
      }
      messageIntegritySha256Offset = offset;
      phase = 'after-integrity-sha256';
    } else if (phase === 'after-integrity') {
      // RFC 8489 §14.5: "With the exception of the MESSAGE-INTEGRITY-SHA256 and FINGERPRINT
      // attributes, which appear after MESSAGE-INTEGRITY, agents MUST ignore all other
      // attributes that follow MESSAGE-INTEGRITY."
      counts = false;
    } else if (attributeType === STUN_ATTR.MESSAGE_INTEGRITY) {
      if (valueLength !== MESSAGE_INTEGRITY_LENGTH) {
        return failure('bad-integrity-length', offset, attributeType, header);
      }
      messageIntegrityOffset = offset;
      phase = 'after-integrity';
    }

    if (counts) {
      attributes.push({ type: attributeType, value: raw.subarray(valueStart, valueEnd), offset });
      if (
        isComprehensionRequired(attributeType) &&
        !known.has(attributeType) &&
        !unknown.includes(attributeType)
      ) {
        unknown.push(attributeType);
      }
    } else {
      ignoredAttributeCount++;
    }
    offset = next;
  }

  return ok({
    ...header,
    raw,
    attributes,
    messageIntegrityOffset,
    messageIntegritySha256Offset,
    fingerprintOffset,
    unknownComprehensionRequired: unknown,
    ignoredAttributeCount,
  });
}

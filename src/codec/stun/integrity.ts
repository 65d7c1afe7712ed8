/**
 * MESSAGE-INTEGRITY (RFC 8489 §14.5), MESSAGE-INTEGRITY-SHA256 (§14.6) and FINGERPRINT (§14.7):
 * computation for the encoder and verification of decoded messages. Verification never
 * modifies the message: the adjusted length field is fed to the HMAC separately.
 */
import { timingSafeEqual } from 'node:crypto';
import { hmac } from '../../lib/hmac.ts';
import { crc32 } from 'node:zlib';
import { FINGERPRINT_XOR, STUN_HEADER_LENGTH } from './constants.ts';
import type { StunMessage } from './message.ts';

/** Hash of an integrity attribute. */
export type IntegrityHash = 'sha1' | 'sha256';

/**
 * RFC 8489 §14.6: "The value will be at most 32 bytes, but it MUST be at least 16 bytes and
 * MUST be a multiple of 4 bytes."
 */
export function isValidSha256IntegrityLength(length: number): boolean {
  return length >= 16 && length <= 32 && (length & 3) === 0;
}

const lengthField = Buffer.alloc(2);

/**
 * HMAC over `raw[0, end)` as if the header's Message Length were `adjustedLength`.
 *
 * RFC 8489 §14.5: "The text used as input to HMAC is the STUN message, up to and including the
 * attribute preceding the MESSAGE-INTEGRITY attribute. The Length field of the STUN message
 * header is adjusted to point to the end of the MESSAGE-INTEGRITY attribute." §14.6 says the
 * same of MESSAGE-INTEGRITY-SHA256.
 */
export function integrityHmac(
  hash: IntegrityHash,
  key: Uint8Array,
  raw: Uint8Array,
  end: number,
  adjustedLength: number,
): Buffer {
  lengthField.writeUInt16BE(adjustedLength, 0);
  return hmac(hash, key, raw.subarray(0, 2), lengthField, raw.subarray(4, end));
}

/**
 * RFC 8489 §14.7: "the CRC-32 of the STUN message up to (but excluding) the FINGERPRINT
 * attribute itself, XOR'ed with the 32-bit value 0x5354554e."
 */
export function fingerprintOf(raw: Uint8Array, end: number): number {
  return (crc32(raw.subarray(0, end)) ^ FINGERPRINT_XOR) >>> 0;
}

function verify(
  msg: StunMessage,
  offset: number | undefined,
  hash: IntegrityHash,
  key: Uint8Array,
): boolean {
  if (offset === undefined) return false;
  const length = msg.raw.readUInt16BE(offset + 2);
  const value = msg.raw.subarray(offset + 4, offset + 4 + length);
  const valueEnd = offset + 4 + length;
  const expected = integrityHmac(hash, key, msg.raw, offset, valueEnd - STUN_HEADER_LENGTH);
  // RFC 8489 §14.6 allows a truncated MESSAGE-INTEGRITY-SHA256 (16..32 bytes, the decoder has
  // checked): compare against the same number of leading HMAC bytes.
  return timingSafeEqual(expected.subarray(0, value.length), value);
}

/**
 * Whether the message's MESSAGE-INTEGRITY verifies under `key` (see `shortTermKey` and
 * `longTermKey`). False when the message has none that counts. Constant-time compare.
 */
export function verifyMessageIntegrity(msg: StunMessage, key: Uint8Array): boolean {
  return verify(msg, msg.messageIntegrityOffset, 'sha1', key);
}

/**
 * Whether the message's MESSAGE-INTEGRITY-SHA256 verifies under `key`, truncated values
 * included. False when the message has none. Constant-time compare.
 */
export function verifyMessageIntegritySha256(msg: StunMessage, key: Uint8Array): boolean {
  return verify(msg, msg.messageIntegritySha256Offset, 'sha256', key);
}

/** Whether the message has a FINGERPRINT and it matches (RFC 8489 §7.3: else not STUN). */
export function verifyFingerprint(msg: StunMessage): boolean {
  const offset = msg.fingerprintOffset;
  if (offset === undefined) return false;
  return msg.raw.readUInt32BE(offset + 4) === fingerprintOf(msg.raw, offset);
}

/**
 * STUN message encoding (RFC 8489 §5, §14): sizes the message once, writes the header and every
 * attribute into one Buffer, then appends MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and
 * FINGERPRINT as asked. Attributes come from the `.of()` half of each get/add pair.
 */
import { RampartError } from '../../lib/errors.ts';
import {
  MAGIC_COOKIE,
  MAX_STUN_BODY_LENGTH,
  STUN_ATTR,
  STUN_HEADER_LENGTH,
  TRANSACTION_ID_LENGTH,
  type StunClass,
} from './constants.ts';
import { fingerprintOf, integrityHmac, isValidSha256IntegrityLength } from './integrity.ts';
import { encodeMessageType } from './message.ts';

/**
 * One attribute ready to be written: its type, the length of its value before padding, and a
 * function that writes the value at `offset`. XOR'ed addresses need the transaction ID.
 */
export interface StunAttributeWriter {
  readonly type: number;
  readonly length: number;
  write(target: Buffer, offset: number, transactionId: Uint8Array): void;
}

/** What a message is made of. */
export interface StunMessageInit {
  /** The 12-bit method; see `STUN_METHOD`. */
  readonly method: number;
  readonly cls: StunClass;
  /** 12 bytes; see `newTransactionId`. */
  readonly transactionId: Uint8Array;
  readonly attributes: readonly StunAttributeWriter[];
}

/** Which integrity attributes to append, and the key (see `shortTermKey`, `longTermKey`). */
export interface StunIntegrityOptions {
  readonly key: Uint8Array;
  /** 'both' writes MESSAGE-INTEGRITY then MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6). */
  readonly algorithm: 'sha1' | 'sha256' | 'both';
  /**
   * Length of MESSAGE-INTEGRITY-SHA256: 32 (default), or 16..28 in steps of 4 where the STUN
   * usage allows truncation (RFC 8489 §14.6).
   */
  readonly sha256Length?: number;
}

/** Options of {@link encodeStun}. */
export interface StunEncodeOptions {
  readonly integrity?: StunIntegrityOptions;
  /** Append FINGERPRINT (RFC 8489 §14.7) as the last attribute. */
  readonly fingerprint?: boolean;
  /**
   * The byte padding is filled with. RFC 8489 §14: "The padding bits MUST be set to zero on
   * sending"; only to reproduce other senders' bytes (RFC 5769 pads with 0x20) use another.
   */
  readonly paddingByte?: number;
}

/** An attribute with the given raw value (copied when written). */
export function rawAttribute(type: number, value: Uint8Array): StunAttributeWriter {
  checkUint16(type, 'attribute type');
  checkLength(value.length);
  return {
    type,
    length: value.length,
    write(target, offset) {
      target.set(value, offset);
    },
  };
}

/** Throws a programmer error unless `length` fits an attribute's 16-bit Length field. */
export function checkLength(length: number): void {
  if (length > 0xffff) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `attribute value too long: ${length}`);
  }
}

/** Throws a programmer error unless `value` is an integer in 0..0xffff. */
export function checkUint16(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `${what} out of range: ${value}`);
  }
}

function padded(length: number): number {
  return (length + 3) & ~3;
}

function writeAttributeHeader(
  target: Buffer,
  offset: number,
  type: number,
  length: number,
): number {
  target.writeUInt16BE(type, offset);
  target.writeUInt16BE(length, offset + 2);
  return offset + 4;
}

/**
 * Encodes a STUN message into one new Buffer. Throws a `RampartError`
 * (RAMPART_ERR_INVALID_ARGUMENT) on programmer errors: a bad method or transaction ID, a
 * message longer than a 16-bit length can say.
 */
export function encodeStun(init: StunMessageInit, options: StunEncodeOptions = {}): Buffer {
  if (!Number.isInteger(init.method) || init.method < 0 || init.method > 0xfff) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `bad STUN method: ${init.method}`);
  }
  if (init.transactionId.length !== TRANSACTION_ID_LENGTH) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', 'transaction ID must be 12 bytes');
  }
  const integrity = options.integrity;
  const withSha1 = integrity !== undefined && integrity.algorithm !== 'sha256';
  const withSha256 = integrity !== undefined && integrity.algorithm !== 'sha1';
  const sha256Length = integrity?.sha256Length ?? 32;
  if (withSha256 && !isValidSha256IntegrityLength(sha256Length)) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `bad SHA-256 length: ${sha256Length}`);
  }
  const paddingByte = options.paddingByte ?? 0;
  if (!Number.isInteger(paddingByte) || paddingByte < 0 || paddingByte > 0xff) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `bad padding byte: ${paddingByte}`);
  }

  let bodyLength = 0;
  for (const attribute of init.attributes) bodyLength += 4 + padded(attribute.length);
  if (withSha1) bodyLength += 4 + 20;
  if (withSha256) bodyLength += 4 + sha256Length;
  if (options.fingerprint === true) bodyLength += 8;
  if (bodyLength > MAX_STUN_BODY_LENGTH) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `STUN message too long: ${bodyLength}`);
  }

  const out = Buffer.allocUnsafe(STUN_HEADER_LENGTH + bodyLength);
  out.writeUInt16BE(encodeMessageType(init.method, init.cls), 0);
  out.writeUInt16BE(bodyLength, 2);
  out.writeUInt32BE(MAGIC_COOKIE, 4);
  out.set(init.transactionId, 8);
  let offset = STUN_HEADER_LENGTH;
  for (const attribute of init.attributes) {
    offset = writeAttributeHeader(out, offset, attribute.type, attribute.length);
    attribute.write(out, offset, init.transactionId);
    const end = offset + padded(attribute.length);
    out.fill(paddingByte, offset + attribute.length, end);
    offset = end;
  }

  if (integrity !== undefined) {
    if (withSha1) {
      // RFC 8489 §14.5: the HMAC covers the message up to the attribute, with the Length field
      // "adjusted to point to the end of the MESSAGE-INTEGRITY attribute".
      const mac = integrityHmac(
        'sha1',
        integrity.key,
        out,
        offset,
        offset + 24 - STUN_HEADER_LENGTH,
      );
      offset = writeAttributeHeader(out, offset, STUN_ATTR.MESSAGE_INTEGRITY, 20);
      out.set(mac, offset);
      offset += 20;
    }
    if (withSha256) {
      // RFC 8489 §14.6: the same construction; a preceding MESSAGE-INTEGRITY is covered.
      const end = offset + 4 + sha256Length;
      const mac = integrityHmac('sha256', integrity.key, out, offset, end - STUN_HEADER_LENGTH);
      offset = writeAttributeHeader(out, offset, STUN_ATTR.MESSAGE_INTEGRITY_SHA256, sha256Length);
      out.set(mac.subarray(0, sha256Length), offset);
      offset += sha256Length;
    }
  }
  if (options.fingerprint === true) {
    // RFC 8489 §14.7: the CRC covers the header with its Length already counting FINGERPRINT.
    const crc = fingerprintOf(out, offset);
    offset = writeAttributeHeader(out, offset, STUN_ATTR.FINGERPRINT, 4);
    out.writeUInt32BE(crc, offset);
  }
  return out;
}

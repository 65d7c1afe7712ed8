/**
 * Error attributes: ERROR-CODE (RFC 8489 §14.8), UNKNOWN-ATTRIBUTES (§14.13) and
 * ADDRESS-ERROR-CODE (RFC 8656 §18.12).
 */
import { RampartError } from '../../lib/errors.ts';
import { err, ok, type Result } from '../../lib/result.ts';
import { readFirst, writer, type AttributeCodec, type AttributeRead } from './attribute-codec.ts';
import {
  MAX_TEXT_CHARACTERS,
  MAX_TEXT_DECODE_BYTES,
  MAX_TEXT_ENCODE_BYTES,
  encodeText,
  parseText,
} from './attributes-auth.ts';
import { ADDRESS_FAMILY, STUN_ATTR, reasonPhrase } from './constants.ts';
import { checkLength, checkUint16, type StunAttributeWriter } from './encode.ts';
import type { StunAttributeErrorReason, StunMessage } from './message.ts';

/** An error code and its reason phrase. */
export interface StunErrorValue {
  /** 300..699: class × 100 + number. */
  readonly code: number;
  readonly reason: string;
}

/**
 * Reads Class and Number from the last two bytes of a 4-byte word and the reason after it.
 * RFC 8489 §14.8: "The Class represents the hundreds digit of the error code. The value MUST
 * be between 3 and 6. The Number represents the binary encoding of the error code modulo 100,
 * and its value MUST be between 0 and 99." The Reserved bits "MUST" be ignored by receivers.
 */
function parseErrorWord(value: Buffer): Result<StunErrorValue, StunAttributeErrorReason> {
  if (value.length < 4) return err('bad-length');
  const errorClass = (value[2] as number) & 0x07;
  const number = value[3] as number;
  if (errorClass < 3 || errorClass > 6 || number > 99) return err('bad-error-code');
  const reason = parseText(value.subarray(4), MAX_TEXT_DECODE_BYTES);
  if (!reason.ok) return reason;
  return ok({ code: errorClass * 100 + number, reason: reason.value });
}

function encodeErrorWord(code: number, reason: string | undefined): { word: number; text: Buffer } {
  if (!Number.isInteger(code) || code < 300 || code > 699) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `bad STUN error code: ${code}`);
  }
  const text = encodeText(
    reason ?? reasonPhrase(code),
    'reason phrase',
    MAX_TEXT_ENCODE_BYTES,
    MAX_TEXT_CHARACTERS,
  );
  return { word: (Math.floor(code / 100) << 8) | (code % 100), text };
}

/** ERROR-CODE (RFC 8489 §14.8). `of` defaults the reason to the registry's phrase. */
export const ErrorCode: {
  readonly type: number;
  readonly get: (msg: StunMessage) => AttributeRead<StunErrorValue>;
  readonly of: (code: number, reason?: string) => StunAttributeWriter;
} = {
  type: STUN_ATTR.ERROR_CODE,
  get: (msg) => readFirst(msg, STUN_ATTR.ERROR_CODE, parseErrorWord),
  of: (code, reason) => {
    const { word, text } = encodeErrorWord(code, reason);
    return writer(STUN_ATTR.ERROR_CODE, 4 + text.length, (target, offset) => {
      target.writeUInt32BE(word, offset);
      target.set(text, offset + 4);
    });
  },
};

/**
 * UNKNOWN-ATTRIBUTES (RFC 8489 §14.13): "a list of 16-bit values, each of which represents an
 * attribute type that was not understood by the server." Padded like any attribute.
 */
export const UnknownAttributes: AttributeCodec<number[], readonly number[]> = {
  type: STUN_ATTR.UNKNOWN_ATTRIBUTES,
  get: (msg) =>
    readFirst(msg, STUN_ATTR.UNKNOWN_ATTRIBUTES, (value) => {
      if ((value.length & 1) !== 0) return err('bad-length');
      const types: number[] = [];
      for (let i = 0; i < value.length; i += 2) types.push(value.readUInt16BE(i));
      return ok(types);
    }),
  of: (types) => {
    types.forEach((type) => {
      checkUint16(type, 'attribute type');
    });
    checkLength(types.length * 2);
    return writer(STUN_ATTR.UNKNOWN_ATTRIBUTES, types.length * 2, (target, offset) => {
      types.forEach((type, i) => target.writeUInt16BE(type, offset + i * 2));
    });
  },
};

/** An ADDRESS-ERROR-CODE value: which family could not be allocated, and why. */
export interface AddressErrorValue extends StunErrorValue {
  readonly family: 4 | 6;
}

/**
 * ADDRESS-ERROR-CODE (RFC 8656 §18.12): Family (8 bits), Reserved (13 bits), Class, Number,
 * Reason Phrase; the code is 440 or 508 in practice.
 */
export const AddressErrorCode: {
  readonly type: number;
  readonly get: (msg: StunMessage) => AttributeRead<AddressErrorValue>;
  readonly of: (family: 4 | 6, code: number, reason?: string) => StunAttributeWriter;
} = {
  type: STUN_ATTR.ADDRESS_ERROR_CODE,
  get: (msg) =>
    readFirst(msg, STUN_ATTR.ADDRESS_ERROR_CODE, (value) => {
      const parsed = parseErrorWord(value);
      if (!parsed.ok) return parsed;
      const familyCode = value[0];
      if (familyCode !== ADDRESS_FAMILY.IPv4 && familyCode !== ADDRESS_FAMILY.IPv6) {
        return err('unknown-address-family');
      }
      return ok({ family: familyCode === ADDRESS_FAMILY.IPv4 ? 4 : 6, ...parsed.value });
    }),
  of: (family, code, reason) => {
    const { word, text } = encodeErrorWord(code, reason);
    const familyCode = family === 4 ? ADDRESS_FAMILY.IPv4 : ADDRESS_FAMILY.IPv6;
    return writer(STUN_ATTR.ADDRESS_ERROR_CODE, 4 + text.length, (target, offset) => {
      target.writeUInt32BE(((familyCode << 24) | word) >>> 0, offset);
      target.set(text, offset + 4);
    });
  },
};

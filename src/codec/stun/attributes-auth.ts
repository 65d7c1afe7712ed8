/**
 * Text and authentication attributes of RFC 8489: USERNAME (§14.3), USERHASH (§14.4), REALM
 * (§14.9), NONCE (§14.10), PASSWORD-ALGORITHMS (§14.11), PASSWORD-ALGORITHM (§14.12),
 * SOFTWARE (§14.14), ALTERNATE-DOMAIN (§14.16).
 */
import { isUtf8 } from 'node:buffer';
import { RampartError } from '../../lib/errors.ts';
import { err, ok, type Result } from '../../lib/result.ts';
import {
  fixedLength,
  readFirst,
  writer,
  type AttributeCodec,
  type ValueParser,
} from './attribute-codec.ts';
import { STUN_ATTR } from './constants.ts';
import { checkLength, checkUint16, rawAttribute } from './encode.ts';
import type { StunAttributeErrorReason } from './message.ts';

/**
 * RFC 8489 §14.3 (USERNAME), §14.9 (REALM), §14.10 (NONCE), §14.14 (SOFTWARE), §14.8 (reason
 * phrase): a receiver MUST accept up to 763 bytes, a sender writes fewer than 509 (USERNAME)
 * or fewer than 128 characters of at most 509 bytes (the others).
 */
export const MAX_TEXT_DECODE_BYTES = 763;
/** The most bytes of text {@link Username}, {@link Realm}, etc. will encode. */
export const MAX_TEXT_ENCODE_BYTES = 509;
/** RFC 8489: "fewer than 128 characters". */
export const MAX_TEXT_CHARACTERS = 127;

/** Decodes a UTF-8 text value of at most `maxBytes` bytes. */
export function parseText(
  value: Buffer,
  maxBytes: number,
): Result<string, StunAttributeErrorReason> {
  if (value.length > maxBytes) return err('too-long');
  if (!isUtf8(value)) return err('invalid-utf8');
  return ok(value.toString('utf8'));
}

/** The number of Unicode code points ("characters" in RFC 8489's limits) of `text`. */
function codePointCount(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    // A low surrogate ends a code point its high surrogate already counted.
    const unit = text.charCodeAt(i);
    if (unit < 0xdc00 || unit > 0xdfff) count++;
  }
  return count;
}

/** Encodes text for a sender, enforcing the RFC's sending limits (programmer errors throw). */
export function encodeText(text: string, what: string, maxBytes: number, maxChars: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > maxBytes || codePointCount(text) > maxChars) {
    throw new RampartError(
      'RAMPART_ERR_INVALID_ARGUMENT',
      `${what} too long: ${bytes.length} bytes`,
    );
  }
  return bytes;
}

function textCodec(
  type: number,
  name: string,
  maxEncodeBytes: number,
  maxEncodeChars: number,
): AttributeCodec<string> {
  const parse: ValueParser<string> = (value) => parseText(value, MAX_TEXT_DECODE_BYTES);
  return {
    type,
    get: (msg) => readFirst(msg, type, parse),
    of: (text) => rawAttribute(type, encodeText(text, name, maxEncodeBytes, maxEncodeChars)),
  };
}

/**
 * USERNAME (RFC 8489 §14.3): "a UTF-8-encoded sequence of fewer than 509 bytes", already
 * prepared with OpaqueString by the sender (see `saslPrep`).
 */
export const Username = textCodec(
  STUN_ATTR.USERNAME,
  'USERNAME',
  MAX_TEXT_ENCODE_BYTES - 1,
  Infinity,
);

/** REALM (RFC 8489 §14.9). */
export const Realm = textCodec(
  STUN_ATTR.REALM,
  'REALM',
  MAX_TEXT_ENCODE_BYTES,
  MAX_TEXT_CHARACTERS,
);

/** NONCE (RFC 8489 §14.10). */
export const Nonce = textCodec(
  STUN_ATTR.NONCE,
  'NONCE',
  MAX_TEXT_ENCODE_BYTES,
  MAX_TEXT_CHARACTERS,
);

/** SOFTWARE (RFC 8489 §14.14). */
export const Software = textCodec(
  STUN_ATTR.SOFTWARE,
  'SOFTWARE',
  MAX_TEXT_ENCODE_BYTES,
  MAX_TEXT_CHARACTERS,
);

/**
 * ALTERNATE-DOMAIN (RFC 8489 §14.16): "a valid DNS name (including A-labels) of 255 or fewer
 * ASCII characters". The getter checks length and ASCII, not DNS syntax.
 */
export const AlternateDomain: AttributeCodec<string> = {
  type: STUN_ATTR.ALTERNATE_DOMAIN,
  get: (msg) =>
    readFirst(msg, STUN_ATTR.ALTERNATE_DOMAIN, (value) => {
      if (value.length > 255) return err('too-long');
      if (value.some((byte) => byte > 0x7f)) return err('invalid-utf8');
      return ok(value.toString('latin1'));
    }),
  of: (domain) => {
    if (domain.length > 255 || !/^[\x21-\x7e]*$/u.test(domain)) {
      throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `bad ALTERNATE-DOMAIN: ${domain}`);
    }
    return rawAttribute(STUN_ATTR.ALTERNATE_DOMAIN, Buffer.from(domain, 'latin1'));
  },
};

/** USERHASH (RFC 8489 §14.4): "a fixed length of 32 bytes" (see `userHash`). */
export const Userhash: AttributeCodec<Buffer, Uint8Array> = {
  type: STUN_ATTR.USERHASH,
  get: (msg) =>
    readFirst(
      msg,
      STUN_ATTR.USERHASH,
      fixedLength(32, (value) => value),
    ),
  of: (hash) => {
    if (hash.length !== 32) {
      throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', 'USERHASH must be 32 bytes');
    }
    return rawAttribute(STUN_ATTR.USERHASH, hash);
  },
};

/** One password algorithm with its parameters (RFC 8489 §14.11, §14.12). */
export interface PasswordAlgorithmEntry {
  /** See `PASSWORD_ALGORITHM`. */
  readonly algorithm: number;
  /** A view of the message; empty for MD5 and SHA-256 (RFC 8489 §18.5.1). */
  readonly parameters: Buffer;
}

function padded(length: number): number {
  return (length + 3) & ~3;
}

/**
 * Reads algorithm entries: 16-bit algorithm, 16-bit parameters length, parameters "padded to
 * a 32-bit boundary, in the same manner as an attribute" (the last entry's padding may be left
 * to the attribute's own).
 */
function parseAlgorithms(
  value: Buffer,
): Result<PasswordAlgorithmEntry[], StunAttributeErrorReason> {
  const entries: PasswordAlgorithmEntry[] = [];
  let offset = 0;
  while (offset < value.length) {
    if (offset + 4 > value.length) return err('bad-length');
    const parametersLength = value.readUInt16BE(offset + 2);
    const end = offset + 4 + parametersLength;
    if (end > value.length) return err('bad-length');
    entries.push({
      algorithm: value.readUInt16BE(offset),
      parameters: value.subarray(offset + 4, end),
    });
    offset = Math.min(offset + 4 + padded(parametersLength), value.length);
  }
  return ok(entries);
}

function algorithmsLength(entries: readonly PasswordAlgorithmEntry[]): number {
  let length = 0;
  for (const entry of entries) length += 4 + padded(entry.parameters.length);
  return length;
}

function writeAlgorithms(
  target: Buffer,
  offset: number,
  entries: readonly PasswordAlgorithmEntry[],
): void {
  let at = offset;
  for (const entry of entries) {
    target.writeUInt16BE(entry.algorithm, at);
    target.writeUInt16BE(entry.parameters.length, at + 2);
    target.set(entry.parameters, at + 4);
    target.fill(0, at + 4 + entry.parameters.length, at + 4 + padded(entry.parameters.length));
    at += 4 + padded(entry.parameters.length);
  }
}

function checkEntry(entry: PasswordAlgorithmEntry): void {
  checkUint16(entry.algorithm, 'password algorithm');
  checkUint16(entry.parameters.length, 'password algorithm parameters length');
}

/** PASSWORD-ALGORITHM (RFC 8489 §14.12): the algorithm the client chose. */
export const PasswordAlgorithm: AttributeCodec<PasswordAlgorithmEntry> = {
  type: STUN_ATTR.PASSWORD_ALGORITHM,
  get: (msg) =>
    readFirst(msg, STUN_ATTR.PASSWORD_ALGORITHM, (value) => {
      const entries = parseAlgorithms(value);
      if (!entries.ok) return entries;
      const [first] = entries.value;
      return first !== undefined && entries.value.length === 1 ? ok(first) : err('bad-length');
    }),
  of: (entry) => {
    checkEntry(entry);
    return writer(STUN_ATTR.PASSWORD_ALGORITHM, 4 + entry.parameters.length, (target, offset) => {
      target.writeUInt16BE(entry.algorithm, offset);
      target.writeUInt16BE(entry.parameters.length, offset + 2);
      target.set(entry.parameters, offset + 4);
    });
  },
};

/** PASSWORD-ALGORITHMS (RFC 8489 §14.11): the algorithms a server offers, in its order. */
export const PasswordAlgorithms: AttributeCodec<
  PasswordAlgorithmEntry[],
  readonly PasswordAlgorithmEntry[]
> = {
  type: STUN_ATTR.PASSWORD_ALGORITHMS,
  get: (msg) => readFirst(msg, STUN_ATTR.PASSWORD_ALGORITHMS, parseAlgorithms),
  of: (entries) => {
    entries.forEach(checkEntry);
    const length = algorithmsLength(entries);
    checkLength(length);
    return writer(STUN_ATTR.PASSWORD_ALGORITHMS, length, (target, offset) => {
      writeAlgorithms(target, offset, entries);
    });
  },
};

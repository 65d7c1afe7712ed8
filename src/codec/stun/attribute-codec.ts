/**
 * The shape shared by every attribute get/add pair (STYLE rule 3): `get` reads the first
 * occurrence of the attribute from a decoded message, `getAll` every occurrence, `of` makes a
 * writer for `encodeStun`.
 */
import { err, ok, type Result } from '../../lib/result.ts';
import type { StunAttributeWriter } from './encode.ts';
import type {
  StunAttribute,
  StunAttributeError,
  StunAttributeErrorReason,
  StunMessage,
} from './message.ts';

/**
 * What reading an attribute gives: undefined when the message has none, an error value when
 * its value is malformed, else the value.
 */
export type AttributeRead<T> = Result<T, StunAttributeError> | undefined;

/** Parses one attribute value (a view of the message); `msg` supplies the transaction ID. */
export type ValueParser<T> = (
  value: Buffer,
  msg: StunMessage,
) => Result<T, StunAttributeErrorReason>;

/** A get/add pair for an attribute that counts once per message. */
export interface AttributeCodec<T, A = T> {
  readonly type: number;
  /** The first occurrence (RFC 8489 §14: "only the first occurrence needs to be processed"). */
  readonly get: (msg: StunMessage) => AttributeRead<T>;
  readonly of: (value: A) => StunAttributeWriter;
}

/** A get/add pair for an attribute a message may carry several times. */
export interface RepeatableAttributeCodec<T, A = T> extends AttributeCodec<T, A> {
  /** Every occurrence in order; an empty list when there is none; the first error if any. */
  readonly getAll: (msg: StunMessage) => Result<T[], StunAttributeError>;
}

function parseAttribute<T>(
  msg: StunMessage,
  attribute: StunAttribute,
  parse: ValueParser<T>,
): Result<T, StunAttributeError> {
  const parsed = parse(attribute.value, msg);
  if (parsed.ok) return parsed;
  return err({
    code: 'RAMPART_ERR_STUN_PARSE',
    reason: parsed.error,
    attributeType: attribute.type,
    offset: attribute.offset,
  });
}

/** Reads the first attribute of `type` with `parse`. */
export function readFirst<T>(
  msg: StunMessage,
  type: number,
  parse: ValueParser<T>,
): AttributeRead<T> {
  for (const attribute of msg.attributes) {
    if (attribute.type === type) return parseAttribute(msg, attribute, parse);
  }
  return undefined;
}

/** Reads every attribute of `type` with `parse`; stops at the first malformed one. */
export function readAll<T>(
  msg: StunMessage,
  type: number,
  parse: ValueParser<T>,
): Result<T[], StunAttributeError> {
  const values: T[] = [];
  for (const attribute of msg.attributes) {
    if (attribute.type !== type) continue;
    const parsed = parseAttribute(msg, attribute, parse);
    if (!parsed.ok) return parsed;
    values.push(parsed.value);
  }
  return ok(values);
}

/** A writer for a value of known length filled in by `fill`. */
export function writer(
  type: number,
  length: number,
  fill: (target: Buffer, offset: number, transactionId: Uint8Array) => void,
): StunAttributeWriter {
  return { type, length, write: fill };
}

/** A parser that accepts exactly `length` bytes and reads them with `read`. */
export function fixedLength<T>(length: number, read: (value: Buffer) => T): ValueParser<T> {
  return (value) => (value.length === length ? ok(read(value)) : err('bad-length'));
}

// decodeStun: header checks, TLV walking, the ordering rules of RFC 8489 §14.5–§14.7, unknown
// comprehension-required attributes, and an error value naming the place for each failure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STUN_ATTR } from './constants.ts';
import { decodeStun } from './decode.ts';
import type { StunDecodeError, StunMessage } from './message.ts';

const TID = Buffer.from('0102030405060708090a0b0c', 'hex');

/** A message from raw TLVs, padded with zeros; `lengthDelta` corrupts the header length. */
function build(
  type: number,
  attributes: readonly (readonly [number, Buffer])[],
  lengthDelta = 0,
): Buffer {
  const parts: Buffer[] = [];
  for (const [attributeType, value] of attributes) {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(attributeType, 0);
    head.writeUInt16BE(value.length, 2);
    parts.push(head, value, Buffer.alloc((4 - (value.length % 4)) % 4));
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(20);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(body.length + lengthDelta, 2);
  head.writeUInt32BE(0x2112a442, 4);
  TID.copy(head, 8);
  return Buffer.concat([head, body]);
}

function decoded(raw: Buffer): StunMessage {
  const result = decodeStun(raw);
  assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.error));
  return result.value;
}

function failed(raw: Buffer): StunDecodeError {
  const result = decodeStun(raw);
  assert.ok(!result.ok, 'expected a decode error');
  return result.error;
}

const MI = Buffer.alloc(20, 0xaa);
const SHA256 = Buffer.alloc(32, 0xbb);
const FP = Buffer.alloc(4, 0xcc);

describe('decodeStun header', () => {
  test('a header-only message', () => {
    const msg = decoded(build(0x0001, []));
    assert.equal(msg.method, 1);
    assert.equal(msg.cls, 'request');
    assert.deepEqual(msg.transactionId, TID);
    assert.deepEqual(msg.attributes, []);
    assert.equal(msg.messageIntegrityOffset, undefined);
  });

  test('too short, not STUN, bad cookie', () => {
    assert.deepEqual(failed(Buffer.alloc(19)), {
      code: 'RAMPART_ERR_STUN_PARSE',
      reason: 'too-short',
      offset: 19,
      attributeType: undefined,
      header: undefined,
    });
    const notStun = build(0x0001, []);
    notStun[0] = 0x80;
    assert.equal(failed(notStun).reason, 'not-stun');
    const badCookie = build(0x0001, []);
    badCookie[4] = 0;
    const error = failed(badCookie);
    assert.equal(error.reason, 'bad-magic-cookie');
    assert.equal(error.offset, 4);
  });

  test('length not a multiple of 4, truncated, trailing bytes; header still reported', () => {
    const odd = build(0x0001, [[STUN_ATTR.SOFTWARE, Buffer.from('abcd')]], -2);
    const oddError = failed(odd.subarray(0, odd.length - 2));
    assert.equal(oddError.reason, 'bad-length');
    assert.equal(oddError.header?.method, 1);
    assert.deepEqual(oddError.header.transactionId, TID);
    const full = build(0x0001, [[STUN_ATTR.SOFTWARE, Buffer.from('abcd')]]);
    assert.equal(failed(full.subarray(0, full.length - 4)).reason, 'truncated');
    assert.equal(failed(Buffer.concat([full, Buffer.alloc(4)])).reason, 'trailing-bytes');
  });
});

describe('decodeStun attributes', () => {
  test('values are views of the input, without padding, with their offsets', () => {
    const raw = build(0x0101, [
      [STUN_ATTR.SOFTWARE, Buffer.from('abcde')],
      [STUN_ATTR.LIFETIME, Buffer.from([0, 0, 2, 0x58])],
    ]);
    const msg = decoded(raw);
    assert.equal(msg.attributes.length, 2);
    const [software, lifetime] = msg.attributes;
    assert.ok(software !== undefined && lifetime !== undefined);
    assert.equal(software.value.toString(), 'abcde');
    assert.equal(software.offset, 20);
    assert.equal(lifetime.offset, 32);
    assert.equal(software.value.buffer, raw.buffer);
  });

  test('an attribute running past the end is an error at its header', () => {
    const raw = build(0x0001, [[STUN_ATTR.SOFTWARE, Buffer.from('abcd')]]);
    raw.writeUInt16BE(5, 22); // claims 5 bytes; the message holds 4
    const error = failed(raw);
    assert.equal(error.reason, 'truncated-attribute');
    assert.equal(error.offset, 20);
    assert.equal(error.attributeType, STUN_ATTR.SOFTWARE);
  });

  test('padding bytes are ignored whatever their value (RFC 8489 §14)', () => {
    const raw = build(0x0001, [[STUN_ATTR.USERNAME, Buffer.from('abc')]]);
    raw[27] = 0x20;
    assert.equal(decoded(raw).attributes[0]?.value.toString(), 'abc');
  });

  test('unknown comprehension-required types are reported once each, in order', () => {
    const msg = decoded(
      build(0x0001, [
        [0x7001, Buffer.alloc(0)],
        [0x8fff, Buffer.alloc(0)],
        [0x0002, Buffer.alloc(4)],
        [0x7001, Buffer.alloc(0)],
        [STUN_ATTR.USERNAME, Buffer.from('u')],
      ]),
    );
    assert.deepEqual(msg.unknownComprehensionRequired, [0x7001, 0x0002]);
    const narrow = decodeStun(build(0x0001, [[STUN_ATTR.PRIORITY, Buffer.alloc(4)]]), {
      knownAttributes: new Set([STUN_ATTR.USERNAME]),
    });
    assert.ok(narrow.ok);
    assert.deepEqual(narrow.value.unknownComprehensionRequired, [STUN_ATTR.PRIORITY]);
  });
});

describe('decodeStun integrity ordering', () => {
  test('after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count (§14.5)', () => {
    const msg = decoded(
      build(0x0001, [
        [STUN_ATTR.USERNAME, Buffer.from('user')],
        [STUN_ATTR.MESSAGE_INTEGRITY, MI],
        [STUN_ATTR.SOFTWARE, Buffer.from('ignored')],
        [0x7777, Buffer.alloc(0)],
        [STUN_ATTR.MESSAGE_INTEGRITY_SHA256, SHA256],
        [STUN_ATTR.FINGERPRINT, FP],
      ]),
    );
    assert.deepEqual(
      msg.attributes.map((a) => a.type),
      [
        STUN_ATTR.USERNAME,
        STUN_ATTR.MESSAGE_INTEGRITY,
        STUN_ATTR.MESSAGE_INTEGRITY_SHA256,
        STUN_ATTR.FINGERPRINT,
      ],
    );
    assert.equal(msg.ignoredAttributeCount, 2);
    assert.deepEqual(msg.unknownComprehensionRequired, []);
    assert.equal(msg.messageIntegrityOffset, 28);
    assert.equal(msg.messageIntegritySha256Offset, 28 + 24 + 12 + 4);
    assert.equal(msg.fingerprintOffset, 28 + 24 + 12 + 4 + 36);
  });

  test('after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT counts, not a later MESSAGE-INTEGRITY (§14.6)', () => {
    const msg = decoded(
      build(0x0001, [
        [STUN_ATTR.MESSAGE_INTEGRITY_SHA256, SHA256],
        [STUN_ATTR.MESSAGE_INTEGRITY, MI],
        [STUN_ATTR.FINGERPRINT, FP],
      ]),
    );
    assert.equal(msg.messageIntegrityOffset, undefined);
    assert.equal(msg.messageIntegritySha256Offset, 20);
    assert.equal(msg.fingerprintOffset, 20 + 36 + 24);
    assert.equal(msg.ignoredAttributeCount, 1);
  });

  test('nothing may follow FINGERPRINT (§14.7)', () => {
    const error = failed(
      build(0x0001, [
        [STUN_ATTR.FINGERPRINT, FP],
        [STUN_ATTR.SOFTWARE, Buffer.from('x')],
      ]),
    );
    assert.equal(error.reason, 'attribute-after-fingerprint');
    assert.equal(error.offset, 28);
  });

  test('integrity and fingerprint lengths are checked', () => {
    assert.equal(
      failed(build(0x0001, [[STUN_ATTR.MESSAGE_INTEGRITY, Buffer.alloc(16)]])).reason,
      'bad-integrity-length',
    );
    assert.equal(
      failed(build(0x0001, [[STUN_ATTR.FINGERPRINT, Buffer.alloc(8)]])).reason,
      'bad-fingerprint-length',
    );
    for (const length of [0, 12, 18, 36]) {
      const raw = build(0x0001, [[STUN_ATTR.MESSAGE_INTEGRITY_SHA256, Buffer.alloc(length)]]);
      assert.equal(failed(raw).reason, 'bad-integrity-length', `length ${length}`);
    }
    for (const length of [16, 20, 24, 28, 32]) {
      const raw = build(0x0001, [[STUN_ATTR.MESSAGE_INTEGRITY_SHA256, Buffer.alloc(length)]]);
      assert.equal(decoded(raw).messageIntegritySha256Offset, 20, `length ${length}`);
    }
  });

  test('a malformed attribute that would be ignored still has to fit', () => {
    const raw = build(0x0001, [
      [STUN_ATTR.MESSAGE_INTEGRITY, MI],
      [STUN_ATTR.SOFTWARE, Buffer.from('abcd')],
    ]);
    raw.writeUInt16BE(200, 46);
    assert.equal(failed(raw).reason, 'truncated-attribute');
  });
});

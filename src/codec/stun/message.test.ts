// Message type packing (RFC 8489 §5), constants helpers, and the cheap routing checks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KNOWN_ATTRIBUTE_TYPES,
  STUN_ATTR,
  STUN_CLASS,
  STUN_ERROR,
  STUN_ERROR_REASON,
  STUN_METHOD,
  isComprehensionRequired,
  reasonPhrase,
  type StunClass,
} from './constants.ts';
import { classOfType, encodeMessageType, methodOfType, newTransactionId } from './message.ts';
import { isChannelData, isStun } from './routing.ts';

describe('message type', () => {
  test('RFC 8489 §5 examples: Binding request 0x0001, success response 0x0101', () => {
    assert.equal(encodeMessageType(STUN_METHOD.Binding, 'request'), 0x0001);
    assert.equal(encodeMessageType(STUN_METHOD.Binding, 'success'), 0x0101);
    assert.equal(encodeMessageType(STUN_METHOD.Binding, 'error'), 0x0111);
    assert.equal(encodeMessageType(STUN_METHOD.Binding, 'indication'), 0x0011);
  });

  test('TURN types as seen on the wire', () => {
    assert.equal(encodeMessageType(STUN_METHOD.Allocate, 'request'), 0x0003);
    assert.equal(encodeMessageType(STUN_METHOD.Allocate, 'error'), 0x0113);
    assert.equal(encodeMessageType(STUN_METHOD.Send, 'indication'), 0x0016);
    assert.equal(encodeMessageType(STUN_METHOD.Data, 'indication'), 0x0017);
    assert.equal(encodeMessageType(STUN_METHOD.ConnectionAttempt, 'indication'), 0x001c);
  });

  test('every 12-bit method and class round-trips', () => {
    const classes = Object.keys(STUN_CLASS) as StunClass[];
    for (let method = 0; method <= 0xfff; method++) {
      for (const cls of classes) {
        const type = encodeMessageType(method, cls);
        assert.ok(type < 0x4000);
        assert.equal(methodOfType(type), method);
        assert.equal(classOfType(type), cls);
      }
    }
  });

  test('transaction IDs are 12 random bytes', () => {
    const a = newTransactionId();
    assert.equal(a.length, 12);
    assert.notDeepEqual(a, newTransactionId());
  });
});

describe('constants', () => {
  test('comprehension-required is below 0x8000 (RFC 8489 §14)', () => {
    assert.ok(isComprehensionRequired(STUN_ATTR.XOR_MAPPED_ADDRESS));
    assert.ok(isComprehensionRequired(0x7fff));
    assert.ok(!isComprehensionRequired(0x8000));
    assert.ok(!isComprehensionRequired(STUN_ATTR.FINGERPRINT));
  });

  test('every named error code has a reason phrase', () => {
    for (const code of Object.values(STUN_ERROR)) assert.ok(STUN_ERROR_REASON[code].length > 0);
    assert.equal(reasonPhrase(401), 'Unauthenticated');
    assert.equal(reasonPhrase(437), 'Allocation Mismatch');
    assert.equal(reasonPhrase(499), '');
  });

  test('attribute types are distinct and all known by default', () => {
    const values = Object.values(STUN_ATTR);
    assert.equal(new Set(values).size, values.length);
    for (const type of values) assert.ok(KNOWN_ATTRIBUTE_TYPES.has(type));
  });
});

function header(type: number, length: number, total = 20 + length): Buffer {
  const b = Buffer.alloc(total);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(length, 2);
  b.writeUInt32BE(0x2112a442, 4);
  return b;
}

describe('isStun', () => {
  test('accepts a well-formed datagram', () => {
    assert.ok(isStun(header(0x0001, 0)));
    assert.ok(isStun(header(0x0101, 8)));
  });

  test('rejects a bad first two bits, cookie, or length', () => {
    assert.ok(!isStun(header(0x8001, 0)));
    assert.ok(!isStun(header(0x4001, 0)));
    const badCookie = header(0x0001, 0);
    badCookie[7] = 0x43;
    assert.ok(!isStun(badCookie));
    assert.ok(!isStun(header(0x0001, 6)));
    assert.ok(!isStun(header(0x0001, 8, 24)));
    assert.ok(!isStun(header(0x0001, 8, 32)));
    assert.ok(!isStun(Buffer.alloc(19)));
  });

  test('a stream frame may be followed by more bytes', () => {
    assert.ok(isStun(header(0x0001, 8, 40), 'stream'));
    assert.ok(!isStun(header(0x0001, 8, 24), 'stream'));
  });
});

describe('isChannelData', () => {
  test('accepts channels 0x4000–0x7FFF (RFC 8656 and RFC 5766) whose length fits', () => {
    assert.ok(isChannelData(Buffer.from([0x40, 0x00, 0x00, 0x00])));
    assert.ok(isChannelData(Buffer.from([0x50, 0x00, 0x00, 0x00])));
    assert.ok(isChannelData(Buffer.from([0x7f, 0xff, 0x00, 0x00])));
    assert.ok(isChannelData(Buffer.from([0x4f, 0xff, 0x00, 0x01, 0xaa])));
    assert.ok(isChannelData(Buffer.from([0x40, 0x01, 0x00, 0x01, 0xaa, 0, 0, 0])));
  });

  test('rejects numbers without the 01 top bits, STUN, short or truncated input', () => {
    assert.ok(!isChannelData(Buffer.from([0x80, 0x00, 0x00, 0x00])));
    assert.ok(!isChannelData(Buffer.from([0xbf, 0xff, 0x00, 0x00])));
    assert.ok(!isChannelData(Buffer.from([0x00, 0x01, 0x00, 0x00])));
    assert.ok(!isChannelData(Buffer.from([0x40, 0x00, 0x00])));
    assert.ok(!isChannelData(Buffer.from([0x40, 0x00, 0x00, 0x02, 0xaa])));
  });
});

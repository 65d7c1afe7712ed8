// encodeStun, the integrity and fingerprint attributes it appends and their verification, and
// the key derivations of RFC 8489 §9.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RampartError } from '../../lib/errors.ts';
import { Software, Username } from './attributes-auth.ts';
import { XorPeerAddress } from './attributes-address.ts';
import { Lifetime } from './attributes-turn.ts';
import { STUN_ATTR, STUN_METHOD } from './constants.ts';
import { decodeStun } from './decode.ts';
import {
  encodeStun,
  rawAttribute,
  type StunEncodeOptions,
  type StunMessageInit,
} from './encode.ts';
import {
  verifyFingerprint,
  verifyMessageIntegrity,
  verifyMessageIntegritySha256,
} from './integrity.ts';
import { longTermKey, saslPrep, shortTermKey, userHash } from './keys.ts';
import type { StunMessage } from './message.ts';

const TID = Buffer.from('000102030405060708090a0b', 'hex');
const KEY = shortTermKey('secret');

const INIT: StunMessageInit = {
  method: STUN_METHOD.Refresh,
  cls: 'request',
  transactionId: TID,
  attributes: [Username.of('alice'), Lifetime.of(600), Software.of('rampart')],
};

function roundTrip(init: StunMessageInit, options?: StunEncodeOptions): StunMessage {
  const result = decodeStun(encodeStun(init, options));
  assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.error));
  return result.value;
}

describe('encodeStun', () => {
  test('writes the header and pads each attribute with zeros', () => {
    const raw = encodeStun(INIT);
    assert.equal(raw.readUInt16BE(0), 0x0004);
    assert.equal(raw.readUInt16BE(2), raw.length - 20);
    assert.equal(raw.readUInt32BE(4), 0x2112a442);
    assert.deepEqual(raw.subarray(8, 20), TID);
    // USERNAME 'alice' (5 bytes) is followed by 3 zero bytes.
    assert.deepEqual(raw.subarray(24, 32), Buffer.from('alice\0\0\0', 'latin1'));
    const msg = roundTrip(INIT);
    assert.deepEqual(
      msg.attributes.map((a) => a.type),
      [STUN_ATTR.USERNAME, STUN_ATTR.LIFETIME, STUN_ATTR.SOFTWARE],
    );
  });

  test('sha1 integrity and fingerprint verify; a flipped bit breaks both', () => {
    const options: StunEncodeOptions = {
      integrity: { key: KEY, algorithm: 'sha1' },
      fingerprint: true,
    };
    const raw = encodeStun(INIT, options);
    const msg = roundTrip(INIT, options);
    assert.ok(verifyMessageIntegrity(msg, KEY));
    assert.ok(!verifyMessageIntegritySha256(msg, KEY));
    assert.ok(verifyFingerprint(msg));
    assert.ok(!verifyMessageIntegrity(msg, shortTermKey('other')));
    raw[25] = (raw[25] as number) ^ 0x01;
    const corrupted = decodeStun(raw);
    assert.ok(corrupted.ok);
    assert.ok(!verifyMessageIntegrity(corrupted.value, KEY));
    assert.ok(!verifyFingerprint(corrupted.value));
  });

  test('both integrity attributes: MESSAGE-INTEGRITY first, each verifies', () => {
    const msg = roundTrip(INIT, { integrity: { key: KEY, algorithm: 'both' }, fingerprint: true });
    const types = msg.attributes.map((a) => a.type);
    assert.deepEqual(types.slice(-3), [
      STUN_ATTR.MESSAGE_INTEGRITY,
      STUN_ATTR.MESSAGE_INTEGRITY_SHA256,
      STUN_ATTR.FINGERPRINT,
    ]);
    assert.ok(verifyMessageIntegrity(msg, KEY));
    assert.ok(verifyMessageIntegritySha256(msg, KEY));
    assert.ok(verifyFingerprint(msg));
  });

  test('truncated MESSAGE-INTEGRITY-SHA256 of 16..28 bytes verifies (§14.6)', () => {
    for (const sha256Length of [16, 20, 24, 28, 32]) {
      const msg = roundTrip(INIT, { integrity: { key: KEY, algorithm: 'sha256', sha256Length } });
      const offset = msg.messageIntegritySha256Offset;
      assert.ok(offset !== undefined);
      assert.equal(msg.raw.readUInt16BE(offset + 2), sha256Length);
      assert.ok(verifyMessageIntegritySha256(msg, KEY), `length ${sha256Length}`);
      assert.ok(!verifyMessageIntegritySha256(msg, shortTermKey('x')), `length ${sha256Length}`);
    }
  });

  test('no fingerprint means verifyFingerprint is false', () => {
    assert.ok(!verifyFingerprint(roundTrip(INIT)));
    assert.ok(!verifyMessageIntegrity(roundTrip(INIT), KEY));
  });

  test('XOR addresses use the message transaction ID', () => {
    const peer = { family: 6, address: '2001:db8::1', port: 4000 } as const;
    const msg = roundTrip({ ...INIT, attributes: [XorPeerAddress.of(peer)] });
    const read = XorPeerAddress.get(msg);
    assert.ok(read?.ok === true);
    assert.deepEqual(read.value, peer);
  });

  test('programmer errors throw RampartError', () => {
    const invalid = (init: StunMessageInit, options?: StunEncodeOptions): void => {
      assert.throws(
        () => encodeStun(init, options),
        (e: unknown) => e instanceof RampartError && e.code === 'RAMPART_ERR_INVALID_ARGUMENT',
      );
    };
    invalid({ ...INIT, method: 0x1000 });
    invalid({ ...INIT, transactionId: Buffer.alloc(16) });
    invalid(INIT, { integrity: { key: KEY, algorithm: 'sha256', sha256Length: 18 } });
    invalid({ ...INIT, attributes: [rawAttribute(0x8000, Buffer.alloc(0xffff))] });
    invalid(INIT, { paddingByte: 256 });
    assert.throws(() => rawAttribute(0x10000, Buffer.alloc(0)), RampartError);
  });
});

describe('keys', () => {
  test('RFC 8489 §9.2.2 example: MD5("user:realm:pass")', () => {
    assert.equal(
      longTermKey('user', 'realm', 'pass').toString('hex'),
      '8493fbc53ba582fb4c044c456bdc40eb',
    );
    assert.equal(longTermKey('user', 'realm', 'pass', 'sha256').length, 32);
  });

  test('saslPrep maps spaces, removes B.1 characters, applies NFKC', () => {
    assert.equal(saslPrep('TheMatrIX'), 'TheMatrIX');
    assert.equal(saslPrep('The\u00adM\u00aatr\u2168'), 'TheMatrIX');
    assert.equal(saslPrep('a\u00a0b\u3000c'), 'a b c');
    assert.equal(saslPrep('x\u200by\ufeffz'), 'xyz');
    assert.equal(saslPrep('\uff21'), 'A');
    assert.deepEqual(shortTermKey('I\u00adX'), Buffer.from('IX'));
  });

  test('userHash is SHA-256 of "username:realm"', () => {
    assert.equal(userHash('user', 'realm').length, 32);
    assert.notDeepEqual(userHash('user', 'realm'), userHash('user', 'realm2'));
  });
});

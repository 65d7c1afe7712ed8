// RFC 5769 "Test Vectors for Session Traversal Utilities for NAT (STUN)": the four sample
// messages of §2, byte for byte. Each is decoded and every field checked, its
// MESSAGE-INTEGRITY and FINGERPRINT verified with the RFC's credentials (and shown to fail
// with wrong ones), then re-encoded with encodeStun to the identical bytes. §2.1 and §2.2 pad
// with 0x20 where RFC 8489 §14 says senders write zeros; the encoder's paddingByte option
// reproduces them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  STUN_ATTR,
  STUN_METHOD,
  Nonce,
  Realm,
  Software,
  Username,
  XorMappedAddress,
  decodeStun,
  encodeStun,
  isStun,
  longTermKey,
  rawAttribute,
  shortTermKey,
  verifyFingerprint,
  verifyMessageIntegrity,
  type StunMessage,
} from '../../src/codec/stun/index.ts';

/** Bytes from the RFC's hex dump (whitespace ignored). */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/gu, ''), 'hex');
}

function decoded(bytes: Buffer): StunMessage {
  const result = decodeStun(bytes);
  assert.ok(result.ok, result.ok ? '' : `decode failed: ${JSON.stringify(result.error)}`);
  return result.value;
}

function value<T>(read: { ok: true; value: T } | { ok: false } | undefined): T {
  assert.ok(read?.ok === true, 'attribute missing or malformed');
  return read.value;
}

/** RFC 5769 §2.1: "Password: "VOkJxbRl1RmTxUk/WvJxBt" (without quotes)". */
const SHORT_TERM_PASSWORD = 'VOkJxbRl1RmTxUk/WvJxBt';
const TRANSACTION_ID = hex('b7 e7 a7 01 bc 34 d6 86 fa 87 df ae');

/** RFC 5769 §2.1 Sample Request. */
const SAMPLE_REQUEST = hex(`
  00 01 00 58  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
  80 22 00 10  53 54 55 4e  20 74 65 73  74 20 63 6c  69 65 6e 74
  00 24 00 04  6e 00 01 ff
  80 29 00 08  93 2f f9 b1  51 26 3b 36
  00 06 00 09  65 76 74 6a  3a 68 36 76  59 20 20 20
  00 08 00 14  9a ea a7 0c  bf d8 cb 56  78 1e f2 b5  b2 d3 f2 49  c1 b5 71 a2
  80 28 00 04  e5 7a 3b cf`);

/** RFC 5769 §2.2 Sample IPv4 Response. */
const SAMPLE_IPV4_RESPONSE = hex(`
  01 01 00 3c  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
  80 22 00 0b  74 65 73 74  20 76 65 63  74 6f 72 20
  00 20 00 08  00 01 a1 47  e1 12 a6 43
  00 08 00 14  2b 91 f5 99  fd 9e 90 c3  8c 74 89 f9  2a f9 ba 53  f0 6b e7 d7
  80 28 00 04  c0 7d 4c 96`);

/** RFC 5769 §2.3 Sample IPv6 Response. */
const SAMPLE_IPV6_RESPONSE = hex(`
  01 01 00 48  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
  80 22 00 0b  74 65 73 74  20 76 65 63  74 6f 72 20
  00 20 00 14  00 02 a1 47  01 13 a9 fa  a5 d3 f1 79  bc 25 f4 b5  be d2 b9 d9
  00 08 00 14  a3 82 95 4e  4b e6 7b f1  17 84 c9 7c  82 92 c2 75  bf e3 ed 41
  80 28 00 04  c8 fb 0b 4c`);

/** RFC 5769 §2.4 Sample Request with Long-Term Authentication. */
const SAMPLE_LONG_TERM_REQUEST = hex(`
  00 01 00 60  21 12 a4 42  78 ad 34 33  c6 ad 72 c0  29 da 41 2e
  00 06 00 12  e3 83 9e e3  83 88 e3 83  aa e3 83 83  e3 82 af e3  82 b9 00 00
  00 15 00 1c  66 2f 2f 34  39 39 6b 39  35 34 64 36  4f 4c 33 34  6f 4c 39 46
               53 54 76 79  36 34 73 41
  00 14 00 0b  65 78 61 6d  70 6c 65 2e  6f 72 67 00
  00 08 00 14  f6 70 24 65  6d d6 4a 3e  02 b8 e0 71  2e 85 c9 a2  8c a8 96 66`);

describe('RFC 5769 §2.1 sample request', () => {
  const msg = decoded(SAMPLE_REQUEST);

  test('routes as STUN and decodes every field', () => {
    assert.ok(isStun(SAMPLE_REQUEST));
    assert.equal(msg.method, STUN_METHOD.Binding);
    assert.equal(msg.cls, 'request');
    assert.deepEqual(msg.transactionId, TRANSACTION_ID);
    assert.deepEqual(
      msg.attributes.map((a) => a.type),
      [
        STUN_ATTR.SOFTWARE,
        STUN_ATTR.PRIORITY,
        STUN_ATTR.ICE_CONTROLLED,
        STUN_ATTR.USERNAME,
        STUN_ATTR.MESSAGE_INTEGRITY,
        STUN_ATTR.FINGERPRINT,
      ],
    );
    assert.equal(value(Software.get(msg)), 'STUN test client');
    assert.equal(msg.attributes[1]?.value.readUInt32BE(0), 0x6e0001ff);
    assert.deepEqual(msg.attributes[2]?.value, hex('93 2f f9 b1 51 26 3b 36'));
    assert.equal(value(Username.get(msg)), 'evtj:h6vY');
    assert.equal(msg.messageIntegrityOffset, 76);
    assert.equal(msg.fingerprintOffset, 100);
    assert.deepEqual(msg.unknownComprehensionRequired, []);
  });

  test('MESSAGE-INTEGRITY and FINGERPRINT verify', () => {
    assert.ok(verifyMessageIntegrity(msg, shortTermKey(SHORT_TERM_PASSWORD)));
    assert.ok(!verifyMessageIntegrity(msg, shortTermKey('VOkJxbRl1RmTxUk/WvJxBT')));
    assert.ok(verifyFingerprint(msg));
  });

  test('re-encodes to the identical bytes', () => {
    const encoded = encodeStun(
      {
        method: STUN_METHOD.Binding,
        cls: 'request',
        transactionId: TRANSACTION_ID,
        attributes: [
          Software.of('STUN test client'),
          rawAttribute(STUN_ATTR.PRIORITY, hex('6e 00 01 ff')),
          rawAttribute(STUN_ATTR.ICE_CONTROLLED, hex('93 2f f9 b1 51 26 3b 36')),
          Username.of('evtj:h6vY'),
        ],
      },
      {
        integrity: { key: shortTermKey(SHORT_TERM_PASSWORD), algorithm: 'sha1' },
        fingerprint: true,
        paddingByte: 0x20,
      },
    );
    assert.deepEqual(encoded, SAMPLE_REQUEST);
  });
});

describe('RFC 5769 §2.2 sample IPv4 response', () => {
  const msg = decoded(SAMPLE_IPV4_RESPONSE);
  const mapped = { family: 4, address: '192.0.2.1', port: 32853 } as const;

  test('decodes every field', () => {
    assert.ok(isStun(SAMPLE_IPV4_RESPONSE));
    assert.equal(msg.method, STUN_METHOD.Binding);
    assert.equal(msg.cls, 'success');
    assert.deepEqual(msg.transactionId, TRANSACTION_ID);
    assert.equal(value(Software.get(msg)), 'test vector');
    assert.deepEqual(value(XorMappedAddress.get(msg)), mapped);
    assert.equal(msg.attributes.length, 4);
  });

  test('MESSAGE-INTEGRITY and FINGERPRINT verify', () => {
    assert.ok(verifyMessageIntegrity(msg, shortTermKey(SHORT_TERM_PASSWORD)));
    assert.ok(!verifyMessageIntegrity(msg, shortTermKey('wrong')));
    assert.ok(verifyFingerprint(msg));
  });

  test('re-encodes to the identical bytes', () => {
    const encoded = encodeStun(
      {
        method: STUN_METHOD.Binding,
        cls: 'success',
        transactionId: TRANSACTION_ID,
        attributes: [Software.of('test vector'), XorMappedAddress.of(mapped)],
      },
      {
        integrity: { key: shortTermKey(SHORT_TERM_PASSWORD), algorithm: 'sha1' },
        fingerprint: true,
        paddingByte: 0x20,
      },
    );
    assert.deepEqual(encoded, SAMPLE_IPV4_RESPONSE);
  });
});

describe('RFC 5769 §2.3 sample IPv6 response', () => {
  const msg = decoded(SAMPLE_IPV6_RESPONSE);
  const mapped = {
    family: 6,
    address: '2001:db8:1234:5678:11:2233:4455:6677',
    port: 32853,
  } as const;

  test('decodes every field', () => {
    assert.ok(isStun(SAMPLE_IPV6_RESPONSE));
    assert.equal(msg.method, STUN_METHOD.Binding);
    assert.equal(msg.cls, 'success');
    assert.deepEqual(msg.transactionId, TRANSACTION_ID);
    assert.equal(value(Software.get(msg)), 'test vector');
    assert.deepEqual(value(XorMappedAddress.get(msg)), mapped);
  });

  test('MESSAGE-INTEGRITY and FINGERPRINT verify', () => {
    assert.ok(verifyMessageIntegrity(msg, shortTermKey(SHORT_TERM_PASSWORD)));
    assert.ok(verifyFingerprint(msg));
    const corrupted = Buffer.from(SAMPLE_IPV6_RESPONSE);
    corrupted[40] = (corrupted[40] as number) ^ 1; // inside XOR-MAPPED-ADDRESS
    const bad = decoded(corrupted);
    assert.ok(!verifyMessageIntegrity(bad, shortTermKey(SHORT_TERM_PASSWORD)));
    assert.ok(!verifyFingerprint(bad));
  });

  test('re-encodes to the identical bytes', () => {
    const encoded = encodeStun(
      {
        method: STUN_METHOD.Binding,
        cls: 'success',
        transactionId: TRANSACTION_ID,
        attributes: [Software.of('test vector'), XorMappedAddress.of(mapped)],
      },
      {
        integrity: { key: shortTermKey(SHORT_TERM_PASSWORD), algorithm: 'sha1' },
        fingerprint: true,
        paddingByte: 0x20,
      },
    );
    assert.deepEqual(encoded, SAMPLE_IPV6_RESPONSE);
  });
});

describe('RFC 5769 §2.4 sample request with long-term authentication', () => {
  const msg = decoded(SAMPLE_LONG_TERM_REQUEST);
  // RFC 5769 §2.4: Username "<U+30DE><U+30C8><U+30EA><U+30C3><U+30AF><U+30B9>", Password
  // "The<U+00AD>M<U+00AA>tr<U+2168>" ("TheMatrIX" after SASLprep), Nonce and Realm below.
  const username = '\u30de\u30c8\u30ea\u30c3\u30af\u30b9';
  const password = 'The\u00adM\u00aatr\u2168';
  const nonce = 'f//499k954d6OL34oL9FSTvy64sA';
  const realm = 'example.org';
  const transactionId = hex('78 ad 34 33 c6 ad 72 c0 29 da 41 2e');

  test('decodes every field', () => {
    assert.ok(isStun(SAMPLE_LONG_TERM_REQUEST));
    assert.equal(msg.method, STUN_METHOD.Binding);
    assert.equal(msg.cls, 'request');
    assert.deepEqual(msg.transactionId, transactionId);
    assert.equal(value(Username.get(msg)), username);
    assert.equal(value(Nonce.get(msg)), nonce);
    assert.equal(value(Realm.get(msg)), realm);
    assert.equal(msg.messageIntegrityOffset, 92);
    assert.equal(msg.fingerprintOffset, undefined);
    assert.ok(!verifyFingerprint(msg));
  });

  test('MESSAGE-INTEGRITY verifies with MD5(username:realm:SASLprep(password))', () => {
    const key = longTermKey(username, realm, password, 'md5');
    assert.deepEqual(key, longTermKey(username, realm, 'TheMatrIX', 'md5'));
    assert.ok(verifyMessageIntegrity(msg, key));
    assert.ok(!verifyMessageIntegrity(msg, longTermKey(username, realm, 'TheMatrIx', 'md5')));
  });

  test('re-encodes to the identical bytes', () => {
    const encoded = encodeStun(
      {
        method: STUN_METHOD.Binding,
        cls: 'request',
        transactionId,
        attributes: [Username.of(username), Nonce.of(nonce), Realm.of(realm)],
      },
      { integrity: { key: longTermKey(username, realm, password), algorithm: 'sha1' } },
    );
    assert.deepEqual(encoded, SAMPLE_LONG_TERM_REQUEST);
  });
});

// RFC 8489 Appendix B.1 "Sample Request with Long-Term Authentication with
// MESSAGE-INTEGRITY-SHA256 and USERHASH".
//
// The message as printed in the RFC is not a valid STUN message: its header says Message
// Length 0x9c, which is the length of the whole message, 20 bytes of header included. Errata
// 6268 (https://www.rfc-editor.org/errata/eid6268) corrects the length, adds the
// PASSWORD-ALGORITHM attribute (SHA-256, which is not the default and so has to be named) and
// recomputes MESSAGE-INTEGRITY-SHA256. The printed bytes are checked to be rejected; the
// corrected bytes are decoded, their USERHASH recomputed, their MESSAGE-INTEGRITY-SHA256
// verified with SHA-256(username ":" realm ":" password), and re-encoded byte for byte.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PASSWORD_ALGORITHM,
  STUN_ATTR,
  STUN_METHOD,
  Nonce,
  PasswordAlgorithm,
  Realm,
  Userhash,
  decodeStun,
  encodeStun,
  longTermKey,
  userHash,
  verifyMessageIntegritySha256,
  type StunMessage,
} from '../../src/codec/stun/index.ts';

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/gu, ''), 'hex');
}

function value<T>(read: { ok: true; value: T } | { ok: false } | undefined): T {
  assert.ok(read?.ok === true, 'attribute missing or malformed');
  return read.value;
}

// Appendix B.1 parameters. Username: "<U+30DE><U+30C8><U+30EA><U+30C3><U+30AF><U+30B9>"
// (unaffected by OpaqueString); Password: "The<U+00AD>M<U+00AA>tr<U+2168>" and "TheMatrIX"
// respectively before and after OpaqueString processing.
const USERNAME = '\u30de\u30c8\u30ea\u30c3\u30af\u30b9';
const PASSWORD = 'The\u00adM\u00aatr\u2168';
const NONCE = 'obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA';
const REALM = 'example.org';
const TRANSACTION_ID = hex('78 ad 34 33 c6 ad 72 c0 29 da 41 2e');

const USERHASH_VALUE = hex(`
  4a 3c f3 8f  ef 69 92 bd  a9 52 c6 78  04 17 da 0f
  24 81 94 15  56 9e 60 b2  05 c4 6e 41  40 7f 17 04`);

/** The bytes as printed in RFC 8489 Appendix B.1. */
const AS_PRINTED = hex(`
  00 01 00 9c  21 12 a4 42  78 ad 34 33  c6 ad 72 c0  29 da 41 2e
  00 1e 00 20  ${USERHASH_VALUE.toString('hex')}
  00 15 00 29  6f 62 4d 61  74 4a 6f 73  32 41 41 41  43 66 2f 2f  34 39 39 6b
               39 35 34 64  36 4f 4c 33  34 6f 4c 39  46 53 54 76  79 36 34 73
               41 00 00 00
  00 14 00 0b  65 78 61 6d  70 6c 65 2e  6f 72 67 00
  00 1c 00 20  e4 68 6c 8f  0e de b5 90  13 e0 70 90  01 0a 93 ef
               cc bc cc 54  4c 0a 45 d9  f8 30 aa 6d  6f 73 5a 01`);

/** The same message as corrected by Errata 6268. */
const CORRECTED = hex(`
  00 01 00 90  21 12 a4 42  78 ad 34 33  c6 ad 72 c0  29 da 41 2e
  00 1e 00 20  ${USERHASH_VALUE.toString('hex')}
  00 15 00 29  6f 62 4d 61  74 4a 6f 73  32 41 41 41  43 66 2f 2f  34 39 39 6b
               39 35 34 64  36 4f 4c 33  34 6f 4c 39  46 53 54 76  79 36 34 73
               41 00 00 00
  00 14 00 0b  65 78 61 6d  70 6c 65 2e  6f 72 67 00
  00 1d 00 04  00 02 00 00
  00 1c 00 20  b5 c7 bf 00  5b 6c 52 a2  1c 51 c5 e8  92 f8 19 24
               13 62 96 cb  92 7c 43 14  93 09 27 8c  c6 51 8e 65`);

describe('RFC 8489 Appendix B.1', () => {
  test('the message as printed is rejected: its length counts the header', () => {
    assert.equal(AS_PRINTED.length, 0x9c);
    const result = decodeStun(AS_PRINTED);
    assert.ok(!result.ok);
    assert.equal(result.error.reason, 'truncated');
    assert.equal(result.error.header?.method, STUN_METHOD.Binding);
  });

  const decoded = decodeStun(CORRECTED);
  assert.ok(decoded.ok);
  const msg: StunMessage = decoded.value;

  test('the corrected message (Errata 6268) decodes', () => {
    assert.equal(msg.method, STUN_METHOD.Binding);
    assert.equal(msg.cls, 'request');
    assert.deepEqual(msg.transactionId, TRANSACTION_ID);
    assert.deepEqual(
      msg.attributes.map((a) => a.type),
      [
        STUN_ATTR.USERHASH,
        STUN_ATTR.NONCE,
        STUN_ATTR.REALM,
        STUN_ATTR.PASSWORD_ALGORITHM,
        STUN_ATTR.MESSAGE_INTEGRITY_SHA256,
      ],
    );
    assert.equal(value(Nonce.get(msg)), NONCE);
    assert.equal(value(Realm.get(msg)), REALM);
    const algorithm = value(PasswordAlgorithm.get(msg));
    assert.equal(algorithm.algorithm, PASSWORD_ALGORITHM.SHA256);
    assert.equal(algorithm.parameters.length, 0);
    assert.equal(msg.messageIntegrityOffset, undefined);
    assert.equal(msg.messageIntegritySha256Offset, 128);
  });

  test('USERHASH is SHA-256(OpaqueString(username) ":" OpaqueString(realm))', () => {
    assert.deepEqual(value(Userhash.get(msg)), USERHASH_VALUE);
    assert.deepEqual(userHash(USERNAME, REALM), USERHASH_VALUE);
  });

  test('MESSAGE-INTEGRITY-SHA256 verifies with the SHA-256 long-term key', () => {
    const key = longTermKey(USERNAME, REALM, PASSWORD, 'sha256');
    assert.equal(key.length, 32);
    assert.deepEqual(key, longTermKey(USERNAME, REALM, 'TheMatrIX', 'sha256'));
    assert.ok(verifyMessageIntegritySha256(msg, key));
    assert.ok(!verifyMessageIntegritySha256(msg, longTermKey(USERNAME, REALM, PASSWORD, 'md5')));
    assert.ok(
      !verifyMessageIntegritySha256(msg, longTermKey(USERNAME, REALM, 'TheMatrix', 'sha256')),
    );
  });

  test('re-encodes to the corrected bytes', () => {
    const encoded = encodeStun(
      {
        method: STUN_METHOD.Binding,
        cls: 'request',
        transactionId: TRANSACTION_ID,
        attributes: [
          Userhash.of(userHash(USERNAME, REALM)),
          Nonce.of(NONCE),
          Realm.of(REALM),
          PasswordAlgorithm.of({
            algorithm: PASSWORD_ALGORITHM.SHA256,
            parameters: Buffer.alloc(0),
          }),
        ],
      },
      { integrity: { key: longTermKey(USERNAME, REALM, PASSWORD, 'sha256'), algorithm: 'sha256' } },
    );
    assert.deepEqual(encoded, CORRECTED);
  });
});

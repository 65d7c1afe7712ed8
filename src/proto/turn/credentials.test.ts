import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import {
  escapeForLog,
  generateRestCredential,
  longTermKey,
  opaqueString,
  parseRestUsername,
  restPassword,
  TurnCredentials,
  userHash,
} from './credentials.ts';

const REALM = 'rampart.example';
const NOW_MS = 1_700_000_000_000; // 2023-11-14T22:13:20Z

describe('long-term keys (RFC 8489 §9.2.2)', () => {
  test("MD5('user:realm:pass') is the RFC's example key", () => {
    assert.equal(
      longTermKey('user', 'realm', 'pass').toString('hex'),
      '8493fbc53ba582fb4c044c456bdc40eb',
    );
  });

  test('SHA-256 hashes the same input and is 32 bytes', () => {
    const key = longTermKey('user', 'realm', 'pass', 'SHA-256');
    assert.equal(key.length, 32);
    assert.deepEqual(key, createHash('sha256').update('user:realm:pass').digest());
  });

  test('USERHASH of the RFC 8489 Appendix B.1 username', () => {
    assert.equal(
      userHash('\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9', 'example.org').toString('hex'),
      '4a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704',
    );
  });

  test('OpaqueString maps non-ASCII spaces, normalises NFC, refuses controls and empty', () => {
    assert.deepEqual(opaqueString('a\u00a0b'), { ok: true, value: 'a b' });
    assert.deepEqual(opaqueString('e\u0301'), { ok: true, value: '\u00e9' });
    assert.deepEqual(opaqueString('a\u0000b'), { ok: false, error: 'disallowed-character' });
    assert.deepEqual(opaqueString(''), { ok: false, error: 'empty' });
    assert.deepEqual(longTermKey('u', 'r', 'e\u0301'), longTermKey('u', 'r', '\u00e9'));
  });
});

describe('TURN REST API credentials', () => {
  test('username is <expiry>:<user>, password base64(HMAC-SHA1(secret, username))', () => {
    const credential = generateRestCredential('north', 'alice', 86400, NOW_MS);
    assert.equal(credential.expiresAt, 1_700_086_400);
    assert.equal(credential.username, '1700086400:alice');
    assert.equal(
      credential.password,
      createHmac('sha1', 'north').update('1700086400:alice').digest('base64'),
    );
    assert.equal(credential.password, restPassword('north', credential.username));
    assert.equal(generateRestCredential('north', '', 60, NOW_MS).username, '1700000060');
  });

  test('a generated credential is accepted with the key of its password', () => {
    const store = new TurnCredentials({ realm: REALM, restSecrets: ['north'] });
    const credential = store.issue('alice', 3600, NOW_MS);
    const match = store.lookup(credential.username, 'MD5', NOW_MS + 1000);
    assert.ok(match.ok);
    assert.equal(match.value.source, 'rest');
    assert.equal(match.value.expiresAt, credential.expiresAt);
    assert.deepEqual(match.value.keys, [
      longTermKey(credential.username, REALM, credential.password),
    ]);
    const sha = store.lookup(credential.username, 'SHA-256', NOW_MS);
    assert.ok(sha.ok);
    assert.deepEqual(sha.value.keys, [
      longTermKey(credential.username, REALM, credential.password, 'SHA-256'),
    ]);
  });

  test('rotation: every configured secret yields a candidate key; a retired one none', () => {
    const old = generateRestCredential('old-secret', 'bob', 600, NOW_MS);
    const oldKey = longTermKey(old.username, REALM, old.password);
    const rotating = new TurnCredentials({
      realm: REALM,
      restSecrets: ['new-secret', 'old-secret'],
    });
    const match = rotating.lookup(old.username, 'MD5', NOW_MS);
    assert.ok(match.ok);
    assert.equal(match.value.keys.length, 2);
    assert.ok(match.value.keys.some((key) => key.equals(oldKey)));
    const retired = new TurnCredentials({ realm: REALM, restSecrets: ['new-secret'] });
    const after = retired.lookup(old.username, 'MD5', NOW_MS);
    assert.ok(after.ok);
    assert.ok(!after.value.keys.some((key) => key.equals(oldKey)));
    assert.equal(
      rotating.issue('carol', 60, NOW_MS).password,
      restPassword('new-secret', '1700000060:carol'),
    );
  });

  test('expired usernames are refused, at and after the expiry second', () => {
    const store = new TurnCredentials({ realm: REALM, restSecrets: ['north'] });
    const credential = store.issue('alice', 60, NOW_MS);
    assert.ok(store.lookup(credential.username, 'MD5', NOW_MS + 59_999).ok);
    assert.deepEqual(store.lookup(credential.username, 'MD5', NOW_MS + 60_000), {
      ok: false,
      error: 'expired',
    });
    assert.deepEqual(store.lookup('1:alice', 'MD5', NOW_MS), { ok: false, error: 'expired' });
  });

  test('a far-future expiry is refused when maxRestTtlSeconds is set', () => {
    const store = new TurnCredentials({
      realm: REALM,
      restSecrets: ['north'],
      maxRestTtlSeconds: 86400,
    });
    assert.ok(store.lookup('1700086400:alice', 'MD5', NOW_MS).ok);
    assert.deepEqual(store.lookup('1700086401:alice', 'MD5', NOW_MS), {
      ok: false,
      error: 'expiry-too-far',
    });
  });

  test('a configurable separator', () => {
    const store = new TurnCredentials({ realm: REALM, restSecrets: ['north'], restSeparator: '-' });
    const credential = store.issue('alice:work', 60, NOW_MS);
    assert.equal(credential.username, '1700000060-alice:work');
    assert.ok(store.lookup(credential.username, 'MD5', NOW_MS).ok);
    assert.deepEqual(parseRestUsername(credential.username, '-'), {
      ok: true,
      value: { expiresAt: 1_700_000_060, user: 'alice:work' },
    });
    assert.deepEqual(store.lookup('1700000060:alice', 'MD5', NOW_MS), {
      ok: false,
      error: 'unknown-user',
    });
  });

  test('non-REST usernames are unknown; bad arguments throw', () => {
    const store = new TurnCredentials({ realm: REALM, restSecrets: ['north'] });
    for (const username of ['alice', ':alice', '12a:alice', '+123:alice', '1234567890123:x', '']) {
      assert.deepEqual(
        store.lookup(username, 'MD5', NOW_MS),
        { ok: false, error: 'unknown-user' },
        username,
      );
    }
    assert.deepEqual(store.lookup('x'.repeat(509), 'MD5', NOW_MS), {
      ok: false,
      error: 'username-too-long',
    });
    assert.throws(() => generateRestCredential('s', 'u', 0, NOW_MS), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
    assert.throws(() => generateRestCredential('s', 'u', 60, NOW_MS, { separator: '1' }), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
    assert.throws(() => new TurnCredentials({ realm: REALM }).issue('u', 60, NOW_MS), {
      code: 'RAMPART_ERR_INVALID_STATE',
    });
  });

  test('property: parseRestUsername never throws', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1, maxLength: 3 }), (name, sep) => {
        parseRestUsername(name, sep);
      }),
    );
  });
});

describe('static long-term users', () => {
  test('a password user gets MD5 and SHA-256 keys; the password itself is not kept', () => {
    const store = new TurnCredentials({
      realm: REALM,
      users: [{ username: 'dave', password: 'secret pass' }],
    });
    const md5 = store.lookup('dave', 'MD5', NOW_MS);
    assert.ok(md5.ok);
    assert.equal(md5.value.source, 'static');
    assert.deepEqual(md5.value.keys, [longTermKey('dave', REALM, 'secret pass')]);
    const sha = store.lookup('dave', 'SHA-256', NOW_MS);
    assert.ok(sha.ok);
    assert.deepEqual(sha.value.keys, [longTermKey('dave', REALM, 'secret pass', 'SHA-256')]);
    assert.ok(!inspect(store, { depth: 10 }).includes('secret pass'));
    assert.ok(inspect(store, { depth: 10 }).includes('dave'));
  });

  test('pre-hashed keys; a missing SHA-256 key is unsupported-algorithm', () => {
    const md5Key = longTermKey('erin', REALM, 'pw').toString('hex');
    const store = new TurnCredentials({ realm: REALM, users: [{ username: 'erin', md5Key }] });
    const md5 = store.lookup('erin', 'MD5', NOW_MS);
    assert.ok(md5.ok);
    assert.equal(md5.value.keys[0]?.toString('hex'), md5Key);
    assert.deepEqual(store.lookup('erin', 'SHA-256', NOW_MS), {
      ok: false,
      error: 'unsupported-algorithm',
    });
    assert.deepEqual(store.lookup('frank', 'MD5', NOW_MS), { ok: false, error: 'unknown-user' });
    assert.throws(
      () => new TurnCredentials({ realm: REALM, users: [{ username: 'x', md5Key: 'zz' }] }),
      {
        code: 'RAMPART_ERR_CONFIG',
      },
    );
  });
});

describe('escapeForLog', () => {
  test('printable ASCII passes; quotes, backslashes, controls and non-ASCII are escaped', () => {
    assert.equal(escapeForLog('1700000000:alice'), '1700000000:alice');
    assert.equal(escapeForLog('a"b\\c'), 'a\\"b\\\\c');
    assert.equal(
      escapeForLog('evil\r\n{"level":"error"}'),
      'evil\\x0d\\x0a{\\"level\\":\\"error\\"}',
    );
    assert.equal(escapeForLog('\u001b[31mred'), '\\x1b[31mred');
    assert.equal(
      escapeForLog('caf\u00e9 \u30DE \u{1F600} \ud800'),
      'caf\\xe9 \\u{30de} \\u{1f600} \\u{d800}',
    );
  });

  test('long text is cut with a count', () => {
    assert.equal(escapeForLog('abcdef', 4), 'abcd...(+2)');
    assert.equal(escapeForLog('x'.repeat(64)), 'x'.repeat(64));
  });

  test('property: output is printable ASCII', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        assert.match(escapeForLog(text, 1000), /^[\x20-\x7e]*$/);
      }),
    );
  });
});

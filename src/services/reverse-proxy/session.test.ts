import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cookieValue, SessionCodec, setCookie, type Session } from './session.ts';

const secret = Buffer.from('a test session secret of enough length');
const lifetimes = { idleMs: 30 * 60_000, maxMs: 12 * 3_600_000 };
const t0 = 1_700_000_000_000;
const session: Session = {
  sid: 'sid-1',
  user: 'sip:alice@example.test',
  displayName: 'Alice',
  issuedAt: t0,
  seenAt: t0,
};

describe('SessionCodec', () => {
  test('a sealed session opens with the same secret and reveals nothing in clear', () => {
    const codec = new SessionCodec(secret, lifetimes);
    const value = codec.seal(session);
    assert.deepEqual(codec.open(value, t0 + 1000), session);
    const bytes = Buffer.from(value, 'base64url').toString('latin1');
    assert.equal(bytes.includes('alice'), false);
    assert.equal(bytes.includes('sid-1'), false);
    // A fresh IV each time: two seals of one session differ.
    assert.notEqual(codec.seal(session), value);
  });

  test('a flipped bit, a truncation or another secret does not open', () => {
    const codec = new SessionCodec(secret, lifetimes);
    const raw = Buffer.from(codec.seal(session), 'base64url');
    for (let i = 0; i < raw.length; i++) {
      const altered = Buffer.from(raw);
      altered[i] = (altered[i] ?? 0) ^ 0x01;
      assert.equal(codec.open(altered.toString('base64url'), t0), undefined, `byte ${String(i)}`);
    }
    assert.equal(codec.open(raw.subarray(0, raw.length - 1).toString('base64url'), t0), undefined);
    const other = new SessionCodec(Buffer.from('another secret of enough length!!'), lifetimes);
    assert.equal(other.open(raw.toString('base64url'), t0), undefined);
    assert.equal(codec.open('', t0), undefined);
    assert.equal(codec.open('not base64 !!', t0), undefined);
  });

  test('idle and absolute expiry', () => {
    const codec = new SessionCodec(secret, lifetimes);
    const value = codec.seal(session);
    assert.equal(codec.open(value, t0 + lifetimes.idleMs - 1)?.sid, 'sid-1');
    assert.equal(codec.open(value, t0 + lifetimes.idleMs), undefined);
    const refreshed = codec.seal({ ...session, seenAt: t0 + lifetimes.maxMs - 1000 });
    assert.equal(codec.open(refreshed, t0 + lifetimes.maxMs - 1)?.sid, 'sid-1');
    assert.equal(codec.open(refreshed, t0 + lifetimes.maxMs), undefined);
  });

  test('CSRF tokens are bound to purpose and binding', () => {
    const codec = new SessionCodec(secret, lifetimes);
    const token = codec.csrfToken('signin', 'browser-1');
    assert.ok(codec.checkCsrf('signin', 'browser-1', token));
    assert.equal(codec.checkCsrf('signin', 'browser-2', token), false);
    assert.equal(codec.checkCsrf('signout', 'browser-1', token), false);
    assert.equal(codec.checkCsrf('signin', 'browser-1', ''), false);
    assert.equal(codec.checkCsrf('signin', 'browser-1', token.slice(1)), false);
  });

  test('a short secret is a programmer error', () => {
    assert.throws(() => new SessionCodec(Buffer.from('short'), lifetimes), /16 bytes/);
  });
});

describe('cookies', () => {
  test('cookieValue finds one cookie among several', () => {
    assert.equal(cookieValue('a=1; __Host-x=v=w; b=2', '__Host-x'), 'v=w');
    assert.equal(cookieValue('a=1', 'b'), undefined);
    assert.equal(cookieValue(undefined, 'b'), undefined);
  });

  test('setCookie follows the __Host- rules and is HttpOnly', () => {
    assert.equal(
      setCookie('__Host-s', 'v', 'Lax', 60),
      '__Host-s=v; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=60',
    );
  });
});

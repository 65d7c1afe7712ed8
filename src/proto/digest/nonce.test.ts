import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FakeClock } from '../../lib/clock.ts';
import { NonceCountTracker, checkNonce, createNonce } from './nonce.ts';

const SECRET = Buffer.from('0123456789abcdef0123456789abcdef');
const MAX_AGE = 30_000;
const binding = { realm: 'example.com' };

describe('stateless nonces', () => {
  it('is valid until maxAge, then stale (RFC 7616 §3.3), on a fake clock', () => {
    const clock = new FakeClock(1_700_000_000_000);
    const nonce = createNonce(SECRET, clock.now(), binding);
    assert.match(nonce, /^[A-Za-z0-9_-]+$/);
    assert.equal(checkNonce(SECRET, nonce, clock.now(), MAX_AGE, binding), 'valid');
    clock.advance(MAX_AGE);
    assert.equal(checkNonce(SECRET, nonce, clock.now(), MAX_AGE, binding), 'valid');
    clock.advance(1);
    assert.equal(checkNonce(SECRET, nonce, clock.now(), MAX_AGE, binding), 'stale');
    clock.advance(86_400_000);
    assert.equal(checkNonce(SECRET, nonce, clock.now(), MAX_AGE, binding), 'stale');
  });

  it('is invalid under another secret, realm or client address', () => {
    const now = 1_700_000_000_000;
    const nonce = createNonce(SECRET, now, { realm: 'example.com', clientIp: '192.0.2.1' });
    const check = (secret: Buffer, realm: string, clientIp?: string): string =>
      checkNonce(
        secret,
        nonce,
        now,
        MAX_AGE,
        clientIp === undefined ? { realm } : { realm, clientIp },
      );
    assert.equal(check(SECRET, 'example.com', '192.0.2.1'), 'valid');
    assert.equal(
      check(Buffer.from('another secret, 16+ bytes'), 'example.com', '192.0.2.1'),
      'invalid',
    );
    assert.equal(check(SECRET, 'example.org', '192.0.2.1'), 'invalid');
    assert.equal(check(SECRET, 'example.com', '192.0.2.2'), 'invalid');
    assert.equal(check(SECRET, 'example.com'), 'invalid');
  });

  it('is invalid when from the future beyond the allowed skew', () => {
    const now = 1_700_000_000_000;
    const nonce = createNonce(SECRET, now + 10_000, binding);
    assert.equal(checkNonce(SECRET, nonce, now, MAX_AGE, binding), 'invalid');
    assert.equal(
      checkNonce(SECRET, nonce, now, MAX_AGE, { ...binding, maxClockSkewMs: 10_000 }),
      'valid',
    );
  });

  it('differs on every call and is deterministic given the random source', () => {
    const a = createNonce(SECRET, 5, binding);
    const b = createNonce(SECRET, 5, binding);
    assert.notEqual(a, b);
    const fixed = (n: number): Uint8Array => new Uint8Array(n).fill(7);
    assert.equal(
      createNonce(SECRET, 5, { ...binding, randomBytes: fixed }),
      createNonce(SECRET, 5, { ...binding, randomBytes: fixed }),
    );
  });

  it('is invalid after any single-character change', () => {
    const now = 1_700_000_000_000;
    const nonce = createNonce(SECRET, now, binding);
    for (let i = 0; i < nonce.length; i++) {
      const replacement = nonce[i] === 'A' ? 'B' : 'A';
      const altered = nonce.slice(0, i) + replacement + nonce.slice(i + 1);
      assert.equal(checkNonce(SECRET, altered, now, MAX_AGE, binding), 'invalid', `at ${i}`);
    }
    assert.equal(checkNonce(SECRET, `${nonce}=`, now, MAX_AGE, binding), 'invalid');
    assert.equal(checkNonce(SECRET, nonce.slice(1), now, MAX_AGE, binding), 'invalid');
  });

  it('never throws on arbitrary nonce strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        assert.equal(checkNonce(SECRET, s, 0, MAX_AGE, binding), 'invalid');
      }),
    );
  });

  it('refuses a short secret (programmer error)', () => {
    assert.throws(() => createNonce('short', 0, binding), { code: 'RAMPART_ERR_INVALID_ARGUMENT' });
  });
});

describe('NonceCountTracker', () => {
  it('refuses a replayed count, accepts out-of-order counts, forgets after retainMs', () => {
    const clock = new FakeClock(0);
    const tracker = new NonceCountTracker({ retainMs: 1000 });
    assert.equal(tracker.accept('n', '00000001', clock.now()), true);
    assert.equal(tracker.accept('n', '00000003', clock.now()), true);
    assert.equal(tracker.accept('n', '00000002', clock.now()), true);
    assert.equal(tracker.accept('n', '00000002', clock.now()), false);
    assert.equal(tracker.accept('m', '00000002', clock.now()), true);
    assert.equal(tracker.accept('n', '00000000', clock.now()), false);
    clock.advance(1001);
    assert.equal(tracker.accept('n', '00000001', clock.now()), true);
    assert.equal(tracker.size, 1);
  });

  it('holds at most maxNonces, and refuses a nonce it forgot for room (no replay)', () => {
    const clock = new FakeClock(1_700_000_000_000);
    const tracker = new NonceCountTracker({ retainMs: MAX_AGE, maxNonces: 2 });
    const issue = (): string => {
      const nonce = createNonce(SECRET, clock.now(), binding);
      clock.advance(10);
      return nonce;
    };
    const [a, b, c] = [issue(), issue(), issue()];
    assert.equal(tracker.accept(a, '00000001', clock.now()), true);
    clock.advance(10);
    assert.equal(tracker.accept(b, '00000001', clock.now()), true);
    clock.advance(10);
    assert.equal(tracker.accept(c, '00000001', clock.now()), true);
    assert.equal(tracker.size, 2);
    // `a` was forgotten to make room: replaying it must not pass as a first use.
    assert.equal(tracker.accept(a, '00000001', clock.now()), false);
    assert.equal(tracker.accept(a, '00000002', clock.now()), false);
    // Still-remembered nonces keep their counts; a nonce issued after `a` was forgotten is new.
    assert.equal(tracker.accept(c, '00000001', clock.now()), false);
    assert.equal(tracker.accept(c, '00000002', clock.now()), true);
    const d = issue();
    assert.equal(tracker.accept(d, '00000001', clock.now()), true);
    // Text that is not one of our nonces cannot be dated: refused once anything was forgotten.
    assert.equal(tracker.accept('not-a-nonce', '00000001', clock.now()), false);
  });

  it('accepts at most maxCountsPerNonce counts of one nonce', () => {
    const tracker = new NonceCountTracker({ retainMs: 1000, maxCountsPerNonce: 3 });
    assert.equal(tracker.accept('n', '00000001', 0), true);
    assert.equal(tracker.accept('n', '00000002', 0), true);
    assert.equal(tracker.accept('n', '00000003', 0), true);
    assert.equal(tracker.accept('n', '00000004', 0), false);
    const single = new NonceCountTracker({ retainMs: 1000, maxCountsPerNonce: 1 });
    assert.equal(single.accept('n', '00000001', 0), true);
    assert.equal(single.accept('n', '00000002', 0), false);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  encodeSecurityFeatures,
  NONCE_COOKIE,
  parseNonceCookie,
  SECURITY_FEATURE_BITS,
  TurnNonces,
  type NonceCheck,
} from './nonce.ts';

const SECRET = 'a-nonce-secret-of-32-bytes-------';
const OTHER_SECRET = 'another-secret-of-enough-length!';
const T0 = 1_700_000_000_000;

function status(check: NonceCheck): string {
  return check.status;
}

describe('nonce cookie (RFC 8489 §9.2)', () => {
  test('starts with obMatJos2 and 4 base64 characters of 24 feature bits', () => {
    const cases = [
      [{}, 'AAAA'],
      [{ passwordAlgorithms: true }, 'gAAA'],
      [{ usernameAnonymity: true }, 'QAAA'],
      [{ passwordAlgorithms: true, usernameAnonymity: true }, 'wAAA'],
    ] as const;
    for (const [features, encoded] of cases) {
      const nonce = new TurnNonces({ secrets: [SECRET], features }).issue(T0);
      assert.ok(nonce.startsWith(`${NONCE_COOKIE}${encoded}`), nonce);
      assert.ok(nonce.length < 128);
    }
    assert.equal(encodeSecurityFeatures(SECURITY_FEATURE_BITS.PASSWORD_ALGORITHMS), 'gAAA');
  });

  test('feature bits round-trip through issue and check', () => {
    for (const passwordAlgorithms of [false, true]) {
      for (const usernameAnonymity of [false, true]) {
        const nonces = new TurnNonces({
          secrets: [SECRET],
          features: { passwordAlgorithms, usernameAnonymity },
        });
        const check = nonces.check(nonces.issue(T0), T0);
        assert.equal(check.status, 'valid');
        assert.equal(check.features.passwordAlgorithms, passwordAlgorithms);
        assert.equal(check.features.usernameAnonymity, usernameAnonymity);
        assert.equal(check.issuedAt, T0);
      }
    }
  });

  test('parseNonceCookie reads any nonce; foreign nonces have no cookie', () => {
    assert.deepEqual(parseNonceCookie('obMatJos2wAAAxyz'), {
      bits: 0xc00000,
      passwordAlgorithms: true,
      usernameAnonymity: true,
    });
    assert.equal(parseNonceCookie('f3a0c6b1'), undefined);
    assert.equal(parseNonceCookie('obMatJos2'), undefined);
    assert.equal(parseNonceCookie('obMatJos2A!AA'), undefined);
  });
});

describe('TurnNonces lifetime', () => {
  test('valid until the lifetime (600 s default), stale from then on', () => {
    const nonces = new TurnNonces({ secrets: [SECRET] });
    const nonce = nonces.issue(T0);
    assert.equal(status(nonces.check(nonce, T0 + 599_999)), 'valid');
    assert.equal(status(nonces.check(nonce, T0 + 600_000)), 'stale');
    assert.equal(status(nonces.check(nonce, T0 + 86_400_000)), 'stale');
  });

  test('a configurable lifetime', () => {
    const nonces = new TurnNonces({ secrets: [SECRET], lifetimeMs: 30_000 });
    const nonce = nonces.issue(T0);
    assert.equal(status(nonces.check(nonce, T0 + 29_999)), 'valid');
    assert.equal(status(nonces.check(nonce, T0 + 30_000)), 'stale');
  });

  test('a nonce dated beyond the clock skew is invalid', () => {
    const nonces = new TurnNonces({ secrets: [SECRET], maxClockSkewMs: 1000 });
    const nonce = nonces.issue(T0 + 1000);
    assert.equal(status(nonces.check(nonce, T0)), 'valid');
    assert.equal(status(nonces.check(nonces.issue(T0 + 1001), T0)), 'invalid');
  });

  test('two nonces issued at the same instant differ', () => {
    const nonces = new TurnNonces({ secrets: [SECRET] });
    assert.notEqual(nonces.issue(T0), nonces.issue(T0));
  });
});

describe('TurnNonces authenticity', () => {
  const nonces = new TurnNonces({ secrets: [SECRET], features: { passwordAlgorithms: true } });

  test('stripping a feature bit (bid-down) makes the nonce invalid', () => {
    const nonce = nonces.issue(T0);
    const stripped = `${NONCE_COOKIE}AAAA${nonce.slice(NONCE_COOKIE.length + 4)}`;
    assert.equal(status(nonces.check(stripped, T0)), 'invalid');
    assert.equal(status(nonces.check(`x${nonce.slice(1)}`, T0)), 'invalid');
  });

  test('property: changing any character makes the nonce invalid', () => {
    const nonce = nonces.issue(T0);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: nonce.length - 1 }),
        fc.integer({ min: 0, max: alphabet.length - 1 }),
        (at, pick) => {
          const replacement = alphabet[pick] ?? 'A';
          fc.pre(replacement !== nonce[at]);
          const tampered = nonce.slice(0, at) + replacement + nonce.slice(at + 1);
          assert.equal(status(nonces.check(tampered, T0)), 'invalid');
        },
      ),
    );
  });

  test('truncated, extended and foreign nonces are invalid', () => {
    const nonce = nonces.issue(T0);
    assert.equal(status(nonces.check(nonce.slice(0, -1), T0)), 'invalid');
    assert.equal(status(nonces.check(`${nonce}A`, T0)), 'invalid');
    assert.equal(status(nonces.check(`${nonce}=`, T0)), 'invalid');
    assert.equal(status(nonces.check('', T0)), 'invalid');
    assert.equal(status(nonces.check('x'.repeat(200), T0)), 'invalid');
    const foreign = new TurnNonces({
      secrets: [OTHER_SECRET],
      features: { passwordAlgorithms: true },
    });
    assert.equal(status(nonces.check(foreign.issue(T0), T0)), 'invalid');
  });

  test('a nonce bound to a client address is invalid for another', () => {
    const nonce = nonces.issue(T0, '192.0.2.1 40000');
    assert.equal(status(nonces.check(nonce, T0, '192.0.2.1 40000')), 'valid');
    assert.equal(status(nonces.check(nonce, T0, '192.0.2.1 40001')), 'invalid');
    assert.equal(status(nonces.check(nonce, T0)), 'invalid');
    assert.equal(status(nonces.check(nonces.issue(T0), T0, '192.0.2.1 40000')), 'invalid');
  });

  test('rotation: nonces of a retiring secret stay valid while it is listed', () => {
    const old = new TurnNonces({ secrets: [OTHER_SECRET] });
    const nonce = old.issue(T0);
    assert.equal(
      status(new TurnNonces({ secrets: [SECRET, OTHER_SECRET] }).check(nonce, T0)),
      'valid',
    );
    assert.equal(status(new TurnNonces({ secrets: [SECRET] }).check(nonce, T0)), 'invalid');
  });

  test('property: check never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        nonces.check(text, T0);
        nonces.check(NONCE_COOKIE + text, T0);
      }),
    );
  });

  test('programmer errors throw', () => {
    assert.throws(() => new TurnNonces({ secrets: ['short'] }), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
    assert.throws(() => new TurnNonces({ secrets: [] }), { code: 'RAMPART_ERR_INVALID_ARGUMENT' });
    assert.throws(() => new TurnNonces({ secrets: [SECRET], lifetimeMs: 0 }), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
    assert.throws(() => nonces.issue(-1), { code: 'RAMPART_ERR_INVALID_ARGUMENT' });
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decideAuthorization, MAX_RULES_PER_USER, PresenceAuthorization } from './authorization.ts';

const OWNER = 'sip:alice@example.com';
const BOB = 'sip:bob@partner.net';

describe('decideAuthorization', () => {
  test('contact list allows, strangers are pending, self is allowed', () => {
    assert.equal(decideAuthorization(BOB, OWNER, new Set([BOB]), []), 'allow');
    assert.equal(decideAuthorization(BOB, OWNER, new Set(), []), 'pending');
    assert.equal(
      decideAuthorization(OWNER, OWNER, new Set(), [{ address: OWNER, action: 'block' }]),
      'allow',
    );
  });

  test('rules override the list; address beats domain; block beats allow at one level', () => {
    const listed = new Set([BOB]);
    assert.equal(
      decideAuthorization(BOB, OWNER, listed, [{ domain: 'PARTNER.net', action: 'block' }]),
      'block',
    );
    assert.equal(
      decideAuthorization(BOB, OWNER, listed, [
        { domain: 'partner.net', action: 'block' },
        { address: BOB, action: 'allow' },
      ]),
      'allow',
    );
    assert.equal(
      decideAuthorization(BOB, OWNER, new Set(), [
        { address: BOB, action: 'allow' },
        { address: BOB, action: 'block' },
      ]),
      'block',
    );
    assert.equal(
      decideAuthorization(BOB, OWNER, new Set(), [{ domain: 'partner.net', action: 'allow' }]),
      'allow',
    );
  });

  test('the rule count is capped', () => {
    const auth = new PresenceAuthorization();
    const rules = Array.from({ length: MAX_RULES_PER_USER + 1 }, (_, i) => ({
      address: `sip:u${i}@x`,
      action: 'allow' as const,
    }));
    assert.equal(auth.setRules(OWNER, rules).ok, false);
    assert.equal(auth.setRules(OWNER, rules.slice(1)).ok, true);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SubscriptionTable,
  transitionSubscription,
  type SubscribeRequest,
} from './subscription-table.ts';

function table(
  options: ConstructorParameters<typeof SubscriptionTable>[0] = {},
): SubscriptionTable {
  let n = 0;
  return new SubscriptionTable({ newId: () => `s${++n}`, ...options });
}

function request(over: Partial<SubscribeRequest> = {}): SubscribeRequest {
  return {
    key: { callId: 'c1', localTag: 'l1', remoteTag: 'r1' },
    event: 'presence',
    subscriber: 'sip:bob@example.com',
    resource: 'sip:alice@example.com',
    expiresSeconds: 600,
    now: 0,
    ...over,
  };
}

describe('SubscriptionTable', () => {
  test('creates pending, activates, counts NOTIFY CSeq and states', () => {
    const t = table();
    const r = t.subscribe(request());
    assert.equal(r.kind, 'created');
    const s = r.subscription;
    assert.equal(s.state, 'pending');
    assert.equal(t.subscriptionState(s, 0), 'pending;expires=600');
    t.activate(s);
    const n1 = t.notify(s, 'x', 'application/pidf+xml', 100_000);
    assert.equal(n1.cseq, 1);
    assert.equal(n1.state, 'active;expires=500');
    assert.equal(t.notify(s, undefined, 'ignored', 100_000).cseq, 2);
    assert.equal(t.notify(s, undefined, 'ignored', 100_000).contentType, undefined);
  });

  test('refresh extends; Expires: 0 unsubscribes with reason timeout', () => {
    const t = table();
    t.subscribe(request());
    const refreshed = t.subscribe(request({ expiresSeconds: 1200, now: 500_000 }));
    assert.equal(refreshed.kind, 'refreshed');
    assert.equal(t.nextTimeoutAt, 500_000 + 1_200_000);
    const gone = t.subscribe(request({ expiresSeconds: 0, now: 600_000 }));
    assert.equal(gone.kind, 'unsubscribed');
    assert.equal(t.subscriptionState(gone.subscription, 0), 'terminated;reason=timeout');
    assert.equal(t.size, 0);
    assert.equal(t.nextTimeoutAt, undefined);
  });

  test('a refresh from another subscriber is 403', () => {
    const t = table();
    t.subscribe(request());
    const r = t.subscribe(request({ subscriber: 'sip:mallory@example.com' }));
    assert.equal(r.kind === 'refused' && r.status, 403);
  });

  test('initial Expires: 0 is a fetch, not kept', () => {
    const t = table();
    const r = t.subscribe(request({ expiresSeconds: 0 }));
    assert.equal(r.kind, 'fetch');
    assert.equal(t.size, 0);
  });

  test('too brief is 423 with Min-Expires; too long is clamped; absent uses the default', () => {
    const t = table({ maxExpiresSeconds: 1000, defaultExpiresSeconds: 900 });
    const brief = t.subscribe(request({ expiresSeconds: 30 }));
    assert.deepEqual(brief.kind === 'refused' && [brief.status, brief.headers], [
      423,
      [['Min-Expires', '60']],
    ]);
    const long = t.subscribe(request({ expiresSeconds: 99_999 }));
    assert.equal(long.kind === 'created' && long.expiresSeconds, 1000);
    const absent = t.subscribe(
      request({ key: { callId: 'c2', localTag: 'l', remoteTag: 'r' }, expiresSeconds: undefined }),
    );
    assert.equal(absent.kind === 'created' && absent.expiresSeconds, 900);
  });

  test('a SUBSCRIBE flood from one user is refused with 503 and Retry-After', () => {
    const t = table({ maxPerSubscriber: 3, retryAfterSeconds: 30 });
    for (let i = 0; i < 3; i++) {
      const r = t.subscribe(
        request({
          key: { callId: `c${i}`, localTag: 'l', remoteTag: 'r' },
          resource: `sip:u${i}@x`,
        }),
      );
      assert.equal(r.kind, 'created');
    }
    const r = t.subscribe(request({ key: { callId: 'c9', localTag: 'l', remoteTag: 'r' } }));
    assert.deepEqual(r.kind === 'refused' && [r.status, r.headers], [503, [['Retry-After', '30']]]);
    // Another subscriber is not affected.
    const other = t.subscribe(
      request({ key: { callId: 'c10', localTag: 'l', remoteTag: 'r' }, subscriber: 'sip:carol@x' }),
    );
    assert.equal(other.kind, 'created');
  });

  test('per-resource cap', () => {
    const t = table({ maxPerResource: 1 });
    t.subscribe(request());
    const r = t.subscribe(
      request({ key: { callId: 'c2', localTag: 'l', remoteTag: 'r' }, subscriber: 'sip:carol@x' }),
    );
    assert.equal(r.kind === 'refused' && r.status, 503);
  });

  test('tick expires with reason timeout', () => {
    const t = table();
    t.subscribe(request());
    assert.deepEqual(t.tick(599_999), []);
    const expired = t.tick(600_000);
    assert.equal(expired.length, 1);
    assert.equal(expired[0]?.reason, 'timeout');
    assert.equal(t.size, 0);
  });

  test('the state guard refuses edges RFC 6665 does not allow', () => {
    const t = table();
    const r = t.subscribe(request());
    assert.equal(r.kind, 'created');
    t.terminate(r.subscription, 'rejected');
    assert.throws(() => {
      t.activate(r.subscription);
    }, /terminated → active/);
    assert.throws(() => {
      transitionSubscription(r.subscription, 'pending');
    });
  });

  test('winfo versions count from 0', () => {
    const t = table();
    const r = t.subscribe(request({ event: 'presence.winfo' }));
    assert.equal(r.kind, 'created');
    assert.equal(t.nextWinfoVersion(r.subscription), 0);
    assert.equal(t.nextWinfoVersion(r.subscription), 1);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PidfDocument } from '../../codec/pidf/pidf.ts';
import { FakeClock } from '../../lib/clock.ts';
import { PublicationStore } from './publication-store.ts';

const ALICE = 'sip:alice@example.com';

function doc(
  id: string,
  basic: 'open' | 'closed',
  activities: PidfDocument['persons'][number]['activities'] = [],
): PidfDocument {
  return {
    entity: 'pres:alice@example.com',
    tuples: [{ id, basic, notes: [] }],
    persons: activities.length > 0 ? [{ id: 'p', activities, notes: [] }] : [],
    notes: [],
  };
}

function store(): PublicationStore {
  let n = 0;
  return new PublicationStore({ newEtag: () => `etag${++n}`, maxPerEntity: 2 });
}

describe('PublicationStore (RFC 3903 §6)', () => {
  test('initial PUBLISH creates an entity-tag and a composed state', () => {
    const s = store();
    const r = s.publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 600,
      document: doc('a', 'open'),
      now: 0,
    });
    assert.ok(r.ok);
    assert.equal(r.operation, 'initial');
    assert.equal(r.etag, 'etag1');
    assert.deepEqual(r.headers, [
      ['SIP-ETag', 'etag1'],
      ['Expires', '600'],
    ]);
    assert.equal(s.compose(ALICE, 'pres:alice@example.com').tuples[0]?.basic, 'open');
  });

  test('initial PUBLISH without a body is 400', () => {
    const r = store().publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 600,
      document: undefined,
      now: 0,
    });
    assert.equal(r.ok, false);
    assert.equal(r.status, 400);
  });

  test('refresh extends and changes the entity-tag; the old one is then 412', () => {
    const s = store();
    s.publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 60,
      document: doc('a', 'open'),
      now: 0,
    });
    const refreshed = s.publish({
      entity: ALICE,
      ifMatch: 'etag1',
      expiresSeconds: 120,
      document: undefined,
      now: 50_000,
    });
    assert.ok(refreshed.ok);
    assert.equal(refreshed.operation, 'refresh');
    assert.equal(refreshed.changed, false);
    assert.equal(refreshed.etag, 'etag2');
    assert.deepEqual(s.tick(110_000), []);
    const stale = s.publish({
      entity: ALICE,
      ifMatch: 'etag1',
      expiresSeconds: 120,
      document: undefined,
      now: 60_000,
    });
    assert.equal(!stale.ok && stale.status, 412);
    assert.deepEqual(s.tick(170_000), [ALICE]);
    assert.equal(s.size, 0);
  });

  test('modify replaces the document', () => {
    const s = store();
    s.publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 60,
      document: doc('a', 'open'),
      now: 0,
    });
    const r = s.publish({
      entity: ALICE,
      ifMatch: 'etag1',
      expiresSeconds: 60,
      document: doc('a', 'closed'),
      now: 1,
    });
    assert.ok(r.ok);
    assert.equal(r.operation, 'modify');
    assert.equal(s.compose(ALICE, 'pres:alice@example.com').tuples[0]?.basic, 'closed');
  });

  test('Expires: 0 removes; composed state is then offline', () => {
    const s = store();
    s.publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 60,
      document: doc('a', 'open'),
      now: 0,
    });
    const r = s.publish({
      entity: ALICE,
      ifMatch: 'etag1',
      expiresSeconds: 0,
      document: undefined,
      now: 1,
    });
    assert.ok(r.ok);
    assert.equal(r.operation, 'remove');
    assert.deepEqual(s.compose(ALICE, 'pres:alice@example.com').tuples, [
      { id: 'offline', basic: 'closed', notes: [] },
    ]);
  });

  test("unknown, expired or another entity's entity-tag is 412", () => {
    const s = store();
    s.publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 60,
      document: doc('a', 'open'),
      now: 0,
    });
    for (const [entity, etag, now] of [
      [ALICE, 'nope', 0],
      ['sip:bob@example.com', 'etag1', 0],
      [ALICE, 'etag1', 60_000],
    ] as const) {
      const r = s.publish({ entity, ifMatch: etag, expiresSeconds: 60, document: undefined, now });
      assert.equal(!r.ok && r.status, 412, `${entity} ${etag} ${now}`);
    }
  });

  test('too brief is 423 with Min-Expires; too long is clamped', () => {
    const s = store();
    const brief = s.publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 59,
      document: doc('a', 'open'),
      now: 0,
    });
    assert.equal(brief.ok, false);
    assert.deepEqual(brief.headers, [['Min-Expires', '60']]);
    const long = s.publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 99_999,
      document: doc('a', 'open'),
      now: 0,
    });
    assert.ok(long.ok);
    assert.equal(long.expiresSeconds, 3600);
    assert.equal(s.nextTimeoutAt, 3_600_000);
  });

  test('per-entity cap refuses with 503 and Retry-After until the soonest expiry', () => {
    const s = store();
    s.publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 100,
      document: doc('a', 'open'),
      now: 0,
    });
    s.publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 200,
      document: doc('b', 'open'),
      now: 0,
    });
    const r = s.publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 60,
      document: doc('c', 'open'),
      now: 10_000,
    });
    assert.equal(r.ok, false);
    assert.equal(r.status, 503);
    assert.deepEqual(r.headers, [['Retry-After', '90']]);
  });

  test('composition merges tuples (unique ids) and activities, newest first', () => {
    const clock = new FakeClock(0);
    const s = store();
    s.publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 600,
      document: doc('t', 'open', ['busy']),
      now: clock.now(),
    });
    clock.advance(1000);
    s.publish({
      entity: ALICE,
      ifMatch: undefined,
      expiresSeconds: 600,
      document: doc('t', 'closed', ['on-the-phone', 'busy']),
      now: clock.now(),
    });
    const composed = s.compose(ALICE, 'pres:alice@example.com');
    assert.deepEqual(
      composed.tuples.map((t) => [t.id, t.basic]),
      [
        ['t', 'closed'],
        ['t-2', 'open'],
      ],
    );
    assert.deepEqual(composed.persons[0]?.activities, ['on-the-phone', 'busy']);
  });
});

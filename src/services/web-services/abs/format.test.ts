import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  ABS_FILE_NAME,
  ABS_FORMAT,
  ABS_INDEX_FORMAT,
  ABS_VERSION,
  applyDelta,
  deltaName,
  diffEntries,
  fullName,
  labelOf,
  labelTime,
  parseDelta,
  parseFull,
  planFetch,
  retained,
  serializeDelta,
  serializeFull,
  type AbsEntry,
  type AbsIndex,
} from './format.ts';

const alice: AbsEntry = { sipUri: 'sip:alice@example.test', displayName: 'Alice', email: null };
const bob: AbsEntry = { sipUri: 'sip:bob@example.test', displayName: null, email: 'b@x.test' };
const carol: AbsEntry = { sipUri: 'sip:carol@example.test', displayName: 'Carol', email: null };

describe('address book format', () => {
  test('labels and names', () => {
    const ms = Date.UTC(2026, 10, 29, 1, 30, 5);
    assert.equal(labelOf(ms), '2026-11-29T013005Z');
    assert.equal(labelTime('2026-11-29T013005Z'), ms);
    assert.equal(labelTime('2026-02-30T000000Z'), undefined);
    assert.equal(labelTime('../etc'), undefined);
    assert.match(fullName(labelOf(ms)), ABS_FILE_NAME);
    assert.match(deltaName(labelOf(ms), labelOf(ms + 1000)), ABS_FILE_NAME);
    assert.doesNotMatch('abs-full-../x.ndjson', ABS_FILE_NAME);
    assert.doesNotMatch('index.json', ABS_FILE_NAME);
  });

  test('a full file round-trips, sorted, with the header first', () => {
    const header = {
      format: ABS_FORMAT,
      version: ABS_VERSION,
      kind: 'full',
      label: '2026-11-29T013000Z',
      serial: 3,
      generatedAt: '2026-11-29T01:30:00.000Z',
      count: 2,
    } as const;
    const text = serializeFull(header, [bob, alice]);
    assert.equal(text.split('\n')[1], JSON.stringify(alice));
    const parsed = parseFull(text);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.entries, [alice, bob]);
    assert.equal(parsed.value.header.serial, 3);
    assert.equal(parseFull(text.replace('"version":1', '"version":2')).ok, false);
    assert.equal(parseFull(text.replace('"count":2', '"count":3')).ok, false);
    const bad = parseFull(text + '{"sipUri":5}\n');
    assert.ok(!bad.ok);
    assert.match(bad.error, /line 4/);
  });

  test('diff and apply: removed, changed, added; apply is strict', () => {
    const next = [{ ...alice, email: 'a@x.test' }, carol];
    const delta = diffEntries([alice, bob], next);
    assert.deepEqual(delta, { added: [carol], changed: [next[0]], removed: [bob.sipUri] });
    const text = serializeDelta(
      {
        format: ABS_FORMAT,
        version: ABS_VERSION,
        kind: 'delta',
        from: 'a',
        to: 'b',
        fromSerial: 1,
        toSerial: 2,
        generatedAt: '',
        added: 1,
        changed: 1,
        removed: 1,
      },
      delta,
    );
    const parsed = parseDelta(text);
    assert.ok(parsed.ok);
    const applied = applyDelta([alice, bob], parsed.value.delta);
    assert.ok(applied.ok);
    assert.deepEqual(applied.value, next);
    assert.equal(applyDelta([alice], parsed.value.delta).ok, false, 'remove of absent bob');
    assert.equal(applyDelta([alice, bob, carol], parsed.value.delta).ok, false, 'add of present');
  });

  test('property: applying the diff of two books gives the second', () => {
    // Plain objects: fast-check may also build them without a prototype, which deepEqual
    // tells apart from the plain objects the diff builds.
    const entry = fc.record(
      {
        sipUri: fc.constantFrom(...'abcdefghij'.split('').map((c) => `sip:${c}@example.test`)),
        displayName: fc.option(fc.string(), { nil: null }),
        email: fc.option(fc.string(), { nil: null }),
      },
      { noNullPrototype: true },
    );
    const book = fc.uniqueArray(entry, { selector: (e) => e.sipUri });
    fc.assert(
      fc.property(book, book, (before, after) => {
        const applied = applyDelta(before, diffEntries(before, after));
        assert.ok(applied.ok);
        assert.deepEqual(
          applied.value,
          after.map((e) => ({ ...e })).sort((x, y) => (x.sipUri < y.sipUri ? -1 : 1)),
        );
      }),
    );
  });

  const L = [
    '2026-11-01T010000Z',
    '2026-11-02T010000Z',
    '2026-11-03T010000Z',
    '2026-11-03T020000Z',
  ];
  const info = { bytes: 1, gzipBytes: 1, sha256: '', count: 0 };
  const index: AbsIndex = {
    format: ABS_INDEX_FORMAT,
    version: ABS_VERSION,
    latest: L[3] ?? '',
    serial: 4,
    generatedAt: '',
    full: L.map((label, i) => ({ ...info, name: fullName(label), label, serial: i + 1 })),
    deltas: L.slice(1).map((to, i) => ({
      ...info,
      name: deltaName(L[i] ?? '', to),
      from: L[i] ?? '',
      to,
      added: 0,
      changed: 0,
      removed: 0,
    })),
  };

  test('planFetch: up to date, a delta chain, or the newest full file', () => {
    assert.deepEqual(planFetch(index, L[3]), { kind: 'up-to-date' });
    const plan = planFetch(index, L[1]);
    assert.ok(plan?.kind === 'deltas');
    assert.deepEqual(
      plan.chain.map((d) => d.to),
      [L[2], L[3]],
    );
    assert.equal(planFetch(index, undefined)?.kind, 'full');
    assert.equal(planFetch(index, '2025-01-01T000000Z')?.kind, 'full');
    const broken = { ...index, deltas: index.deltas.filter((d) => d.to !== L[2]) };
    assert.equal(planFetch(broken, L[0])?.kind, 'full', 'a gap in the chain');
  });

  test('retention: newest full per day within keepDays, deltas by target date', () => {
    const now = Date.UTC(2026, 10, 3, 0, 30);
    const kept = retained(index, now, 1);
    assert.deepEqual(
      kept.full.map((f) => f.label),
      [L[1], L[3]],
    );
    assert.deepEqual(
      kept.deltas.map((d) => d.to),
      [L[1], L[2], L[3]],
    );
    const later = retained(index, Date.UTC(2026, 11, 31), 30);
    assert.deepEqual(
      later.full.map((f) => f.label),
      [L[3]],
      'the newest full file is always kept',
    );
    assert.deepEqual(later.deltas, []);
  });
});

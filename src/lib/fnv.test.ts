import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fnvLanes, fnvText64 } from './fnv.ts';

test('fnvLanes: deterministic, lanes independent, near inputs spread', () => {
  assert.deepEqual(
    fnvLanes('z9hG4bK-1\nc-1\n1 REGISTER', 4),
    fnvLanes('z9hG4bK-1\nc-1\n1 REGISTER', 4),
  );
  const [a, b, c, d] = fnvLanes('same text', 4);
  assert.equal(new Set([a, b, c, d]).size, 4, 'each lane has its own basis');
  // One character apart: every lane changes; 20,000 neighbouring inputs give distinct seeds.
  const x = fnvLanes('branch-1', 4);
  const y = fnvLanes('branch-2', 4);
  for (let i = 0; i < 4; i++) assert.notEqual(x[i], y[i]);
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) seen.add(fnvLanes(`z9hG4bK-${i}`, 4).join(','));
  assert.equal(seen.size, 20_000);
  assert.equal(fnvLanes('', 2).length, 2);
});

test('fnvText64: 12 base-36 characters, stable, distinct for near inputs', () => {
  assert.match(fnvText64('sip:bob@example.test\0a1'), /^[0-9a-z]{12}$/);
  assert.equal(fnvText64('x'), fnvText64('x'));
  assert.notEqual(fnvText64('x'), fnvText64('y'));
  assert.match(fnvText64(''), /^[0-9a-z]{12}$/);
});

test('fnvText64 is fnvLanes(text, 2) in base 36 (one pass computes both lanes)', () => {
  const text36 = (n: number): string => n.toString(36).padStart(7, '0').slice(-6);
  for (const text of [
    '',
    'x',
    'sip:bob@example.test\0a1\0\0c-1\u00e9\u2603',
    'z9hG4bK'.repeat(40),
  ]) {
    const [a = 0, b = 0] = fnvLanes(text, 2);
    assert.equal(fnvText64(text), text36(a) + text36(b));
  }
});

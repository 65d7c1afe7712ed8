import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Deadlines } from './timers.ts';

test('Deadlines: arm, re-arm, disarm, earliest and due', () => {
  const deadlines = new Deadlines<'A' | 'B' | 'D'>();
  assert.equal(deadlines.next, undefined);
  deadlines.set('A', 1_700_000_000_500);
  deadlines.set('B', 1_700_000_032_000);
  assert.equal(deadlines.next, 1_700_000_000_500);
  assert.ok(deadlines.has('A') && deadlines.has('B') && !deadlines.has('D'));
  assert.equal(deadlines.due('A', 1_700_000_000_499), false);
  assert.equal(deadlines.due('A', 1_700_000_000_500), true);
  assert.equal(deadlines.due('D', Number.MAX_SAFE_INTEGER), false);
  // Re-arming moves the deadline; disarming takes it out of the minimum.
  deadlines.set('A', 1_700_000_001_000);
  assert.equal(deadlines.next, 1_700_000_001_000);
  deadlines.clear('A');
  assert.ok(!deadlines.has('A'));
  assert.equal(deadlines.due('A', Number.MAX_SAFE_INTEGER), false);
  assert.equal(deadlines.next, 1_700_000_032_000);
  // Zero is a deadline like any other.
  deadlines.set('D', 0);
  assert.equal(deadlines.next, 0);
  deadlines.clearAll();
  assert.equal(deadlines.next, undefined);
  assert.ok(!deadlines.has('B') && !deadlines.has('D'));
  deadlines.set('B', 5);
  assert.equal(deadlines.next, 5);
});

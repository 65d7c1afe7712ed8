import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextGenerationAt } from './schedule.ts';

test('daily time (UTC), interval, whichever is first; none', () => {
  const now = Date.UTC(2026, 10, 29, 12, 0);
  assert.equal(
    nextGenerationAt(now, { dailyAt: '13:30', intervalMinutes: 0 }),
    Date.UTC(2026, 10, 29, 13, 30),
  );
  assert.equal(
    nextGenerationAt(now, { dailyAt: '01:30', intervalMinutes: 0 }),
    Date.UTC(2026, 10, 30, 1, 30),
  );
  assert.equal(
    nextGenerationAt(now, { dailyAt: '12:00', intervalMinutes: 0 }),
    Date.UTC(2026, 10, 30, 12, 0),
  );
  assert.equal(nextGenerationAt(now, { dailyAt: '13:30', intervalMinutes: 15 }), now + 15 * 60_000);
  assert.equal(nextGenerationAt(now, { dailyAt: null, intervalMinutes: 0 }), undefined);
});

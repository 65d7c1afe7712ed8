import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findMaxRate } from './search.ts';

const options = {
  startRate: 100,
  minRate: 10,
  maxRate: 10_000,
  precision: 0.05,
  budgetMs: 60_000,
  granularity: 10,
};

function capacity(limit: number) {
  return (rate: number) =>
    Promise.resolve({ rate, passed: rate <= limit, verdict: rate <= limit ? 'ok' : 'over' });
}

test('findMaxRate doubles then bisects to within the precision', async () => {
  const result = await findMaxRate(capacity(1234), options);
  assert.ok(result.maxRate <= 1234 && result.maxRate >= 1234 * 0.95, String(result.maxRate));
  assert.ok(result.firstFailingRate !== undefined && result.firstFailingRate > 1234);
  assert.deepEqual(
    result.steps.slice(0, 6).map((s) => s.rate),
    [100, 200, 400, 800, 1600, 1200],
  );
});

test('findMaxRate halves when the start rate already fails', async () => {
  const result = await findMaxRate(capacity(37), options);
  assert.ok(result.maxRate <= 37 && result.maxRate >= 30, String(result.maxRate));
});

test('findMaxRate reports 0 when nothing passes and stops at the max rate', async () => {
  assert.equal((await findMaxRate(capacity(0), options)).maxRate, 0);
  const capped = await findMaxRate(capacity(1e9), options);
  assert.equal(capped.maxRate, 10_000);
  assert.equal(capped.firstFailingRate, undefined);
});

test('findMaxRate stops when the budget runs out', async () => {
  let clock = 0;
  const result = await findMaxRate(
    (rate) => {
      clock += 10_000;
      return capacity(5000)(rate);
    },
    { ...options, budgetMs: 25_000, now: () => clock },
  );
  assert.equal(result.steps.length, 3);
  assert.equal(result.budgetExhausted, true);
  assert.equal(result.maxRate, 400);
});

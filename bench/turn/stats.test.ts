import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numberAt } from './metrics.ts';
import { parseCpuList } from './proc.ts';
import {
  JitterEstimator,
  lossFraction,
  mean,
  median,
  quantileInPlace,
  ratio,
  slopePerStep,
  summarizeStreams,
} from './stats.ts';

test('median of odd and even counts, unsorted input left as is', () => {
  const input = [5, 1, 3];
  assert.equal(median(input), 3);
  assert.deepEqual(input, [5, 1, 3]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.ok(Number.isNaN(median([])));
});

test('quantileInPlace uses the nearest rank over the first count values only', () => {
  const values = Float64Array.from([10, 1, 9, 2, 8, 3, 7, 4, 6, 5, 1000]);
  assert.equal(quantileInPlace(values, 10, 0.5), 5);
  assert.equal(quantileInPlace(values, 10, 0.99), 10);
  assert.equal(quantileInPlace(values, 10, 0), 1);
  assert.equal(values[10], 1000, 'values past count are not touched');
  assert.ok(Number.isNaN(quantileInPlace(values, 0, 0.5)));
});

test('mean', () => {
  assert.equal(mean([1, 2, 3, 6]), 3);
  assert.ok(Number.isNaN(mean([])));
});

test('RFC 3550 jitter: zero for constant transit, whatever the clock offset', () => {
  const jitter = new JitterEstimator();
  for (let i = 0; i < 50; i++) jitter.add(i * 20, i * 20 + 1000.5);
  assert.equal(jitter.jitter, 0);
});

test('RFC 3550 jitter: J += (|D| - J) / 16 per packet', () => {
  const jitter = new JitterEstimator();
  jitter.add(0, 10); // transit 10
  assert.equal(jitter.jitter, 0, 'one packet gives no difference yet');
  jitter.add(20, 46); // transit 26, |D| = 16
  assert.equal(jitter.jitter, 1);
  jitter.add(40, 50); // transit 10, |D| = 16
  assert.equal(jitter.jitter, 1 + 15 / 16);
  for (let i = 3; i < 200; i++) jitter.add(i * 20, i * 20 + (i % 2 === 0 ? 10 : 26));
  assert.ok(jitter.jitter > 15.9 && jitter.jitter <= 16, String(jitter.jitter));
});

test('lossFraction', () => {
  assert.equal(lossFraction(1000, 990), 0.01);
  assert.equal(lossFraction(1000, 1000), 0);
  assert.equal(lossFraction(0, 0), 0);
  assert.equal(lossFraction(10, 12), 0, 'more received than sent is not negative loss');
});

test('summarizeStreams totals, loss and jitter across streams', () => {
  const summary = summarizeStreams([
    { sent: 100, received: 100, jitterMs: 1 },
    { sent: 100, received: 98, jitterMs: 3 },
    { sent: 200, received: 200, jitterMs: 2 },
  ]);
  assert.equal(summary.sent, 400);
  assert.equal(summary.received, 398);
  assert.equal(summary.lossFraction, 2 / 400);
  assert.equal(summary.jitterMeanMs, 2);
  assert.equal(summary.jitterMaxMs, 3);
  assert.equal(summary.streamsWithLoss, 1);
  assert.ok(Number.isNaN(summarizeStreams([]).jitterMeanMs));
});

test('slopePerStep is the least-squares growth per step', () => {
  assert.equal(slopePerStep([10, 12, 14, 16]), 2);
  assert.equal(slopePerStep([5, 5, 5]), 0);
  assert.equal(slopePerStep([5]), 0);
});

test('ratio is candidate / baseline, null when undefined', () => {
  assert.equal(ratio(3, 2), 1.5);
  assert.equal(ratio(3, 0), null);
  assert.equal(ratio(null, 2), null);
  assert.equal(ratio(Number.NaN, 2), null);
});

test('numberAt follows a dotted path to a finite number', () => {
  const result = { media: { lossFraction: 0.25, rtt: Number.NaN }, name: 'x' };
  assert.equal(numberAt(result, 'media.lossFraction'), 0.25);
  assert.equal(numberAt(result, 'media.rtt'), null);
  assert.equal(numberAt(result, 'name'), null);
  assert.equal(numberAt(result, 'missing.path'), null);
  assert.equal(numberAt(undefined, 'media'), null);
});

test('parseCpuList reads taskset lists', () => {
  assert.deepEqual(parseCpuList('0'), [0]);
  assert.deepEqual(parseCpuList('1,3'), [1, 3]);
  assert.deepEqual(parseCpuList('0-2,5'), [0, 1, 2, 5]);
});

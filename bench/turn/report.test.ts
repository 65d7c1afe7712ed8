import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetricPlan } from './metrics.ts';
import { buildTable, collectWarnings, foreignBusyOf, type RunRecord } from './report.ts';

const metric: MetricPlan = {
  name: 'throughput',
  description: 'test metric',
  rows: [
    {
      key: 'pps',
      label: 'packets/s',
      unit: 'pkt/s',
      better: 'higher',
      goal: { text: '≥ 1.0×', met: (_c, r) => r !== null && r >= 1 },
    },
    { key: 'rss', label: 'memory', unit: 'KiB', better: 'lower' },
  ],
  runs: () => [],
  timeoutSeconds: 1,
  extract: () => ({}),
};

function record(server: string, round: number, pps: number | null): RunRecord {
  return { server, round, values: { pps, rss: 10 }, results: [] };
}

test('buildTable takes each side’s median over rounds, the ratio and the goal', () => {
  const { table, rendered } = buildTable(
    [metric],
    {
      throughput: [
        record('baseline', 1, 100),
        record('candidate', 1, 90),
        record('candidate', 2, 150),
        record('baseline', 2, 1000),
        record('baseline', 3, 200),
        record('candidate', 3, null),
      ],
    },
    { baseline: 'coturn', candidate: 'rampart' },
  );
  const pps = table[0]!;
  assert.equal(pps.baseline, 200);
  assert.equal(pps.candidate, 120, 'a missing value is left out of the median');
  assert.equal(pps.ratio, 0.6);
  assert.equal(pps.goalMet, false);
  assert.equal(table[1]!.goalMet, null, 'no goal, no verdict');
  assert.equal(table[1]!.ratio, 1);
  assert.match(rendered, /coturn \(base\)/);
  assert.match(rendered, /packets\/s\s+pkt\/s\s+200\.0\s+120\.0\s+0\.60×\s+≥ 1\.0× ✗/);
});

test('foreignBusyOf takes the worst window, saturation steps included', () => {
  const worst = foreignBusyOf([
    { interference: { foreignBusy: 0.05, topForeignCommand: 'a' } },
    {
      steps: [
        { interference: { foreignBusy: 0.3, topForeignCommand: 'tsc' } },
        { interference: { foreignBusy: 0.2 } },
      ],
    },
  ]);
  assert.deepEqual(worst, { busy: 0.3, command: 'tsc' });
  assert.deepEqual(foreignBusyOf([{}]), { busy: 0 });
});

test('collectWarnings lists failed and disturbed runs only', () => {
  const warnings = collectWarnings([metric], {
    throughput: [
      { ...record('baseline', 1, 1), error: 'did not start' },
      { ...record('candidate', 1, 1), foreignBusy: 0.5, foreignCommand: 'eslint' },
      { ...record('candidate', 2, 1), foreignBusy: 0.05 },
    ],
  });
  assert.deepEqual(warnings, [
    'throughput baseline round 1: did not start',
    'throughput candidate round 1: disturbed, other processes used 0.50 of a core (eslint)',
  ]);
});

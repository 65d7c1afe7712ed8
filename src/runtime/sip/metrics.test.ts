import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRegistry } from '../metrics.ts';
import { sipMetrics } from './metrics.ts';

function count(text: string, service: string, direction: string, kind: string): number | undefined {
  const line = text
    .split('\n')
    .find((l) =>
      l.startsWith(
        `rampart_sip_messages_total{service="${service}",direction="${direction}",kind="${kind}"} `,
      ),
    );
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('sipMetrics', () => {
  test('messages counted on the hot path appear at every scrape, per service and label', async () => {
    const registry = createRegistry();
    const edge = sipMetrics(registry, 'access-edge');
    const director = sipMetrics(registry, 'director');
    for (let i = 0; i < 3; i++) edge.message('in', 'INVITE');
    edge.message('out', 'response');
    edge.message('in', '180');
    edge.message('in', '183');
    edge.message('in', 'FOO');
    director.message('in', 'INVITE');
    let text = await registry.metrics();
    assert.equal(count(text, 'access-edge', 'in', 'INVITE'), 3);
    assert.equal(count(text, 'access-edge', 'out', 'response'), 1);
    assert.equal(count(text, 'access-edge', 'in', '1xx'), 2);
    assert.equal(count(text, 'access-edge', 'in', 'other'), 1);
    assert.equal(count(text, 'director', 'in', 'INVITE'), 1);
    // A second scrape adds only what came since; nothing is counted twice.
    edge.message('in', 'INVITE');
    text = await registry.metrics();
    assert.equal(count(text, 'access-edge', 'in', 'INVITE'), 4);
    assert.equal(count(text, 'access-edge', 'in', '1xx'), 2);
    text = await registry.metrics();
    assert.equal(count(text, 'access-edge', 'in', 'INVITE'), 4);
  });

  test('arbitrary kinds map to a bounded set of labels', async () => {
    const registry = createRegistry();
    const metrics = sipMetrics(registry, 'access-edge');
    for (let i = 0; i < 5000; i++) metrics.message('in', `X${String(i)}`);
    const text = await registry.metrics();
    assert.equal(count(text, 'access-edge', 'in', 'other'), 5000);
    assert.equal(
      text.split('\n').filter((l) => l.startsWith('rampart_sip_messages_total{')).length,
      1,
    );
  });
});

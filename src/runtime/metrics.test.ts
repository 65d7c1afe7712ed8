import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import {
  connectionsGauge,
  createRegistry,
  sipDropsTotal,
  sipMessagesTotal,
  tallyIn,
  transactionsGauge,
  transportRejectionsTotal,
} from './metrics.ts';

describe('metrics', () => {
  test('a new registry carries the default process metrics under the rampart_ prefix', async () => {
    const text = await createRegistry().metrics();
    assert.match(text, /^rampart_process_cpu_seconds_total /m);
  });

  test('helpers are get-or-create per registry, and registries are independent', async () => {
    const one = createRegistry();
    const two = createRegistry();
    assert.equal(sipMessagesTotal(one), sipMessagesTotal(one));
    assert.notEqual(sipMessagesTotal(one), sipMessagesTotal(two));
    sipMessagesTotal(one).inc({ service: 'access-edge', direction: 'in', kind: 'INVITE' });
    sipDropsTotal(one).inc({ service: 'access-edge', reason: 'loop' }, 2);
    transportRejectionsTotal(one).inc({
      service: 'access-edge',
      transport: 'tls',
      reason: 'handshake-timeout',
    });
    connectionsGauge(one).set({ service: 'access-edge' }, 3);
    transactionsGauge(one).set({ service: 'access-edge', kind: 'server' }, 4);
    const text = await one.metrics();
    assert.match(
      text,
      /^rampart_sip_messages_total\{service="access-edge",direction="in",kind="INVITE"\} 1$/m,
    );
    assert.match(text, /^rampart_sip_drops_total\{service="access-edge",reason="loop"\} 2$/m);
    assert.match(
      text,
      /^rampart_transport_rejections_total\{service="access-edge",transport="tls",reason="handshake-timeout"\} 1$/m,
    );
    assert.match(text, /^rampart_sip_connections\{service="access-edge"\} 3$/m);
    assert.match(text, /^rampart_sip_transactions\{service="access-edge",kind="server"\} 4$/m);
    assert.doesNotMatch(await two.metrics(), /rampart_sip_messages_total\{/);
  });
});

test('tallyIn: counts reach the counter at scrape time, from every tally of the name', async () => {
  const registry = new Registry();
  const first = tallyIn(registry, 'rampart_test_tally_total', 'test', 'kind');
  const second = tallyIn(registry, 'rampart_test_tally_total', 'test', 'kind');
  first('a');
  first('a');
  second('a');
  second('b');
  const counter = registry.getSingleMetric('rampart_test_tally_total');
  assert.ok(counter !== undefined);
  const values = async (): Promise<Record<string, number>> =>
    Object.fromEntries(
      (await counter.get()).values.map((v) => [String(v.labels.kind), v.value] as const),
    );
  assert.deepEqual(await values(), { a: 3, b: 1 });
  // Counted once: a second scrape adds nothing new, later counts add up.
  assert.deepEqual(await values(), { a: 3, b: 1 });
  first('b');
  assert.match(await registry.metrics(), /rampart_test_tally_total\{kind="b"\} 2/);
});

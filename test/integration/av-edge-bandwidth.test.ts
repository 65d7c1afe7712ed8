// Bandwidth caps: with `av-edge.bandwidth.perAllocationBytesPerSecond`, an allocation relays
// at most its token bucket (burst = one second's worth, then the rate); the rest is dropped
// and counted in rampart_turn_relay_dropped_total{reason="bandwidth"}.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sleep } from '../helpers/process.ts';
import { startRampart, type RampartInstance } from '../helpers/rampart.ts';
import {
  fetchMetrics,
  metricValue,
  restCredential,
  TurnClient,
  UdpPeer,
} from '../helpers/turn-client.ts';

const SECRET = 'bandwidth-secret-0123456789';
const BYTES_PER_SECOND = 2000;

describe('av-edge.bandwidth', () => {
  let rampart: RampartInstance;
  let admin: { host: string; port: number };

  before(async () => {
    rampart = await startRampart({
      config: {
        'access-edge': { enabled: false },
        'av-edge': {
          external: { host: '127.0.0.2' },
          internal: { host: '127.0.0.3' },
          auth: { secrets: [SECRET] },
          peers: { allowLoopback: true },
          bandwidth: { perAllocationBytesPerSecond: BYTES_PER_SECOND },
        },
      },
    });
    const endpoint = rampart.endpoint('admin', 'internal', 'http');
    admin = { host: endpoint.host, port: endpoint.port };
  });

  after(async () => {
    await rampart.stop();
  });

  test('an allocation relays its bucket and no more; the excess is counted', async () => {
    const udp = rampart.endpoint('av-edge', 'external', 'udp');
    const client = await TurnClient.open({ host: udp.host, port: udp.port });
    const peer = await UdpPeer.open();
    try {
      await client.mustAllocate(restCredential(SECRET, 'bw', 600));
      assert.equal((await client.channelBind(0x4000, peer.address)).code, undefined);
      // 40 × 500 bytes at once: 20 000 bytes against a 2000-byte bucket.
      for (let i = 0; i < 40; i++) client.sendChannelData(0x4000, Buffer.alloc(500, i));
      let received = 0;
      for (;;) {
        const datagram = await peer.next(300);
        if (datagram === undefined) break;
        received += datagram.data.length;
      }
      assert.ok(received > 0, 'nothing relayed at all');
      // The burst plus what refilled during the run (well under a second).
      assert.ok(received <= 2 * BYTES_PER_SECOND, `${received} bytes relayed`);
      await sleep(50);
      const dropped = metricValue(await fetchMetrics(admin), 'rampart_turn_relay_dropped_total', {
        reason: 'bandwidth',
      });
      assert.ok(dropped >= 30, `${dropped} packets counted as dropped by the cap`);
    } finally {
      await client.close();
      await peer.close();
    }
  });
});

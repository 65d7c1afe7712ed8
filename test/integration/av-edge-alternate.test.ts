// ALTERNATE-SERVER for load spreading (RFC 8489 §10): past `redirectAbove` live allocations,
// an authenticated Allocate is answered 300 Try Alternate with the next configured server,
// signed like any authenticated response; below the threshold allocations proceed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AlternateServer } from '../../src/codec/stun/index.ts';
import { startRampart, type RampartInstance } from '../helpers/rampart.ts';
import { restCredential, TurnClient } from '../helpers/turn-client.ts';

const SECRET = 'alternate-secret-0123456789';

describe('av-edge.alternateServers', () => {
  let rampart: RampartInstance;

  before(async () => {
    rampart = await startRampart({
      config: {
        'access-edge': { enabled: false },
        'av-edge': {
          external: { host: '127.0.0.2' },
          internal: { host: '127.0.0.3' },
          auth: { secrets: [SECRET] },
          alternateServers: ['192.0.2.10:3478', '[2001:db8::10]:3478'],
          redirectAbove: 1,
        },
      },
    });
  });

  after(async () => {
    await rampart.stop();
  });

  test('the first allocation proceeds; the next ones go round the alternates with 300', async () => {
    const udp = rampart.endpoint('av-edge', 'external', 'udp');
    const server = { host: udp.host, port: udp.port };
    const clients = await Promise.all([0, 1, 2].map(() => TurnClient.open(server)));
    try {
      const first = clients[0];
      assert.ok(first !== undefined);
      await first.mustAllocate(restCredential(SECRET, 'a', 600));
      const seen: string[] = [];
      for (const client of clients.slice(1)) {
        const response = await client.allocate(restCredential(SECRET, 'b', 600));
        assert.equal(response.code, 300);
        assert.ok(client.verifies(response.message), 'the 300 is signed');
        const alternate = AlternateServer.get(response.message);
        assert.ok(alternate?.ok === true);
        seen.push(`${alternate.value.address}:${alternate.value.port}`);
      }
      assert.deepEqual(seen.sort(), ['192.0.2.10:3478', '2001:db8::10:3478']);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });
});

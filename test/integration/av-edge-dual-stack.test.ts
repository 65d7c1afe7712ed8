// Dual stack (RFC 8656 §7.2, RFC 6156 semantics) with `av-edge.external.relayHostV6`: an
// IPv4 client asking ADDITIONAL-ADDRESS-FAMILY IPv6 gets two relayed addresses and reaches
// IPv4 and IPv6 peers from the matching one; REQUESTED-ADDRESS-FAMILY IPv6 gets an IPv6
// relay only; without an IPv6 relay address the second family is refused with 440.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AdditionalAddressFamily,
  AddressErrorCode,
  RequestedAddressFamily,
  XorRelayedAddress,
} from '../../src/codec/stun/index.ts';
import { startRampart, type RampartInstance } from '../helpers/rampart.ts';
import { restCredential, TurnClient, UdpPeer } from '../helpers/turn-client.ts';

const SECRET = 'dual-stack-secret-0123456789';

const config = (relayHostV6: string | null): unknown => ({
  'access-edge': { enabled: false },
  'av-edge': {
    external: { host: '127.0.0.2', relayHostV6 },
    internal: { host: '127.0.0.3' },
    auth: { secrets: [SECRET] },
    peers: { allowLoopback: true },
  },
});

describe('dual-stack allocations', () => {
  let dual: RampartInstance;
  let v4only: RampartInstance;

  const open = (rampart: RampartInstance): Promise<TurnClient> => {
    const udp = rampart.endpoint('av-edge', 'external', 'udp');
    return TurnClient.open({ host: udp.host, port: udp.port });
  };

  before(async () => {
    [dual, v4only] = await Promise.all([
      startRampart({ config: config('::1') }),
      startRampart({ config: config(null) }),
    ]);
  });

  after(async () => {
    await Promise.all([dual.stop(), v4only.stop()]);
  });

  test('ADDITIONAL-ADDRESS-FAMILY: an IPv4 and an IPv6 relay, each used for its peers', async () => {
    const client = await open(dual);
    const peer4 = await UdpPeer.open('127.0.0.1');
    // ::1 is the relay address itself, the only IPv6 loopback address: the SSRF policy relays
    // to an own address only at a relay-range port (another allocation), so the IPv6 peer
    // sits at one.
    const peer6 = await UdpPeer.open('::1', 59_990 + Math.floor(Math.random() * 9));
    try {
      const response = await client.allocate(restCredential(SECRET, 'dual', 600), {
        attributes: [AdditionalAddressFamily.of(6)],
      });
      assert.equal(response.code, undefined);
      const relayed = XorRelayedAddress.getAll(response.message);
      assert.ok(relayed.ok);
      const [v4, v6] = relayed.value;
      assert.ok(v4 !== undefined && v6 !== undefined, 'two XOR-RELAYED-ADDRESS');
      assert.equal(v4.address, '127.0.0.2');
      assert.equal(v6.address, '::1');
      assert.equal((await client.createPermission(peer4.address, peer6.address)).code, undefined);
      client.sendIndication(peer6.address, Buffer.from('to six'));
      client.sendIndication(peer4.address, Buffer.from('to four'));
      const at6 = await peer6.next(2000);
      const at4 = await peer4.next(2000);
      assert.ok(at6 !== undefined && at4 !== undefined, 'both peers reached');
      assert.equal(at6.data.toString(), 'to six');
      assert.equal(at6.from.address, '::1');
      assert.equal(at6.from.port, v6.port);
      assert.equal(at4.data.toString(), 'to four');
      assert.equal(at4.from.port, v4.port);
      // The peer answers over IPv6: a Data indication reaches the IPv4 client.
      peer6.send(Buffer.from('back'), { family: 6, address: '::1', port: v6.port });
      const back = await client.nextDataIndication(2000);
      assert.equal(back?.data.toString(), 'back');
    } finally {
      await Promise.all([client.close(), peer4.close(), peer6.close()]);
    }
  });

  test('REQUESTED-ADDRESS-FAMILY IPv6: one IPv6 relay', async () => {
    const client = await open(dual);
    try {
      const response = await client.allocate(restCredential(SECRET, 'six', 600), {
        attributes: [RequestedAddressFamily.of(6)],
      });
      assert.equal(response.code, undefined);
      const relayed = XorRelayedAddress.getAll(response.message);
      assert.ok(relayed.ok);
      assert.deepEqual(
        relayed.value.map((r) => r.address),
        ['::1'],
      );
    } finally {
      await client.close();
    }
  });

  test('without an IPv6 relay address: 440 for IPv6, ADDRESS-ERROR-CODE 440 for the second family', async () => {
    const only6 = await open(v4only);
    const both = await open(v4only);
    try {
      const refused = await only6.allocate(restCredential(SECRET, 'a', 600), {
        attributes: [RequestedAddressFamily.of(6)],
      });
      assert.equal(refused.code, 440);
      const partial = await both.allocate(restCredential(SECRET, 'b', 600), {
        attributes: [AdditionalAddressFamily.of(6)],
      });
      assert.equal(partial.code, undefined);
      const error = AddressErrorCode.get(partial.message);
      assert.ok(error?.ok === true);
      assert.equal(error.value.code, 440);
      assert.equal(error.value.family, 6);
    } finally {
      await Promise.all([only6.close(), both.close()]);
    }
  });
});

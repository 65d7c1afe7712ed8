// Allocation churn through a real TURN server on loopback: cycles of 500 allocations (each
// with a permission and a channel, as the benchmark makes them), half deleted with Refresh
// LIFETIME 0 (RFC 8656 §8.2) and half left to expire (§6), after which every per-allocation
// table of the server, its port pool and its relay sockets must be back to where they started.
// Memory that V8 keeps after such cycles is then heap sizing, not state the server still holds.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { silentLogger } from '../../src/lib/logger.ts';
import {
  BandwidthLimiter,
  createPeerPolicy,
  RelayPortAllocator,
  SourceRateLimiter,
  TurnAuthenticator,
  TurnCredentials,
  TurnNonces,
} from '../../src/proto/turn/index.ts';
import { TurnServer, type TurnServerTableSizes } from '../../src/runtime/turn/turn-server.ts';
import { waitUntil } from '../helpers/process.ts';
import { restCredential, TurnClient, UdpPeer } from '../helpers/turn-client.ts';

const SECRET = 'churn-test-secret-0123456789';
const REALM = 'churn.test';
/** Its own loopback address: no other test binds relays here. */
const HOST = '127.0.0.6';
const CYCLES = 3;
const PER_CYCLE = 500;
/** Allocations being set up at once. */
const WINDOW = 50;
/**
 * Short, so the allocations left alone expire within the test, yet longer than setting up a
 * cycle takes on a loaded CI machine (Refresh(0) must reach live allocations).
 */
const LIFETIME_SECONDS = 8;
const CHANNEL = 0x4000;

let server: TurnServer;
let peer: UdpPeer;
/** Every client opened, so that a failing test still closes them (else the file never ends). */
const opened = new Set<TurnClient>();

before(async () => {
  // Below the kernel's ephemeral range (32768–60999): no socket of another process of the
  // machine (tests run in parallel) gets one of these ports by chance, so no bind fails.
  const relayPorts = { min: 20000, max: 24999 };
  const policy = createPeerPolicy({
    allowLoopback: true,
    ownAddresses: [HOST],
    relayPorts,
  });
  if (!policy.ok) throw new Error(policy.error.message);
  server = new TurnServer({
    side: 'external',
    host: HOST,
    relayAdvertisedHost: HOST,
    udp: 0,
    tcp: null,
    tls: [],
    reusePort: false,
    authenticator: new TurnAuthenticator({
      credentials: new TurnCredentials({ realm: REALM, restSecrets: [SECRET] }),
      nonces: new TurnNonces({ secrets: [randomBytes(32)], lifetimeMs: 600_000 }),
      challenges: new SourceRateLimiter({ ratePerSecond: 100_000, burst: 100_000 }),
    }),
    peerPolicy: policy.value,
    ports: new RelayPortAllocator({ min: relayPorts.min, max: relayPorts.max }),
    quotas: { perUser: 100_000, total: 100_000 },
    allocationLimits: {
      defaultLifetimeSeconds: LIFETIME_SECONDS,
      maxLifetimeSeconds: LIFETIME_SECONDS,
    },
    bandwidth: new BandwidthLimiter({}, Date.now()),
    strictExpiry: false,
    alternateServers: [],
    redirectAbove: 0,
    streamLimits: {
      maxConnectionsPerIp: 10,
      maxConnections: 10,
      handshakeTimeoutMs: 1000,
      allocateTimeoutMs: 1000,
      maxFrameBytes: 4 + 65536,
    },
    logger: silentLogger,
  });
  await server.start();
  peer = await UdpPeer.open('127.0.0.1');
});

after(async () => {
  await Promise.allSettled([...opened].map((client) => client.close()));
  await server.close();
  await peer.close();
});

/** UDP sockets of this process (the server's relays among them). */
function udpHandles(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'UDPWrap').length;
}

/** Runs `task(0..count-1)`, at most `window` at a time. */
async function bounded(count: number, window: number, task: (index: number) => Promise<void>) {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: window }, worker));
}

/** One allocation with a permission and a channel to the peer; the client keeps its socket. */
async function allocate(): Promise<TurnClient> {
  const endpoint = server.bound[0]?.address;
  assert.ok(endpoint !== undefined);
  const client = await TurnClient.open({ host: endpoint.address, port: endpoint.port });
  opened.add(client);
  try {
    const allocated = await client.allocate(restCredential(SECRET, 'churn', 3600));
    assert.equal(allocated.code, undefined, 'Allocate');
    assert.equal((await client.createPermission(peer.address)).code, undefined, 'CreatePermission');
    assert.equal((await client.channelBind(CHANNEL, peer.address)).code, undefined, 'ChannelBind');
    return client;
  } catch (error) {
    opened.delete(client);
    await client.close();
    throw error;
  }
}

test(`${CYCLES} cycles of ${PER_CYCLE} allocations leave every table as it started`, async () => {
  const initial: TurnServerTableSizes = server.tableSizes();
  const initialHandles = udpHandles();
  for (const [name, size] of Object.entries(initial)) assert.equal(size, 0, name);
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const clients: TurnClient[] = [];
    await bounded(PER_CYCLE, WINDOW, async () => {
      clients.push(await allocate());
    });
    assert.equal(server.tableSizes().sessions, PER_CYCLE);
    assert.equal(server.tableSizes().deadlines, PER_CYCLE);
    assert.equal(server.tableSizes().portsInUse, PER_CYCLE, 'a relay port per allocation');
    // A relay socket and a client socket per allocation (more while a failed bind closes).
    assert.ok(udpHandles() >= initialHandles + 2 * PER_CYCLE, 'a relay socket per allocation');
    // Half deleted (Refresh LIFETIME 0), half left to expire; every client socket closed.
    await bounded(clients.length, WINDOW, async (index) => {
      const client = clients[index];
      assert.ok(client !== undefined);
      if (index % 2 === 0) {
        assert.equal((await client.refresh(0)).code, undefined, 'Refresh(0)');
      }
      await client.close();
      opened.delete(client);
    });
    await waitUntil(
      () => server.tableSizes().sessions === 0,
      (LIFETIME_SECONDS + 5) * 1000,
      () => `cycle ${cycle}: ${JSON.stringify(server.tableSizes())} after expiry`,
    );
    assert.deepEqual(server.tableSizes(), initial, `cycle ${cycle}`);
    await waitUntil(
      () => udpHandles() === initialHandles,
      5000,
      () => `cycle ${cycle}: ${String(udpHandles() - initialHandles)} UDP sockets left open`,
    );
  }
});

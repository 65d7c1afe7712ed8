// The A/V Edge (STUN/TURN, RFC 8489 and RFC 8656) driven by hand-built STUN messages over real
// UDP and TCP sockets on loopback: Binding, the long-term credential dance, every Allocate
// check in RFC order, the two relay paths (Send/Data indications and ChannelData), Refresh,
// the peer policy that keeps the relay from becoming an SSRF proxy, and strict expiry of REST
// credentials. `rampart start` runs as the operator runs it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  EvenPort,
  Lifetime,
  PASSWORD_ALGORITHM,
  PasswordAlgorithms,
  rawAttribute,
  Realm,
  Nonce,
  ReservationToken,
  STUN_ATTR,
  STUN_METHOD,
  UnknownAttributes,
  DontFragment,
  verifyFingerprint,
  XorMappedAddress,
  XorRelayedAddress,
  type StunMessage,
  type TransportAddress,
} from '../../src/codec/stun/index.ts';
import type { Endpoint } from '../../src/lib/endpoint.ts';
import { sleep, waitUntil } from '../helpers/process.ts';
import { startRampart, type RampartInstance } from '../helpers/rampart.ts';
import {
  bindingRequest,
  fetchMetrics,
  metricValue,
  restCredential,
  TurnClient,
  UdpPeer,
  type TurnCredential,
} from '../helpers/turn-client.ts';

const SECRET = '0123456789abcdef0123';
const REALM = 'example.test';
/** An attribute type in the comprehension-required range that no RFC assigns. */
const UNKNOWN_REQUIRED_ATTRIBUTE = 0x0031;
/** How long a test waits for something that must not arrive. */
const QUIET_MS = 300;

/** Server A: loopback peers allowed, the one most tests use. */
const SERVER_A = {
  'access-edge': { enabled: false },
  'av-edge': {
    realm: REALM,
    external: { host: '127.0.0.2' },
    internal: { host: '127.0.0.3' },
    auth: { secrets: [SECRET], users: [{ username: 'alice', password: 'wonderland' }] },
    peers: { allowLoopback: true },
    allocations: { perUser: 3 },
    // Every test client shares 127.0.0.1: the challenge rate limit is tested on its own.
    limits: { challengesPerSecondPerSource: 1000 },
  },
};

/**
 * Server B: default peer policy (no loopback), short nonces for the 438 test, and a relay range
 * that holds every ephemeral port, so its listeners lie inside the relay range.
 */
const RELAY_B = { minPort: 20000, maxPort: 65535 };
const SERVER_B = {
  'access-edge': { enabled: false },
  'av-edge': {
    realm: REALM,
    external: { host: '127.0.0.4' },
    internal: { host: '127.0.0.5' },
    relay: RELAY_B,
    auth: { secrets: [SECRET], nonceLifetimeSeconds: 30 },
    limits: { challengesPerSecondPerSource: 1000 },
    // A small burst (the default is 500 ended allocations) for the heap-reclaim test.
    memory: { reclaimAfterClosed: 6, reclaimQuietMs: 200, reclaimMinIntervalMs: 100 },
  },
};

let serverA: RampartInstance;
let serverB: RampartInstance;
let udpA: Endpoint;
let tcpA: Endpoint;
let adminA: Endpoint;
let udpB: Endpoint;
let tcpB: Endpoint;
let adminB: Endpoint;
/** What `after` stops: whatever `before` got to start. */
const started: RampartInstance[] = [];
const clients: TurnClient[] = [];
const peers: UdpPeer[] = [];
/** What the server answered to a signed request carrying a nonce 30 s old. */
let staleNonceProbe: Promise<{
  code: number | undefined;
  retry: number | undefined;
  error?: string;
}>;

async function client(endpoint: Endpoint, transport: 'udp' | 'tcp' = 'udp'): Promise<TurnClient> {
  const opened = await TurnClient.open({ host: endpoint.host, port: endpoint.port }, { transport });
  clients.push(opened);
  return opened;
}

async function peer(host = '127.0.0.1'): Promise<UdpPeer> {
  const opened = await UdpPeer.open(host);
  peers.push(opened);
  return opened;
}

/** A REST credential of `user`, valid for `ttlSeconds`. */
function rest(user: string, ttlSeconds = 3600): TurnCredential {
  return restCredential(SECRET, user, ttlSeconds);
}

async function sessionsOf(admin: Endpoint, user: string): Promise<unknown[]> {
  const response = await fetch(
    `http://${admin.host}:${admin.port}/api/turn/sessions?user=${encodeURIComponent(user)}`,
  );
  const body = (await response.json()) as { sessions: unknown[] };
  return body.sessions;
}

function relayedOf(message: StunMessage): TransportAddress {
  const relayed = XorRelayedAddress.get(message);
  assert.ok(relayed?.ok, 'XOR-RELAYED-ADDRESS present');
  return relayed.value;
}

before(async () => {
  const starting = [startRampart({ config: SERVER_A }), startRampart({ config: SERVER_B })];
  for (const server of starting) {
    server.then(
      (running) => started.push(running),
      () => undefined,
    );
  }
  [serverA, serverB] = (await Promise.all(starting)) as [RampartInstance, RampartInstance];
  udpA = serverA.endpoint('av-edge', 'external', 'udp');
  tcpA = serverA.endpoint('av-edge', 'external', 'tcp');
  adminA = serverA.endpoint('admin', 'internal', 'http');
  udpB = serverB.endpoint('av-edge', 'external', 'udp');
  tcpB = serverB.endpoint('av-edge', 'external', 'tcp');
  // The precondition of the listener-port checks below.
  for (const listener of [udpB, tcpB]) {
    assert.ok(
      listener.port >= RELAY_B.minPort && listener.port <= RELAY_B.maxPort,
      `listener port ${listener.port} outside ${RELAY_B.minPort}-${RELAY_B.maxPort}: see ip_local_port_range`,
    );
  }
  adminB = serverB.endpoint('admin', 'internal', 'http');
  // RFC 8489 §9.2.4 (438): take a nonce now, use it once it is older than the nonce lifetime
  // (30 s). Runs alongside the other tests; the last test awaits it.
  const probe = await client(udpB);
  probe.credential = rest('stale-probe');
  const challenge = await probe.challenge();
  assert.equal(challenge.code, 401);
  staleNonceProbe = (async () => {
    await sleep(31_000);
    const stale = probe.build(STUN_METHOD.Allocate, probe.allocateAttributes());
    const answer = await probe.transact(stale.raw, stale.transactionId);
    if (answer.code !== 438 || !probe.takeChallenge(answer.message)) {
      return { code: answer.code, retry: undefined };
    }
    const fresh = probe.build(STUN_METHOD.Allocate, probe.allocateAttributes());
    const retry = await probe.transact(fresh.raw, fresh.transactionId);
    return { code: answer.code, retry: retry.code ?? 0 };
  })().catch((error: unknown) => ({ code: -1, retry: undefined, error: String(error) }));
});

after(async () => {
  await Promise.all([...clients, ...peers].map((c) => c.close()));
  await Promise.all(started.map((server) => server.stop()));
});

describe('Binding (RFC 8489 §7.3.1)', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    test(`over ${transport.toUpperCase()}: XOR-MAPPED-ADDRESS is the client's address`, async () => {
      const c = await client(transport === 'udp' ? udpA : tcpA, transport);
      const plain = bindingRequest(false);
      const response = await c.transact(plain.raw, plain.transactionId);
      assert.equal(response.message.cls, 'success');
      assert.equal(response.message.method, STUN_METHOD.Binding);
      const mapped = XorMappedAddress.get(response.message);
      assert.ok(mapped?.ok);
      assert.deepEqual(mapped.value, c.local);
      assert.equal(response.message.fingerprintOffset, undefined, 'no FINGERPRINT unasked');

      // RFC 8489 §7.3: a response to a request with FINGERPRINT carries one too.
      const withFingerprint = bindingRequest(true);
      const fingerprinted = await c.transact(withFingerprint.raw, withFingerprint.transactionId);
      assert.notEqual(fingerprinted.message.fingerprintOffset, undefined);
      assert.ok(verifyFingerprint(fingerprinted.message), 'FINGERPRINT is correct');
    });
  }
});

describe('Allocate (RFC 8656 §7)', () => {
  test('without credentials: 401 with REALM, NONCE and PASSWORD-ALGORITHMS, unsigned', async () => {
    const c = await client(udpA);
    const response = await c.challenge();
    assert.equal(response.code, 401);
    const realm = Realm.get(response.message);
    assert.ok(realm?.ok);
    assert.equal(realm.value, REALM);
    const nonce = Nonce.get(response.message);
    assert.ok(nonce?.ok && nonce.value.length > 0);
    const algorithms = PasswordAlgorithms.get(response.message);
    assert.ok(algorithms?.ok);
    assert.deepEqual(
      algorithms.value.map((entry) => entry.algorithm),
      [PASSWORD_ALGORITHM.MD5, PASSWORD_ALGORITHM.SHA256],
    );
    assert.equal(response.message.messageIntegrityOffset, undefined);
    assert.equal(response.message.messageIntegritySha256Offset, undefined);
  });

  test('with REST credentials: relayed address on the external host in the relay range', async () => {
    const c = await client(udpA);
    const response = await c.allocate(rest('relay-range'));
    assert.equal(response.code, undefined, `success, got ${String(response.code)}`);
    const relayed = relayedOf(response.message);
    assert.equal(relayed.address, '127.0.0.2');
    assert.ok(relayed.port >= 50000 && relayed.port <= 59999, `port ${relayed.port}`);
    const lifetime = Lifetime.get(response.message);
    assert.ok(lifetime?.ok);
    assert.equal(lifetime.value, 600, 'the default lifetime');
    const mapped = XorMappedAddress.get(response.message);
    assert.ok(mapped?.ok);
    assert.deepEqual(mapped.value, c.local);
    assert.ok(c.verifies(response.message), 'MESSAGE-INTEGRITY verifies with the long-term key');
    await c.refresh(0);
  });

  test('a static long-term user is accepted too', async () => {
    const c = await client(udpA);
    const response = await c.allocate({ username: 'alice', password: 'wonderland' });
    assert.equal(response.code, undefined);
    assert.ok(c.verifies(response.message));
    await c.refresh(0);
  });

  test('a retransmitted Allocate gets the same response bytes; a new one gets 437', async () => {
    const c = await client(udpA);
    c.credential = rest('retransmit');
    await c.challenge();
    const request = c.build(STUN_METHOD.Allocate, c.allocateAttributes());
    const first = await c.transact(request.raw, request.transactionId);
    assert.equal(first.code, undefined);
    const again = await c.transact(request.raw, request.transactionId);
    assert.ok(again.raw.equals(first.raw), 'byte-identical retransmission answer');
    // RFC 8656 §7.2 step 2: the 5-tuple is in use → 437, signed.
    const second = await c.allocate(c.credential);
    assert.equal(second.code, 437);
    assert.ok(c.verifies(second.message));
    await c.refresh(0);
  });

  test('per-user quota: the 4th allocation of one user gets 486', async () => {
    const credential = rest('quota');
    const holders = await Promise.all([1, 2, 3, 4].map(() => client(udpA)));
    for (const holder of holders.slice(0, 3)) {
      const ok = await holder.allocate(credential);
      assert.equal(ok.code, undefined);
    }
    const fourth = holders[3] as TurnClient;
    assert.equal((await fourth.allocate(credential)).code, 486);
    // Another user is not affected, and a freed slot is usable again.
    const other = await client(udpA);
    assert.equal((await other.allocate(rest('quota-other'))).code, undefined);
    assert.equal((await (holders[0] as TurnClient).refresh(0)).code, undefined);
    assert.equal((await fourth.allocate(credential)).code, undefined);
    for (const holder of [...holders.slice(1), other]) await holder.refresh(0);
  });

  test('an expired REST username gets 401', async () => {
    const c = await client(udpA);
    const response = await c.allocate(rest('late', -10));
    assert.equal(response.code, 401);
    assert.equal(response.message.messageIntegrityOffset, undefined);
    // The same client with a valid credential gets through: the 401 was about the expiry.
    assert.equal((await c.allocate(rest('late'))).code, undefined);
    await c.refresh(0);
  });

  test('a wrong password gets 401', async () => {
    const c = await client(udpA);
    const response = await c.allocate({ username: rest('wrong').username, password: 'nope' });
    assert.equal(response.code, 401);
    assert.equal((await c.allocate(rest('wrong'))).code, undefined);
    await c.refresh(0);
  });

  test('a forged or altered nonce gets 401 with a fresh NONCE', async () => {
    const c = await client(udpA);
    c.credential = rest('nonce');
    await c.challenge();
    const issued = c.nonce ?? '';
    const last = issued.at(-1) === 'A' ? 'B' : 'A';
    for (const forged of [`${issued.slice(0, -1)}${last}`, 'garbage-nonce']) {
      c.nonce = forged;
      const request = c.build(STUN_METHOD.Allocate, c.allocateAttributes());
      const response = await c.transact(request.raw, request.transactionId);
      assert.equal(response.code, 401, `nonce ${forged}`);
      const fresh = Nonce.get(response.message);
      assert.ok(fresh?.ok);
      assert.notEqual(fresh.value, forged);
    }
    c.nonce = issued;
    assert.equal((await c.allocate(c.credential)).code, undefined, 'the issued nonce works');
    await c.refresh(0);
  });

  test('MESSAGE-INTEGRITY-SHA256 with PASSWORD-ALGORITHM SHA-256 is accepted', async () => {
    const c = await client(udpA);
    c.credential = rest('sha256');
    await c.challenge();
    c.algorithm = 'sha256';
    const response = await c.allocate(c.credential);
    assert.equal(response.code, undefined);
    // RFC 8489 §9.2.4: the response uses the integrity the request used.
    assert.notEqual(response.message.messageIntegritySha256Offset, undefined);
    assert.equal(response.message.messageIntegrityOffset, undefined);
    assert.ok(c.verifies(response.message), 'verifies with the SHA-256 key');
    await c.refresh(0);
  });

  test('SHA-256 with an altered PASSWORD-ALGORITHMS list gets 400 (no downgrade)', async () => {
    const c = await client(udpA);
    c.credential = rest('sha256-tampered');
    await c.challenge();
    c.algorithm = 'sha256';
    c.offeredAlgorithms = [{ algorithm: PASSWORD_ALGORITHM.SHA256, parameters: Buffer.alloc(0) }];
    const response = await c.allocate(c.credential);
    assert.equal(response.code, 400);
  });

  test('REQUESTED-TRANSPORT missing gets 400, an unsupported protocol 442', async () => {
    const c = await client(udpA);
    assert.equal((await c.allocate(rest('transport'), { noRequestedTransport: true })).code, 400);
    // RFC 8656 §7.2 step 3: a protocol the server does not relay (SCTP, 132) → 442.
    assert.equal((await c.allocate(rest('transport'), { protocol: 132 })).code, 442);
    // RFC 6062 §5.1: TCP (6) needs a TCP or TLS control connection; over UDP → 400.
    assert.equal((await c.allocate(rest('transport'), { protocol: 6 })).code, 400);
    // Nothing was allocated by the refusals.
    assert.equal((await c.allocate(rest('transport'))).code, undefined);
    await c.refresh(0);
  });

  test('DONT-FRAGMENT gets 420 listing it in UNKNOWN-ATTRIBUTES', async () => {
    const c = await client(udpA);
    const response = await c.allocate(rest('df'), { attributes: [DontFragment.of()] });
    assert.equal(response.code, 420);
    const unknown = UnknownAttributes.get(response.message);
    assert.ok(unknown?.ok);
    assert.deepEqual(unknown.value, [STUN_ATTR.DONT_FRAGMENT]);
  });

  test('an unknown comprehension-required attribute: 401 before auth, 420 after', async () => {
    const c = await client(udpA);
    const attribute = rawAttribute(UNKNOWN_REQUIRED_ATTRIBUTE, Buffer.from('abcd'));
    const unsigned = c.build(STUN_METHOD.Allocate, [...c.allocateAttributes(), attribute], {
      authenticate: false,
    });
    const challenged = await c.transact(unsigned.raw, unsigned.transactionId);
    assert.equal(challenged.code, 401, 'no attribute is reflected to an unauthenticated sender');
    assert.equal(UnknownAttributes.get(challenged.message), undefined);
    c.takeChallenge(challenged.message);
    const response = await c.allocate(rest('unknown-attr'), { attributes: [attribute] });
    assert.equal(response.code, 420);
    const unknown = UnknownAttributes.get(response.message);
    assert.ok(unknown?.ok);
    assert.deepEqual(unknown.value, [UNKNOWN_REQUIRED_ATTRIBUTE]);
    assert.ok(c.verifies(response.message));
    // A comprehension-optional one is ignored.
    const optional = rawAttribute(0x8031, Buffer.from('abcd'));
    assert.equal(
      (await c.allocate(rest('unknown-attr'), { attributes: [optional] })).code,
      undefined,
    );
    await c.refresh(0);
  });

  test('EVEN-PORT gives an even port; with R a RESERVATION-TOKEN that redeems port + 1', async () => {
    const plain = await client(udpA);
    const even = await plain.allocate(rest('even'), {
      attributes: [EvenPort.of({ reserveNext: false })],
    });
    assert.equal(even.code, undefined);
    assert.equal(relayedOf(even.message).port % 2, 0);
    assert.equal(ReservationToken.get(even.message), undefined, 'no token without R');

    const reserving = await client(udpA);
    const reserved = await reserving.allocate(rest('even'), {
      attributes: [EvenPort.of({ reserveNext: true })],
    });
    assert.equal(reserved.code, undefined);
    const port = relayedOf(reserved.message).port;
    assert.equal(port % 2, 0);
    const token = ReservationToken.get(reserved.message);
    assert.ok(token?.ok, 'RESERVATION-TOKEN present');

    const redeeming = await client(udpA);
    const redeemed = await redeeming.allocate(rest('even-next'), {
      attributes: [ReservationToken.of(token.value)],
    });
    assert.equal(redeemed.code, undefined);
    assert.equal(relayedOf(redeemed.message).port, port + 1);
    for (const c of [plain, reserving, redeeming]) await c.refresh(0);
  });

  test('Refresh: LIFETIME within the maximum is granted, below the default gets the default', async () => {
    const c = await client(udpA);
    await c.mustAllocate(rest('refresh'));
    // RFC 8656 §8.2: min(requested, maximum) if that exceeds the default, else the default.
    for (const [asked, granted] of [
      [1200, 1200],
      [300, 600],
      [86_400, 3600],
    ] as const) {
      const refreshed = await c.refresh(asked);
      assert.equal(refreshed.code, undefined);
      const lifetime = Lifetime.get(refreshed.message);
      assert.ok(lifetime?.ok);
      assert.equal(lifetime.value, granted, `asked ${asked}`);
      assert.ok(c.verifies(refreshed.message));
    }
    await c.refresh(0);
  });
});

describe('Relay (RFC 8656 §9–§12)', () => {
  test('Send indication reaches the peer; its answer comes back as a Data indication', async () => {
    const c = await client(udpA);
    const p = await peer();
    const { relayed } = await c.mustAllocate(rest('send'));
    assert.equal((await c.createPermission(p.address)).code, undefined);
    c.sendIndication(p.address, Buffer.from('hello peer'));
    const atPeer = await p.next(2000);
    assert.ok(atPeer, 'the peer received the data');
    assert.equal(atPeer.data.toString(), 'hello peer');
    assert.deepEqual(atPeer.from, relayed, 'sent from the relayed address');

    p.send(Buffer.from('hello client'), relayed);
    const data = await c.nextDataIndication(2000);
    assert.ok(data, 'a Data indication arrived');
    assert.equal(data.data.toString(), 'hello client');
    assert.deepEqual(data.peer, p.address, 'XOR-PEER-ADDRESS is the peer');
    await c.refresh(0);
  });

  for (const transport of ['udp', 'tcp'] as const) {
    test(`ChannelBind, then ChannelData both ways (client over ${transport.toUpperCase()})`, async () => {
      const c = await client(transport === 'udp' ? udpA : tcpA, transport);
      const p = await peer();
      const { relayed } = await c.mustAllocate(rest(`channel-${transport}`));
      const channel = 0x4001;
      assert.equal((await c.channelBind(channel, p.address)).code, undefined);
      // Five bytes: over TCP the ChannelData is padded to eight (RFC 8656 §12.5).
      c.sendChannelData(channel, Buffer.from('media'));
      const atPeer = await p.next(2000);
      assert.ok(atPeer);
      assert.equal(atPeer.data.toString(), 'media', 'no padding reaches the peer');
      assert.deepEqual(atPeer.from, relayed);

      p.send(Buffer.from('back!'), relayed);
      const back = await c.nextChannelData(2000);
      assert.ok(back, 'ChannelData, not a Data indication, once a channel is bound');
      assert.equal(back.channel, channel);
      assert.equal(back.data.toString(), 'back!');
      await c.refresh(0);
    });
  }

  test('a peer without permission is not relayed, either way', async () => {
    const c = await client(udpA);
    const allowed = await peer('127.0.0.1');
    const stranger = await peer('127.0.0.9');
    const { relayed } = await c.mustAllocate(rest('no-permission'));
    assert.equal((await c.createPermission(allowed.address)).code, undefined);
    const before = metricValue(await fetchMetrics(adminA), 'rampart_turn_relay_dropped_total', {
      side: 'external',
      reason: 'no-permission',
    });

    stranger.send(Buffer.from('let me in'), relayed);
    allowed.send(Buffer.from('allowed'), relayed);
    const data = await c.nextDataIndication(2000);
    assert.ok(data);
    assert.equal(data.data.toString(), 'allowed', 'the stranger datagram was dropped');
    assert.equal(await c.nextDataIndication(QUIET_MS), undefined);
    const afterDrops = metricValue(await fetchMetrics(adminA), 'rampart_turn_relay_dropped_total', {
      side: 'external',
      reason: 'no-permission',
    });
    assert.equal(afterDrops - before, 1, 'the drop is counted');

    // RFC 8656 §11.2: a Send indication to a peer without permission is discarded.
    c.sendIndication(stranger.address, Buffer.from('to the stranger'));
    assert.equal(await stranger.next(QUIET_MS), undefined);
    await c.refresh(0);
  });

  test('ChannelData on an unbound channel is dropped', async () => {
    const c = await client(udpA);
    const p = await peer();
    await c.mustAllocate(rest('unbound'));
    assert.equal((await c.channelBind(0x4001, p.address)).code, undefined);
    const dropped = async (): Promise<number> =>
      metricValue(await fetchMetrics(adminA), 'rampart_turn_relay_dropped_total', {
        side: 'external',
        reason: 'no-permission',
      });
    const droppedBefore = await dropped();
    c.sendChannelData(0x4002, Buffer.from('unbound'));
    c.sendChannelData(0x4001, Buffer.from('bound'));
    const first = await p.next(2000);
    assert.ok(first);
    assert.equal(first.data.toString(), 'bound');
    assert.equal(await p.next(QUIET_MS), undefined);
    assert.equal((await dropped()) - droppedBefore, 1, 'the drop is counted');
    await c.refresh(0);
  });

  test('Refresh with LIFETIME 0 deletes the allocation and closes its relay port', async () => {
    const c = await client(udpA);
    const p = await peer();
    const { relayed } = await c.mustAllocate(rest('delete'));
    assert.equal((await c.createPermission(p.address)).code, undefined);
    p.send(Buffer.from('before'), relayed);
    assert.equal((await c.nextDataIndication(2000))?.data.toString(), 'before');

    const deleted = await c.refresh(0);
    assert.equal(deleted.code, undefined);
    const lifetime = Lifetime.get(deleted.message);
    assert.ok(lifetime?.ok);
    assert.equal(lifetime.value, 0);
    p.send(Buffer.from('after'), relayed);
    assert.equal(await c.nextDataIndication(QUIET_MS), undefined, 'nothing relayed any more');
    // RFC 8656 §8.2: no allocation on the 5-tuple any more → 437.
    assert.equal((await c.refresh(600)).code, 437);
    const again = await c.mustAllocate(rest('delete'));
    assert.equal(again.relayed.address, '127.0.0.2');
    await c.refresh(0);
  });
});

describe('Memory after a burst of ended allocations', () => {
  test('one memory-reducing collection once the burst is over, counted in the metrics', async () => {
    const count = async (): Promise<number> =>
      metricValue(await fetchMetrics(adminB), 'rampart_heap_reclaim_seconds_count');
    const before = await count();
    const burst = await Promise.all(Array.from({ length: 6 }, () => client(udpB)));
    await Promise.all(burst.map((c, i) => c.mustAllocate(rest(`burst-${String(i)}`))));
    // Live allocations alone never trigger it.
    await sleep(400);
    assert.equal(await count(), before);
    for (const c of burst) assert.equal((await c.refresh(0)).code, undefined);
    await waitUntil(
      async () => (await count()) > before,
      5000,
      () => 'no heap reclaim',
    );
    const metrics = await fetchMetrics(adminB);
    assert.ok(metricValue(metrics, 'rampart_heap_reclaim_seconds_sum') > 0);
    assert.match(serverB.process.stderr(), /"event":"heap-reclaim"/);
  });
});

describe('Allocations over TCP (RFC 8656 §3.1)', () => {
  test('closing the control connection ends the allocation', async () => {
    const user = 'tcp-closer';
    const c = await client(tcpA, 'tcp');
    await c.mustAllocate(rest(user));
    assert.equal((await sessionsOf(adminA, user)).length, 1);
    await c.close();
    await waitUntil(
      async () => (await sessionsOf(adminA, user)).length === 0,
      3000,
      () => 'the allocation outlived its TCP connection',
    );
  });
});

describe('Peer policy: the relay is no SSRF proxy (server without allowLoopback)', () => {
  const targets = (): { name: string; peer: TransportAddress }[] => [
    { name: 'loopback', peer: { family: 4, address: '127.0.0.1', port: 5000 } },
    { name: 'IPv4-mapped loopback', peer: { family: 6, address: '::ffff:127.0.0.1', port: 5000 } },
    { name: 'unspecified', peer: { family: 4, address: '0.0.0.0', port: 5000 } },
    { name: 'RFC 1918 10/8', peer: { family: 4, address: '10.0.0.1', port: 5000 } },
    { name: 'cloud metadata', peer: { family: 4, address: '169.254.169.254', port: 80 } },
    { name: 'multicast', peer: { family: 4, address: '224.0.0.1', port: 5000 } },
    { name: 'broadcast', peer: { family: 4, address: '255.255.255.255', port: 5000 } },
    { name: 'RFC 1918 192.168/16', peer: { family: 4, address: '192.168.1.1', port: 5000 } },
    // The listeners' ports lie inside the relay range: refused all the same.
    {
      name: "the server's own UDP listener",
      peer: { family: 4, address: udpB.host, port: udpB.port },
    },
    {
      name: "the server's own TCP listener",
      peer: { family: 4, address: tcpB.host, port: tcpB.port },
    },
    {
      name: "the server's own address, a port outside the relay range",
      peer: { family: 4, address: udpB.host, port: 8080 },
    },
  ];

  test('every special-purpose target gets 403 in CreatePermission and ChannelBind', async () => {
    const user = 'ssrf-prober';
    const credential = rest(user);
    const c = await client(udpB);
    await c.mustAllocate(credential);
    const metricsBefore = await fetchMetrics(adminB);
    const deniedBefore = metricValue(metricsBefore, 'rampart_turn_denied_peers_total');
    const ownBefore = metricValue(metricsBefore, 'rampart_turn_denied_peers_total', {
      reason: 'own-address-port',
    });
    const list = targets();
    let channel = 0x4000;
    for (const { name, peer: target } of list) {
      assert.equal((await c.createPermission(target)).code, 403, `CreatePermission ${name}`);
      assert.equal((await c.channelBind(channel++, target)).code, 403, `ChannelBind ${name}`);
    }
    const metricsAfter = await fetchMetrics(adminB);
    const deniedAfter = metricValue(metricsAfter, 'rampart_turn_denied_peers_total');
    assert.equal(deniedAfter - deniedBefore, list.length * 2, 'every refusal is counted');
    const ownAfter = metricValue(metricsAfter, 'rampart_turn_denied_peers_total', {
      reason: 'own-address-port',
    });
    assert.equal(ownAfter - ownBefore, 6, 'own address at a non-relay port: its own reason');
    // Labels carry sides and reasons, never who asked.
    const lines = metricsAfter.split('\n').filter((l) => l.startsWith('rampart_turn_'));
    assert.ok(lines.length > 0);
    for (const line of lines) {
      assert.doesNotMatch(line, /user/i, line);
      assert.ok(!line.includes(user), line);
    }
    await c.refresh(0);
  });

  test("the server's own address at a relay port is allowed: allocations reach each other", async () => {
    const a = await client(udpB);
    const b = await client(udpB);
    const relayedA = (await a.mustAllocate(rest('own-a'))).relayed;
    const relayedB = (await b.mustAllocate(rest('own-b'))).relayed;
    assert.equal(relayedA.address, udpB.host);
    assert.equal((await a.createPermission(relayedB)).code, undefined);
    assert.equal((await b.createPermission(relayedA)).code, undefined);
    a.sendIndication(relayedB, Buffer.from('hairpin'));
    const data = await b.nextDataIndication(2000);
    assert.ok(data, 'relayed from one allocation to the other');
    assert.equal(data.data.toString(), 'hairpin');
    assert.deepEqual(data.peer, relayedA);
    // A public address is not refused by default.
    const publicPeer = { family: 4 as const, address: '1.1.1.1', port: 3478 };
    assert.equal((await a.createPermission(publicPeer)).code, undefined);
    await a.refresh(0);
    await b.refresh(0);
  });
});

describe('Peer policy on Send indications', () => {
  test("Send indications reach neither the server's listeners nor its non-relay ports", async () => {
    const c = await client(udpB);
    // A permission is per IP address (RFC 8656 §9): granted for the own address at a relay
    // port, it must not open the server's own listeners to Send indications.
    const ownRelayPort = (await c.mustAllocate(rest('send-ssrf'))).relayed;
    assert.equal(ownRelayPort.address, udpB.host);
    assert.equal((await c.createPermission(ownRelayPort)).code, undefined);
    const deniedBefore = metricValue(
      await fetchMetrics(adminB),
      'rampart_turn_denied_peers_total',
      {
        reason: 'own-address-port',
      },
    );
    // A Binding request to the server's own STUN listener: if it got there, the answer would
    // come back to the relay and on to the client as a Data indication.
    const listener = { family: 4 as const, address: udpB.host, port: udpB.port };
    c.sendIndication(listener, bindingRequest().raw);
    assert.equal(
      await c.nextDataIndication(QUIET_MS * 2),
      undefined,
      'nothing reached the listener',
    );
    const deniedAfter = metricValue(await fetchMetrics(adminB), 'rampart_turn_denied_peers_total', {
      reason: 'own-address-port',
    });
    assert.equal(deniedAfter - deniedBefore, 1, 'the refusal is counted');

    // A socket of ours on the server's address, below the relay range.
    let below: UdpPeer | undefined;
    for (let port = RELAY_B.minPort - 100; below === undefined && port < RELAY_B.minPort; port++) {
      below = await UdpPeer.open(udpB.host, port).catch(() => undefined);
    }
    assert.ok(below, 'a port below the relay range is free');
    peers.push(below);
    c.sendIndication(below.address, Buffer.from('outside the relay range'));
    assert.equal(await below.next(QUIET_MS), undefined, 'nothing sent outside the relay range');
    await c.refresh(0);
  });
});

describe('Strict expiry of REST credentials', () => {
  test('an allocation ends when the REST username that made it expires', async () => {
    const user = 'expiring';
    const c = await client(udpA);
    const { lifetime } = await c.mustAllocate(rest(user, 3));
    assert.ok(lifetime <= 3, `lifetime capped by the credential: ${lifetime}`);
    // Asking for more does not outlive the credential either.
    assert.equal((await c.refresh(600)).code, undefined);
    assert.equal((await sessionsOf(adminA, user)).length, 1);
    // Another user's credential on this 5-tuple: 441 while the allocation lives.
    c.credential = rest('expiring-probe');
    assert.equal((await c.refresh(600)).code, 441);

    await waitUntil(
      async () => (await sessionsOf(adminA, user)).length === 0,
      8000,
      () => 'the allocation outlived its credential',
      200,
    );
    // No allocation on the 5-tuple any more.
    assert.equal((await c.refresh(600)).code, 437);
  });
});

describe('Nonce lifetime', () => {
  test('a nonce older than its lifetime gets 438 with a new NONCE that works', async () => {
    const outcome = await staleNonceProbe;
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.code, 438);
    assert.equal(outcome.retry, 0, 'the retry with the fresh nonce succeeds');
  });
});

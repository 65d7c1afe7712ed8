// Hostile input against the A/V Edge on real sockets: truncated attributes, lying length
// fields, oversized and garbage datagrams, a flood of unauthenticated Allocates, idle TCP
// connections, 2000 random datagrams. The server must stay up, keep its memory, keep its
// answers small and rate-limited (no reflection amplifier), and keep answering Binding.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  encodeStun,
  MAGIC_COOKIE,
  newTransactionId,
  rawAttribute,
  RequestedTransport,
  STUN_METHOD,
  TRANSPORT_PROTOCOL,
  XorMappedAddress,
} from '../../src/codec/stun/index.ts';
import type { Endpoint } from '../../src/lib/endpoint.ts';
import { sleep } from '../helpers/process.ts';
import { startRampart, type RampartInstance } from '../helpers/rampart.ts';
import {
  bindingRequest,
  errorCodeOf,
  fetchMetrics,
  metricValue,
  restCredential,
  TurnClient,
} from '../helpers/turn-client.ts';

const SECRET = '0123456789abcdef0123';
const QUIET_MS = 300;
/** What a 401 may add to the request it answers (REALM, NONCE, PASSWORD-ALGORITHMS...). */
const CHALLENGE_OVERHEAD_BYTES = 160;
/** The flood comes from its own source address, so it drains nobody else's challenge budget. */
const FLOOD_SOURCE = '127.0.0.8';
/** The invalid-Binding flood's own source, for the same reason. */
const INVALID_FLOOD_SOURCE = '127.0.0.9';
const CHALLENGES_PER_SECOND = 20;

const CONFIG = {
  'access-edge': { enabled: false },
  'av-edge': {
    realm: 'example.test',
    external: { host: '127.0.0.6', tls: null },
    internal: { host: '127.0.0.7' },
    auth: { secrets: [SECRET] },
    peers: { allowLoopback: true },
    limits: { allocateTimeoutMs: 500, challengesPerSecondPerSource: CHALLENGES_PER_SECOND },
  },
};

let rampart: RampartInstance;
let udp: Endpoint;
let tcp: Endpoint;
let admin: Endpoint;
const clients: TurnClient[] = [];

async function client(
  transport: 'udp' | 'tcp' = 'udp',
  localAddress = '127.0.0.1',
): Promise<TurnClient> {
  const endpoint = transport === 'udp' ? udp : tcp;
  const opened = await TurnClient.open(
    { host: endpoint.host, port: endpoint.port },
    { transport, localAddress },
  );
  clients.push(opened);
  return opened;
}

/** Asserts the server is alive and answers a Binding request from a fresh socket. */
async function assertAnswersBinding(transport: 'udp' | 'tcp' = 'udp'): Promise<void> {
  assert.equal(rampart.process.hasExited, false, 'the server process is alive');
  const c = await client(transport);
  const { raw, transactionId } = bindingRequest();
  const response = await c.transact(raw, transactionId);
  assert.equal(response.message.cls, 'success');
  const mapped = XorMappedAddress.get(response.message);
  assert.ok(mapped?.ok);
  assert.deepEqual(mapped.value, c.local);
  await c.close();
}

/** A 20-byte STUN header: `method` request, declared body `length`. */
function header(length: number, method: number = STUN_METHOD.Binding): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16BE(method & 0x000f, 0); // request class, methods up to 0xf
  b.writeUInt16BE(length, 2);
  b.writeUInt32BE(MAGIC_COOKIE, 4);
  newTransactionId().copy(b, 8);
  return b;
}

function unauthenticatedAllocate(extra?: Buffer): Buffer {
  return encodeStun({
    method: STUN_METHOD.Allocate,
    cls: 'request',
    transactionId: newTransactionId(),
    attributes: [
      RequestedTransport.of(TRANSPORT_PROTOCOL.UDP),
      ...(extra === undefined ? [] : [rawAttribute(0x8022, extra)]),
    ],
  });
}

function rssKilobytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  assert.ok(match, 'VmRSS in /proc/<pid>/status');
  return Number(match[1]);
}

/** xorshift32: reproducible "random" input. */
function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

/** What `after` stops: whatever `before` got to start. */
const started: RampartInstance[] = [];

before(async () => {
  rampart = await startRampart({ config: CONFIG });
  started.push(rampart);
  udp = rampart.endpoint('av-edge', 'external', 'udp');
  tcp = rampart.endpoint('av-edge', 'external', 'tcp');
  admin = rampart.endpoint('admin', 'internal', 'http');
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(started.map((server) => server.stop()));
});

describe('A/V Edge under hostile input', () => {
  test('a truncated attribute: 400 to a Binding, then business as usual', async () => {
    const c = await client();
    // SOFTWARE claims 40 bytes of value; the message has 4.
    const message = Buffer.concat([
      header(8),
      Buffer.from([0x80, 0x22, 0x00, 0x28]),
      Buffer.from('abcd'),
    ]);
    const transactionId = message.subarray(8, 20);
    const response = await c.transact(message, Buffer.from(transactionId));
    assert.equal(response.message.cls, 'error');
    assert.equal(errorCodeOf(response.message), 400);
    await assertAnswersBinding();
  });

  test('lying length fields are dropped without an answer', async () => {
    const c = await client();
    const before = metricValue(await fetchMetrics(admin), 'rampart_turn_dropped_total', {
      reason: 'not-stun',
    });
    const lies = [
      // Declares 100 bytes, carries 8.
      Buffer.concat([header(100), Buffer.alloc(8)]),
      // Declares 0 bytes, carries 8 more.
      Buffer.concat([header(0), Buffer.alloc(8)]),
      // Not a multiple of 4.
      Buffer.concat([header(6), Buffer.alloc(6)]),
      // Allocate declaring 64 KiB, carrying 4 bytes.
      Buffer.concat([header(0xfffc, STUN_METHOD.Allocate), Buffer.alloc(4)]),
    ];
    for (const lie of lies) c.sendRaw(lie);
    assert.equal(await c.waitFor(() => true, QUIET_MS), undefined, 'no answer to a lie');
    const afterLies = metricValue(await fetchMetrics(admin), 'rampart_turn_dropped_total', {
      reason: 'not-stun',
    });
    assert.equal(afterLies - before, lies.length, 'each lie is counted as a drop');
    await assertAnswersBinding();
  });

  test('oversized input: a 60 kB datagram gets a small answer, a 64 kB TCP frame a close', async () => {
    const c = await client();
    const big = encodeStun({
      method: STUN_METHOD.Binding,
      cls: 'request',
      transactionId: newTransactionId(),
      // Comprehension-optional: ignored, so the request is valid.
      attributes: [rawAttribute(0x8055, Buffer.alloc(60_000, 0x41))],
    });
    const response = await c.transact(big, big.subarray(8, 20));
    assert.equal(response.message.cls, 'success');
    assert.ok(response.raw.length <= 64, `answer of ${response.raw.length} bytes`);
    c.sendRaw(Buffer.alloc(65_000, 0xee));

    const stream = await client('tcp');
    stream.sendRaw(header(0xfffc));
    // Closed at once, not by the allocate timeout (500 ms).
    assert.ok(await stream.waitClosed(300), 'a frame over the limit closes the connection');
    await assertAnswersBinding('tcp');
  });

  test('garbage bytes, stray responses and ChannelData without allocation: dropped', async () => {
    const c = await client();
    const response = encodeStun({
      method: STUN_METHOD.Binding,
      cls: 'success',
      transactionId: newTransactionId(),
      attributes: [],
    });
    const garbage = [
      Buffer.alloc(0),
      Buffer.from([0xff]),
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from([0x40, 0x01, 0x00, 0x04, 1, 2, 3, 4]),
      Buffer.from([0x7f, 0xff, 0xff, 0xff]),
      response,
      Buffer.alloc(1500, 0),
    ];
    for (const bytes of garbage) c.sendRaw(bytes);
    assert.equal(await c.waitFor(() => true, QUIET_MS), undefined, 'garbage gets no answer');

    const stream = await client('tcp');
    stream.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    assert.ok(await stream.waitClosed(300), 'a stream that is neither STUN nor ChannelData');
    await assertAnswersBinding();
    await assertAnswersBinding('tcp');
  });

  test('401 answers are small whatever the request size', async (t) => {
    const c = await client();
    for (const extra of [undefined, Buffer.alloc(1200, 0x61)]) {
      const request = unauthenticatedAllocate(extra);
      const response = await c.transact(request, request.subarray(8, 20));
      assert.equal(errorCodeOf(response.message), 401);
      const small = unauthenticatedAllocate().length;
      assert.ok(
        response.raw.length <= small + CHALLENGE_OVERHEAD_BYTES,
        `401 of ${response.raw.length} bytes to a ${request.length}-byte request`,
      );
      t.diagnostic(`401 of ${response.raw.length} bytes to a ${request.length}-byte request`);
    }
  });

  test('401 answers are rate-limited per source: 200 Allocates get far fewer answers', async (t) => {
    const flooder = await client('udp', FLOOD_SOURCE);
    const metricsBefore = await fetchMetrics(admin);
    for (let i = 0; i < 200; i++) flooder.sendRaw(unauthenticatedAllocate());
    await sleep(1000);
    const answers = flooder.drain().filter((r) => r.stun?.method === STUN_METHOD.Allocate);
    t.diagnostic(`${answers.length} answers to 200 unauthenticated Allocates`);
    assert.ok(answers.length >= 1, 'the first ones are answered');
    assert.ok(
      answers.length <= CHALLENGES_PER_SECOND * 2 + 5,
      `${answers.length} answers to 200 requests`,
    );
    const rateLimited =
      metricValue(await fetchMetrics(admin), 'rampart_turn_dropped_total', {
        reason: 'rate-limited',
      }) - metricValue(metricsBefore, 'rampart_turn_dropped_total', { reason: 'rate-limited' });
    assert.equal(rateLimited, 200 - answers.length, 'every unanswered request is counted');
    // Another source is unaffected, and Binding is never rate-limited.
    const other = await client();
    const challenge = await other.challenge();
    assert.equal(challenge.code, 401);
    const { raw, transactionId } = bindingRequest();
    assert.equal((await flooder.transact(raw, transactionId)).message.cls, 'success');
  });

  test('400 and 420 answers share the per-source budget: 200 invalid Bindings, few answers', async (t) => {
    const flooder = await client('udp', INVALID_FLOOD_SOURCE);
    const metricsBefore = await fetchMetrics(admin);
    const invalid = (i: number): Buffer =>
      i % 2 === 0
        ? // SOFTWARE claims 40 bytes of value; the message has 4: 400.
          Buffer.concat([header(8), Buffer.from([0x80, 0x22, 0x00, 0x28]), Buffer.from('abcd')])
        : // An unknown comprehension-required attribute: 420.
          encodeStun({
            method: STUN_METHOD.Binding,
            cls: 'request',
            transactionId: newTransactionId(),
            attributes: [rawAttribute(0x0031, Buffer.alloc(4))],
          });
    for (let i = 0; i < 200; i++) flooder.sendRaw(invalid(i));
    await sleep(1000);
    const answers = flooder.drain().filter((r) => r.stun?.cls === 'error');
    t.diagnostic(`${answers.length} answers to 200 invalid Binding requests`);
    assert.ok(answers.length >= 1, 'the first ones are answered');
    assert.ok(
      answers.length <= CHALLENGES_PER_SECOND * 2 + 5,
      `${answers.length} answers to 200 requests`,
    );
    const codes = new Set(answers.map((r) => (r.stun === undefined ? 0 : errorCodeOf(r.stun))));
    assert.ok(
      [...codes].every((code) => code === 400 || code === 420),
      [...codes].join(','),
    );
    const rateLimited =
      metricValue(await fetchMetrics(admin), 'rampart_turn_dropped_total', {
        reason: 'rate-limited',
      }) - metricValue(metricsBefore, 'rampart_turn_dropped_total', { reason: 'rate-limited' });
    assert.equal(rateLimited, 200 - answers.length, 'every unanswered request is counted');
    // A valid Binding from the same source is still answered: only errors are budgeted.
    const { raw, transactionId } = bindingRequest();
    assert.equal((await flooder.transact(raw, transactionId)).message.cls, 'success');
  });

  test('a TCP connection that does not allocate is closed after allocateTimeoutMs', async (t) => {
    const idle = await client('tcp');
    const started = Date.now();
    assert.ok(await idle.waitClosed(3000), 'closed');
    const elapsed = Date.now() - started;
    t.diagnostic(`idle connection closed after ${elapsed} ms`);
    assert.ok(elapsed >= 400, `closed after ${elapsed} ms, not before the timeout`);

    // A connection holding an allocation is kept.
    const holder = await client('tcp');
    await holder.mustAllocate(restCredential(SECRET, 'tcp-holder', 3600));
    await sleep(1000);
    assert.equal(holder.connectionClosed, false, 'an allocation keeps the connection');
    const { raw, transactionId } = bindingRequest();
    assert.equal((await holder.transact(raw, transactionId)).message.cls, 'success');
    await holder.refresh(0);
  });

  test('2000 random datagrams: alive, bounded memory, Binding still answered', async (t) => {
    const pid = rampart.process.pid;
    const senders = await Promise.all([1, 2, 3, 4].map(() => client()));
    const next = prng(0x5eed);
    const datagram = (): Buffer => {
      const kind = next() % 4;
      const length = 4 * (next() % 300);
      const body = Buffer.alloc(length);
      for (let i = 0; i < length; i += 4) body.writeUInt32BE(next(), i);
      if (kind === 0) return body; // anything
      if (kind === 1) {
        // A valid STUN header around random attributes: the decoder's path.
        const methods = [STUN_METHOD.Binding, STUN_METHOD.Allocate, STUN_METHOD.Refresh];
        return Buffer.concat([header(length, methods[next() % methods.length]), body]);
      }
      if (kind === 2) {
        // ChannelData-shaped.
        const cd = Buffer.alloc(4);
        cd.writeUInt16BE(0x4000 | (next() & 0x3fff), 0);
        cd.writeUInt16BE(next() & 0xffff, 2);
        return Buffer.concat([cd, body]);
      }
      // A valid header with a lying length.
      return Buffer.concat([header((next() & 0xfffc) | 4), body]);
    };
    // Warm up so lazily built structures are counted in the baseline.
    for (let i = 0; i < 200; i++) (senders[i % 4] as TurnClient).sendRaw(datagram());
    await sleep(300);
    const rssBefore = rssKilobytes(pid);
    const seen = (metrics: string): number =>
      metricValue(metrics, 'rampart_turn_dropped_total') +
      metricValue(metrics, 'rampart_turn_requests_total');
    const seenBefore = seen(await fetchMetrics(admin));
    for (let batch = 0; batch < 20; batch++) {
      for (let i = 0; i < 100; i++) (senders[i % 4] as TurnClient).sendRaw(datagram());
      await sleep(10);
    }
    await sleep(500);
    assert.equal(rampart.process.hasExited, false);
    // Every datagram is either dropped (and counted) or a request (counted): the server did
    // look at them all (a few may be lost in socket buffers).
    const looked = seen(await fetchMetrics(admin)) - seenBefore;
    t.diagnostic(`${looked} of 2000 datagrams counted`);
    assert.ok(looked >= 1900, `${looked} of 2000 datagrams reached the server`);
    const growthKb = rssKilobytes(pid) - rssBefore;
    t.diagnostic(`RSS ${rssBefore} kB before, grew by ${growthKb} kB`);
    assert.ok(growthKb < 32 * 1024, `RSS grew by ${growthKb} kB`);
    await assertAnswersBinding();
  });
  test('a million random datagrams: alive, bounded memory, Binding still answered', async (t) => {
    const pid = rampart.process.pid;
    const senders = await Promise.all([1, 2, 3, 4].map(() => client()));
    const next = prng(0xfeed);
    // A pool of random datagrams of every shape, sent round-robin: the bytes vary, the cost
    // of making them does not dominate the run.
    const pool = Array.from({ length: 1024 }, () => {
      const body = Buffer.alloc(4 * (next() % 64));
      for (let i = 0; i < body.length; i += 4) body.writeUInt32BE(next(), i);
      if (body.length >= 4 && next() % 2 === 0) body.writeUInt32BE(MAGIC_COOKIE, 0);
      return body;
    });
    const rssBefore = rssKilobytes(pid);
    const total = 1_000_000;
    const deadline = Date.now() + 60_000;
    let sent = 0;
    while (sent < total && Date.now() < deadline) {
      for (let i = 0; i < 2000; i++, sent++) {
        (senders[sent % 4] as TurnClient).sendRaw(pool[sent % pool.length] as Buffer);
      }
      // Let the sockets drain: the flood is bounded in count and time, not in rate.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await sleep(500);
    t.diagnostic(`${sent} datagrams sent`);
    assert.equal(sent, total, 'the flood did not finish within 60 s');
    assert.equal(rampart.process.hasExited, false);
    const growthKb = rssKilobytes(pid) - rssBefore;
    t.diagnostic(`RSS ${rssBefore} kB before, grew by ${growthKb} kB`);
    assert.ok(growthKb < 64 * 1024, `RSS grew by ${growthKb} kB`);
    await assertAnswersBinding();
  });
});

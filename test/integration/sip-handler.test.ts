// The engine's request-handler hook on real sockets: a request answered here (with a body and
// a To tag), a challenge answered statelessly (RFC 3261 §8.2.7), a request forked to a flow a UA registered on with header edits, a request the
// service originates over that flow, 430 Flow Failed once the flow is gone, 500 when the
// handler throws.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { connect, type Socket as TcpSocket } from 'node:net';
import { header, parseSipMessage } from '../../src/codec/sip/parse.ts';
import type { SipMessage, SipRequest } from '../../src/codec/sip/message.ts';
import { buildResponse, serializeRequest } from '../../src/codec/sip/serialize.ts';
import { SipStreamFramer } from '../../src/codec/sip/stream-framer.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import type { RequestDecision } from '../../src/runtime/sip/handler.ts';
import { SipProxyEngine, type ProxyListener } from '../../src/runtime/sip/proxy-engine.ts';
import { SipTransportLayer, type Flow } from '../../src/transport/index.ts';

let transport: SipTransportLayer;
let engine: SipProxyEngine;
let udpPort = 0;
let tcpPort = 0;
let bobFlow: Flow | undefined;
const seen: SipRequest[] = [];

function decide(request: SipRequest, flow: Flow): RequestDecision {
  seen.push(request);
  if (request.method === 'REGISTER') {
    bobFlow = flow;
    return {
      kind: 'respond',
      status: 200,
      headers: [['Contact', header(request, 'contact') ?? '*']],
      body: Buffer.from('registered'),
      toTag: 'reg-tag',
    };
  }
  if (request.method === 'OPTIONS') throw new Error('handler bug');
  if (request.method === 'PUBLISH' || request.method === 'INVITE') {
    return {
      kind: 'respond',
      status: 401,
      headers: [['WWW-Authenticate', `Digest realm="example.test", nonce="n${seen.length}"`]],
      stateless: true,
    };
  }
  if (request.method === 'MESSAGE') {
    if (bobFlow === undefined) return { kind: 'respond', status: 480 };
    return {
      kind: 'fork',
      targets: [{ uri: 'sip:bob@127.0.0.1:1;transport=tcp', flow: bobFlow }],
      edits: { remove: ['X-Secret'], add: [['P-Asserted-Identity', '<sip:alice@example.test>']] },
    };
  }
  return { kind: 'respond', status: 405 };
}

before(async () => {
  transport = new SipTransportLayer({ logger: silentLogger });
  const udp = await transport.listenUdp({ host: '127.0.0.1', port: 0 });
  const tcp = await transport.listenTcp({ host: '127.0.0.1', port: 0 });
  udpPort = udp.local.port;
  tcpPort = tcp.local.port;
  const listeners: ProxyListener[] = [
    { listenerId: udp.id, transport: 'udp', host: '127.0.0.1', port: udpPort },
    { listenerId: tcp.id, transport: 'tcp', host: '127.0.0.1', port: tcpPort },
  ];
  engine = new SipProxyEngine({
    transport,
    listeners,
    routes: [],
    recordRoute: true,
    logger: silentLogger,
    handler: ({ request, flow }) => decide(request, flow),
  });
});

after(async () => {
  engine.close();
  await transport.close();
});

function request(method: string, via: string, extra: [string, string][] = []): Buffer {
  return serializeRequest({
    method,
    requestUri: 'sip:bob@example.test',
    headers: [
      ['Via', `${via};branch=z9hG4bK${Math.random().toString(36).slice(2)}`],
      ['Max-Forwards', '70'],
      ['From', '<sip:alice@example.test>;tag=a1'],
      ['To', '<sip:bob@example.test>'],
      ['Call-ID', `c-${Math.random().toString(36).slice(2)}`],
      ['CSeq', `1 ${method}`],
      ...extra,
    ],
  });
}

/** A UDP client that collects what it receives. */
async function udpClient(): Promise<{ socket: Socket; next(): Promise<SipMessage> }> {
  const socket = createSocket('udp4');
  const queue: SipMessage[] = [];
  const waiters: ((m: SipMessage) => void)[] = [];
  socket.on('message', (data) => {
    const parsed = parseSipMessage(data, { datagram: true });
    if (!parsed.ok) return;
    if (parsed.value.kind === 'response' && parsed.value.status < 200) return;
    const waiter = waiters.shift();
    if (waiter !== undefined) waiter(parsed.value);
    else queue.push(parsed.value);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    socket,
    next: () =>
      new Promise((resolve) => {
        const first = queue.shift();
        if (first !== undefined) resolve(first);
        else waiters.push(resolve);
      }),
  };
}

/** A TCP UA: registers, then answers every request it gets with `status`. */
async function tcpUa(
  status: number,
): Promise<{ socket: TcpSocket; received: SipRequest[]; next(): Promise<SipMessage> }> {
  const socket = connect(tcpPort, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const framer = new SipStreamFramer();
  const received: SipRequest[] = [];
  const waiters: ((m: SipMessage) => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    for (const out of framer.push(chunk)) {
      if (out.type !== 'message') continue;
      const parsed = parseSipMessage(out.data);
      if (!parsed.ok) continue;
      const msg = parsed.value;
      if (msg.kind === 'request') {
        received.push(msg);
        socket.write(buildResponse(msg, status, { toTag: 'bob' }));
      }
      waiters.shift()?.(msg);
    }
  });
  return {
    socket,
    received,
    next: () => new Promise((resolve) => waiters.push(resolve)),
  };
}

test('a request answered by the handler gets its status, headers, body and To tag', async () => {
  const bob = await tcpUa(200);
  const reply = bob.next();
  bob.socket.write(
    request('REGISTER', `SIP/2.0/TCP 127.0.0.1:${bob.socket.localPort ?? 0}`, [
      ['Contact', '<sip:bob@127.0.0.1;transport=tcp>'],
    ]),
  );
  const response = await reply;
  assert.equal(response.kind, 'response');
  assert.equal(response.status, 200);
  assert.equal(header(response, 'contact'), '<sip:bob@127.0.0.1;transport=tcp>');
  assert.match(header(response, 'to') ?? '', /;tag=reg-tag$/);
  assert.equal(response.body.toString(), 'registered');

  // A MESSAGE from a UDP client is forked over Bob's registered TCP flow, edited.
  const alice = await udpClient();
  const delivered = bob.next();
  alice.socket.send(
    request('MESSAGE', `SIP/2.0/UDP 127.0.0.1:${alice.socket.address().port}`, [
      ['X-Secret', 'internal'],
    ]),
    udpPort,
    '127.0.0.1',
  );
  const copy = await delivered;
  assert.equal(copy.kind, 'request');
  assert.equal(copy.requestUri, 'sip:bob@127.0.0.1:1;transport=tcp');
  assert.equal(header(copy, 'x-secret'), undefined);
  assert.equal(header(copy, 'p-asserted-identity'), '<sip:alice@example.test>');
  const answer = await alice.next();
  assert.equal(answer.kind === 'response' ? answer.status : 0, 200);

  // The service originates a NOTIFY over the same flow and gets Bob's final response.
  assert.ok(bobFlow !== undefined);
  const notified = bob.next();
  const result = await engine.sendRequest({
    method: 'NOTIFY',
    requestUri: 'sip:bob@127.0.0.1;transport=tcp',
    headers: [
      ['From', '<sip:bob@example.test>;tag=srv'],
      ['To', '<sip:bob@example.test>;tag=bob'],
      ['Call-ID', 'notify-1'],
      ['CSeq', '1 NOTIFY'],
      ['Event', 'presence'],
      ['Subscription-State', 'active;expires=60'],
    ],
    body: Buffer.from('<presence/>'),
    flow: bobFlow,
  });
  const notify = await notified;
  assert.equal(notify.kind === 'request' ? notify.method : '', 'NOTIFY');
  assert.equal(result.kind, 'response');
  assert.equal(result.response.status, 200);

  // Bob's connection closes: the next MESSAGE fails with 430 Flow Failed (RFC 5626 §5.3).
  bob.socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  alice.socket.send(
    request('MESSAGE', `SIP/2.0/UDP 127.0.0.1:${alice.socket.address().port}`),
    udpPort,
    '127.0.0.1',
  );
  const failed = await alice.next();
  assert.equal(failed.kind === 'response' ? failed.status : 0, 430);

  // A handler that throws is answered 500, and the engine keeps serving.
  alice.socket.send(
    request('OPTIONS', `SIP/2.0/UDP 127.0.0.1:${alice.socket.address().port}`),
    udpPort,
    '127.0.0.1',
  );
  const crashed = await alice.next();
  assert.equal(crashed.kind === 'response' ? crashed.status : 0, 500);
  alice.socket.close();
});

test('a stateless challenge keeps no transaction; its retransmission is answered anew', async () => {
  const alice = await udpClient();
  const port = alice.socket.address().port;
  const before = engine.stats().serverTransactions;
  const handled = seen.length;
  const publish = request('PUBLISH', `SIP/2.0/UDP 127.0.0.1:${port}`);
  alice.socket.send(publish, udpPort, '127.0.0.1');
  const first = await alice.next();
  assert.equal(first.kind === 'response' ? first.status : 0, 401);
  assert.match(header(first, 'www-authenticate') ?? '', /^Digest realm="example\.test"/);
  assert.equal(engine.stats().serverTransactions, before, 'no transaction lingers');
  // RFC 3261 §8.2.7: the same request is handled again and gets the same To tag.
  alice.socket.send(publish, udpPort, '127.0.0.1');
  const second = await alice.next();
  assert.equal(second.kind === 'response' ? second.status : 0, 401);
  assert.equal(seen.length, handled + 2, 'the retransmission reached the handler');
  const tag = /;tag=(sl[^;]+)$/.exec(header(first, 'to') ?? '')?.[1];
  assert.ok(tag !== undefined, header(first, 'to'));
  assert.equal(header(second, 'to'), header(first, 'to'));
  assert.notEqual(header(first, 'www-authenticate'), header(second, 'www-authenticate'));
  assert.equal(engine.stats().serverTransactions, before);

  // An INVITE has had its 100 Trying: it is challenged statefully (its ACK needs the
  // transaction), so one server transaction stays.
  alice.socket.send(request('INVITE', `SIP/2.0/UDP 127.0.0.1:${port}`), udpPort, '127.0.0.1');
  const invite = await alice.next();
  assert.equal(invite.kind === 'response' ? invite.status : 0, 401);
  assert.doesNotMatch(header(invite, 'to') ?? '', /;tag=sl/);
  assert.equal(engine.stats().serverTransactions, before + 1);
  alice.socket.close();
});

test('sendRequest to an unreachable target resolves without throwing', async () => {
  const result = await engine.sendRequest({
    method: 'MESSAGE',
    requestUri: 'sip:nobody@unresolvable.invalid',
    headers: [
      ['From', '<sip:srv@example.test>;tag=x'],
      ['To', '<sip:nobody@unresolvable.invalid>'],
      ['Call-ID', 'u-1'],
      ['CSeq', '1 MESSAGE'],
    ],
  });
  assert.equal(result.kind, 'unreachable');
});

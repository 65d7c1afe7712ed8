// Parallel forking through the access-edge proxy (RFC 3261 §16.5–§16.7): a static route with
// two next hops; one UA rings and answers, the other only rings and must be CANCELled.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { Registry } from 'prom-client';
import { headerValues, parseSipMessage } from '../../src/codec/sip/parse.ts';
import { buildResponse } from '../../src/codec/sip/serialize.ts';
import type { SipRequest } from '../../src/codec/sip/message.ts';
import type { RunningService } from '../../src/lib/endpoint.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { startAccessEdge } from '../../src/services/access-edge/index.ts';
import { configSchema } from '../../src/config/schema.ts';

/** The Access Edge's defaults; the tests override what they exercise. */
const EDGE_DEFAULTS = configSchema.parse({})['access-edge'];

interface Ua {
  readonly socket: Socket;
  readonly port: number;
  readonly methods: string[];
}

/** A UDP user agent: `answer` decides the responses to each request. */
function startUa(answer: (req: SipRequest) => number[]): Promise<Ua> {
  const socket = createSocket('udp4');
  const methods: string[] = [];
  socket.on('message', (data: Buffer, rinfo: RemoteInfo) => {
    const msg = parseSipMessage(data, { datagram: true });
    if (!msg.ok || msg.value.kind !== 'request') return;
    methods.push(msg.value.method);
    if (msg.value.method === 'ACK') return;
    for (const status of answer(msg.value)) {
      socket.send(
        buildResponse(msg.value, status, { toTag: `t${String(socket.address().port)}` }),
        rinfo.port,
        rinfo.address,
      );
    }
  });
  return new Promise((resolve) => {
    socket.bind(0, '127.0.0.1', () => {
      resolve({ socket, port: socket.address().port, methods });
    });
  });
}

let edge: RunningService;
let answering: Ua;
let ringing: Ua;

before(async () => {
  // The answering UA rings, then answers 200 after 100 ms.
  answering = await startUa((req) => {
    if (req.method === 'INVITE') {
      setTimeout(() => {
        answering.socket.send(
          buildResponse(req, 200, { toTag: 'winner' }),
          Number(/:(\d+);/.exec(headerValues(req, 'via')[0] ?? '')?.[1]),
          '127.0.0.1',
        );
      }, 100);
      return [180];
    }
    return [200];
  });
  // The other one only rings; a CANCEL gets 200 and the INVITE then 487.
  ringing = await startUa((req) =>
    req.method === 'INVITE' ? [180] : req.method === 'CANCEL' ? [200] : [200],
  );
  edge = await startAccessEdge({
    config: {
      external: {
        host: '127.0.0.1',
        advertisedHost: null,
        udp: 0,
        tcp: null,
        tls: null,
        ws: null,
        wss: null,
      },
      // Plain proxy: no internal next hop, so no remote-user policy.
      internal: { ...EDGE_DEFAULTS.internal, tls: null },
      remoteAccess: true,
      federation: EDGE_DEFAULTS.federation,
      routes: [
        {
          domain: 'example.test',
          nextHop: [
            `sip:127.0.0.1:${String(answering.port)}`,
            `sip:127.0.0.1:${String(ringing.port)}`,
          ],
        },
      ],
      dns: { servers: [] },
      recordRoute: true,
      limits: {
        maxMessageBytes: 65536,
        maxConnectionsPerIp: 50,
        maxConnections: 100,
        handshakeTimeoutMs: 5000,
        idleTimeoutMs: 60000,
        maxHeaders: EDGE_DEFAULTS.limits.maxHeaders,
        messagesPerSecondPerIp: EDGE_DEFAULTS.limits.messagesPerSecondPerIp,
        messagesPerSecondPerUser: EDGE_DEFAULTS.limits.messagesPerSecondPerUser,
        banSeconds: EDGE_DEFAULTS.limits.banSeconds,
      },
      timers: { t1Ms: 500, t2Ms: 4000, t4Ms: 5000 },
    },
    domains: ['example.test'],
    secret: 'test secret',
    tls: { key: '', cert: '', ca: '', onChange: () => () => undefined },
    logger: silentLogger,
    registry: new Registry(),
  });
});

after(async () => {
  await edge.close(Date.now() + 500);
  answering.socket.close();
  ringing.socket.close();
});

test('an INVITE forks to both next hops; the 200 goes up and the other branch is CANCELled', async () => {
  const port = edge.endpoints.find((e) => e.transport === 'udp')?.port ?? 0;
  const caller = createSocket('udp4');
  const statuses: number[] = [];
  const done = new Promise<void>((resolve) => {
    caller.on('message', (data: Buffer) => {
      const msg = parseSipMessage(data, { datagram: true });
      if (msg.ok && msg.value.kind === 'response') {
        statuses.push(msg.value.status);
        if (msg.value.status === 200) resolve();
      }
    });
  });
  await new Promise<void>((resolve) => caller.bind(0, '127.0.0.1', resolve));
  caller.send(
    'INVITE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:' +
      String(caller.address().port) +
      ';branch=z9hG4bKfork1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a\r\n' +
      'To: <sip:bob@example.test>\r\nCall-ID: fork-1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1>\r\nContent-Length: 0\r\n\r\n',
    port,
    '127.0.0.1',
  );
  await done;
  // Give the CANCEL a moment to reach the ringing UA.
  await new Promise((resolve) => setTimeout(resolve, 300));
  caller.close();
  assert.equal(statuses[0], 100);
  assert.ok(statuses.includes(180));
  assert.equal(statuses.filter((s) => s === 200).length, 1);
  assert.deepEqual(answering.methods, ['INVITE']);
  assert.deepEqual(ringing.methods.slice(0, 2), ['INVITE', 'CANCEL']);
});

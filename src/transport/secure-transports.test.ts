import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import type { Rejection } from './flow.ts';
import {
  createTestAuthority,
  nextEvent,
  sipRequest,
  type TestAuthority,
  type TestCredentials,
} from './testing.ts';
import { SipTransportLayer, type SipTransportLayerOptions } from './transport-layer.ts';

const HOST = '127.0.0.1';
let authority: TestAuthority;
let server: TestCredentials;
let client: TestCredentials;

before(async () => {
  authority = await createTestAuthority();
  server = await authority.issue('edge.test');
  client = await authority.issue('partner.test');
});

async function withLayer(
  options: SipTransportLayerOptions,
  body: (layer: SipTransportLayer) => Promise<void>,
): Promise<void> {
  const layer = new SipTransportLayer(options);
  try {
    await body(layer);
  } finally {
    await layer.close();
  }
}

async function tlsClient(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  const socket = tlsConnect({
    host: HOST,
    port,
    ca: authority.cert,
    servername: 'localhost',
    ...options,
  });
  await once(socket, 'secureConnect');
  return socket;
}

async function until(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

function wsClient(url: string, protocols: string[] | undefined): WebSocket {
  return new WebSocket(url, protocols, { ca: authority.cert });
}

void describe('TLS', () => {
  void test('delivers messages, answers pings and replies on the flow', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenTls({ host: HOST, port: 0, ...server });
      const socket = await tlsClient(listener.local.port);
      try {
        assert.ok(socket.authorized, 'client trusts the test CA');
        assert.ok(['TLSv1.2', 'TLSv1.3'].includes(socket.getProtocol() ?? ''));
        const request = sipRequest('REGISTER');
        const delivered = nextEvent(layer, 'message');
        socket.write(Buffer.concat([Buffer.from('\r\n\r\n'), request]));
        const [pong] = (await once(socket, 'data')) as [Buffer];
        assert.equal(pong.toString(), '\r\n');
        const [data, flow] = await delivered;
        assert.deepEqual(data, request);
        assert.equal(flow.transport, 'tls');
        assert.equal(flow.peerCertificate, undefined, 'no client certificate was asked for');
        const reply = Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n');
        const answered = once(socket, 'data');
        assert.ok(layer.send(flow.id, reply));
        assert.deepEqual(((await answered) as [Buffer])[0], reply);
      } finally {
        socket.destroy();
      }
    });
  });

  void test('mutual TLS exposes the peer certificate on the flow, both directions', async () => {
    await withLayer({}, async (edge) => {
      await withLayer({}, async (partner) => {
        const listener = await edge.listenTls({
          host: HOST,
          port: 0,
          ...server,
          ca: authority.cert,
          requestCert: true,
        });
        const flow = await partner.connect({
          transport: 'tls',
          host: HOST,
          port: listener.local.port,
          servername: 'edge.test',
          ca: authority.cert,
          ...client,
        });
        assert.equal(flow.peerCertificate?.subject.CN, 'edge.test');
        assert.equal(flow.peerCertificate.authorized, true);
        const delivered = nextEvent(edge, 'message');
        partner.send(flow.id, sipRequest('OPTIONS'));
        const [, inbound] = await delivered;
        assert.equal(inbound.peerCertificate?.subject.CN, 'partner.test');
        assert.equal(inbound.peerCertificate.authorized, true);
        assert.match(inbound.peerCertificate.subjectAltName ?? '', /DNS:partner\.test/);
        assert.ok(inbound.peerCertificate.raw.length > 100);
      });
    });
  });

  void test('a client without a certificate is refused when mutual TLS is required', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenTls({
        host: HOST,
        port: 0,
        ...server,
        ca: authority.cert,
        requestCert: true,
      });
      const messages: Buffer[] = [];
      layer.on('message', (data) => messages.push(data));
      const socket = tlsConnect({
        host: HOST,
        port: listener.local.port,
        ca: authority.cert,
        servername: 'localhost',
      });
      const rejected = nextEvent(layer, 'rejected');
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.on('error', () => undefined);
      socket.on('secureConnect', () => socket.write(sipRequest('OPTIONS')));
      await closed;
      assert.equal((await rejected)[0].reason, 'tls-handshake-failed');
      assert.deepEqual(messages, []);
      assert.equal(layer.stats().connections, 0);
    });
  });

  void test('setSecureContext swaps the certificate without dropping live connections', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenTls({ host: HOST, port: 0, ...server });
      const before = await tlsClient(listener.local.port);
      const replacement = await authority.issue('edge-renewed.test');
      listener.setSecureContext(replacement);
      const after = await tlsClient(listener.local.port);
      try {
        assert.equal(after.getPeerCertificate().subject.CN, 'edge-renewed.test');
        assert.equal(before.getPeerCertificate().subject.CN, 'edge.test');
        const delivered = nextEvent(layer, 'message');
        before.write(sipRequest('OPTIONS'));
        assert.equal((await delivered)[1].remote.port, before.localPort);
      } finally {
        before.destroy();
        after.destroy();
      }
    });
  });

  void test('200 half-open handshakes are dropped at the deadline while a real client gets through', async () => {
    const limits = { handshakeTimeoutMs: 400, maxConnectionsPerIp: 1000 };
    await withLayer({ limits }, async (layer) => {
      const listener = await layer.listenTls({ host: HOST, port: 0, ...server });
      const rejections: Rejection[] = [];
      layer.on('rejected', (rejection) => rejections.push(rejection));
      const started = Date.now();
      const silent: Socket[] = await Promise.all(
        Array.from({ length: 200 }, async () => {
          const socket = netConnect({ host: HOST, port: listener.local.port });
          socket.on('error', () => undefined);
          await once(socket, 'connect');
          return socket;
        }),
      );
      try {
        const real = await tlsClient(listener.local.port);
        const delivered = nextEvent(layer, 'message');
        const request = sipRequest('OPTIONS');
        real.write(request);
        assert.deepEqual((await delivered)[0], request);
        assert.ok(Date.now() - started < 400, 'delivered before the half-open ones time out');

        await until(() => silent.every((socket) => socket.closed));
        const timeouts = rejections.filter((r) => r.reason === 'handshake-timeout');
        assert.equal(timeouts.length, 200);
        assert.ok(Date.now() - started >= 350);
        assert.equal(layer.stats().inboundSockets, 1);
        assert.equal(layer.stats().connections, 1);
        real.destroy();
      } finally {
        for (const socket of silent) socket.destroy();
      }
    });
  });
});

void describe('WebSocket', () => {
  void test('ws: one SIP message per WebSocket message, text or binary, with subprotocol sip', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenWs({ host: HOST, port: 0 });
      const ws = wsClient(`ws://${HOST}:${listener.local.port}`, ['sip']);
      await once(ws, 'open');
      try {
        assert.equal(ws.protocol, 'sip');
        const text = sipRequest('REGISTER');
        const binary = sipRequest('MESSAGE', 'hi');
        const received: Buffer[] = [];
        let flowId = '';
        layer.on('message', (data, flow) => {
          received.push(data);
          flowId = flow.id;
          assert.equal(flow.transport, 'ws');
        });
        ws.send(text.toString());
        ws.send(binary, { binary: true });
        await until(() => received.length === 2);
        assert.deepEqual(received, [text, binary]);

        const reply = 'SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n';
        const answered = once(ws, 'message');
        assert.ok(layer.send(flowId, Buffer.from(reply)));
        const [data, isBinary] = (await answered) as [Buffer, boolean];
        assert.equal(data.toString(), reply);
        assert.equal(isBinary, false, 'sent as a text frame');
      } finally {
        ws.terminate();
      }
    });
  });

  void test('ws: a handshake without the sip subprotocol is refused', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenWs({ host: HOST, port: 0 });
      for (const protocols of [undefined, ['chat']]) {
        const rejected = nextEvent(layer, 'rejected');
        const ws = wsClient(`ws://${HOST}:${listener.local.port}`, protocols);
        const [error] = (await once(ws, 'error').catch((e: unknown) => [e])) as [Error];
        assert.match(error.message, /400/);
        const [rejection] = await rejected;
        assert.equal(rejection.reason, 'ws-protocol');
        assert.equal(rejection.transport, 'ws');
      }
      assert.equal(layer.stats().connections, 0);
    });
  });

  void test('ws: an oversized message closes the connection', async () => {
    await withLayer({ limits: { maxMessageBytes: 1000 } }, async (layer) => {
      const listener = await layer.listenWs({ host: HOST, port: 0 });
      const ws = wsClient(`ws://${HOST}:${listener.local.port}`, ['sip']);
      ws.on('error', () => undefined);
      await once(ws, 'open');
      const rejected = nextEvent(layer, 'rejected');
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.send('x'.repeat(1001));
      assert.equal((await rejected)[0].reason, 'too-large');
      assert.equal(await closed, 1009, 'RFC 6455 §7.4.1: 1009 message too big');
    });
  });

  void test('wss: secure WebSocket in, and connect() out with ws and wss', async () => {
    await withLayer({}, async (edge) => {
      await withLayer({}, async (dialler) => {
        const secure = await edge.listenWss({ host: HOST, port: 0, ...server });
        const plain = await edge.listenWs({ host: HOST, port: 0 });
        const browser = wsClient(`wss://localhost:${secure.local.port}`, ['sip']);
        await once(browser, 'open');
        try {
          const delivered = nextEvent(edge, 'message');
          browser.send(sipRequest('REGISTER').toString());
          const [, flow] = await delivered;
          assert.equal(flow.transport, 'wss');
        } finally {
          browser.terminate();
        }

        const wssFlow = await dialler.connect({
          transport: 'wss',
          host: HOST,
          port: secure.local.port,
          servername: 'localhost',
          ca: authority.cert,
        });
        assert.equal(wssFlow.peerCertificate?.subject.CN, 'edge.test');
        const wsFlow = await dialler.connect({
          transport: 'ws',
          host: HOST,
          port: plain.local.port,
        });
        for (const flow of [wssFlow, wsFlow]) {
          const atEdge = nextEvent(edge, 'message');
          const request = sipRequest('OPTIONS');
          assert.ok(dialler.send(flow.id, request));
          const [data, inbound] = await atEdge;
          assert.deepEqual(data, request);
          assert.equal(inbound.transport, flow.transport);
          const atDialler = nextEvent(dialler, 'message');
          edge.send(inbound.id, Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'));
          assert.equal((await atDialler)[1].id, flow.id);
        }
      });
    });
  });

  void test('ws: a plain HTTP request is answered 426 and counted', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenWs({ host: HOST, port: 0 });
      const rejected = nextEvent(layer, 'rejected');
      const response = await fetch(`http://${HOST}:${listener.local.port}/`);
      assert.equal(response.status, 426);
      await response.body?.cancel();
      assert.equal((await rejected)[0].reason, 'ws-not-upgrade');
    });
  });
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Rejection } from './flow.ts';
import { nextEvent, sipRequest } from './testing.ts';
import { SipTransportLayer, type SipTransportLayerOptions } from './transport-layer.ts';

const HOST = '127.0.0.1';

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

async function tcpClient(port: number): Promise<Socket> {
  const socket = connect({ host: HOST, port });
  await once(socket, 'connect');
  return socket;
}

/** Resolves with what `socket` received once it contains `expected` bytes (or closes). */
function receive(socket: Socket, expectedLength: number, timeoutMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => {
      reject(new Error(`received ${length} of ${expectedLength} bytes`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= expectedLength) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
  });
}

function closedWithin(socket: Socket, timeoutMs: number): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`socket still open after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('error', () => undefined);
    socket.resume();
  });
}

async function until(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

void describe('UDP', () => {
  void test('delivers datagrams and replies to the packet source', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenUdp({ host: HOST, port: 0 });
      assert.ok(listener.local.port > 0);
      const client: UdpSocket = createSocket('udp4');
      client.bind(0, HOST);
      await once(client, 'listening');
      try {
        const request = sipRequest('OPTIONS');
        const received = nextEvent(layer, 'message');
        client.send(request, listener.local.port, HOST);
        const [data, flow] = await received;
        assert.deepEqual(data, request);
        assert.equal(flow.transport, 'udp');
        assert.deepEqual(flow.remote, { address: HOST, port: client.address().port });
        assert.deepEqual(flow.local, listener.local);

        // RFC 3581: the response goes to the source address and port of the request.
        const reply = Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n');
        const answered = once(client, 'message');
        assert.equal(layer.send(flow.id, reply), true);
        const [answer, from] = (await answered) as [Buffer, { port: number }];
        assert.deepEqual(answer, reply);
        assert.equal(from.port, listener.local.port, 'sent from the listening socket');

        const explicit = once(client, 'message');
        assert.ok(layer.sendUdp(listener.id, HOST, client.address().port, request));
        assert.deepEqual(((await explicit) as [Buffer])[0], request);
      } finally {
        client.close();
      }
    });
  });

  void test('drops keep-alives, rejects oversized datagrams', async () => {
    await withLayer({ limits: { maxMessageBytes: 1000 } }, async (layer) => {
      const listener = await layer.listenUdp({ host: HOST, port: 0 });
      const client = createSocket('udp4');
      const messages: Buffer[] = [];
      layer.on('message', (data) => messages.push(data));
      try {
        const rejected = nextEvent(layer, 'rejected');
        client.send(Buffer.from('\r\n\r\n'), listener.local.port, HOST);
        client.send(Buffer.alloc(1001, 0x41), listener.local.port, HOST);
        const [rejection] = await rejected;
        assert.equal(rejection.reason, 'too-large');
        assert.equal(rejection.transport, 'udp');
        assert.equal(rejection.listenerId, listener.id);
        assert.deepEqual(messages, []);
      } finally {
        client.close();
      }
    });
  });
});

void describe('TCP', () => {
  void test('pipelined and split messages come out whole and in order; replies reuse the flow', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenTcp({ host: HOST, port: 0 });
      const messages: Buffer[] = [];
      const flows = new Set<string>();
      layer.on('message', (data, flow) => {
        messages.push(data);
        flows.add(flow.id);
      });
      const client = await tcpClient(listener.local.port);
      try {
        const first = sipRequest('REGISTER');
        const second = sipRequest('MESSAGE', 'hello there');
        const third = sipRequest('INVITE', 'v=0\r\n');
        client.write(Buffer.concat([first, second, third.subarray(0, 7)]));
        await sleep(20);
        client.write(third.subarray(7, 60));
        await sleep(20);
        client.write(third.subarray(60));
        const deadline = Date.now() + 3000;
        while (messages.length < 3 && Date.now() < deadline) await sleep(5);
        assert.deepEqual(messages, [first, second, third]);
        assert.equal(flows.size, 1);
        const [flowId] = [...flows];
        const flow = layer.getFlow(flowId ?? '');
        assert.equal(flow?.transport, 'tcp');
        assert.equal(flow.remote.port, client.localPort);
        assert.equal(layer.findFlow('tcp', HOST, client.localPort ?? 0)?.id, flowId);

        const reply = Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n');
        const answered = receive(client, reply.length);
        assert.ok(layer.send(flowId ?? '', reply));
        assert.deepEqual(await answered, reply);
        assert.equal(layer.stats().connectionsByTransport.tcp, 1);
      } finally {
        client.destroy();
      }
    });
  });

  void test('a CRLFCRLF ping gets a CRLF pong (RFC 5626 §4.4.1)', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenTcp({ host: HOST, port: 0 });
      const client = await tcpClient(listener.local.port);
      try {
        const pong = receive(client, 2);
        client.write('\r\n\r\n');
        assert.equal((await pong).toString(), '\r\n');
      } finally {
        client.destroy();
      }
    });
  });

  void test('an oversized message closes the stream with a rejection', async () => {
    await withLayer({ limits: { maxMessageBytes: 2000 } }, async (layer) => {
      const listener = await layer.listenTcp({ host: HOST, port: 0 });
      const client = await tcpClient(listener.local.port);
      const rejected = nextEvent(layer, 'rejected');
      const closed = nextEvent(layer, 'flow-closed');
      client.write(sipRequest('MESSAGE', 'x'.repeat(3000)));
      const [rejection] = await rejected;
      assert.equal(rejection.reason, 'too-large');
      assert.equal(rejection.transport, 'tcp');
      assert.equal((await closed)[1], 'too-large');
      await closedWithin(client, 2000);
    });
  });

  void test('a missing Content-Length closes the stream', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenTcp({ host: HOST, port: 0 });
      const client = await tcpClient(listener.local.port);
      const rejected = nextEvent(layer, 'rejected');
      client.write('OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n');
      assert.equal((await rejected)[0].reason, 'missing-content-length');
      await closedWithin(client, 2000);
    });
  });

  void test('a Content-Length lie blocks nobody else and ends at the idle timeout', async () => {
    await withLayer({ limits: { idleTimeoutMs: 300 } }, async (layer) => {
      const listener = await layer.listenTcp({ host: HOST, port: 0 });
      const liar = await tcpClient(listener.local.port);
      const honest = await tcpClient(listener.local.port);
      try {
        const rejected = nextEvent(layer, 'rejected');
        const started = Date.now();
        liar.write('MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 1000\r\n\r\n0123456789');
        const request = sipRequest('OPTIONS');
        const delivered = nextEvent(layer, 'message');
        honest.write(request);
        const [data, flow] = await delivered;
        assert.deepEqual(data, request);
        assert.equal(flow.remote.port, honest.localPort);
        const [rejection] = await rejected;
        assert.equal(rejection.reason, 'idle-timeout');
        assert.equal(rejection.remote.port, liar.localPort);
        assert.ok(Date.now() - started >= 250);
        await closedWithin(liar, 1000);
      } finally {
        liar.destroy();
        honest.destroy();
      }
    });
  });

  void test('a message trickled in slower than the message timeout is cut', async () => {
    await withLayer({ limits: { messageTimeoutMs: 300 } }, async (layer) => {
      const listener = await layer.listenTcp({ host: HOST, port: 0 });
      const client = await tcpClient(listener.local.port);
      const rejected = nextEvent(layer, 'rejected');
      const request = sipRequest('OPTIONS');
      const trickle = setInterval(() => {
        if (!client.destroyed) client.write('X-Filler: a\r\n');
      }, 30);
      try {
        client.write(request.subarray(0, 20));
        assert.equal((await rejected)[0].reason, 'message-timeout');
        await closedWithin(client, 1000);
      } finally {
        clearInterval(trickle);
        client.destroy();
      }
    });
  });

  void test('connections over the per-IP cap are closed at once with a rejection', async () => {
    await withLayer({ limits: { maxConnectionsPerIp: 3 } }, async (layer) => {
      const listener = await layer.listenTcp({ host: HOST, port: 0 });
      const rejections: Rejection[] = [];
      layer.on('rejected', (rejection) => rejections.push(rejection));
      const clients = await Promise.all(
        Array.from({ length: 5 }, () => tcpClient(listener.local.port)),
      );
      try {
        const deadline = Date.now() + 2000;
        while (rejections.length < 2 && Date.now() < deadline) await sleep(5);
        assert.equal(rejections.length, 2);
        assert.ok(rejections.every((r) => r.reason === 'per-ip-cap' && r.remote.address === HOST));
        await Promise.all(
          clients
            .filter((c) => rejections.some((r) => r.remote.port === c.localPort))
            .map((c) => closedWithin(c, 1000)),
        );
        assert.equal(layer.stats().inboundSockets, 3);

        // Room frees up when a connection goes away.
        const admitted = clients.find(
          (c) => !rejections.some((r) => r.remote.port === c.localPort),
        );
        admitted?.destroy();
        while (layer.stats().inboundSockets > 2 && Date.now() < deadline) await sleep(5);
        const another = await tcpClient(listener.local.port);
        clients.push(another);
        const delivered = nextEvent(layer, 'message');
        another.write(sipRequest('OPTIONS'));
        assert.equal((await delivered)[1].remote.port, another.localPort);
      } finally {
        for (const client of clients) client.destroy();
      }
    });
  });

  void test('a throwing listener does not stop delivery', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenTcp({ host: HOST, port: 0 });
      layer.on('message', () => {
        throw new Error('listener bug');
      });
      const client = await tcpClient(listener.local.port);
      try {
        const received: Buffer[] = [];
        layer.on('message', (data) => received.push(data));
        client.write(Buffer.concat([sipRequest('OPTIONS'), sipRequest('OPTIONS')]));
        const deadline = Date.now() + 2000;
        while (received.length < 2 && Date.now() < deadline) await sleep(5);
        assert.equal(received.length, 2);
      } finally {
        client.destroy();
      }
    });
  });
});

void describe('outgoing connections', () => {
  void test('connect() dials, reuses the open flow, and replies come back on it', async () => {
    await withLayer({}, async (server) => {
      await withLayer({}, async (client) => {
        const listener = await server.listenTcp({ host: HOST, port: 0 });
        const target = { transport: 'tcp', host: HOST, port: listener.local.port } as const;
        const [flow, same] = await Promise.all([client.connect(target), client.connect(target)]);
        assert.equal(flow.id, same.id, 'concurrent connects share one attempt');
        assert.equal(flow.direction, 'outbound');
        assert.equal((await client.connect(target)).id, flow.id);
        assert.equal(client.findFlow('tcp', HOST, listener.local.port)?.id, flow.id);

        const request = sipRequest('OPTIONS');
        const atServer = nextEvent(server, 'message');
        assert.ok(client.send(flow.id, request));
        const [data, inbound] = await atServer;
        assert.deepEqual(data, request);
        const reply = Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n');
        const atClient = nextEvent(client, 'message');
        assert.ok(server.send(inbound.id, reply));
        const [answer, onFlow] = await atClient;
        assert.deepEqual(answer, reply);
        assert.equal(onFlow.id, flow.id);

        const closed = nextEvent(client, 'flow-closed');
        assert.ok(server.closeFlow(inbound.id));
        assert.equal((await closed)[1], 'remote-closed');
        assert.equal(client.send(flow.id, request), false);
      });
    });
  });

  void test('connect() to a closed port rejects with a transport error', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenTcp({ host: HOST, port: 0 });
      const port = listener.local.port;
      await listener.close();
      await assert.rejects(layer.connect({ transport: 'tcp', host: HOST, port }), {
        code: 'RAMPART_ERR_TRANSPORT',
      });
    });
  });
});

void describe('lifecycle', () => {
  void test('close() closes listeners and flows, is idempotent, and leaves no handles', async () => {
    const layer = new SipTransportLayer();
    const tcp = await layer.listenTcp({ host: HOST, port: 0 });
    const udp = await layer.listenUdp({ host: HOST, port: 0 });
    const client = await tcpClient(tcp.local.port);
    await until(() => layer.stats().connections === 1);
    const closedFlow = nextEvent(layer, 'flow-closed');
    const first = layer.close();
    assert.equal(layer.close(), first);
    await first;
    assert.equal((await closedFlow)[1], 'layer-closed');
    assert.ok(layer.closed && tcp.closed && udp.closed);
    assert.deepEqual(layer.stats().connections, 0);
    assert.equal(layer.stats().udpListeners, 0);
    assert.equal(layer.stats().streamListeners, 0);
    await closedWithin(client, 1000);
    await assert.rejects(layer.listenTcp({ host: HOST, port: 0 }), {
      code: 'RAMPART_ERR_INVALID_STATE',
    });
  });

  void test('closing a listener closes the flows it accepted', async () => {
    await withLayer({}, async (layer) => {
      const listener = await layer.listenTcp({ host: HOST, port: 0 });
      const client = await tcpClient(listener.local.port);
      const closed = nextEvent(layer, 'flow-closed');
      await until(() => layer.stats().connections === 1);
      await Promise.all([listener.close(), listener.close()]);
      assert.equal((await closed)[1], 'listener-closed');
      await closedWithin(client, 1000);
    });
  });
});

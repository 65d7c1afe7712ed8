// Hostile input against the access-edge proxy on real sockets: the RFC 4475 corpus over UDP,
// TCP and TLS, oversized messages, Content-Length lies, 500 half-open TLS handshakes and
// connections beyond the per-IP cap. The edge must stay up, keep serving a legitimate client,
// and count every refusal in its metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Registry } from 'prom-client';
import { parseSipMessage } from '../../src/codec/sip/parse.ts';
import { buildResponse } from '../../src/codec/sip/serialize.ts';
import type { Endpoint, RunningService } from '../../src/lib/endpoint.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { startAccessEdge } from '../../src/services/access-edge/index.ts';
import { createTestAuthority } from '../../src/transport/testing.ts';
import { configSchema } from '../../src/config/schema.ts';

/** The Access Edge's defaults; the tests override what they exercise. */
const EDGE_DEFAULTS = configSchema.parse({})['access-edge'];

const CORPUS = new URL('../../../shared/corpus/rfc4475/', import.meta.url);

/** A tiny UDP user agent behind the proxy: answers every request with 200, counts them. */
function startUas(): Promise<{ socket: UdpSocket; port: number; received: string[] }> {
  const socket = createSocket('udp4');
  const received: string[] = [];
  socket.on('message', (data, rinfo) => {
    const msg = parseSipMessage(data, { datagram: true });
    if (!msg.ok || msg.value.kind !== 'request') return;
    received.push(msg.value.method);
    if (msg.value.method === 'ACK') return;
    socket.send(buildResponse(msg.value, 200), rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => {
    socket.bind(0, '127.0.0.1', () => {
      resolve({ socket, port: socket.address().port, received });
    });
  });
}

let seq = 0;
function message(transport: string): Buffer {
  seq++;
  const body = 'hello';
  return Buffer.from(
    `MESSAGE sip:bob@example.test SIP/2.0\r\n` +
      `Via: SIP/2.0/${transport} 127.0.0.1:9;branch=z9hG4bKlegit${seq}\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a${seq}\r\nTo: <sip:bob@example.test>\r\n` +
      `Call-ID: legit-${seq}@test\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`,
  );
}

function udpTransaction(port: number): Promise<string> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no UDP response'));
    }, 4000);
    socket.on('message', (data) => {
      const text = data.toString('latin1');
      if (text.startsWith('SIP/2.0 1')) return;
      clearTimeout(timer);
      socket.close();
      resolve(text.split('\r\n')[0] ?? '');
    });
    socket.send(message('UDP'), port, '127.0.0.1');
  });
}

function streamTransaction(socket: Socket, transport: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no ${transport} response`));
    }, 4000);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const final = /SIP\/2\.0 [2-6]\d\d [^\r]*/.exec(text);
      if (final) {
        clearTimeout(timer);
        socket.destroy();
        resolve(final[0]);
      }
    });
    socket.on('error', reject);
    socket.write(message(transport));
  });
}

function counter(text: string, name: string, labels: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name + '{') && line.includes(labels))
      total += Number(line.split(' ').pop());
  }
  return total;
}

describe('access edge under hostile input', () => {
  let edge: RunningService;
  let uas: Awaited<ReturnType<typeof startUas>>;
  const registry = new Registry();
  let ca = '';
  const port = (transport: string): number => {
    const endpoint = edge.endpoints.find((e: Endpoint) => e.transport === transport);
    assert.ok(endpoint, transport);
    return endpoint.port;
  };

  before(async () => {
    uas = await startUas();
    const authority = await createTestAuthority();
    const leaf = await authority.issue('edge.example.test');
    ca = authority.cert;
    edge = await startAccessEdge({
      config: {
        external: {
          host: '127.0.0.1',
          advertisedHost: null,
          udp: 0,
          tcp: 0,
          tls: 0,
          ws: 0,
          wss: null,
        },
        // Plain proxy: no internal next hop, so no remote-user policy.
        internal: { ...EDGE_DEFAULTS.internal, tls: null },
        remoteAccess: true,
        federation: EDGE_DEFAULTS.federation,
        routes: [{ domain: 'example.test', nextHop: `sip:127.0.0.1:${uas.port};transport=udp` }],
        dns: { servers: [] },
        recordRoute: true,
        limits: {
          maxMessageBytes: 8192,
          maxConnectionsPerIp: 50,
          maxConnections: 2000,
          handshakeTimeoutMs: 1500,
          idleTimeoutMs: 3000,
          maxHeaders: EDGE_DEFAULTS.limits.maxHeaders,
          messagesPerSecondPerIp: EDGE_DEFAULTS.limits.messagesPerSecondPerIp,
          messagesPerSecondPerUser: EDGE_DEFAULTS.limits.messagesPerSecondPerUser,
          banSeconds: EDGE_DEFAULTS.limits.banSeconds,
        },
        timers: { t1Ms: 500, t2Ms: 4000, t4Ms: 5000 },
      },
      domains: ['example.test'],
      secret: 'test secret',
      tls: { key: leaf.key, cert: leaf.cert, ca, onChange: () => () => undefined },
      logger: silentLogger,
      registry,
    });
  });

  after(async () => {
    await edge.close(Date.now() + 1000);
    uas.socket.close();
  });

  test('a legitimate MESSAGE crosses the proxy over UDP, TCP and TLS', async () => {
    assert.equal(await udpTransaction(port('udp')), 'SIP/2.0 200 OK');
    assert.equal(
      await streamTransaction(netConnect(port('tcp'), '127.0.0.1'), 'TCP'),
      'SIP/2.0 200 OK',
    );
    const tls = tlsConnect({ port: port('tls'), host: '127.0.0.1', ca, servername: 'localhost' });
    assert.equal(await streamTransaction(tls, 'TLS'), 'SIP/2.0 200 OK');
  });

  test('the RFC 4475 corpus over UDP, TCP and TLS leaves the edge serving', async () => {
    const files = readdirSync(CORPUS).filter((f) => f.endsWith('.dat'));
    assert.ok(files.length >= 40, 'corpus present');
    const udp = createSocket('udp4');
    for (const file of files)
      udp.send(readFileSync(new URL(file, CORPUS)), port('udp'), '127.0.0.1');
    for (const file of files) {
      for (const transport of ['tcp', 'tls'] as const) {
        const socket =
          transport === 'tcp'
            ? netConnect(port('tcp'), '127.0.0.1')
            : tlsConnect({ port: port('tls'), host: '127.0.0.1', ca, servername: 'localhost' });
        socket.on('error', () => undefined);
        socket.write(readFileSync(new URL(file, CORPUS)));
        socket.end();
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    udp.close();
    assert.equal(await udpTransaction(port('udp')), 'SIP/2.0 200 OK');
    const metrics = await registry.metrics();
    assert.ok(
      counter(metrics, 'rampart_sip_drops_total', 'reason="parse-error"') > 0,
      'parse errors counted',
    );
  });

  test('a request with another SIP version is answered 505 on its own flow (RFC 4475 badvers)', async () => {
    const socket = createSocket('udp4');
    const answer = new Promise<string>((resolve, reject) => {
      setTimeout(() => {
        reject(new Error('no answer to badvers'));
      }, 3000).unref();
      socket.on('message', (data) => {
        resolve(data.toString('latin1').split('\r\n')[0] ?? '');
      });
    });
    socket.send(readFileSync(new URL('badvers.dat', CORPUS)), port('udp'), '127.0.0.1');
    assert.equal(await answer, 'SIP/2.0 505 Version Not Supported');
    socket.close();
  });

  test('an oversized message closes the stream and is counted', async () => {
    const socket = netConnect(port('tcp'), '127.0.0.1');
    socket.on('error', () => undefined);
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(`MESSAGE sip:bob@example.test SIP/2.0\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
    await closed;
    const metrics = await registry.metrics();
    assert.ok(counter(metrics, 'rampart_transport_rejections_total', 'reason="too-large"') >= 1);
  });

  test('a Content-Length lie stalls only its own connection, which the idle timeout closes', async () => {
    const liar = netConnect(port('tcp'), '127.0.0.1');
    liar.on('error', () => undefined);
    const closed = new Promise((resolve) => liar.on('close', resolve));
    liar.write(`MESSAGE sip:bob@example.test SIP/2.0\r\nContent-Length: 1000\r\n\r\n0123456789`);
    assert.equal(
      await streamTransaction(netConnect(port('tcp'), '127.0.0.1'), 'TCP'),
      'SIP/2.0 200 OK',
    );
    await closed;
  });

  test('500 half-open TLS handshakes from one address do not stop a client from another', async () => {
    const before = process.memoryUsage().rss;
    const sockets: Socket[] = [];
    for (let i = 0; i < 500; i++) {
      const s = netConnect({ port: port('tls'), host: '127.0.0.1', localAddress: '127.0.0.1' });
      s.on('error', () => undefined);
      sockets.push(s);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const legit = tlsConnect({
      socket: netConnect({ port: port('tls'), host: '127.0.0.1', localAddress: '127.0.0.2' }),
      ca,
      servername: 'localhost',
    });
    assert.equal(await streamTransaction(legit, 'TLS'), 'SIP/2.0 200 OK');
    // Every half-open socket is closed: by the per-IP cap at once, or at the handshake deadline.
    await Promise.all(
      sockets.map((s) =>
        s.destroyed ? Promise.resolve() : new Promise((resolve) => s.on('close', resolve)),
      ),
    );
    const metrics = await registry.metrics();
    assert.ok(
      counter(metrics, 'rampart_transport_rejections_total', 'reason="per-ip-cap"') >= 400,
      'per-IP cap refusals counted',
    );
    assert.ok(
      counter(metrics, 'rampart_transport_rejections_total', 'reason="handshake-timeout"') >= 1,
      'handshake timeouts counted',
    );
    assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024, 'memory stays bounded');
  });
});

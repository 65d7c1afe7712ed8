// The reverse proxy end to end: each published path through the proxy to its HTTPS origin
// (mutual TLS), unpublished paths 404, Range resume of a large file, streamed bodies and
// their limits, upstream failures, keep-alive pools, WebSocket relay, access log, metrics.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { WebSocket } from 'ws';
import {
  removePem,
  serveFile,
  startOrigin,
  startProxy,
  testPem,
  type Origin,
  type Pem,
  type ProxyUnderTest,
  type SeenRequest,
} from '../../bench/http/harness.ts';

const FILE = randomBytes(8 * 1024 * 1024);
const FILE_SHA = createHash('sha256').update(FILE).digest('hex');

let pem: Pem;
let abs: Origin;
let other: Origin;
let proxy: ProxyUnderTest;
let agent: Agent;

before(async () => {
  pem = await testPem();
  abs = await startOrigin(pem, (req, res) => {
    if (req.url?.startsWith('/abs/big.lsabs') === true) {
      serveFile(req, res, FILE);
      return true;
    }
    if (req.url === '/abs/hop') {
      res.writeHead(200, {
        connection: 'keep-alive, x-internal',
        'x-internal': 'secret',
        'x-kept': '1',
      });
      res.end('ok');
      return true;
    }
    if (req.url === '/abs/slow') {
      setTimeout(() => res.end('late'), 1500).unref();
      return true;
    }
    return false;
  });
  other = await startOrigin(pem);
  proxy = await startProxy(pem, {
    routes: [
      { prefix: '/abs/', upstream: abs.url, timeouts: { upstreamHeadersMs: 500 } },
      { prefix: '/dl/', upstream: other.url },
      { prefix: '/meetings/', upstream: other.url, maxBodyBytes: 16 * 1024 * 1024 },
      { prefix: '/updates', upstream: other.url, maxBodyBytes: 1000 },
      { prefix: '/ws/', upstream: other.url, websocket: true },
      { prefix: '/down/', upstream: 'https://127.0.0.1:1' },
    ],
  });
  agent = new Agent({ connect: { ca: pem.ca }, connections: 4 });
});

after(async () => {
  await agent.close();
  await proxy.close();
  await abs.close();
  await other.close();
  await removePem(pem);
});

async function get(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const response = await request(`${proxy.url}${path}`, {
    dispatcher: agent,
    headers: { host: 'localhost', ...headers },
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: Buffer.from(await response.body.arrayBuffer()),
  };
}

function lastSeen(origin: Origin): SeenRequest {
  const seen = origin.seen.at(-1);
  assert.ok(seen !== undefined, 'the origin saw no request');
  return seen;
}

describe('reverse proxy: published paths', () => {
  test('each published path reaches its origin over mutual TLS with our forwarding headers', async () => {
    for (const [path, origin] of [
      ['/abs/index', abs],
      ['/dl/expand?group=sales', other],
      ['/meetings/m1/slides.pdf', other],
      ['/updates', other],
      ['/updates/device/1.2', other],
    ] as const) {
      const before = origin.seen.length;
      const response = await get(path, {
        'x-forwarded-for': '10.9.9.9',
        'x-rampart-user': 'sip:ceo@example.test',
      });
      assert.equal(response.status, 200, path);
      assert.equal(origin.seen.length, before + 1, path);
      const seen = lastSeen(origin);
      assert.equal(seen.url, path);
      assert.equal(seen.clientCertificate, '127.0.0.1', 'the proxy presents its certificate');
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(seen.headers['x-forwarded-proto'], 'https');
      assert.equal(seen.headers['x-forwarded-host'], 'localhost');
      assert.equal(seen.headers['x-rampart-user'], undefined, 'pass-through: no user header');
    }
  });

  test('unpublished paths are 404 and reach no origin', async () => {
    const before = abs.seen.length + other.seen.length;
    for (const path of ['/', '/admin', '/abs', '/absx/y', '/dl', '/updatesx', '/metrics']) {
      const response = await get(path);
      assert.equal(response.status, 404, path);
    }
    assert.equal(abs.seen.length + other.seen.length, before);
  });

  test('hop-by-hop response headers, and those Connection names, do not reach the client', async () => {
    const response = await get('/abs/hop');
    assert.equal(response.status, 200);
    assert.equal(response.headers['x-internal'], undefined);
    assert.equal(response.headers['x-kept'], '1');
  });
});

describe('reverse proxy: large files and bodies', () => {
  test('a large address-book file resumes with Range after a broken download', async () => {
    const received: Buffer[] = [];
    let got = 0;
    const first = await request(`${proxy.url}/abs/big.lsabs`, {
      dispatcher: agent,
      headers: { host: 'localhost' },
    });
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['accept-ranges'], 'bytes');
    for await (const chunk of first.body as AsyncIterable<Buffer>) {
      received.push(chunk);
      got += chunk.length;
      if (got >= 3 * 1024 * 1024) break; // the download breaks off here
    }
    first.body.destroy();
    const resumed = await get('/abs/big.lsabs', { range: `bytes=${String(got)}-` });
    assert.equal(resumed.status, 206);
    assert.equal(
      resumed.headers['content-range'],
      `bytes ${String(got)}-${String(FILE.length - 1)}/${String(FILE.length)}`,
    );
    const whole = Buffer.concat([...received, resumed.body]);
    assert.equal(whole.length, FILE.length);
    assert.equal(createHash('sha256').update(whole).digest('hex'), FILE_SHA);
    assert.equal(lastSeen(abs).headers.range, `bytes=${String(got)}-`);
  });

  test('request bodies stream through, with Content-Length and chunked', async () => {
    const body = randomBytes(5 * 1024 * 1024);
    const sha = createHash('sha256').update(body).digest('hex');
    const sized = await request(`${proxy.url}/meetings/m1/upload`, {
      dispatcher: agent,
      method: 'PUT',
      headers: { host: 'localhost', 'content-length': String(body.length) },
      body,
    });
    assert.equal(sized.statusCode, 200);
    const sizedSeen = (await sized.body.json()) as SeenRequest;
    assert.equal(sizedSeen.bodySha256, sha);
    assert.equal(sizedSeen.headers['content-length'], String(body.length));
    const chunked = await request(`${proxy.url}/meetings/m1/upload`, {
      dispatcher: agent,
      method: 'POST',
      headers: { host: 'localhost' },
      body: Readable.from([body.subarray(0, 1000), body.subarray(1000)]),
    });
    assert.equal(chunked.statusCode, 200);
    const chunkedSeen = (await chunked.body.json()) as SeenRequest;
    assert.equal(chunkedSeen.bodySha256, sha);
    assert.equal(chunkedSeen.headers['transfer-encoding'], 'chunked');
  });

  test('a body over the route limit is 413: by Content-Length before the upstream sees anything', async () => {
    const before = other.seen.length;
    const response = await request(`${proxy.url}/updates/package`, {
      dispatcher: agent,
      method: 'POST',
      headers: { host: 'localhost', 'content-length': '1001' },
      body: Buffer.alloc(1001),
    });
    assert.equal(response.statusCode, 413);
    await response.body.dump();
    assert.equal(other.seen.length, before);
  });

  test('a chunked body over the limit is 413 and never completes upstream', async () => {
    const response = await request(`${proxy.url}/updates/package`, {
      dispatcher: agent,
      method: 'POST',
      headers: { host: 'localhost' },
      body: Readable.from([Buffer.alloc(600), Buffer.alloc(600)]),
    });
    assert.equal(response.statusCode, 413);
    await response.body.dump();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const completeOver = other.seen.filter((s) => s.url === '/updates/package' && s.complete);
    assert.deepEqual(completeOver, [], 'no complete request over the limit reached the origin');
  });
});

describe('reverse proxy: upstream failures, pools, WebSocket', () => {
  test('an unreachable upstream is 502, a slow one 504; both counted', async () => {
    assert.equal((await get('/down/x')).status, 502);
    assert.equal((await get('/abs/slow')).status, 504);
    const metrics = await proxy.registry.metrics();
    assert.match(
      metrics,
      /rampart_http_upstream_errors_total\{[^}]*route="\/down\/",reason="connect"\} 1/,
    );
    assert.match(
      metrics,
      /rampart_http_upstream_errors_total\{[^}]*route="\/abs\/",reason="headers-timeout"\} 1/,
    );
  });

  test('upstream connections are kept alive and reused', async () => {
    const before = other.connections();
    for (let i = 0; i < 40; i++) assert.equal((await get(`/dl/list?i=${String(i)}`)).status, 200);
    assert.ok(
      other.connections() - before <= 1,
      `${String(other.connections() - before)} new connections`,
    );
  });

  test('WebSocket upgrades are relayed on routes that allow them, refused elsewhere', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${String(proxy.port)}/ws/echo`, {
      ca: pem.ca,
      headers: { host: 'localhost' },
    });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => {
        ws.send('hello through the proxy');
      });
      ws.on('message', (data: Buffer) => {
        resolve(data.toString());
      });
      ws.on('error', reject);
    });
    assert.equal(reply, 'hello through the proxy');
    ws.close();
    const refused = new WebSocket(`wss://127.0.0.1:${String(proxy.port)}/dl/ws`, {
      ca: pem.ca,
      headers: { host: 'localhost' },
    });
    const status = await new Promise<number>((resolve) => {
      refused.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
      });
      refused.on('error', () => {
        resolve(-1);
      });
    });
    assert.equal(status, 404);
  });
});

describe('reverse proxy: access log and metrics', () => {
  test('one JSON access line per request and per-route metrics', async () => {
    const before = proxy.logger.lines.filter((l) => l['event'] === 'access').length;
    await get('/dl/one');
    await get('/nowhere');
    const lines = proxy.logger.lines.filter((l) => l['event'] === 'access').slice(before);
    assert.equal(lines.length, 2);
    const [hit, miss] = lines;
    assert.ok(hit !== undefined && miss !== undefined);
    assert.equal(hit['route'], '/dl/');
    assert.equal(hit['status'], 200);
    assert.equal(hit['path'], '/dl/one');
    assert.equal(hit['remote'], '127.0.0.1');
    assert.equal(typeof hit['ms'], 'number');
    assert.equal(miss['status'], 404);
    assert.equal(miss['reason'], 'not-published');
    const metrics = await proxy.registry.metrics();
    assert.match(
      metrics,
      /rampart_http_requests_total\{[^}]*route="\/dl\/",status_class="2xx"\} \d+/,
    );
    assert.match(metrics, /rampart_http_requests_total\{[^}]*route="-",status_class="4xx"\} \d+/);
    assert.match(metrics, /rampart_http_request_duration_seconds_bucket\{[^}]*route="\/dl\/"/);
  });
});

// Hostile input against the reverse proxy over raw TLS sockets: request smuggling (CL.TE,
// TE.CL, duplicate Content-Length, obfuscated Transfer-Encoding, CR in chunk extensions),
// hop-by-hop abuse, path confusion, Host spoofing, oversized heads, slowloris, open
// redirect. Each case asserts the exact status, whether the connection closed, and what
// (if anything) reached the origin.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import {
  removePem,
  startOrigin,
  startProxy,
  testPem,
  type Origin,
  type Pem,
  type ProxyUnderTest,
} from '../../bench/http/harness.ts';

let pem: Pem;
let origin: Origin;
let proxy: ProxyUnderTest;

before(async () => {
  pem = await testPem();
  origin = await startOrigin(pem, (req, res, body) => {
    if (req.url === '/auth/verify') {
      const { user, password } = JSON.parse(body.toString()) as { user: string; password: string };
      const ok = user === 'alice' && password === 'correct horse';
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(
        ok ? JSON.stringify({ sipUri: 'sip:alice@example.test', displayName: 'Alice' }) : '{}',
      );
      return true;
    }
    return false;
  });
  proxy = await startProxy(pem, {
    routes: [
      { prefix: '/dl/', upstream: origin.url, maxBodyBytes: 4096 },
      { prefix: '/webaccess/', upstream: origin.url, auth: 'forms' },
    ],
    signIn: { verifyUrl: `${origin.url}/auth/verify` },
    limits: { maxHeaderBytes: 8192, maxHeaderCount: 50, maxUrlBytes: 1024 },
    timeouts: { headersMs: 1000, requestMs: 3000, idleMs: 5000 },
  });
});

after(async () => {
  await proxy.close();
  await origin.close();
  await removePem(pem);
});

interface RawResult {
  readonly text: string;
  readonly statuses: readonly number[];
  /** The proxy closed the connection (within the wait). */
  readonly closed: boolean;
  readonly elapsedMs: number;
}

/**
 * Sends `parts` (with `gapMs` between them) on a fresh TLS connection and collects
 * everything until the proxy closes the connection or `waitMs` passes.
 */
async function raw(
  parts: string | readonly (string | Buffer)[],
  options: { readonly waitMs?: number; readonly gapMs?: number } = {},
): Promise<RawResult> {
  const started = Date.now();
  const socket = connect({
    host: '127.0.0.1',
    port: proxy.port,
    ca: pem.ca,
    servername: 'localhost',
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => {
    socket.once('close', () => {
      closed = true;
      resolve();
    });
  });
  for (const part of typeof parts === 'string' ? [parts] : parts) {
    if (socket.destroyed) break;
    socket.write(part);
    if (options.gapMs !== undefined) await new Promise((r) => setTimeout(r, options.gapMs));
  }
  await Promise.race([ended, new Promise((r) => setTimeout(r, options.waitMs ?? 800))]);
  const elapsedMs = Date.now() - started;
  socket.destroy();
  const text = Buffer.concat(chunks).toString('latin1');
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  return { text, statuses, closed, elapsedMs };
}

function head(lines: readonly string[]): string {
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Asserts the exact outcome and that the origin saw nothing. */
async function refused(
  request: string | readonly (string | Buffer)[],
  status: number,
  options: { readonly waitMs?: number; readonly gapMs?: number } = {},
): Promise<RawResult> {
  const before = origin.seen.length;
  const result = await raw(request, options);
  const sent = typeof request === 'string' ? request : request.join('');
  assert.deepEqual(result.statuses, [status], `${JSON.stringify(sent)}\n${result.text}`);
  assert.ok(result.closed, 'the proxy closes the connection');
  assert.equal(origin.seen.length, before, 'nothing reached the origin');
  return result;
}

describe('hostile HTTP: request smuggling', () => {
  test('CL.TE: Content-Length with Transfer-Encoding → 400, closed', async () => {
    await refused(
      head([
        'POST /dl/a HTTP/1.1',
        'Host: localhost',
        'Content-Length: 6',
        'Transfer-Encoding: chunked',
      ]) + '0\r\n\r\nG',
      400,
    );
  });

  test('TE.CL: Transfer-Encoding before Content-Length → 400, closed', async () => {
    await refused(
      head([
        'POST /dl/a HTTP/1.1',
        'Host: localhost',
        'Transfer-Encoding: chunked',
        'Content-Length: 3',
      ]) + '8\r\nSMUGGLED\r\n0\r\n\r\n',
      400,
    );
  });

  test('duplicate Content-Length, equal or not → 400, closed', async () => {
    for (const second of ['6', '5']) {
      await refused(
        head([
          'POST /dl/a HTTP/1.1',
          'Host: localhost',
          'Content-Length: 5',
          `Content-Length: ${second}`,
        ]) + 'hello!',
        400,
      );
    }
  });

  test('obfuscated Transfer-Encoding → 400 (parser) or 501 (unknown coding), closed', async () => {
    const cases: [string[], number][] = [
      [['Transfer-Encoding: xchunked'], 501],
      [['Transfer-Encoding : chunked'], 400],
      [['Transfer-Encoding: chunked', 'Transfer-Encoding: identity'], 400],
      [['Transfer-Encoding: identity, chunked'], 501],
      [['Transfer-Encoding: chunked, chunked'], 400],
      [['Transfer-Encoding: gzip, chunked'], 501],
    ];
    for (const [lines, status] of cases) {
      await refused(
        head(['POST /dl/a HTTP/1.1', 'Host: localhost', ...lines]) + '0\r\n\r\n',
        status,
      );
    }
  });

  test('CR inside a chunk extension → 400, closed', async () => {
    await refused(
      head(['POST /dl/a HTTP/1.1', 'Host: localhost', 'Transfer-Encoding: chunked']) +
        '1;ext="a\rb"\r\nX\r\n0\r\n\r\n',
      400,
    );
  });

  test('a chunked body is forwarded as chunked with the exact bytes', async () => {
    const body = 'Hello, chunked world';
    const result = await raw(
      head([
        'POST /dl/chunked HTTP/1.1',
        'Host: localhost',
        'Transfer-Encoding: chunked',
        'Connection: close',
      ]) + '5;name=value\r\nHello\r\n0f\r\n, chunked world\r\n0\r\n\r\n',
      { waitMs: 2000 },
    );
    assert.deepEqual(result.statuses, [200], result.text);
    const seen = origin.seen.at(-1);
    assert.equal(seen?.url, '/dl/chunked');
    assert.equal(seen.headers['transfer-encoding'], 'chunked');
    assert.equal(seen.headers['content-length'], undefined);
    assert.equal(seen.bodySha256, createHash('sha256').update(body).digest('hex'));
  });

  test('pipelined requests are answered in order, each routed on its own', async () => {
    const result = await raw(
      head(['GET /dl/one HTTP/1.1', 'Host: localhost']) +
        head(['GET /admin HTTP/1.1', 'Host: localhost']) +
        head(['GET /dl/two HTTP/1.1', 'Host: localhost', 'Connection: close']),
      { waitMs: 2000 },
    );
    assert.deepEqual(result.statuses, [200, 404, 200], result.text);
  });
});

describe('hostile HTTP: headers and hosts', () => {
  test('Connection naming Content-Length or Host → 400', async () => {
    for (const token of ['Content-Length', 'host']) {
      await refused(
        head([
          'POST /dl/a HTTP/1.1',
          'Host: localhost',
          `Connection: keep-alive, ${token}`,
          'Content-Length: 2',
        ]) + 'hi',
        400,
      );
    }
  });

  test('hop-by-hop abuse cannot remove or forge our headers', async () => {
    const result = await raw(
      head([
        'GET /dl/hop HTTP/1.1',
        'Host: localhost',
        'Connection: close, X-Forwarded-For, X-Rampart-User, Forwarded',
        'X-Forwarded-For: 10.0.0.1',
        'X-Rampart-User: sip:ceo@example.test',
        'Keep-Alive: timeout=999',
        'Proxy-Authorization: Basic eDp5',
        'TE: trailers',
        'Upgrade: h2c',
      ]),
      { waitMs: 2000 },
    );
    assert.deepEqual(result.statuses, [200], result.text);
    const seen = origin.seen.at(-1);
    assert.equal(seen?.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-rampart-user'], undefined);
    assert.match(String(seen.headers.forwarded), /^for=127\.0\.0\.1;/);
    for (const name of ['keep-alive', 'proxy-authorization', 'te', 'upgrade'])
      assert.equal(seen.headers[name], undefined, name);
  });

  test('Host spoofing: unknown host (userinfo too) → 421, two Host fields → 400, none → 400', async () => {
    const before = origin.seen.length;
    const unknown = await raw(head(['GET /dl/a HTTP/1.1', 'Host: evil.test', 'Connection: close']));
    assert.deepEqual(unknown.statuses, [421]);
    const userinfo = await raw(
      head(['GET /dl/a HTTP/1.1', 'Host: evil.test@localhost', 'Connection: close']),
    );
    assert.deepEqual(userinfo.statuses, [421]);
    await refused(head(['GET /dl/a HTTP/1.1', 'Host: localhost', 'Host: evil.test']), 400);
    await refused(head(['GET /dl/a HTTP/1.1']), 400);
    assert.equal(origin.seen.length, before);
  });

  test('absolute-form and asterisk-form targets → 400', async () => {
    await refused(head(['GET https://localhost/dl/a HTTP/1.1', 'Host: localhost']), 400);
    await refused(head(['OPTIONS * HTTP/1.1', 'Host: localhost']), 400);
    await refused(head(['CONNECT localhost:443 HTTP/1.1', 'Host: localhost:443']), 400);
  });

  test('path confusion: traversal in every spelling → 400, nothing forwarded', async () => {
    for (const target of [
      '/dl/../admin',
      '/dl/%2e%2e/admin',
      '/dl/%2E./admin',
      '/dl/..%2fadmin',
      '/dl%2f..%2fadmin',
      '/dl/%252e%252e/admin',
      '/dl\\..\\admin',
      '/dl/%5c..%5cadmin',
      '/dl/..;/admin',
      '/dl/%00',
    ]) {
      await refused(head([`GET ${target} HTTP/1.1`, 'Host: localhost']), 400);
    }
  });

  test('oversized heads: header bytes → 431, header count → 431, URL → 414', async () => {
    await refused(
      head(['GET /dl/a HTTP/1.1', 'Host: localhost', `X-Big: ${'a'.repeat(9000)}`]),
      431,
    );
    const many = Array.from({ length: 60 }, (_, i) => `X-H${String(i)}: v`);
    await refused(head(['GET /dl/a HTTP/1.1', 'Host: localhost', ...many]), 431);
    await refused(head([`GET /dl/${'a'.repeat(1100)} HTTP/1.1`, 'Host: localhost']), 414);
  });

  test('slowloris: a head trickled in slower than headersMs → 408 and closed', async () => {
    const parts = [
      'GET /dl/a HTTP/1.1\r\n',
      'Host: localhost\r\n',
      'X-A: 1\r\n',
      'X-B: 2\r\n',
      'X-C: 3\r\n',
    ];
    const result = await refused(parts, 408, { gapMs: 400, waitMs: 3000 });
    assert.ok(result.elapsedMs < 3500, `closed after ${String(result.elapsedMs)} ms`);
  });
});

describe('hostile HTTP: open redirect', () => {
  async function signInForm(
    returnTo: string,
  ): Promise<{ cookie: string; csrf: string; hidden: string }> {
    const result = await raw(
      head([
        `GET /signin?return=${encodeURIComponent(returnTo)} HTTP/1.1`,
        'Host: localhost',
        'Connection: close',
      ]),
      { waitMs: 2000 },
    );
    assert.deepEqual(result.statuses, [200], result.text);
    const cookie = /set-cookie: (__Host-rampart-csrf=[^;]+)/i.exec(result.text)?.[1] ?? '';
    const csrf = /name="csrf" value="([^"]+)"/.exec(result.text)?.[1] ?? '';
    const hidden = /name="return" value="([^"]*)"/.exec(result.text)?.[1] ?? '';
    return { cookie, csrf, hidden };
  }

  test('the form never carries a foreign return address', async () => {
    for (const value of [
      'https://evil.test/',
      '//evil.test/webaccess/',
      '/\\evil.test',
      '/webaccess/../x',
    ])
      assert.equal((await signInForm(value)).hidden, '/', value);
    assert.equal((await signInForm('/webaccess/chat')).hidden, '/webaccess/chat');
  });

  test('a successful sign-in posting a foreign return address lands on /', async () => {
    for (const value of [
      'https://evil.test/',
      '//evil.test',
      '/\\evil.test',
      'javascript:alert(1)',
    ]) {
      const form = await signInForm('/');
      const body = new URLSearchParams({
        user: 'alice',
        password: 'correct horse',
        csrf: form.csrf,
        return: value,
      }).toString();
      const result = await raw(
        head([
          'POST /signin HTTP/1.1',
          'Host: localhost',
          'Content-Type: application/x-www-form-urlencoded',
          `Content-Length: ${String(body.length)}`,
          `Cookie: ${form.cookie}`,
          'Connection: close',
        ]) + body,
        { waitMs: 2000 },
      );
      assert.deepEqual(result.statuses, [303], result.text);
      assert.match(result.text, /\r\nlocation: \/\r\n/i, value);
    }
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  clientResponseHeaders,
  hostMatcher,
  hostName,
  upstreamRequestHeaders,
  type ForwardingContext,
} from './headers.ts';

const untrusted: ForwardingContext = {
  clientAddress: '192.0.2.7',
  host: 'web.example.test',
  trusted: false,
};

function asMap(flat: readonly string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const name = (flat[i] ?? '').toLowerCase();
    map.set(name, [...(map.get(name) ?? []), flat[i + 1] ?? '']);
  }
  return map;
}

function forward(raw: readonly string[], context = untrusted): Map<string, string[]> {
  const result = upstreamRequestHeaders(raw, context);
  assert.ok(result.ok);
  return asMap(result.headers);
}

describe('upstreamRequestHeaders', () => {
  test('drops Host and hop-by-hop headers, keeps end-to-end ones', () => {
    const headers = forward([
      'Host',
      'web.example.test',
      'Connection',
      'keep-alive',
      'Keep-Alive',
      'timeout=5',
      'Proxy-Connection',
      'keep-alive',
      'TE',
      'trailers',
      'Transfer-Encoding',
      'chunked',
      'Upgrade',
      'h2c',
      'Proxy-Authorization',
      'Basic eA==',
      'Expect',
      '100-continue',
      'Accept',
      'text/html',
      'Range',
      'bytes=10-',
    ]);
    for (const name of [
      'host',
      'connection',
      'keep-alive',
      'proxy-connection',
      'te',
      'transfer-encoding',
      'upgrade',
      'proxy-authorization',
      'expect',
    ])
      assert.equal(headers.has(name), false, name);
    assert.deepEqual(headers.get('accept'), ['text/html']);
    assert.deepEqual(headers.get('range'), ['bytes=10-']);
  });

  test('drops the headers Connection names', () => {
    const headers = forward([
      'Connection',
      'close, X-Secret ,x-other',
      'X-Secret',
      '1',
      'X-Other',
      '2',
      'X-Kept',
      '3',
    ]);
    assert.equal(headers.has('x-secret'), false);
    assert.equal(headers.has('x-other'), false);
    assert.deepEqual(headers.get('x-kept'), ['3']);
  });

  test('refuses a Connection header naming Content-Length or Host', () => {
    for (const token of ['Content-Length', 'host']) {
      const result = upstreamRequestHeaders(
        ['Connection', `close, ${token}`, 'Content-Length', '5'],
        untrusted,
      );
      assert.deepEqual(result, { ok: false, reason: 'connection-names-framing' });
    }
  });

  test('replaces the forwarding headers of an untrusted client', () => {
    const headers = forward([
      'X-Forwarded-For',
      '10.0.0.1',
      'X-Forwarded-Host',
      'internal.example.test',
      'X-Forwarded-Proto',
      'http',
      'Forwarded',
      'for=10.0.0.1',
      'X-Real-IP',
      '10.0.0.1',
    ]);
    assert.deepEqual(headers.get('x-forwarded-for'), ['192.0.2.7']);
    assert.deepEqual(headers.get('x-forwarded-host'), ['web.example.test']);
    assert.deepEqual(headers.get('x-forwarded-proto'), ['https']);
    assert.deepEqual(headers.get('forwarded'), [
      'for=192.0.2.7;host="web.example.test";proto=https',
    ]);
    assert.equal(headers.has('x-real-ip'), false);
  });

  test('appends to the forwarding headers of a trusted proxy', () => {
    const headers = forward(['X-Forwarded-For', '198.51.100.1', 'Forwarded', 'for=198.51.100.1'], {
      ...untrusted,
      clientAddress: '2001:db8::1',
      trusted: true,
    });
    assert.deepEqual(headers.get('x-forwarded-for'), ['198.51.100.1, 2001:db8::1']);
    assert.deepEqual(headers.get('forwarded'), [
      'for=198.51.100.1, for="[2001:db8::1]";host="web.example.test";proto=https',
    ]);
  });

  test('the user header is only ever ours', () => {
    const raw = ['X-Rampart-User', 'sip:ceo@example.test', 'x-rampart-user', 'sip:x@example.test'];
    assert.equal(forward(raw).has('x-rampart-user'), false);
    assert.deepEqual(
      forward(raw, { ...untrusted, user: 'sip:alice@example.test' }).get('x-rampart-user'),
      ['sip:alice@example.test'],
    );
  });
});

describe('clientResponseHeaders', () => {
  test('drops hop-by-hop headers and those named by Connection', () => {
    const out = clientResponseHeaders({
      connection: 'keep-alive, x-internal',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'x-internal': 'secret',
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
    });
    assert.deepEqual(out, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
  });
});

describe('hosts', () => {
  test('hostName strips ports and brackets', () => {
    assert.equal(hostName('Web.Example.Test:8443'), 'web.example.test');
    assert.equal(hostName('[::1]:8443'), '::1');
    assert.equal(hostName('127.0.0.1'), '127.0.0.1');
  });

  test('hostMatcher: exact names and *.suffix, nothing else', () => {
    const allowed = hostMatcher(['localhost', '*.example.test']);
    assert.ok(allowed('localhost:8443'));
    assert.ok(allowed('web.EXAMPLE.test'));
    assert.equal(allowed('example.test'), false);
    assert.equal(allowed('evil.test'), false);
    assert.equal(allowed('evil.test@localhost'), false);
    assert.equal(allowed('localhost.'), false);
    assert.equal(allowed(''), false);
  });
});

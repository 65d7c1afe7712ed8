import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lazyRequest } from './lazy.ts';
import { header } from './parse.ts';
import { serializeRequest } from './serialize.ts';

test('a lazy request answers like a parsed one, parsing only when read', () => {
  const data = serializeRequest({
    method: 'INVITE',
    requestUri: 'sip:bob@example.test',
    headers: [
      ['Via', 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1'],
      ['Call-ID', 'c1'],
    ],
    body: Buffer.from('v=0'),
  });
  const request = lazyRequest(data, 'INVITE');
  assert.equal(request.method, 'INVITE');
  assert.equal(request.raw, data);
  assert.equal(request.requestUri, 'sip:bob@example.test');
  assert.equal(header(request, 'call-id'), 'c1');
  assert.equal(request.body.toString(), 'v=0');
});

test('reading a lazy request built from garbage is a programmer error', () => {
  const request = lazyRequest(Buffer.from('not sip'), 'BYE');
  assert.equal(request.method, 'BYE');
  assert.throws(() => request.headers, TypeError);
});

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SipRequest } from '../../codec/sip/message.ts';
import { parseSipMessage } from '../../codec/sip/parse.ts';
import { parseRestUsername, restPassword } from '../turn/credentials.ts';
import {
  answerTurnCredentialRequest,
  issueTurnCredentials,
  parseTurnCredentialRequest,
  TURN_CREDENTIALS_CONTENT_TYPE,
  type IssueTurnCredentialsInput,
} from './turn-credentials.ts';

const SECRET = 'shared turn rest secret';
const NOW = 1_700_000_000_500;

const input: IssueTurnCredentialsInput = {
  user: 'alice@example.com',
  cameFrom: 'external',
  allowed: true,
  secret: SECRET,
  lifetimeSeconds: 28_800,
  now: NOW,
  avEdge: {
    external: [
      { host: 'av.example.com', port: 3478, transport: 'udp' },
      { host: 'av.example.com', port: 443, transport: 'tcp' },
      { host: 'av.example.com', port: 5349, transport: 'tls' },
    ],
    internal: [{ host: '2001:db8::5', port: 3478, transport: 'udp' }],
  },
};

function service(
  body: string,
  contentType: string | null = TURN_CREDENTIALS_CONTENT_TYPE,
): SipRequest {
  const raw = Buffer.from(
    'SERVICE sip:example.com SIP/2.0\r\n' +
      'Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKs\r\n' +
      'From: <sip:alice@example.com>;tag=1\r\nTo: <sip:example.com>\r\nCall-ID: s\r\n' +
      'CSeq: 1 SERVICE\r\n' +
      (contentType === null ? '' : `Content-Type: ${contentType}\r\n`) +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  const parsed = parseSipMessage(raw);
  assert.ok(parsed.ok && parsed.value.kind === 'request');
  return parsed.value;
}

describe('issueTurnCredentials', () => {
  it('issues a REST credential the A/V Edge verifies: HMAC-SHA1 checked with node:crypto', () => {
    const issued = issueTurnCredentials(input);
    assert.ok(issued.ok);
    const { username, password, ttl, uris } = issued.value;
    assert.equal(username, `${Math.floor(NOW / 1000) + 28_800}:alice@example.com`);
    assert.equal(password, createHmac('sha1', SECRET).update(username).digest('base64'));
    assert.equal(password, restPassword(SECRET, username));
    assert.equal(ttl, 28_800);
    const rest = parseRestUsername(username);
    assert.ok(rest.ok);
    assert.equal(rest.value.user, 'alice@example.com');
    assert.deepEqual(uris, [
      'turn:av.example.com:3478?transport=udp',
      'turn:av.example.com:443?transport=tcp',
      'turns:av.example.com:5349?transport=tcp',
    ]);
  });

  it('gives the internal side to a client that came from inside, IPv6 in brackets', () => {
    const issued = issueTurnCredentials({ ...input, cameFrom: 'internal' });
    assert.ok(issued.ok);
    assert.deepEqual(issued.value.uris, ['turn:[2001:db8::5]:3478?transport=udp']);
  });

  it('refuses with 403 when policy forbids, 503 when the side has no listener', () => {
    const denied = issueTurnCredentials({ ...input, allowed: false });
    assert.ok(!denied.ok);
    assert.equal(denied.error.status, 403);
    const none = issueTurnCredentials({ ...input, avEdge: { external: [], internal: [] } });
    assert.ok(!none.ok);
    assert.equal(none.error.status, 503);
  });
});

describe('parseTurnCredentialRequest', () => {
  it('accepts an empty body and {"location": ...}', () => {
    assert.deepEqual(parseTurnCredentialRequest(service('', null)), { ok: true, value: {} });
    assert.deepEqual(parseTurnCredentialRequest(service('{"location":"internal"}')), {
      ok: true,
      value: { location: 'internal' },
    });
    assert.deepEqual(
      parseTurnCredentialRequest(service('{}', `${TURN_CREDENTIALS_CONTENT_TYPE}; charset=utf-8`)),
      { ok: true, value: {} },
    );
  });

  it('refuses another media type (415 + Accept), bad JSON or fields (400), a big body (413)', () => {
    const wrongType = parseTurnCredentialRequest(service('{}', 'application/json'));
    assert.ok(!wrongType.ok);
    assert.equal(wrongType.error.status, 415);
    assert.deepEqual(wrongType.error.headers, [['Accept', TURN_CREDENTIALS_CONTENT_TYPE]]);
    for (const body of ['{', '[]', '{"location":"mars"}', '{"location":"internal","x":1}', '"a"']) {
      const result = parseTurnCredentialRequest(service(body));
      assert.ok(!result.ok, body);
      assert.equal(result.error.status, 400, body);
    }
    const big = parseTurnCredentialRequest(service(`{"location":"internal"${' '.repeat(2000)}}`));
    assert.ok(!big.ok);
    assert.equal(big.error.status, 413);
  });

  it('never throws on arbitrary bodies', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (body) => {
        parseTurnCredentialRequest(service(body.replace(/\r|\n/g, '')));
      }),
    );
  });
});

describe('answerTurnCredentialRequest', () => {
  it('answers 200 with the JSON body and its Content-Type', () => {
    const answer = answerTurnCredentialRequest(service('{"location":"external"}'), input);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.headers, [['Content-Type', TURN_CREDENTIALS_CONTENT_TYPE]]);
    const body = JSON.parse(answer.body?.toString('utf8') ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['username', 'password', 'ttl', 'uris']);
  });

  it('the client claiming to be internal does not get the internal side', () => {
    const answer = answerTurnCredentialRequest(service('{"location":"internal"}'), input);
    const body = JSON.parse(answer.body?.toString('utf8') ?? '') as { uris: string[] };
    assert.ok(body.uris.every((uri) => uri.includes('av.example.com')));
  });

  it('passes refusals through', () => {
    assert.equal(
      answerTurnCredentialRequest(service('{', TURN_CREDENTIALS_CONTENT_TYPE), input).status,
      400,
    );
    assert.equal(
      answerTurnCredentialRequest(service('{}'), { ...input, allowed: false }).status,
      403,
    );
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest, SipResponse } from './message.ts';
import { header, headerValues, parseSipMessage } from './parse.ts';
import {
  buildAckForNon2xx,
  buildCancel,
  buildResponse,
  reasonPhrase,
  serializeRequest,
  serializeResponse,
} from './serialize.ts';

const INVITE =
  'INVITE sip:bob@example.test SIP/2.0\r\n' +
  'Via: SIP/2.0/UDP proxy.test;branch=z9hG4bKp\r\n' +
  'Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKa;rport=5060;received=192.0.2.7\r\n' +
  'Route: <sip:p1.test;lr>, <sip:p2.test;lr>\r\n' +
  'Max-Forwards: 69\r\n' +
  'From: "Alice" <sip:alice@example.test>;tag=f1\r\n' +
  'To: <sip:bob@example.test>\r\n' +
  'Call-ID: call-1\r\n' +
  'CSeq: 7 INVITE\r\n' +
  'Timestamp: 54\r\n' +
  'Content-Length: 0\r\n\r\n';

function invite(): SipRequest {
  const parsed = parseSipMessage(Buffer.from(INVITE));
  assert.ok(parsed.ok && parsed.value.kind === 'request');
  return parsed.value;
}

function response(bytes: Buffer): SipResponse {
  const parsed = parseSipMessage(bytes);
  assert.ok(parsed.ok && parsed.value.kind === 'response');
  return parsed.value;
}

function request(bytes: Buffer): SipRequest {
  const parsed = parseSipMessage(bytes);
  assert.ok(parsed.ok && parsed.value.kind === 'request');
  return parsed.value;
}

describe('serialize', () => {
  test('serializeRequest writes exact bytes with Content-Length', () => {
    const bytes = serializeRequest({
      method: 'MESSAGE',
      requestUri: 'sip:a@b',
      headers: [
        ['Call-ID', 'x'],
        ['Content-Length', '99'],
      ],
      body: Buffer.from('hé'),
    });
    assert.equal(
      bytes.toString(),
      'MESSAGE sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: 3\r\n\r\nhé',
    );
  });

  test('serializeResponse uses the default reason phrase', () => {
    assert.equal(
      serializeResponse({ status: 183, headers: [] }).toString(),
      'SIP/2.0 183 Session Progress\r\nContent-Length: 0\r\n\r\n',
    );
    assert.equal(reasonPhrase(404), 'Not Found');
    assert.equal(reasonPhrase(499), 'Request Failure');
    assert.equal(reasonPhrase(199), 'Early Dialog Terminated');
  });

  test('programmer errors throw: injected line breaks, bad names, bad status', () => {
    assert.throws(
      () => serializeResponse({ status: 200, headers: [['X', 'a\r\nB: c']] }),
      TypeError,
    );
    assert.throws(() => serializeResponse({ status: 200, headers: [['X Y', 'a']] }), TypeError);
    assert.throws(() => serializeResponse({ status: 1000, headers: [] }), TypeError);
    assert.throws(
      () => serializeRequest({ method: 'A B', requestUri: 'sip:a', headers: [] }),
      TypeError,
    );
  });
});

describe('buildResponse (RFC 3261 §8.2.6)', () => {
  test('copies Via lines in order, From, To + tag, Call-ID, CSeq', () => {
    const res = response(
      buildResponse(invite(), 486, { toTag: 't9', headers: [['Retry-After', '30']] }),
    );
    assert.equal(res.status, 486);
    assert.equal(res.reason, 'Busy Here');
    assert.deepEqual(
      res.headers.map((h) => [h.name, h.value]),
      [
        ['via', 'SIP/2.0/UDP proxy.test;branch=z9hG4bKp'],
        ['via', 'SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKa;rport=5060;received=192.0.2.7'],
        ['from', '"Alice" <sip:alice@example.test>;tag=f1'],
        ['to', '<sip:bob@example.test>;tag=t9'],
        ['call-id', 'call-1'],
        ['cseq', '7 INVITE'],
        ['retry-after', '30'],
        ['content-length', '0'],
      ],
    );
  });

  test('100 Trying: no To tag, Timestamp copied (§8.2.6.1)', () => {
    const res = response(buildResponse(invite(), 100));
    assert.equal(header(res, 'to'), '<sip:bob@example.test>');
    assert.equal(header(res, 'timestamp'), '54');
  });

  test('an existing To tag is kept; a random one is generated otherwise', () => {
    const tagged = request(
      Buffer.from(INVITE.replace('To: <sip:bob@example.test>', 'To: <sip:bob@example.test>;tag=x')),
    );
    assert.equal(
      header(response(buildResponse(tagged, 200, { toTag: 'y' })), 'to'),
      '<sip:bob@example.test>;tag=x',
    );
    assert.match(
      header(response(buildResponse(invite(), 404)), 'to') ?? '',
      /;tag=[A-Za-z0-9]{10}$/,
    );
  });
});

describe('ACK and CANCEL', () => {
  test('ACK for a non-2xx (RFC 3261 §17.1.1.3)', () => {
    const req = invite();
    const res = response(buildResponse(req, 404, { toTag: 'z' }));
    const ack = request(buildAckForNon2xx(req, res));
    assert.equal(ack.method, 'ACK');
    assert.equal(ack.requestUri, 'sip:bob@example.test');
    assert.deepEqual(headerValues(ack, 'via'), ['SIP/2.0/UDP proxy.test;branch=z9hG4bKp']);
    assert.deepEqual(headerValues(ack, 'route'), ['<sip:p1.test;lr>', '<sip:p2.test;lr>']);
    assert.equal(header(ack, 'from'), '"Alice" <sip:alice@example.test>;tag=f1');
    assert.equal(header(ack, 'to'), '<sip:bob@example.test>;tag=z');
    assert.equal(header(ack, 'call-id'), 'call-1');
    assert.equal(header(ack, 'cseq'), '7 ACK');
    assert.equal(ack.body.length, 0);
  });

  test('CANCEL (RFC 3261 §9.1)', () => {
    const cancel = request(buildCancel(invite()));
    assert.equal(cancel.method, 'CANCEL');
    assert.equal(cancel.requestUri, 'sip:bob@example.test');
    assert.deepEqual(headerValues(cancel, 'via'), ['SIP/2.0/UDP proxy.test;branch=z9hG4bKp']);
    assert.deepEqual(headerValues(cancel, 'route'), ['<sip:p1.test;lr>', '<sip:p2.test;lr>']);
    assert.equal(header(cancel, 'to'), '<sip:bob@example.test>');
    assert.equal(header(cancel, 'cseq'), '7 CANCEL');
    assert.equal(header(cancel, 'max-forwards'), '70');
  });
});

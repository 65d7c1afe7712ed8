import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEdits, removeFirstValue } from './edit.ts';
import type { SipMessage } from './message.ts';
import { header, headerFields, headerValues, parseSipMessage } from './parse.ts';

const REQUEST =
  'INVITE sip:bob@example.test SIP/2.0\r\n' +
  'v: SIP/2.0/UDP proxy.test;branch=z9hG4bKp, SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKa\r\n' +
  'Max-Forwards: 70\r\n' +
  'To: <sip:bob@example.test>\r\n' +
  'From: <sip:alice@example.test>;tag=1\r\n' +
  'Call-ID: c1\r\n' +
  'CSeq: 1 INVITE\r\n' +
  'Content-Type: text/plain\r\n' +
  'Content-Length: 4\r\n' +
  '\r\n' +
  'body';

function parse(text: string | Buffer, datagram = false): SipMessage {
  const parsed = parseSipMessage(Buffer.isBuffer(text) ? text : Buffer.from(text), { datagram });
  assert.ok(parsed.ok);
  return parsed.value;
}

function field(msg: SipMessage, name: string) {
  const found = headerFields(msg, name)[0];
  assert.ok(found, name);
  return found;
}

describe('applyEdits', () => {
  test('no edits: the original buffer itself', () => {
    const msg = parse(REQUEST);
    assert.equal(applyEdits(msg, []), msg.raw);
  });

  test('no edits on a datagram with trailing octets: they are not forwarded (RFC 3261 §18.3)', () => {
    const msg = parse(`\r\n${REQUEST}INVITE sip:smuggled SIP/2.0\r\n\r\n`, true);
    assert.equal(applyEdits(msg, []).toString(), REQUEST);
    const edited = applyEdits(msg, [{ type: 'remove-header', field: field(msg, 'max-forwards') }]);
    assert.equal(edited.toString(), REQUEST.replace('Max-Forwards: 70\r\n', ''));
  });

  test('every edit kind, and the bytes in between stay exactly as received', () => {
    const msg = parse(REQUEST);
    const out = applyEdits(msg, [
      { type: 'set-request-uri', uri: 'sip:bob@203.0.113.4:5080;transport=tcp' },
      ...removeFirstValue(msg, 'via'),
      { type: 'replace-header', field: field(msg, 'max-forwards'), value: '69' },
      { type: 'insert-header', name: 'Via', value: 'SIP/2.0/TCP edge.test;branch=z9hG4bKe' },
      {
        type: 'insert-header',
        name: 'Record-Route',
        value: '<sip:edge.test;lr>',
        before: field(msg, 'to'),
      },
      { type: 'append-header', name: 'X-Edge', value: 'yes' },
    ]);
    assert.equal(
      out.toString(),
      'INVITE sip:bob@203.0.113.4:5080;transport=tcp SIP/2.0\r\n' +
        'Via: SIP/2.0/TCP edge.test;branch=z9hG4bKe\r\n' +
        'v: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKa\r\n' +
        'Max-Forwards: 69\r\n' +
        'Record-Route: <sip:edge.test;lr>\r\n' +
        'To: <sip:bob@example.test>\r\n' +
        'From: <sip:alice@example.test>;tag=1\r\n' +
        'Call-ID: c1\r\n' +
        'CSeq: 1 INVITE\r\n' +
        'Content-Type: text/plain\r\n' +
        'Content-Length: 4\r\n' +
        'X-Edge: yes\r\n' +
        '\r\n' +
        'body',
    );
    const reparsed = parse(out);
    assert.deepEqual(headerValues(reparsed, 'via'), [
      'SIP/2.0/TCP edge.test;branch=z9hG4bKe',
      'SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKa',
    ]);
  });

  test('removeFirstValue drops a single-valued line and is empty for an absent header', () => {
    const msg = parse(REQUEST.replace(', SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKa', ''));
    const out = applyEdits(msg, removeFirstValue(msg, 'Via'));
    assert.equal(header(parse(out), 'via'), undefined);
    assert.deepEqual(removeFirstValue(msg, 'route'), []);
  });

  test('set-body rewrites Content-Length and Content-Type', () => {
    const msg = parse(REQUEST);
    const out = parse(
      applyEdits(msg, [
        { type: 'set-body', body: Buffer.from('v=0\r\n'), contentType: 'application/sdp' },
      ]),
    );
    assert.equal(header(out, 'content-length'), '5');
    assert.equal(header(out, 'content-type'), 'application/sdp');
    assert.equal(out.body.toString(), 'v=0\r\n');
    const emptied = parse(applyEdits(msg, [{ type: 'set-body', body: Buffer.alloc(0) }]));
    assert.equal(header(emptied, 'content-length'), '0');
    assert.equal(header(emptied, 'content-type'), undefined);
    assert.equal(emptied.body.length, 0);
  });

  test('set-body adds Content-Length when absent, and the empty line a datagram lacked', () => {
    const msg = parse('MESSAGE sip:a@b SIP/2.0\r\nCall-ID: x\r\n', true);
    const out = applyEdits(msg, [
      { type: 'set-body', body: Buffer.from('hi'), contentType: 'text/plain' },
    ]);
    assert.equal(
      out.toString(),
      'MESSAGE sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi',
    );
  });

  test('set-status rewrites a response Status-Line', () => {
    const msg = parse('SIP/2.0 503 Service Unavailable\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n');
    const out = applyEdits(msg, [
      { type: 'set-status', status: 500, reason: 'Server Internal Error' },
    ]);
    assert.equal(
      out.toString(),
      'SIP/2.0 500 Server Internal Error\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n',
    );
  });

  test('programmer errors throw', () => {
    const msg = parse(REQUEST);
    const to = field(msg, 'to');
    assert.throws(
      () => applyEdits(msg, [{ type: 'insert-header', name: 'X', value: 'a\r\nInjected: 1' }]),
      TypeError,
    );
    assert.throws(
      () => applyEdits(msg, [{ type: 'insert-header', name: 'X Y', value: 'a' }]),
      TypeError,
    );
    assert.throws(
      () =>
        applyEdits(msg, [
          { type: 'remove-header', field: to },
          { type: 'replace-header', field: to, value: 'x' },
        ]),
      TypeError,
    );
    assert.throws(
      () => applyEdits(msg, [{ type: 'set-status', status: 200, reason: 'OK' }]),
      TypeError,
    );
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyEdits, removeFirstValue } from './edit.ts';
import { cseqOf, parseNameAddr, parseViaValue, topVia } from './headers.ts';
import type { SipRequest } from './message.ts';
import { header, headerValues, parseSipMessage } from './parse.ts';
import { buildAckForNon2xx, buildCancel, buildResponse, serializeRequest } from './serialize.ts';
import { checkRequest } from './validate.ts';
import { formatSipUri, parseSipUri, parseUri, sipUriEquals } from './uri.ts';

const INVITE =
  'INVITE sip:bob@example.test SIP/2.0\r\n' +
  'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa;rport, SIP/2.0/TCP [2001:db8::9]:5061;branch=z9hG4bKb\r\n' +
  'Route: <sip:192.0.2.1;lr>\r\n' +
  'Max-Forwards: 70\r\n' +
  'f: "Alice \\"A\\"" <sip:alice@example.test>;tag=1\r\n' +
  't: <sip:bob@example.test>\r\n' +
  'i: call-1\r\n' +
  'CSeq: 7 INVITE\r\n' +
  'Subject: a folded\r\n  subject line\r\n' +
  'l: 4\r\n\r\nbodyEXTRA';

function invite(): SipRequest {
  const parsed = parseSipMessage(Buffer.from(INVITE), { datagram: true });
  assert.ok(parsed.ok && parsed.value.kind === 'request');
  return parsed.value;
}

describe('SIP codec', () => {
  test('compact forms, folding, comma-combined values and the datagram body (RFC 3261 §7.3, §18.3)', () => {
    const msg = invite();
    assert.equal(header(msg, 'call-id'), 'call-1');
    assert.equal(header(msg, 'Subject'), 'a folded subject line');
    assert.equal(headerValues(msg, 'via').length, 2);
    assert.equal(msg.body.toString(), 'body');
    assert.deepEqual(cseqOf(msg), { ok: true, value: { seq: 7, method: 'INVITE' } });
    const via = topVia(msg);
    assert.ok(via.ok);
    assert.equal(via.value.rport, true);
    assert.equal(via.value.branch, 'z9hG4bKa');
  });

  test('IPv6 references in Via and URIs (RFC 5118)', () => {
    const via = parseViaValue(
      'SIP/2.0/TCP [2001:db8::9]:5061;branch=z9hG4bKb;received=[2001:db8::1]',
    );
    assert.ok(via.ok);
    assert.equal(via.value.host, '2001:db8::9');
    assert.equal(via.value.port, 5061);
    const uri = parseSipUri('sip:[2001:db8::10]:5070;transport=tcp');
    assert.ok(uri.ok);
    assert.equal(uri.value.host, '2001:db8::10');
    assert.equal(formatSipUri(uri.value), 'sip:[2001:db8::10]:5070;transport=tcp');
  });

  test('name-addr with a quoted display name and escapes', () => {
    const parsed = parseNameAddr('"Alice \\"A\\"" <sip:alice@example.test>;tag=1');
    assert.ok(parsed.ok);
    assert.equal(parsed.value.displayName, 'Alice "A"');
    assert.equal(parsed.value.params.get('tag'), '1');
  });

  test('URI comparison (RFC 3261 §19.1.4)', () => {
    const a = parseSipUri('sip:%61lice@EXAMPLE.test;transport=TCP');
    const b = parseSipUri('sip:alice@example.test;transport=tcp');
    const c = parseSipUri('sip:alice@example.test');
    assert.ok(a.ok && b.ok && c.ok);
    assert.ok(sipUriEquals(a.value, b.value));
    assert.ok(!sipUriEquals(a.value, c.value));
  });

  test('buildResponse copies Via lines, From, To (+tag), Call-ID, CSeq (RFC 3261 §8.2.6.2)', () => {
    const parsed = parseSipMessage(buildResponse(invite(), 486, { toTag: 'x9' }));
    assert.ok(parsed.ok && parsed.value.kind === 'response');
    assert.equal(parsed.value.status, 486);
    assert.deepEqual(headerValues(parsed.value, 'via'), headerValues(invite(), 'via'));
    assert.equal(header(parsed.value, 'to'), '<sip:bob@example.test>;tag=x9');
    assert.equal(header(parsed.value, 'cseq'), '7 INVITE');
  });

  test('ACK for a non-2xx and CANCEL (RFC 3261 §17.1.1.3, §9.1)', () => {
    const req = invite();
    const resp = parseSipMessage(buildResponse(req, 404, { toTag: 'z' }));
    assert.ok(resp.ok && resp.value.kind === 'response');
    const ack = parseSipMessage(buildAckForNon2xx(req, resp.value));
    assert.ok(ack.ok && ack.value.kind === 'request');
    assert.equal(ack.value.requestUri, req.requestUri);
    assert.deepEqual(headerValues(ack.value, 'via'), [headerValues(req, 'via')[0]]);
    assert.equal(header(ack.value, 'cseq'), '7 ACK');
    assert.equal(header(ack.value, 'to'), '<sip:bob@example.test>;tag=z');
    assert.deepEqual(headerValues(ack.value, 'route'), ['<sip:192.0.2.1;lr>']);
    const cancel = parseSipMessage(buildCancel(req));
    assert.ok(cancel.ok && cancel.value.kind === 'request');
    assert.equal(header(cancel.value, 'cseq'), '7 CANCEL');
    assert.equal(header(cancel.value, 'to'), '<sip:bob@example.test>');
  });

  test('edits change only their spans; no edits returns the original bytes', () => {
    const msg = invite();
    // No edits: the message itself, without the datagram's octets past Content-Length (§18.3).
    assert.deepEqual(applyEdits(msg, []), Buffer.from(INVITE.slice(0, -'EXTRA'.length)));
    const out = applyEdits(msg, [
      ...removeFirstValue(msg, 'via', 'Via'),
      { type: 'set-request-uri', uri: 'sip:bob@203.0.113.4' },
    ]);
    const text = out.toString('latin1');
    assert.ok(
      text.startsWith(
        'INVITE sip:bob@203.0.113.4 SIP/2.0\r\nVia: SIP/2.0/TCP [2001:db8::9]:5061;branch=z9hG4bKb\r\nRoute:',
      ),
    );
    assert.ok(text.endsWith(INVITE.slice(INVITE.indexOf('Route:'), -'EXTRA'.length)));
  });

  test('checkRequest: missing mandatory header → 400; Require for a UAS → 420', () => {
    const missing = parseSipMessage(
      Buffer.from(
        'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\n\r\n',
      ),
    );
    assert.ok(missing.ok && missing.value.kind === 'request');
    const r1 = checkRequest(missing.value, { role: 'proxy' });
    assert.ok(!r1.ok && r1.error.status === 400);
    const req = parseSipMessage(
      Buffer.from(INVITE.replace('Max-Forwards: 70', 'Max-Forwards: 70\r\nRequire: 100rel')),
      { datagram: true },
    );
    assert.ok(req.ok && req.value.kind === 'request');
    const r2 = checkRequest(req.value, { role: 'uas' });
    assert.ok(!r2.ok && r2.error.status === 420);
    assert.ok(checkRequest(req.value, { role: 'proxy' }).ok);
  });

  test('property: arbitrary bytes never throw in any parser', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const buf = Buffer.from(bytes);
        const parsed = parseSipMessage(buf, { datagram: true });
        parseSipMessage(buf);
        const text = buf.toString('latin1');
        parseUri(text);
        parseViaValue(text);
        parseNameAddr(text);
        if (parsed.ok && parsed.value.kind === 'request')
          checkRequest(parsed.value, { role: 'proxy' });
      }),
      { numRuns: 2000 },
    );
  });

  test('property: text built from SIP-ish pieces never throws either', () => {
    const piece = fc.constantFrom(
      'INVITE ',
      'sip:',
      'SIP/2.0',
      '\r\n',
      'Via: ',
      ';branch=',
      'z9hG4bK',
      ':',
      '<',
      '>',
      '"',
      '\\',
      ',',
      ' ',
      '[',
      ']',
      'l: 5',
      'CSeq: 1 INVITE',
      '\r\n\r\n',
      '@',
      '?',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const buf = Buffer.from(pieces.join(''), 'latin1');
        const parsed = parseSipMessage(buf, { datagram: true });
        if (parsed.ok && parsed.value.kind === 'request')
          checkRequest(parsed.value, { role: 'proxy' });
      }),
      { numRuns: 3000 },
    );
  });

  test('property: parse → serialize → parse is stable for generated requests', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,11}$/);
    const value = fc.stringMatching(/^[A-Za-z0-9][ A-Za-z0-9;=.:@<>-]{0,30}[A-Za-z0-9>]$/);
    fc.assert(
      fc.property(
        token,
        fc.array(fc.tuple(token, value), { maxLength: 8 }),
        fc.string({ maxLength: 40 }),
        (method, headers, body) => {
          const first = serializeRequest({
            method,
            requestUri: 'sip:x@example.test',
            headers,
            body: Buffer.from(body),
          });
          const a = parseSipMessage(first);
          assert.ok(a.ok && a.value.kind === 'request');
          const second = serializeRequest({
            method: a.value.method,
            requestUri: a.value.requestUri,
            headers: a.value.headers
              .filter((h) => h.name !== 'content-length')
              .map(
                (h) =>
                  [first.toString('utf8', h.start, h.end).split(':')[0] ?? '', h.value] as const,
              ),
            body: a.value.body,
          });
          assert.deepEqual(second, first);
        },
      ),
      { numRuns: 500 },
    );
  });
});

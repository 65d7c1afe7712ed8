// Property tests (fast-check): hostile bytes never throw, generated messages round-trip, edits
// with nothing to do change nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyEdits } from './edit.ts';
import { isHostname, parseParams } from './grammar.ts';
import {
  parseAddressList,
  parseContentLength,
  parseCSeq,
  parseMaxForwards,
  parseNameAddr,
  parseVia,
  parseViaValue,
} from './headers.ts';
import { parseSipMessage, splitHeaderList } from './parse.ts';
import { serializeRequest, serializeResponse } from './serialize.ts';
import { parseUri } from './uri.ts';
import { checkRequest, checkResponse } from './validate.ts';

const SIPISH = fc.constantFrom(
  'INVITE ',
  'SIP/2.0 ',
  'SIP/2.0',
  ' 200 OK',
  'sip:',
  'sips:',
  'tel:+1',
  '\r\n',
  '\n',
  '\r\n\r\n',
  ' ',
  '\t',
  'Via: ',
  'v:',
  ';branch=',
  'z9hG4bK',
  ';rport',
  ':',
  '<',
  '>',
  '"',
  '\\',
  ',',
  ';',
  '=',
  '[',
  ']',
  '::1',
  '@',
  '?',
  '%',
  '%4',
  'l: 5',
  'Content-Length: 99999999999',
  'CSeq: 1 INVITE',
  'Call-ID: x',
  'To: <sip:a@b>',
  'From: a <sip:b@c>;tag=1',
  'Contact: *',
  'Max-Forwards: 0',
  'é',
  '\u0000',
);

const hostileText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.array(SIPISH, { maxLength: 60 }).map((parts) => parts.join('')),
);

describe('properties', () => {
  test('arbitrary bytes never throw in parseSipMessage and the checks after it', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
          hostileText.map((t) => Buffer.from(t, 'utf8')),
        ),
        (buf) => {
          for (const datagram of [true, false]) {
            const parsed = parseSipMessage(buf, { datagram });
            if (!parsed.ok) {
              assert.equal(parsed.error.code, 'RAMPART_ERR_SIP_PARSE');
              assert.ok(parsed.error.offset >= 0 && parsed.error.offset <= buf.length);
              continue;
            }
            const msg = parsed.value;
            for (const h of msg.headers) assert.ok(h.start < h.end && h.end <= msg.bodyStart);
            assert.ok(msg.bodyStart + msg.body.length <= buf.length);
            if (msg.kind === 'request') {
              checkRequest(msg, { role: 'proxy' });
              checkRequest(msg, { knownMethods: ['INVITE'], supportedContentTypes: ['a/b'] });
            } else checkResponse(msg);
            // With no edits, the forwarded bytes are a prefix-free view of the message itself.
            const same = applyEdits(msg, []);
            assert.ok(same.length <= buf.length);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('isHostname agrees with the label-by-label definition (RFC 3261 §25.1, plus _)', () => {
    // The reference: split into labels, as the grammar reads.
    const reference = (s: string): boolean => {
      if (s.length === 0 || s.length > 255) return false;
      const labels = (s.endsWith('.') ? s.slice(0, -1) : s).split('.');
      return labels.every(
        (label) =>
          label.length > 0 &&
          label.length <= 63 &&
          /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/.test(label),
      );
    };
    const hostish = fc
      .array(fc.constantFrom('a', 'Z', '0', '9', '-', '_', '.', '..', ' ', '@', ':', 'é'), {
        maxLength: 40,
      })
      .map((parts) => parts.join(''));
    const longLabel = fc.integer({ min: 60, max: 70 }).map((n) => `x.${'a'.repeat(n)}.example`);
    fc.assert(
      fc.property(fc.oneof(hostish, longLabel, fc.string({ maxLength: 300 })), (s) => {
        assert.equal(isHostname(s), reference(s), JSON.stringify(s));
      }),
      { numRuns: 3000 },
    );
  });

  test('the SIP/2.0 fast path of parseViaValue agrees with the general sent-protocol path', () => {
    // "SIP /2.0/" (LWS before the slash, RFC 3261 SLASH = SWS "/" SWS) takes the general
    // path; the same Via written "SIP/2.0/" takes the fast one: both must read the same.
    const viaText = fc
      .tuple(
        fc.constantFrom('UDP', 'tcp', 'TLS', 'WSS', 'x-new', 'U/D', ''),
        fc.constantFrom(' ', '  ', '\t', '', ' / '),
        fc.constantFrom('192.0.2.1', 'host.example:5060', '[2001:db8::1]:5061', 'a b', ''),
        fc.constantFrom('', ';branch=z9hG4bK1', ';rport;received=192.0.2.9', ';ttl=300', ';'),
      )
      .map(([transport, space, sentBy, params]) => `${transport}${space}${sentBy}${params}`);
    fc.assert(
      fc.property(viaText, (rest) => {
        const fast = parseViaValue(`SIP/2.0/${rest}`);
        const general = parseViaValue(`SIP /2.0/${rest}`);
        assert.deepEqual(fast, general, rest);
      }),
      { numRuns: 2000 },
    );
  });

  test('arbitrary text never throws in any header or URI parser', () => {
    fc.assert(
      fc.property(hostileText, (text) => {
        parseUri(text);
        parseVia(text);
        parseNameAddr(text);
        parseAddressList(text);
        parseCSeq(text);
        parseMaxForwards(text);
        parseContentLength(text);
        parseParams(text);
        parseParams(text, 'uri');
        splitHeaderList(text);
      }),
      { numRuns: 5000 },
    );
  });

  const token = fc.stringMatching(/^[A-Za-z0-9.!%*_+`'~-]{1,12}$/);
  const value = fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/);
  const body = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b));

  test('serialize → parse → serialize is byte-stable for generated requests and responses', () => {
    fc.assert(
      fc.property(
        token,
        fc.array(fc.tuple(token, value), { maxLength: 8 }),
        body,
        fc.integer({ min: 100, max: 699 }),
        (method, headers, payload, status) => {
          const cleaned = headers.filter(
            ([name]) => !['content-length', 'l'].includes(name.toLowerCase()),
          );
          const first = serializeRequest({
            method,
            requestUri: 'sip:x@example.test',
            headers: cleaned,
            body: payload,
          });
          const a = parseSipMessage(first);
          assert.ok(a.ok && a.value.kind === 'request');
          assert.equal(a.value.method, method);
          assert.deepEqual(a.value.body, payload);
          assert.deepEqual(
            a.value.headers.slice(0, -1).map((h) => h.value),
            cleaned.map(([, v]) => v),
          );
          const again = serializeRequest({
            method: a.value.method,
            requestUri: a.value.requestUri,
            headers: a.value.headers
              .slice(0, -1)
              .map(
                (h) =>
                  [
                    first.toString('latin1', h.start, first.indexOf(':', h.start)),
                    h.value,
                  ] as const,
              ),
            body: a.value.body,
          });
          assert.deepEqual(again, first);
          // No edits: the very same bytes.
          assert.equal(applyEdits(a.value, []), first);
          const res = serializeResponse({ status, headers: cleaned, body: payload });
          const b = parseSipMessage(res);
          assert.ok(b.ok && b.value.kind === 'response' && b.value.status === status);
          assert.deepEqual(b.value.body, payload);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('a message split anywhere into a datagram prefix never throws and never over-reads', () => {
    const raw = Buffer.from(
      'INVITE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n' +
        'To: <sip:bob@example.test>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n' +
        'Subject: folded\r\n line\r\nContent-Length: 4\r\n\r\nbody',
    );
    for (let cut = 0; cut <= raw.length; cut++) {
      const parsed = parseSipMessage(raw.subarray(0, cut), { datagram: true });
      if (cut === raw.length) assert.ok(parsed.ok);
      else if (parsed.ok) assert.ok(parsed.value.bodyStart + parsed.value.body.length <= cut);
    }
  });
});

// RFC 5118 §4: SIP torture test messages for IPv6, built from the RFC text (CRLF line ends).
// All are valid except §4.2 (an IPv6 address outside brackets in the Request-URI → 400).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNameAddr, parseVias } from '../../src/codec/sip/headers.ts';
import type { SipRequest } from '../../src/codec/sip/message.ts';
import { header, headerValues, parseSipMessage } from '../../src/codec/sip/parse.ts';
import { parseSipUri } from '../../src/codec/sip/uri.ts';
import { checkRequest } from '../../src/codec/sip/validate.ts';

function message(head: readonly string[], body: readonly string[] = []): Buffer {
  const bodyText = body.length === 0 ? '' : body.join('\r\n') + '\r\n';
  return Buffer.from(head.join('\r\n') + '\r\n\r\n' + bodyText, 'latin1');
}

function request(raw: Buffer): SipRequest {
  const parsed = parseSipMessage(raw, { datagram: true });
  assert.ok(parsed.ok, 'parses');
  assert.equal(parsed.value.kind, 'request');
  return parsed.value;
}

function ruriHost(req: SipRequest): { host: string; port: number | undefined } {
  const uri = parseSipUri(req.requestUri);
  assert.ok(uri.ok, req.requestUri);
  return { host: uri.value.host, port: uri.value.port };
}

function contactHost(req: SipRequest): string {
  const contact = parseNameAddr(header(req, 'contact') ?? '');
  assert.ok(contact.ok);
  const uri = parseSipUri(contact.value.uri);
  assert.ok(uri.ok);
  return uri.value.host;
}

const REGISTER_TAIL = [
  'To: sip:user@example.com',
  'From: sip:user@example.com;tag=81x2',
  'Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111',
  'Call-ID: SSG9559905523997077@hlau_4100',
  'Max-Forwards: 70',
  'Contact: "Caller" <sip:caller@[2001:db8::1]>',
  'CSeq: 98176 REGISTER',
  'Content-Length: 0',
];

describe('RFC 5118 IPv6 torture tests', () => {
  test('§4.1 valid IPv6 reference in Request-URI, Via and Contact', () => {
    const req = request(message(['REGISTER sip:[2001:db8::10] SIP/2.0', ...REGISTER_TAIL]));
    assert.deepEqual(ruriHost(req), { host: '2001:db8::10', port: undefined });
    const vias = parseVias(req);
    assert.ok(vias.ok && vias.value[0]?.host === '2001:db8::9:1');
    assert.equal(contactHost(req), '2001:db8::1');
    assert.ok(checkRequest(req).ok);
  });

  test('§4.2 IPv6 address without brackets in the Request-URI → 400', () => {
    const raw = message(['REGISTER sip:2001:db8::10 SIP/2.0', ...REGISTER_TAIL]);
    const parsed = parseSipMessage(raw, { datagram: true });
    const status = parsed.ok
      ? (() => {
          assert.equal(parsed.value.kind, 'request');
          const checked = checkRequest(parsed.value);
          return checked.ok ? 'accept' : checked.error.status;
        })()
      : parsed.error.status;
    assert.equal(status, 400);
    assert.ok(!parseSipUri('sip:2001:db8::10').ok);
  });

  test('§4.3 port inside the brackets is part of the address (valid, not a port)', () => {
    const req = request(message(['REGISTER sip:[2001:db8::10:5070] SIP/2.0', ...REGISTER_TAIL]));
    assert.deepEqual(ruriHost(req), { host: '2001:db8::10:5070', port: undefined });
    assert.ok(checkRequest(req).ok);
  });

  test('§4.4 port outside the brackets is unambiguous', () => {
    const req = request(message(['REGISTER sip:[2001:db8::10]:5070 SIP/2.0', ...REGISTER_TAIL]));
    assert.deepEqual(ruriHost(req), { host: '2001:db8::10', port: 5070 });
    assert.ok(checkRequest(req).ok);
  });

  test('§4.5 Via received= with and without [ ] delimiters', () => {
    const bye = request(
      message([
        'BYE sip:[2001:db8::10] SIP/2.0',
        'To: sip:user@example.com;tag=bd76ya',
        'From: sip:user@example.com;tag=81x2',
        'Via: SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111',
        'Call-ID: SSG9559905523997077@hlau_4100',
        'Max-Forwards: 70',
        'CSeq: 321 BYE',
        'Content-Length: 0',
      ]),
    );
    const v1 = parseVias(bye);
    assert.ok(v1.ok);
    assert.equal(v1.value[0]?.host, '2001:db8::9:1');
    assert.match(v1.value[0].received ?? '', /^\[?2001:db8::9:255\]?$/);
    assert.equal(v1.value[0].branch, 'z9hG4bKas3-111');
    assert.ok(checkRequest(bye).ok);
    const options = request(
      message([
        'OPTIONS sip:[2001:db8::10] SIP/2.0',
        'To: sip:user@example.com',
        'From: sip:user@example.com;tag=81x2',
        'Via: SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3',
        'Call-ID: SSG95523997077@hlau_4100',
        'Max-Forwards: 70',
        'Contact: "Caller" <sip:caller@[2001:db8::9:1]>',
        'CSeq: 921 OPTIONS',
        'Content-Length: 0',
      ]),
    );
    const v2 = parseVias(options);
    assert.ok(v2.ok);
    assert.equal(v2.value[0]?.received, '2001:db8::9:255');
    assert.equal(v2.value[0].branch, 'z9hG4bKas3');
    assert.ok(checkRequest(options).ok);
  });

  const SDP_46 = [
    'v=0',
    'o=assistant 971731711378798081 0 IN IP6 2001:db8::20',
    "s=Live video feed for today's meeting",
    'c=IN IP6 2001:db8::20',
    't=3338481189 3370017201',
    'm=audio 6000 RTP/AVP 2',
    'a=rtpmap:2 G726-32/8000',
    'm=video 6024 RTP/AVP 107',
    'a=rtpmap:107 H263-1998/90000',
  ];

  test('§4.6 IPv6 addresses in SDP (no brackets there)', () => {
    const bodyLength = Buffer.byteLength(SDP_46.join('\r\n') + '\r\n');
    const req = request(
      message(
        [
          'INVITE sip:user@[2001:db8::10] SIP/2.0',
          'To: sip:user@[2001:db8::10]',
          'From: sip:user@example.com;tag=81x2',
          'Via: SIP/2.0/UDP [2001:db8::20];branch=z9hG4bKas3-111',
          'Call-ID: SSG9559905523997077@hlau_4100',
          'Contact: "Caller" <sip:caller@[2001:db8::20]>',
          'CSeq: 8612 INVITE',
          'Max-Forwards: 70',
          'Content-Type: application/sdp',
          `Content-Length: ${bodyLength}`,
        ],
        SDP_46,
      ),
    );
    assert.deepEqual(ruriHost(req), { host: '2001:db8::10', port: undefined });
    assert.equal(contactHost(req), '2001:db8::20');
    assert.ok(req.body.toString('latin1').includes('c=IN IP6 2001:db8::20\r\n'));
    assert.ok(checkRequest(req).ok);
  });

  test('§4.7 a Via list mixing IPv4 addresses and IPv6 references', () => {
    const req = request(
      message([
        'BYE sip:user@host.example.net SIP/2.0',
        'Via: SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111',
        'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKjhja8781hjuaij65144',
        'Via: SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200',
        'Call-ID: 997077@lau_4100',
        'Max-Forwards: 70',
        'CSeq: 89187 BYE',
        'To: sip:user@example.net;tag=9817--94',
        'From: sip:user@example.com;tag=81x2',
        'Content-Length: 0',
      ]),
    );
    const vias = parseVias(req);
    assert.ok(vias.ok);
    assert.deepEqual(
      vias.value.map((v) => [v.transport, v.host, v.port, v.received]),
      [
        ['UDP', '2001:db8::9:1', 6050, undefined],
        ['UDP', '192.0.2.1', undefined, undefined],
        ['TCP', '2001:db8::9:255', undefined, '192.0.2.200'],
      ],
    );
    assert.ok(checkRequest(req).ok);
  });

  test('§4.8 multiple IP addresses in SDP', () => {
    const sdp = [
      'v=0',
      'o=bob 280744730 28977631 IN IP4 host.example.com',
      's=',
      't=0 0',
      'm=audio 22334 RTP/AVP 0',
      'c=IN IP4 192.0.2.1',
      'm=video 6024 RTP/AVP 107',
      'c=IN IP6 2001:db8::1',
      'a=rtpmap:107 H263-1998/90000',
    ];
    const length = Buffer.byteLength(sdp.join('\r\n') + '\r\n');
    const req = request(
      message(
        [
          'INVITE sip:user@[2001:db8::10] SIP/2.0',
          'To: sip:user@[2001:db8::10]',
          'From: sip:user@example.com;tag=81x2',
          'Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111',
          'Call-ID: SSG9559905523997077@hlau_4100',
          'Contact: "Caller" <sip:caller@[2001:db8::9:1]>',
          'Max-Forwards: 70',
          'CSeq: 8912 INVITE',
          'Content-Type: application/sdp',
          `Content-Length: ${length}`,
        ],
        sdp,
      ),
    );
    assert.equal(req.body.length, length);
    assert.ok(checkRequest(req).ok);
  });

  test('§4.9 IPv4-mapped IPv6 addresses', () => {
    const req = request(
      message([
        'INVITE sip:user@example.com SIP/2.0',
        'To: sip:user@example.com',
        'From: sip:user@east.example.com;tag=81x2',
        'Via: SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19',
        'Via: SIP/2.0/UDP [::ffff:192.0.2.2];branch=z9hG4bKas3-111',
        'Call-ID: SSG9559905523997077@hlau_4100',
        'Contact: "T. desk phone" <sip:ted@[::ffff:192.0.2.2]>',
        'CSeq: 612 INVITE',
        'Max-Forwards: 70',
        'Content-Length: 0',
      ]),
    );
    const vias = parseVias(req);
    assert.ok(vias.ok);
    assert.deepEqual(
      vias.value.map((v) => [v.host, v.port]),
      [
        ['::ffff:192.0.2.10', 19823],
        ['::ffff:192.0.2.2', undefined],
      ],
    );
    assert.equal(contactHost(req), '::ffff:192.0.2.2');
    assert.equal(headerValues(req, 'via').length, 2);
    assert.ok(checkRequest(req).ok);
  });

  test('§4.10 the RFC 3261 ABNF bug: an extra colon may be tolerated; the correct form parses', () => {
    const head = (host: string): string[] => [
      `OPTIONS sip:user@[${host}] SIP/2.0`,
      `To: sip:user@[${host}]`,
      'From: sip:user@example.com;tag=810x2',
      'Via: SIP/2.0/UDP lab1.east.example.com;branch=z9hG4bKas3-111',
      'Call-ID: G9559905523997077@hlau_4100',
      'CSeq: 689 OPTIONS',
      'Max-Forwards: 70',
      'Content-Length: 0',
    ];
    const good = request(message(head('2001:db8::192.0.2.1')));
    assert.equal(ruriHost(good).host, '2001:db8::192.0.2.1');
    assert.ok(checkRequest(good).ok);
    // "may exhibit robustness by successfully parsing": either outcome is allowed, but never a throw.
    const parsed = parseSipMessage(message(head('2001:db8:::192.0.2.1')), { datagram: true });
    if (parsed.ok && parsed.value.kind === 'request') {
      const checked = checkRequest(parsed.value);
      assert.ok(checked.ok || checked.error.status === 400);
    }
  });
});

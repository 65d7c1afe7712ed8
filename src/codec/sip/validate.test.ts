import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest, SipResponse } from './message.ts';
import { parseSipMessage } from './parse.ts';
import { checkRegister, checkRequest, checkResponse } from './validate.ts';

const BASE = {
  start: 'OPTIONS sip:bob@example.test SIP/2.0',
  Via: 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
  To: '<sip:bob@example.test>',
  From: '<sip:alice@example.test>;tag=a',
  'Call-ID': 'c1',
  CSeq: '1 OPTIONS',
  'Max-Forwards': '70',
};

function request(overrides: Record<string, string | null> = {}, extra = '', body = ''): SipRequest {
  const fields: Record<string, string | null> = { ...BASE, ...overrides };
  let text = `${fields['start'] ?? ''}\r\n`;
  for (const [name, value] of Object.entries(fields)) {
    if (name !== 'start' && value !== null) text += `${name}: ${value}\r\n`;
  }
  text += `${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const parsed = parseSipMessage(Buffer.from(text));
  assert.ok(parsed.ok && parsed.value.kind === 'request', parsed.ok ? '' : parsed.error.reason);
  return parsed.value;
}

function status(req: SipRequest, options: Parameters<typeof checkRequest>[1] = {}): number | 'ok' {
  const checked = checkRequest(req, options);
  return checked.ok ? 'ok' : checked.error.status;
}

describe('checkRequest', () => {
  test('a valid request passes in both roles', () => {
    assert.equal(status(request()), 'ok');
    assert.equal(status(request(), { role: 'proxy' }), 'ok');
  });

  for (const name of ['To', 'From', 'Call-ID', 'CSeq', 'Via']) {
    test(`missing ${name} → 400 (RFC 3261 §8.1.1)`, () => {
      const checked = checkRequest(request({ [name]: null }));
      assert.ok(!checked.ok);
      assert.deepEqual(checked.error, { status: 400, reason: `Missing ${name} header` });
    });
  }

  for (const [name, value] of [
    ['CSeq', '2147483648 OPTIONS'],
    ['CSeq', 'x OPTIONS'],
    ['Via', 'SIP/2.0/UDP'],
    ['To', 'Bell, A <sip:a@b>'],
    ['From', '"open <sip:a@b>'],
    ['Max-Forwards', '256'],
  ] as const) {
    test(`malformed ${name}: ${value} → 400`, () => {
      assert.equal(status(request({ [name]: value })), 400);
    });
  }

  test('a second To, a comma-combined Call-ID → 400 (RFC 4475 §3.3.8)', () => {
    assert.equal(status(request({}, 'To: <sip:x@y>\r\n')), 400);
    assert.equal(status(request({ 'Call-ID': 'a, b' })), 400);
  });

  test('Contact and Expires ranges (RFC 4475 §3.1.2.4)', () => {
    assert.equal(status(request({}, 'Contact: <sip:a@b>;expires=4294967296\r\n')), 400);
    assert.equal(status(request({}, 'Expires: 4294967296\r\n')), 400);
    assert.equal(status(request({}, 'Contact: <sip:a@b>;expires=3600, *\r\n')), 400);
    assert.equal(status(request({}, 'Contact: <sip:a@b>;expires=3600\r\nExpires: 0\r\n')), 'ok');
  });

  test('CSeq method must match the Request-Line (RFC 3261 §8.1.1.5)', () => {
    assert.equal(status(request({ CSeq: '1 INVITE' })), 400);
    assert.equal(status(request({ CSeq: '1 INVITE' }), { role: 'proxy' }), 400);
  });

  test('Request-URI: headers → 400, unknown scheme → 416, tel for a UAS only', () => {
    assert.equal(status(request({ start: 'OPTIONS sip:b@c?Route=%3Csip:x%3E SIP/2.0' })), 400);
    assert.equal(status(request({ start: 'OPTIONS foo:bar SIP/2.0' })), 416);
    assert.equal(status(request({ start: 'OPTIONS tel:+15551234 SIP/2.0' })), 'ok');
    assert.equal(
      status(request({ start: 'OPTIONS tel:+15551234 SIP/2.0' }), { role: 'proxy' }),
      416,
    );
    assert.equal(
      status(request({ start: 'OPTIONS tel:+15551234 SIP/2.0' }), {
        role: 'proxy',
        supportedSchemes: ['sip', 'tel'],
      }),
      'ok',
    );
    assert.equal(status(request({ start: 'OPTIONS sip:a@[::1 SIP/2.0' })), 400);
  });

  test('Max-Forwards 0: a proxy answers 483, a UAS processes it (RFC 3261 §16.3 item 3)', () => {
    assert.equal(status(request({ 'Max-Forwards': '0' }), { role: 'proxy' }), 483);
    assert.equal(status(request({ 'Max-Forwards': '0' })), 'ok');
  });

  test('Require (UAS) and Proxy-Require (proxy) → 420 with Unsupported', () => {
    const req = request({}, 'Require: 100rel, foo\r\nProxy-Require: bar\r\n');
    assert.deepEqual(checkRequest(req, { supportedExtensions: ['100REL'] }), {
      ok: false,
      error: { status: 420, reason: 'Bad Extension', headers: [['Unsupported', 'foo']] },
    });
    assert.deepEqual(checkRequest(req, { role: 'proxy' }), {
      ok: false,
      error: { status: 420, reason: 'Bad Extension', headers: [['Unsupported', 'bar']] },
    });
    assert.equal(status(req, { supportedExtensions: ['100rel', 'foo'] }), 'ok');
  });

  test('UAS method inspection: 501 unknown, 405 with Allow (RFC 3261 §8.2.1)', () => {
    const req = request({ start: 'FOO sip:b@c SIP/2.0', CSeq: '1 FOO' });
    assert.equal(status(req, { knownMethods: ['INVITE', 'OPTIONS'] }), 501);
    assert.deepEqual(checkRequest(req, { allowedMethods: ['INVITE', 'OPTIONS'] }), {
      ok: false,
      error: { status: 405, reason: 'Method Not Allowed', headers: [['Allow', 'INVITE, OPTIONS']] },
    });
    assert.equal(status(req, { role: 'proxy', knownMethods: ['INVITE'] }), 'ok');
  });

  test('UAS content processing: 415 with Accept (RFC 3261 §8.2.3)', () => {
    const req = request({}, 'Content-Type: application/unknownformat\r\n', '<audio/>');
    assert.deepEqual(checkRequest(req, { supportedContentTypes: ['application/sdp'] }), {
      ok: false,
      error: {
        status: 415,
        reason: 'Unsupported Media Type',
        headers: [['Accept', 'application/sdp']],
      },
    });
    const sdp = request({}, 'Content-Type: Application/SDP; charset=x\r\n', 'v=0');
    assert.equal(status(sdp, { supportedContentTypes: ['application/sdp'] }), 'ok');
  });
});

describe('checkRegister (RFC 3261 §10.3)', () => {
  const register = (extra: string, to = '<sip:bob@example.test>') =>
    request({ start: 'REGISTER sip:example.test SIP/2.0', CSeq: '1 REGISTER', To: to }, extra);
  test('To must be a SIP or SIPS AOR (RFC 4475 §3.3.4)', () => {
    assert.equal(checkRegister(register('', 'isbn:2983792873')).ok, false);
    assert.equal(checkRegister(register('Contact: <sip:b@192.0.2.1>\r\n')).ok, true);
  });
  test('Contact * only alone and with Expires: 0', () => {
    assert.equal(checkRegister(register('Contact: *\r\nExpires: 0\r\n')).ok, true);
    assert.equal(checkRegister(register('Contact: *\r\nExpires: 60\r\n')).ok, false);
    assert.equal(checkRegister(register('Contact: *\r\n')).ok, false);
    assert.equal(
      checkRegister(register('Contact: *\r\nContact: <sip:a@b>\r\nExpires: 0\r\n')).ok,
      false,
    );
  });
});

describe('checkResponse', () => {
  const response = (via2: string): SipResponse => {
    const parsed = parseSipMessage(
      Buffer.from(
        'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1\r\n' +
          `Via: SIP/2.0/UDP ${via2};branch=z9hG4bK2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n` +
          'From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nContent-Length: 0\r\n\r\n',
      ),
    );
    assert.ok(parsed.ok && parsed.value.kind === 'response');
    return parsed.value;
  };
  test('a well-formed response passes; a broadcast Via is dropped (RFC 4475 §3.3.10)', () => {
    assert.equal(checkResponse(response('192.0.2.5')).ok, true);
    assert.equal(checkResponse(response('255.255.255.255')).ok, false);
    assert.equal(checkResponse(response('192.0.2.5;received=0.0.0.0')).ok, false);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  callIdOf,
  cseqOf,
  fromTag,
  parseAddressList,
  parseContentLength,
  parseCSeq,
  parseMaxForwards,
  parseNameAddr,
  parseVia,
  parseViaValue,
  parseVias,
  toTag,
  topVia,
} from './headers.ts';
import type { SipMessage } from './message.ts';
import { parseSipMessage } from './parse.ts';

function message(text: string): SipMessage {
  const parsed = parseSipMessage(Buffer.from(text), { datagram: true });
  assert.ok(parsed.ok);
  return parsed.value;
}

describe('Via (RFC 3261 §20.42)', () => {
  test('all fields, LWS around the slashes', () => {
    const via = parseViaValue(
      'SIP / 2.0 / udp  host.example.com:5070 ; branch=z9hG4bK77;received=192.0.2.1;rport=5071;maddr=239.1.1.1;ttl=16;x',
    );
    assert.ok(via.ok);
    assert.deepEqual(
      { ...via.value, params: [...via.value.params.keys()] },
      {
        protocol: 'SIP/2.0',
        transport: 'UDP',
        host: 'host.example.com',
        port: 5070,
        params: ['branch', 'received', 'rport', 'maddr', 'ttl', 'x'],
        branch: 'z9hG4bK77',
        received: '192.0.2.1',
        rport: 5071,
        maddr: '239.1.1.1',
        ttl: 16,
      },
    );
  });

  test('rport without a value, IPv6 sent-by and received with or without brackets (RFC 5118 §4.5)', () => {
    const a = parseViaValue(
      'SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];rport;branch=z9hG4bKas3',
    );
    assert.ok(a.ok);
    assert.equal(a.value.host, '2001:db8::9:1');
    assert.equal(a.value.received, '2001:db8::9:255');
    assert.equal(a.value.rport, true);
    const b = parseViaValue(
      'SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3',
    );
    assert.ok(b.ok && b.value.received === '2001:db8::9:255');
  });

  for (const bad of [
    'SIP/2.0/UDP',
    'SIP/2.0 host',
    'SIP/2.0/UDP host;;',
    'SIP/2.0/UDP 192.0.2.15;;,;,,',
    'SIP/2.0/UDP host;rport=x',
    'SIP/2.0/UDP host;ttl=256',
    'SIP/2.0/UDP host:70000',
    'SIP/2.0/UDP ho st',
    'SIP/2.0/U(DP host',
    'SIP/2.0/UDP/X host',
  ]) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      assert.equal(parseVia(bad).ok, false);
    });
  }

  test('parseVia splits a comma-combined value; parseVias and topVia read every line', () => {
    const vias = parseVia('SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b:5060;branch=z9hG4bK2');
    assert.ok(vias.ok);
    assert.deepEqual(
      vias.value.map((v) => v.host),
      ['a', 'b'],
    );
    const msg = message(
      'OPTIONS sip:x SIP/2.0\r\nv: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b\r\nVia: SIP/2.0/TLS c\r\n\r\n',
    );
    const all = parseVias(msg);
    assert.ok(all.ok);
    assert.deepEqual(
      all.value.map((v) => `${v.transport} ${v.host}`),
      ['UDP a', 'UDP b', 'TLS c'],
    );
    const top = topVia(msg);
    assert.ok(top.ok && top.value.branch === 'z9hG4bK1');
    assert.equal(topVia(message('OPTIONS sip:x SIP/2.0\r\n\r\n')).ok, false);
  });
});

describe('scalar headers', () => {
  test('CSeq (RFC 3261 §20.16)', () => {
    assert.deepEqual(parseCSeq(' 0009 \t INVITE '), {
      ok: true,
      value: { seq: 9, method: 'INVITE' },
    });
    assert.deepEqual(parseCSeq('4294967295 X'), {
      ok: true,
      value: { seq: 4294967295, method: 'X' },
    });
    for (const bad of [
      '4294967296 INVITE',
      '36893488147419103232 REGISTER',
      'INVITE',
      '1',
      '-1 INVITE',
      '1 IN VITE',
      'fhdjkgfhdkjhgkj ',
    ]) {
      assert.equal(parseCSeq(bad).ok, false, bad);
    }
  });

  test('Max-Forwards 0-255, Content-Length', () => {
    assert.deepEqual(parseMaxForwards('0068'), { ok: true, value: 68 });
    assert.deepEqual(parseMaxForwards('0'), { ok: true, value: 0 });
    assert.equal(parseMaxForwards('256').ok, false);
    assert.equal(parseMaxForwards('-1').ok, false);
    assert.equal(parseMaxForwards('').ok, false);
    assert.deepEqual(parseContentLength(' 150 '), { ok: true, value: 150 });
    assert.equal(parseContentLength('-999').ok, false);
  });

  test('message convenience getters', () => {
    const msg = message(
      'BYE sip:x SIP/2.0\r\nf: "A" <sip:a@b>;tag=ft\r\nTo: sip:c@d;tag=tt\r\ni: id-1\r\nCSeq: 5 BYE\r\n\r\n',
    );
    assert.equal(fromTag(msg), 'ft');
    assert.equal(toTag(msg), 'tt');
    assert.equal(callIdOf(msg), 'id-1');
    assert.deepEqual(cseqOf(msg), { ok: true, value: { seq: 5, method: 'BYE' } });
    const bare = message('BYE sip:x SIP/2.0\r\n\r\n');
    assert.equal(fromTag(bare), undefined);
    assert.equal(cseqOf(bare).ok, false);
  });
});

describe('name-addr / addr-spec (RFC 3261 §20.10, §25.1)', () => {
  test('quoted display name with escapes, params after the URI', () => {
    const parsed = parseNameAddr('"J Rosenberg \\\\\\"" <sip:jdrosen@example.com> ; tag = 98asjd8');
    assert.ok(parsed.ok);
    assert.equal(parsed.value.displayName, 'J Rosenberg \\"');
    assert.equal(parsed.value.uri, 'sip:jdrosen@example.com');
    assert.equal(parsed.value.angle, true);
    assert.equal(parsed.value.params.get('tag'), '98asjd8');
    assert.equal(parsed.value.parsedUri.scheme, 'sip');
  });

  test('token display names, with or without LWS before <', () => {
    const a = parseNameAddr('caller<sip:caller@example.com>;tag=323');
    assert.ok(a.ok && a.value.displayName === 'caller');
    const b = parseNameAddr("token1~` token2'+_ <sip:m@example.com>");
    assert.ok(b.ok && b.value.displayName === "token1~` token2'+_");
  });

  test('addr-spec: ";" starts header params, not URI params (RFC 4475 §3.3.12)', () => {
    const parsed = parseNameAddr('sip:+19725552222@gw1.example.net;unknownparam;tag=1');
    assert.ok(parsed.ok);
    assert.equal(parsed.value.uri, 'sip:+19725552222@gw1.example.net');
    assert.equal(parsed.value.angle, false);
    assert.deepEqual([...parsed.value.params.keys()], ['unknownparam', 'tag']);
  });

  test('other URI schemes parse (RFC 4475 §3.3.4)', () => {
    const parsed = parseNameAddr('<http://www.example.com>;tag=3234233');
    assert.ok(parsed.ok && parsed.value.parsedUri.scheme === 'http');
  });

  for (const bad of [
    '"Mr. J. User <sip:j.user@example.com>',
    '"Watson, Thomas" < sip:t.watson@example.org >',
    'Bell, Alexander <sip:a.g.bell@example.com>;tag=43',
    'sip:user@example.com?Route=%3Csip:sip.example.com%3E',
    '<sip:a@b',
    '"A" "B" <sip:a@b>',
    '"A" sip:a@b',
    '<sip:a@b>;;tag=1',
    '<sip:a@b>;tag=',
    '',
    '*',
  ]) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      assert.equal(parseNameAddr(bad).ok, false);
    });
  }

  test('parseAddressList: lists and the Contact wildcard', () => {
    const list = parseAddressList('"A, B" <sip:a@b>;q=0.5, sip:c@d;expires=60');
    assert.ok(list.ok && !list.value.star);
    assert.deepEqual(
      list.value.addresses.map((a) => [a.uri, a.params.get('q') ?? a.params.get('expires')]),
      [
        ['sip:a@b', '0.5'],
        ['sip:c@d', '60'],
      ],
    );
    assert.deepEqual(parseAddressList(' * '), { ok: true, value: { star: true, addresses: [] } });
    assert.equal(parseAddressList('*, <sip:a@b>').ok, false);
    assert.equal(parseAddressList('').ok, false);
  });
});

describe('topVia of a request with a malformed lower Via', () => {
  test('the top Via is still read; parseVias reports the bad one', () => {
    const parsed = parseSipMessage(
      Buffer.from(
        'OPTIONS sip:bob@example.test SIP/2.0\r\n' +
          'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n' +
          'Via: SIP/2.0/UDP ;;\r\n' +
          'To: <sip:bob@example.test>\r\nFrom: <sip:a@example.test>;tag=a\r\n' +
          'Call-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n',
      ),
    );
    assert.ok(parsed.ok);
    assert.equal(parseVias(parsed.value).ok, false);
    const top = topVia(parsed.value);
    assert.ok(top.ok);
    assert.equal(top.value.branch, 'z9hG4bK1');
  });
});

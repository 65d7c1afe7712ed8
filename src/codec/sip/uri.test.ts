import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIPv6, isIPv6, parseHostPort, parseParams } from './grammar.ts';
import {
  formatSipUri,
  normalizeEscapes,
  parseSipUri,
  parseUri,
  sipUriEquals,
  type SipUri,
} from './uri.ts';

function sip(text: string): SipUri {
  const parsed = parseSipUri(text);
  assert.ok(parsed.ok, parsed.ok ? '' : `${text}: ${parsed.error.reason}`);
  return parsed.value;
}

describe('parseSipUri (RFC 3261 §19.1, §25.1)', () => {
  test('all components', () => {
    const uri = sip(
      'SIPS:alice:secret@Atlanta.Example.com:5061;Transport=TLS;lr?Subject=hi&Priority=urgent',
    );
    assert.deepEqual(
      { ...uri, params: [...uri.params] },
      {
        scheme: 'sips',
        user: 'alice',
        password: 'secret',
        host: 'atlanta.example.com',
        port: 5061,
        params: [
          ['transport', 'TLS'],
          ['lr', null],
        ],
        headers: 'Subject=hi&Priority=urgent',
      },
    );
  });

  test('user parts with reserved characters and escapes (RFC 4475 §3.1.1.3, §3.1.1.9)', () => {
    assert.equal(
      sip('sip:sips%3Auser%40example.com@example.net').user,
      'sips%3Auser%40example.com',
    );
    const semi = sip('sip:user;par=u%40example.net@example.com');
    assert.equal(semi.user, 'user;par=u%40example.net');
    assert.equal(semi.params.size, 0);
    assert.equal(
      sip('sip:+1-212-555-1212;phone-context=x@gw.example.com;user=phone').params.get('user'),
      'phone',
    );
  });

  test('IPv6 references (RFC 5118)', () => {
    assert.equal(sip('sip:[2001:db8::10]').host, '2001:db8::10');
    const withPort = sip('sip:user@[2001:DB8::10]:5070;transport=tcp');
    assert.equal(withPort.host, '2001:db8::10');
    assert.equal(withPort.port, 5070);
    // §4.3: inside the brackets, ":5070" is part of the address, not a port.
    const ambiguous = sip('sip:[2001:db8::10:5070]');
    assert.equal(ambiguous.host, '2001:db8::10:5070');
    assert.equal(ambiguous.port, undefined);
    assert.equal(sip('sip:ted@[::ffff:192.0.2.2]').host, '::ffff:192.0.2.2');
    // §4.10: the RFC 3261 ABNF's three colons before an IPv4 tail are tolerated.
    assert.equal(sip('sip:user@[2001:db8:::192.0.2.1]').host, '2001:db8:::192.0.2.1');
  });

  for (const text of [
    'sip:2001:db8::10', // RFC 5118 §4.2: an IPv6 address must be in brackets
    'sip:user@[2001:db8::10',
    'sip:user@[2001:db8::g]',
    'sip:user@[1:2:3:4:5:6:7:8:9]',
    'sip:user@[1::2::3]',
    'sip:a@b@c',
    'sip:@example.com',
    'sip:user@',
    'sip:user@host:99999',
    'sip:user@host:',
    'sip:user@ho st',
    'sip:us<er@host',
    'sip:user@host;;lr',
    'sip:user@host;=x',
    'sip:user@host;a=',
    'sip:user@host?noequals',
    'sip:us%zzer@host',
    'sip:user@-host-',
    'http://example.com',
    'sip',
  ]) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseSipUri(text).ok, false);
    });
  }

  test('formatSipUri round-trips', () => {
    for (const text of [
      'sip:alice@example.com',
      'sips:alice:pw@[2001:db8::1]:5061;transport=tls;lr',
      'sip:example.com;maddr=239.255.255.1;ttl=15?subject=project%20x',
    ]) {
      assert.equal(formatSipUri(sip(text)), text);
    }
  });
});

describe('parseUri', () => {
  test('tel URIs (RFC 3966)', () => {
    const global = parseUri('tel:+1-201-555-0123;ext=1234');
    assert.ok(global.ok && global.value.scheme === 'tel' && 'number' in global.value);
    assert.equal(global.value.number, '+1-201-555-0123');
    assert.equal(global.value.params.get('ext'), '1234');
    const local = parseUri('tel:7042;phone-context=example.com');
    assert.ok(local.ok && 'number' in local.value && local.value.number === '7042');
    assert.equal(parseUri('tel:+').ok, false);
    assert.equal(parseUri('tel:12 34').ok, false);
  });

  test('other schemes stay opaque (RFC 4475 §3.3.2–§3.3.4)', () => {
    for (const text of [
      'nobodyKnowsThisScheme:totallyopaquecontent',
      'soap.beep://192.0.2.103:3002',
      'isbn:2983792873',
      'http://www.example.com',
      'name:John_Smith',
    ]) {
      const uri = parseUri(text);
      assert.ok(uri.ok, text);
      assert.equal(uri.value.scheme, text.slice(0, text.indexOf(':')).toLowerCase());
      assert.ok('text' in uri.value && uri.value.text === text);
    }
    for (const text of ['x:', 'x:a b', 'x:<a>', '1x:a', ':a', 'x:%zz'])
      assert.equal(parseUri(text).ok, false, text);
  });
});

describe('sipUriEquals (RFC 3261 §19.1.4)', () => {
  // The equivalent and non-equivalent pairs listed in RFC 3261 §19.1.4.
  const equal = [
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
    ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
    [
      'sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com',
      'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com',
    ],
    [
      'sip:alice@atlanta.com?subject=project%20x&priority=urgent',
      'sip:alice@atlanta.com?priority=urgent&subject=project%20x',
    ],
    ['sip:[2001:db8::10]', 'sip:[2001:db8:0:0:0:0:0:10]'],
  ] as const;
  const different = [
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ['sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off'],
    ['sip:alice@atlanta.com', 'sips:alice@atlanta.com'],
    ['sip:a%3Bb@x.com', 'sip:a;b@x.com'],
    ['sip:alice:pw@x.com', 'sip:alice@x.com'],
  ] as const;
  for (const [a, b] of equal) {
    test(`${a} == ${b}`, () => {
      assert.ok(sipUriEquals(sip(a), sip(b)));
      assert.ok(sipUriEquals(sip(b), sip(a)));
    });
  }
  for (const [a, b] of different) {
    test(`${a} != ${b}`, () => {
      assert.ok(!sipUriEquals(sip(a), sip(b)));
      assert.ok(!sipUriEquals(sip(b), sip(a)));
    });
  }

  test('normalizeEscapes decodes unreserved escapes only', () => {
    assert.equal(normalizeEscapes('%61%3b%7E'), 'a%3B~');
  });
});

describe('grammar helpers', () => {
  test('IPv6 text forms (RFC 4291 §2.2, RFC 5118 §4.10)', () => {
    for (const ok of [
      '::',
      '::1',
      '2001:db8::10',
      '1:2:3:4:5:6:7:8',
      '::ffff:192.0.2.1',
      '2001:db8::192.0.2.1',
      '2001:db8:::192.0.2.1',
      'fe80::1:2',
    ]) {
      assert.ok(isIPv6(ok), ok);
    }
    for (const bad of [
      '',
      ':',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      '12345::',
      'g::',
      '1:2:3:4:5:6:7',
      '::256.1.1.1',
      '::1.2.3',
    ]) {
      assert.ok(!isIPv6(bad), bad);
    }
    assert.equal(canonicalIPv6('2001:DB8::0:10'), '2001:db8:0:0:0:0:0:10');
    assert.equal(canonicalIPv6('2001:db8:::192.0.2.1'), canonicalIPv6('2001:db8::c000:201'));
  });

  test('parseHostPort', () => {
    assert.deepEqual(parseHostPort('example.com:5060'), { host: 'example.com', port: 5060 });
    assert.deepEqual(parseHostPort('[::1]'), { host: '::1', port: undefined });
    assert.equal(parseHostPort('[::1]5060'), undefined);
    assert.deepEqual(parseHostPort('a_b.example.com'), {
      host: 'a_b.example.com',
      port: undefined,
    });
    assert.equal(parseHostPort('a..b'), undefined);
    assert.equal(parseHostPort('a!b'), undefined);
    assert.equal(parseHostPort(''), undefined);
  });

  test('parseParams: header syntax allows LWS and quoted values; uri syntax does not', () => {
    assert.deepEqual(
      [...(parseParams(' ;  tag = 1918181833n ; Q=0.5;x="a \\"b\\" ;c";lr') ?? [])],
      [
        ['tag', '1918181833n'],
        ['q', '0.5'],
        ['x', 'a "b" ;c'],
        ['lr', null],
      ],
    );
    assert.equal(parseParams(';a = b', 'uri'), undefined);
    assert.equal(parseParams(';a="b"', 'uri'), undefined);
    assert.deepEqual(
      [...(parseParams(';%6C%72;maddr=[::1]', 'uri') ?? [])],
      [
        ['%6c%72', null],
        ['maddr', '[::1]'],
      ],
    );
    for (const bad of [';', ';;a', ';a;;b', ';a=', ';a="x', ';a="x"y', 'a', ';a b', ';a=b c']) {
      assert.equal(parseParams(bad), undefined, bad);
    }
    assert.deepEqual([...(parseParams('') ?? [])], []);
  });
});

describe('parseSipUri cache', () => {
  test('a URI parsed again, after the cache has filled and emptied, gives the same value', () => {
    const text = 'sip:bob@Example.TEST:5070;transport=tcp;lr?subject=x';
    const first = parseSipUri(text);
    for (let i = 0; i < 3000; i++) parseSipUri(`sip:u${String(i)}@example.test`);
    assert.deepEqual(parseSipUri(text), first);
    assert.ok(first.ok);
    assert.equal(first.value.host, 'example.test');
    assert.equal(first.value.params.get('transport'), 'tcp');
    const long = `sip:${'a'.repeat(300)}@example.test`;
    assert.deepEqual(parseSipUri(long), parseSipUri(long));
    assert.equal(parseSipUri('sip:@example.test').ok, false);
    assert.equal(parseSipUri('sip:@example.test').ok, false);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SipMessage, SipParseError } from './message.ts';
import {
  canonicalHeaderName,
  header,
  headerFields,
  headerValues,
  parseSipMessage,
  splitHeaderList,
} from './parse.ts';

const OPTIONS =
  'OPTIONS sip:bob@example.test SIP/2.0\r\n' +
  'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n' +
  'To: <sip:bob@example.test>\r\n' +
  'From: <sip:alice@example.test>;tag=a\r\n' +
  'Call-ID: c1\r\n' +
  'CSeq: 1 OPTIONS\r\n' +
  'Max-Forwards: 70\r\n';

function parse(text: string | Buffer, datagram = false): SipMessage {
  const parsed = parseSipMessage(Buffer.isBuffer(text) ? text : Buffer.from(text), { datagram });
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.reason);
  return parsed.value;
}

function failure(text: string | Buffer, datagram = false): SipParseError {
  const parsed = parseSipMessage(Buffer.isBuffer(text) ? text : Buffer.from(text), { datagram });
  assert.ok(!parsed.ok, 'expected a parse failure');
  return parsed.error;
}

describe('parseSipMessage: start line (RFC 3261 §7.1, §7.2)', () => {
  test('a request indexes method, Request-URI, version and header offsets', () => {
    const text = `${OPTIONS}Content-Length: 0\r\n\r\n`;
    const msg = parse(text);
    assert.ok(msg.kind === 'request');
    assert.equal(msg.method, 'OPTIONS');
    assert.equal(msg.requestUri, 'sip:bob@example.test');
    assert.equal(msg.version, 'SIP/2.0');
    assert.equal(msg.headersStart, text.indexOf('Via:'));
    assert.equal(msg.bodyStart, text.length);
    const via = msg.headers[0];
    assert.ok(via);
    assert.equal(text.slice(via.start, via.end), 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n');
    assert.equal(msg.headers.length, 7);
  });

  test('leading CRLFs are ignored (§7.5)', () => {
    const msg = parse(`\r\n\r\n${OPTIONS}\r\n`);
    assert.ok(msg.kind === 'request' && msg.method === 'OPTIONS');
  });

  test('a response decodes its reason phrase as UTF-8', () => {
    const msg = parse('SIP/2.0 486 Занято\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n');
    assert.ok(msg.kind === 'response');
    assert.equal(msg.status, 486);
    assert.equal(msg.reason, 'Занято');
  });

  for (const [line, why] of [
    ['INVITE  sip:a@b SIP/2.0', 'two SPs'],
    ['INVITE sip:a@b SIP/2.0 ', 'trailing SP'],
    ['INVITE sip:a@b; lr SIP/2.0', 'LWS in the URI'],
    ['INVITE <sip:a@b> SIP/2.0', 'URI in <>'],
    ['INV(ITE sip:a@b SIP/2.0', 'non-token method'],
    ['INVITE sip:a\x01b SIP/2.0', 'control character in the URI'],
    ['INVITE sipab SIP/2.0', 'no scheme'],
    ['INVITE sip:a@b HTTP/1.1', 'not SIP'],
    ['INVITE sip:a@b', 'no version'],
  ] as const) {
    test(`a malformed Request-Line → 400 (${why})`, () => {
      const error = failure(`${line}\r\n${OPTIONS.slice(OPTIONS.indexOf('\r\n') + 2)}\r\n`);
      assert.equal(error.status, 400);
      assert.equal(error.code, 'RAMPART_ERR_SIP_PARSE');
    });
  }

  test('another SIP version → 505 with the indexed request (§8.2.2, RFC 4475 §3.1.2.16)', () => {
    const error = failure(OPTIONS.replace(' SIP/2.0\r\n', ' SIP/7.0\r\n') + '\r\n');
    assert.equal(error.status, 505);
    assert.equal(error.request?.method, 'OPTIONS');
    assert.equal(error.offset, OPTIONS.indexOf('SIP/2.0'));
  });

  for (const line of [
    'SIP/2.0 4294967301 big',
    'SIP/2.0 99 low',
    'SIP/2.0 700 high',
    'SIP/2.0 2000 OK',
    'SIP/2.0 20x OK',
  ]) {
    test(`a bad Status-Code is dropped, not answered: ${line}`, () => {
      assert.equal(failure(`${line}\r\n\r\n`).status, undefined);
    });
  }

  test('an empty reason phrase is accepted (RFC 4475 §3.1.1.13)', () => {
    const msg = parse('SIP/2.0 100 \r\n\r\n');
    assert.ok(msg.kind === 'response' && msg.status === 100 && msg.reason === '');
  });
});

describe('parseSipMessage: header fields (RFC 3261 §7.3)', () => {
  test('names are canonical lower-case, compact forms expanded (§7.3.3)', () => {
    const msg = parse(
      'MESSAGE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\ni: x\r\nm: <sip:c@d>\r\ne: gzip\r\nl: 0\r\n' +
        'c: text/plain\r\nf: <sip:f@g>\r\ns: hi\r\nk: timer\r\nt: <sip:t@u>\r\no: presence\r\n' +
        'u: dialog\r\nr: <sip:r@s>\r\nb: <sip:b@c>\r\nx: 90\r\na: *;audio\r\nj: *;video\r\n' +
        'd: proxy\r\ny: sig\r\nn: <https://x>;alg=rsa-sha1\r\nWWW-Authenticate: Digest a=1\r\n\r\n',
    );
    assert.deepEqual(
      msg.headers.map((h) => h.name),
      [
        'via',
        'call-id',
        'contact',
        'content-encoding',
        'content-length',
        'content-type',
        'from',
        'subject',
        'supported',
        'to',
        'event',
        'allow-events',
        'refer-to',
        'referred-by',
        'session-expires',
        'accept-contact',
        'reject-contact',
        'request-disposition',
        'identity',
        'identity-info',
        'www-authenticate',
      ],
    );
    assert.equal(canonicalHeaderName('V'), 'via');
    assert.equal(canonicalHeaderName('Call-ID'), 'call-id');
  });

  test('folding: continuation lines join with one SP, outer LWS trimmed (§7.3.1)', () => {
    const text = `${OPTIONS}Subject:   first \r\n\t second\r\n   third  \r\nX-Empty:\r\n  \r\n x\r\n\r\n`;
    const msg = parse(text);
    assert.equal(header(msg, 'subject'), 'first second third');
    assert.equal(header(msg, 'x-empty'), 'x');
    const subject = headerFields(msg, 'subject')[0];
    assert.ok(subject);
    assert.equal(
      text.slice(subject.start, subject.end),
      'Subject:   first \r\n\t second\r\n   third  \r\n',
    );
  });

  test('whitespace before the colon is allowed (HCOLON)', () => {
    assert.equal(header(parse(`${OPTIONS}X-Y \t: v\r\n\r\n`), 'x-y'), 'v');
  });

  test('values are UTF-8', () => {
    assert.equal(header(parse(`${OPTIONS}Subject: héllo ✓\r\n\r\n`), 'subject'), 'héllo ✓');
  });

  for (const [line, why] of [
    ['Bad Name: x', 'space in name'],
    ['Bad(Name): x', 'separator in name'],
    ['NoColon', 'no colon'],
    [': x', 'empty name'],
  ] as const) {
    test(`a malformed header line → 400 (${why})`, () => {
      const error = failure(`${OPTIONS}${line}\r\n\r\n`);
      assert.equal(error.status, 400);
      assert.equal(error.offset, OPTIONS.length);
    });
  }

  test('a continuation line before any header is malformed', () => {
    assert.equal(failure(`OPTIONS sip:a@b SIP/2.0\r\n folded: x\r\n\r\n`).status, 400);
  });

  test('header lookup by any form; headerValues splits list headers only', () => {
    const msg = parse(
      `${OPTIONS}Route: <sip:p1;lr>, <sip:p2;lr>\r\nRoute: <sip:p3,x;lr>\r\n` +
        'WWW-Authenticate: Digest realm="a,b", nonce="1"\r\nDate: Sat, 13 Nov 2010 23:29:00 GMT\r\n' +
        'X-Unknown: a, b\r\nContact: "A, B" <sip:a@b>;q=0.5, <sip:c@d>\r\n\r\n',
    );
    assert.deepEqual(headerValues(msg, 'route'), ['<sip:p1;lr>', '<sip:p2;lr>', '<sip:p3,x;lr>']);
    assert.deepEqual(headerValues(msg, 'www-authenticate'), ['Digest realm="a,b", nonce="1"']);
    assert.deepEqual(headerValues(msg, 'date'), ['Sat, 13 Nov 2010 23:29:00 GMT']);
    assert.deepEqual(headerValues(msg, 'x-unknown'), ['a, b']);
    assert.deepEqual(headerValues(msg, 'm'), ['"A, B" <sip:a@b>;q=0.5', '<sip:c@d>']);
    assert.equal(header(msg, 'i'), 'c1');
    assert.equal(header(msg, 'absent'), undefined);
  });

  test('splitHeaderList honours quotes with escapes and <...>', () => {
    assert.deepEqual(splitHeaderList('"a\\",b" <sip:x,y>, c ,, d'), [
      '"a\\",b" <sip:x,y>',
      'c',
      'd',
    ]);
    assert.deepEqual(splitHeaderList(''), []);
  });
});

describe('parseSipMessage: body and Content-Length (RFC 3261 §18.3, §20.14)', () => {
  test('the body is a view of raw of Content-Length octets', () => {
    const raw = Buffer.from(`${OPTIONS}Content-Length: 5\r\n\r\nhello`);
    const msg = parse(raw);
    assert.equal(msg.body.toString(), 'hello');
    assert.equal(msg.body.buffer, raw.buffer);
    assert.equal(msg.bodyStart, raw.length - 5);
  });

  test('datagram: octets past Content-Length are discarded', () => {
    assert.equal(parse(`${OPTIONS}l: 2\r\n\r\nhello`, true).body.toString(), 'he');
  });

  test('datagram: no Content-Length means the rest of the datagram', () => {
    assert.equal(parse(`${OPTIONS}\r\nhello`, true).body.toString(), 'hello');
  });

  test('datagram: a missing empty line is tolerated; a stream message needs it', () => {
    assert.equal(parse(OPTIONS, true).body.length, 0);
    assert.equal(failure(OPTIONS).status, 400);
  });

  test('Content-Length larger than the body → 400 with the request', () => {
    const error = failure(`${OPTIONS}Content-Length: 10\r\n\r\nhello`, true);
    assert.equal(error.status, 400);
    assert.equal(error.request?.method, 'OPTIONS');
    assert.equal(error.offset, `${OPTIONS}Content-Length: 10\r\n\r\n`.length);
  });

  for (const value of ['-1', 'five', '1 2', '12345678901']) {
    test(`an invalid Content-Length "${value}" → 400`, () => {
      const error = failure(`${OPTIONS}Content-Length: ${value}\r\n\r\n`, true);
      assert.equal(error.status, 400);
      assert.equal(error.reason, 'invalid Content-Length');
      assert.ok(error.request);
    });
  }

  test('conflicting Content-Length values → 400; equal repeated values are accepted', () => {
    assert.equal(failure(`${OPTIONS}l: 1\r\nContent-Length: 2\r\n\r\nab`, true).status, 400);
    assert.equal(
      parse(`${OPTIONS}l: 2\r\nContent-Length: 2\r\n\r\nab`, true).body.toString(),
      'ab',
    );
  });

  test('a response with a bad Content-Length is dropped (no status)', () => {
    assert.equal(failure('SIP/2.0 200 OK\r\nContent-Length: x\r\n\r\n').status, undefined);
  });

  test('bare LF line ends are tolerated', () => {
    const msg = parse(OPTIONS.replaceAll('\r\n', '\n') + 'Content-Length: 2\n\nhi');
    assert.equal(header(msg, 'call-id'), 'c1');
    assert.equal(msg.body.toString(), 'hi');
  });

  test('a body with NUL and binary octets is framed by Content-Length (RFC 4475 §3.1.1.11)', () => {
    const body = Buffer.from([0, 1, 0xff, 0x0d, 0x0a, 0x0d, 0x0a, 0]);
    const msg = parse(Buffer.concat([Buffer.from(`${OPTIONS}Content-Length: 8\r\n\r\n`), body]));
    assert.deepEqual(msg.body, body);
  });
});

describe('parseSipMessage: header names matched on the bytes', () => {
  const NAMES = [
    'Via',
    'FROM',
    'to',
    'Call-ID',
    'CSeq',
    'Contact',
    'Max-Forwards',
    'Content-Length',
    'Record-Route',
    'P-Asserted-Identity',
    'WWW-Authenticate',
    'SIP-ETag',
    'X-Custom',
    'Viа', // Cyrillic a: not a token, refused
  ];

  function nameOf(name: string): string | undefined {
    const text = `${OPTIONS.split('\r\n')[0] ?? ''}\r\n${name}: 0\r\n\r\n`;
    const parsed = parseSipMessage(Buffer.from(text));
    return parsed.ok ? parsed.value.headers[0]?.name : undefined;
  }

  test('known names, compact forms and any other token get the canonical lower-case name', () => {
    for (const name of NAMES.slice(0, -1)) assert.equal(nameOf(name), canonicalHeaderName(name));
    for (const letter of 'ivftmlcskeourbxajdyn') {
      assert.equal(nameOf(letter), canonicalHeaderName(letter));
      assert.equal(nameOf(letter.toUpperCase()), canonicalHeaderName(letter));
    }
    assert.equal(nameOf(NAMES[NAMES.length - 1] ?? ''), undefined);
  });

  test('property: any token name parses to canonicalHeaderName of it', () => {
    const TOKEN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~";
    const tokenChar = fc.integer({ min: 0, max: TOKEN.length - 1 }).map((i) => TOKEN.charAt(i));
    const names = fc.oneof(
      fc.array(tokenChar, { minLength: 1, maxLength: 24 }).map((chars) => chars.join('')),
      fc.constantFrom(...NAMES.slice(0, -1)).map((name) => name.toUpperCase()),
    );
    fc.assert(
      fc.property(names, (name) => {
        assert.equal(nameOf(name), canonicalHeaderName(name));
      }),
    );
  });
});

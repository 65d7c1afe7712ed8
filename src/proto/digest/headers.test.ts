import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatChallenge, parseChallenge } from './challenge.ts';
import { formatCredentials, formatNonceCount, parseCredentials } from './credentials.ts';
import { parseAuthHeader } from './params.ts';

const RFC7616_CHALLENGE =
  'Digest\r\n    realm="http-auth@example.org",\r\n    qop="auth, auth-int",\r\n' +
  '    algorithm=SHA-256,\r\n    nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",\r\n' +
  '    opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';

describe('parseChallenge', () => {
  it('parses the RFC 7616 §3.9.1 challenge, folded over lines', () => {
    const r = parseChallenge(RFC7616_CHALLENGE);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value, {
      realm: 'http-auth@example.org',
      nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
      algorithm: 'SHA-256',
      qop: ['auth', 'auth-int'],
      stale: false,
      userhash: false,
      opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
      extensions: [],
    });
  });

  it('defaults algorithm to MD5, reads stale case-insensitively, ignores unknown qop', () => {
    const r = parseChallenge('digest REALM="a", Nonce=n1, qop="auth-conf,auth", stale=true, x=y');
    assert.ok(r.ok);
    assert.equal(r.value.algorithm, 'MD5');
    assert.equal(r.value.stale, true);
    assert.deepEqual(r.value.qop, ['auth']);
    assert.deepEqual(r.value.extensions, [{ name: 'x', value: 'y', quoted: false }]);
    const notStale = parseChallenge('Digest realm="a", nonce="n", stale=yes');
    assert.ok(notStale.ok);
    assert.equal(notStale.value.stale, false);
  });

  it('unescapes quoted-pairs and round-trips through formatChallenge', () => {
    const init = {
      realm: 'say "hi" \\ there',
      nonce: 'abc',
      algorithm: 'SHA-256',
      qop: ['auth'],
      stale: true,
      opaque: 'o',
    } as const;
    const text = formatChallenge(init);
    assert.equal(
      text,
      'Digest realm="say \\"hi\\" \\\\ there", qop="auth", algorithm=SHA-256, nonce="abc", opaque="o", stale=TRUE',
    );
    const r = parseChallenge(text);
    assert.ok(r.ok);
    assert.equal(r.value.realm, init.realm);
    assert.equal(r.value.stale, true);
    assert.deepEqual(r.value.qop, ['auth']);
  });

  it('refuses malformed and unusable challenges with a reason and offset', () => {
    const cases: [string, string][] = [
      ['', 'expected-scheme'],
      ['Basic realm="a"', 'not-digest'],
      ['Digest realm="a"', 'missing-parameter'],
      ['Digest nonce="a"', 'missing-parameter'],
      ['Digest realm="a, nonce="b"', 'expected-comma'],
      ['Digest realm="a", nonce="b', 'unterminated-quoted-string'],
      ['Digest realm="a" nonce="b"', 'expected-comma'],
      ['Digest realm="a", realm="b", nonce="c"', 'duplicate-parameter'],
      ['Digest realm=, nonce="c"', 'expected-value'],
      ['Digest realm "a"', 'expected-equals'],
      ['Digest realm="a\nb", nonce="c"', 'invalid-character'],
      ['Digest realm="a", nonce="c", algorithm=AKAv1-MD5', 'unsupported-algorithm'],
      ['Digest dGVzdA==', 'expected-value'],
      [`Digest realm="${'a'.repeat(9000)}", nonce="c"`, 'too-long'],
    ];
    for (const [input, reason] of cases) {
      const r = parseChallenge(input);
      assert.ok(!r.ok, input);
      assert.equal(r.error.reason, reason, input);
      assert.equal(r.error.code, 'RAMPART_ERR_SIP_PARSE');
    }
    const r = parseAuthHeader('Digest realm="a" nonce="b"');
    assert.ok(!r.ok);
    assert.equal(r.error.offset, 17);
  });

  it('refuses to format a value that would split the header', () => {
    assert.throws(() => formatChallenge({ realm: 'a\r\nVia: x', nonce: 'n' }), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
  });
});

describe('parseCredentials', () => {
  it('parses RFC 3261-style SIP credentials with quoted qop and upper-case hex', () => {
    const r = parseCredentials(
      'Digest username="bob",realm="biloxi.com",nonce="dcd98b",uri="sip:bob@biloxi.com",' +
        'qop="auth",nc=0000000A,cnonce="0a4f113b",response="6629FAE49393A05397450978507C4EF1",' +
        'opaque="5ccc"',
    );
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.value.qop, 'auth');
    assert.equal(r.value.nc, '0000000a');
    assert.equal(r.value.response, '6629fae49393a05397450978507c4ef1');
    assert.equal(r.value.algorithm, 'MD5');
    assert.equal(r.value.opaque, '5ccc');
  });

  it('refuses credentials RFC 7616 §3.4 forbids', () => {
    const base = 'Digest username="u", realm="r", nonce="n", uri="sip:x"';
    const md5 = 'response="0123456789abcdef0123456789abcdef"';
    const cases: [string, string, string][] = [
      [base, 'missing-parameter', 'response'],
      [`${base}, ${md5}, qop=auth, nc=00000001`, 'missing-parameter', 'cnonce'],
      [`${base}, ${md5}, qop=auth, cnonce="c"`, 'missing-parameter', 'nc'],
      [`${base}, ${md5}, qop=auth, cnonce="c", nc=1`, 'invalid-parameter', 'nc'],
      [`${base}, ${md5}, cnonce="c"`, 'invalid-parameter', 'cnonce'],
      [`${base}, ${md5}, qop=auth-conf, cnonce="c", nc=00000001`, 'invalid-parameter', 'qop'],
      [`${base}, ${md5}, algorithm=SHA-256`, 'invalid-parameter', 'response'],
      [`${base}, response="zz23456789abcdef0123456789abcdef"`, 'invalid-parameter', 'response'],
      [`${base}, ${md5}, algorithm=MD5-sess`, 'missing-parameter', 'cnonce'],
    ];
    for (const [input, reason, parameter] of cases) {
      const r = parseCredentials(input);
      assert.ok(!r.ok, input);
      assert.equal(r.error.reason, reason, input);
      assert.equal(r.error.parameter, parameter, input);
    }
  });

  it('round-trips through formatCredentials', () => {
    const init = {
      username: 'al"ice',
      realm: 'example.com',
      nonce: 'n',
      uri: 'sip:example.com;transport=tcp',
      response: 'a'.repeat(64),
      algorithm: 'SHA-256',
      qop: 'auth',
      nc: formatNonceCount(255),
      cnonce: 'c\\n',
      opaque: 'op',
    } as const;
    const r = parseCredentials(formatCredentials(init));
    assert.ok(r.ok);
    assert.deepEqual(r.value, { ...init, nc: '000000ff', userhash: false, extensions: [] });
  });
});

describe('header parsers never throw', () => {
  const headerish = fc.string({
    unit: fc.constantFrom(
      'Digest ',
      'realm',
      'nonce',
      '=',
      '"',
      '\\',
      ',',
      ' ',
      '\t',
      '\r\n',
      'a',
      'qop',
      'auth',
      'nc',
      '00000001',
      'response',
      'é',
      '\0',
    ),
  });

  it('on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), headerish), (s) => {
        const c = parseChallenge(s);
        const d = parseCredentials(s);
        assert.equal(typeof c.ok, 'boolean');
        assert.equal(typeof d.ok, 'boolean');
      }),
      { numRuns: 3000 },
    );
  });

  it('format → parse is the identity on arbitrary printable values', () => {
    const isControl = (ch: string): boolean => {
      const code = ch.charCodeAt(0);
      return (code < 0x20 && ch !== '\t') || code === 0x7f;
    };
    const value = fc.string().filter((s) => {
      for (const ch of s) if (isControl(ch)) return false;
      return true;
    });
    fc.assert(
      fc.property(value, value, (realm, nonce) => {
        const r = parseChallenge(formatChallenge({ realm, nonce, qop: ['auth'] }));
        assert.ok(r.ok);
        assert.equal(r.value.realm, realm);
        assert.equal(r.value.nonce, nonce);
      }),
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChallenge } from './challenge.ts';
import { computeHa1, computeResponse, verifyCredentials, type NonceStatus } from './compute.ts';
import { formatCredentials, parseCredentials } from './credentials.ts';
import { digestHex } from './algorithm.ts';

// RFC 7616 §3.9.1 (password per errata 4495: "Circle of Life", lower-case "of").
const RFC7616 = {
  username: 'Mufasa',
  password: 'Circle of Life',
  realm: 'http-auth@example.org',
  method: 'GET',
  uri: '/dir/index.html',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  nc: '00000001',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
} as const;

const RFC7616_SHA256_AUTHORIZATION =
  'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", ' +
  'algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, ' +
  'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, ' +
  'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", ' +
  'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';

const valid = (): NonceStatus => 'valid';

describe('computeResponse: RFC vectors', () => {
  it('RFC 7616 §3.9.1 SHA-256', () => {
    const ha1 = computeHa1('SHA-256', RFC7616.username, RFC7616.realm, RFC7616.password);
    const response = computeResponse({ algorithm: 'SHA-256', ha1, qop: 'auth', ...RFC7616 });
    assert.equal(response, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });

  it('RFC 7616 §3.9.1 MD5', () => {
    const ha1 = computeHa1('MD5', RFC7616.username, RFC7616.realm, RFC7616.password);
    const response = computeResponse({ algorithm: 'MD5', ha1, qop: 'auth', ...RFC7616 });
    assert.equal(response, '8ca523f5e9506fed4657c9700eebdbec');
  });

  it('RFC 2617 §3.5 MD5 (password "Circle Of Life")', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    const response = computeResponse({
      algorithm: 'MD5',
      ha1,
      method: 'GET',
      uri: '/dir/index.html',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
    });
    assert.equal(response, '6629fae49393a05397450978507c4ef1');
  });

  it('RFC 2069 legacy (no qop): KD(HA1, nonce:HA2)', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'CircleOfLife');
    const response = computeResponse({
      algorithm: 'MD5',
      ha1,
      method: 'GET',
      uri: '/dir/index.html',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    });
    // RFC 2069 §2.4 example response.
    assert.equal(response, '1949323746fe6a43ef61f9606e7febea');
  });

  it('-sess and auth-int follow RFC 7616 §3.4.2 / §3.4.3', () => {
    const ha1 = computeHa1('SHA-256', 'u', 'r', 'p');
    const sessHa1 = digestHex('SHA-256', `${ha1}:n:c`);
    const ha2 = digestHex('SHA-256', `INVITE:sip:b@x:${digestHex('SHA-256', 'v=0\r\n')}`);
    const expected = digestHex('SHA-256', `${sessHa1}:n:00000002:c:auth-int:${ha2}`);
    const got = computeResponse({
      algorithm: 'SHA-256-sess',
      ha1,
      method: 'INVITE',
      uri: 'sip:b@x',
      nonce: 'n',
      nc: '00000002',
      cnonce: 'c',
      qop: 'auth-int',
      body: 'v=0\r\n',
    });
    assert.equal(got, expected);
    assert.throws(() =>
      computeResponse({ algorithm: 'MD5', ha1, method: 'A', uri: 'u', nonce: 'n', qop: 'auth' }),
    );
  });

  it('SHA-512-256 is the FIPS 180-4 function, not a truncation of SHA-512', () => {
    assert.equal(
      digestHex('SHA-512-256', 'abc'),
      '53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23',
    );
  });
});

describe('verifyCredentials', () => {
  const sha256Ha1 = computeHa1('SHA-256', RFC7616.username, RFC7616.realm, RFC7616.password);
  const parsed = parseCredentials(RFC7616_SHA256_AUTHORIZATION);
  assert.ok(parsed.ok);
  const credentials = parsed.value;

  it('authenticates the RFC 7616 §3.9.1 Authorization header', () => {
    const verdict = verifyCredentials({
      credentials,
      method: 'GET',
      ha1: sha256Ha1,
      nonceCheck: valid,
      realm: RFC7616.realm,
    });
    assert.deepEqual(verdict, { outcome: 'authenticated', username: 'Mufasa' });
  });

  it('looks HA1 up by hash and user', () => {
    const seen: string[] = [];
    const verdict = verifyCredentials({
      credentials,
      method: 'GET',
      ha1: (hash, user) => {
        seen.push(`${hash}/${user}`);
        return hash === 'SHA-256' ? sha256Ha1 : undefined;
      },
      nonceCheck: valid,
    });
    assert.equal(verdict.outcome, 'authenticated');
    assert.deepEqual(seen, ['SHA-256/Mufasa']);
  });

  it('rejects a wrong password, method, realm or unknown user', () => {
    const wrong = computeHa1('SHA-256', 'Mufasa', RFC7616.realm, 'Circle Of Life');
    const base = { credentials, nonceCheck: valid } as const;
    assert.deepEqual(verifyCredentials({ ...base, method: 'GET', ha1: wrong }), {
      outcome: 'rejected',
      reason: 'response-mismatch',
    });
    assert.deepEqual(verifyCredentials({ ...base, method: 'POST', ha1: sha256Ha1 }), {
      outcome: 'rejected',
      reason: 'response-mismatch',
    });
    assert.deepEqual(
      verifyCredentials({ ...base, method: 'GET', ha1: sha256Ha1, realm: 'other' }),
      { outcome: 'rejected', reason: 'realm-mismatch' },
    );
    assert.deepEqual(verifyCredentials({ ...base, method: 'GET', ha1: () => undefined }), {
      outcome: 'rejected',
      reason: 'unknown-user',
    });
    assert.deepEqual(
      verifyCredentials({ ...base, method: 'GET', ha1: sha256Ha1, acceptedAlgorithms: ['MD5'] }),
      { outcome: 'rejected', reason: 'algorithm-not-accepted' },
    );
  });

  it('says stale only when the response is right for an expired nonce (RFC 7616 §3.3)', () => {
    const stale = (): NonceStatus => 'stale';
    assert.deepEqual(
      verifyCredentials({ credentials, method: 'GET', ha1: sha256Ha1, nonceCheck: stale }),
      { outcome: 'stale' },
    );
    const wrong = computeHa1('SHA-256', 'Mufasa', RFC7616.realm, 'nope');
    assert.deepEqual(
      verifyCredentials({ credentials, method: 'GET', ha1: wrong, nonceCheck: stale }),
      { outcome: 'rejected', reason: 'response-mismatch' },
    );
    assert.deepEqual(
      verifyCredentials({
        credentials,
        method: 'GET',
        ha1: sha256Ha1,
        nonceCheck: () => 'invalid',
      }),
      { outcome: 'rejected', reason: 'nonce-invalid' },
    );
  });

  it('refuses a replayed nonce-count once the response verifies', () => {
    const counts = new Set<string>();
    const check = (nonce: string, nc: string): boolean => {
      const key = `${nonce}/${nc}`;
      if (counts.has(key)) return false;
      counts.add(key);
      return true;
    };
    const input = {
      credentials,
      method: 'GET',
      ha1: sha256Ha1,
      nonceCheck: valid,
      nonceCountCheck: check,
    };
    assert.equal(verifyCredentials(input).outcome, 'authenticated');
    assert.deepEqual(verifyCredentials(input), {
      outcome: 'rejected',
      reason: 'nonce-count-replay',
    });
  });

  it('verifies a legacy no-qop response unless qop is required', () => {
    const ha1 = computeHa1('MD5', 'alice', 'example.com', 'secret');
    const response = computeResponse({
      algorithm: 'MD5',
      ha1,
      method: 'REGISTER',
      uri: 'sip:example.com',
      nonce: 'abc',
    });
    const header = formatCredentials({
      username: 'alice',
      realm: 'example.com',
      nonce: 'abc',
      uri: 'sip:example.com',
      response,
    });
    const c = parseCredentials(header);
    assert.ok(c.ok);
    const input = { credentials: c.value, method: 'REGISTER', ha1, nonceCheck: valid };
    assert.equal(verifyCredentials(input).outcome, 'authenticated');
    assert.deepEqual(verifyCredentials({ ...input, requireQop: true }), {
      outcome: 'rejected',
      reason: 'qop-required',
    });
  });

  it('client and server agree for every algorithm (round trip through the headers)', () => {
    for (const algorithm of [
      'MD5',
      'MD5-sess',
      'SHA-256',
      'SHA-256-sess',
      'SHA-512-256',
      'SHA-512-256-sess',
    ] as const) {
      const challenge = parseChallenge(
        `Digest realm="example.com", qop="auth", algorithm=${algorithm}, nonce="n0"`,
      );
      assert.ok(challenge.ok);
      const hash = algorithm.replace('-sess', '') as 'MD5' | 'SHA-256' | 'SHA-512-256';
      const ha1 = computeHa1(hash, 'bob', challenge.value.realm, 'pw');
      const common = {
        algorithm: challenge.value.algorithm,
        nonce: challenge.value.nonce,
        uri: 'sip:example.com',
        qop: 'auth',
        nc: '0000000a',
        cnonce: 'xyz',
      } as const;
      const response = computeResponse({ ...common, ha1, method: 'REGISTER' });
      const header = formatCredentials({
        ...common,
        username: 'bob',
        realm: 'example.com',
        response,
      });
      const c = parseCredentials(header);
      assert.ok(c.ok, header);
      const verdict = verifyCredentials({
        credentials: c.value,
        method: 'REGISTER',
        ha1,
        nonceCheck: valid,
      });
      assert.equal(verdict.outcome, 'authenticated', algorithm);
    }
  });
});

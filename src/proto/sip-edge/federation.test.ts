import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SipRequest } from '../../codec/sip/message.ts';
import { parseSipMessage } from '../../codec/sip/parse.ts';
import {
  certificateCovers,
  certificateIdentities,
  checkPartnerRequest,
  FederationPolicy,
  PartnerThrottle,
  type FederationRules,
} from './federation.ts';

const RULES: FederationRules = {
  enabled: true,
  discovery: false,
  allow: [
    { domain: 'b.example', edge: 'sip.b.example', port: 5061, verification: 'verified' },
    { domain: '*.partners.example', edge: null, port: 5061, verification: 'throttled' },
  ],
  block: ['evil.example', 'x.b.example'],
  providers: [
    {
      name: 'chat',
      domains: ['chat.example'],
      edge: 'fed.chat.example',
      port: 5061,
      enabled: true,
      allowMedia: false,
    },
    {
      name: 'old',
      domains: ['old.example'],
      edge: 'fed.old.example',
      port: 5061,
      enabled: false,
      allowMedia: false,
    },
  ],
};

function request(method: string, from: string, ruri: string, extra = ''): SipRequest {
  const text =
    `${method} ${ruri} SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.9:5061;branch=z9hG4bK1\r\n` +
    `From: <${from}>;tag=1\r\nTo: <${ruri}>\r\nCall-ID: c1\r\nCSeq: 1 ${method}\r\n${extra}` +
    'Content-Length: 0\r\n\r\n';
  const parsed = parseSipMessage(Buffer.from(text));
  assert.ok(parsed.ok);
  assert.ok(parsed.value.kind === 'request');
  return parsed.value;
}

function partner(policy: FederationPolicy, domain: string) {
  const standing = policy.standing(domain);
  assert.ok(standing.kind === 'partner', domain);
  return standing;
}

describe('certificate identities (RFC 5922 §7.1)', () => {
  test('subjectAltName DNS and sip: URI names count; the CN only without a SAN', () => {
    assert.deepEqual(
      certificateIdentities({
        subjectAltName: 'DNS:Edge.B.example, URI:sip:b.example, IP Address:192.0.2.1',
        commonName: 'ignored.example',
      }),
      ['edge.b.example', 'b.example'],
    );
    assert.deepEqual(certificateIdentities({ commonName: 'B.example' }), ['b.example']);
    assert.deepEqual(certificateIdentities({ subjectAltName: 'URI:sip:alice@b.example' }), []);
  });

  test('a wildcard covers exactly one left-most label', () => {
    const names = { subjectAltName: 'DNS:*.b.example' };
    assert.equal(certificateCovers(names, 'sip.b.example'), true);
    assert.equal(certificateCovers(names, 'b.example'), false);
    assert.equal(certificateCovers(names, 'a.sip.b.example'), false);
    assert.equal(certificateCovers({ subjectAltName: 'DNS:b.example' }, 'B.EXAMPLE'), true);
    assert.equal(certificateCovers({ subjectAltName: 'DNS:b.example' }, 'c.example'), false);
  });
});

describe('federation standing', () => {
  const policy = new FederationPolicy(RULES, ['a.example']);

  test('the block list wins over the allow list', () => {
    assert.equal(policy.standing('x.b.example').kind, 'blocked');
    assert.equal(policy.standing('EVIL.example').kind, 'blocked');
  });

  test('allow-listed partners keep their edge and verification level', () => {
    const b = partner(policy, 'b.example');
    assert.equal(b.profile, 'federation');
    assert.equal(b.throttled, false);
    assert.deepEqual(b.edge, { host: 'sip.b.example', port: 5061 });
    const p = partner(policy, 'one.partners.example');
    assert.equal(p.throttled, true);
    assert.equal(p.edge, undefined);
  });

  test('providers get the public profile; a disabled provider is blocked', () => {
    const chat = partner(policy, 'chat.example');
    assert.equal(chat.profile, 'public');
    assert.equal(chat.allowMedia, false);
    assert.equal(policy.standing('old.example').kind, 'blocked');
  });

  test('unknown without discovery, throttled partner with it; off when disabled', () => {
    assert.equal(policy.standing('new.example').kind, 'unknown');
    const open = new FederationPolicy({ ...RULES, discovery: true }, ['a.example']);
    assert.equal(partner(open, 'new.example').throttled, true);
    assert.equal(open.standing('a.example').kind, 'unknown');
    const off = new FederationPolicy({ ...RULES, enabled: false }, ['a.example']);
    assert.equal(off.standing('b.example').kind, 'off');
  });

  test('update replaces the lists', () => {
    const changing = new FederationPolicy(RULES, ['a.example']);
    changing.update({ ...RULES, block: ['b.example'] });
    assert.equal(changing.standing('b.example').kind, 'blocked');
  });
});

describe('checks on a partner request', () => {
  const policy = new FederationPolicy(RULES, ['a.example']);
  const covers = (domain: string): boolean => domain === 'b.example' || domain === 'chat.example';
  const check = (req: SipRequest, domain = 'b.example', ruri = 'sip:alice@a.example') =>
    checkPartnerRequest(req, {
      standing: partner(policy, domain),
      policy,
      requestUri: ruri,
      requestUriIsOurToken: false,
      covers,
      maxHeaders: 100,
    });

  test('a MESSAGE from a covered domain to one of our users passes', () => {
    assert.equal(check(request('MESSAGE', 'sip:bob@b.example', 'sip:alice@a.example')), undefined);
  });

  test('REGISTER is refused (405) with the allowed methods', () => {
    const refusal = check(request('REGISTER', 'sip:bob@b.example', 'sip:a.example'));
    assert.ok(refusal !== undefined);
    assert.equal(refusal.status, 405);
    assert.match(refusal.headers?.[0]?.[1] ?? '', /MESSAGE/);
  });

  test('a provider without media may not INVITE', () => {
    const refusal = check(
      request('INVITE', 'sip:pat@chat.example', 'sip:alice@a.example'),
      'chat.example',
    );
    assert.equal(refusal?.status, 405);
    assert.equal(
      check(request('SUBSCRIBE', 'sip:pat@chat.example', 'sip:alice@a.example'), 'chat.example'),
      undefined,
    );
  });

  test('an uncovered domain, an asserted identity of ours or of another domain: 403', () => {
    const uncovered = checkPartnerRequest(
      request('MESSAGE', 'sip:bob@b.example', 'sip:alice@a.example'),
      {
        standing: partner(policy, 'b.example'),
        policy,
        requestUri: 'sip:alice@a.example',
        requestUriIsOurToken: false,
        covers: () => false,
        maxHeaders: 100,
      },
    );
    assert.equal(uncovered?.reason, 'Domain Not Certified');
    for (const asserted of ['<sip:ceo@a.example>', '<sip:x@c.example>', 'garbage'])
      assert.equal(
        check(
          request(
            'MESSAGE',
            'sip:bob@b.example',
            'sip:alice@a.example',
            `P-Asserted-Identity: ${asserted}\r\n`,
          ),
        )?.reason,
        'Identity Not Certified',
      );
    assert.equal(
      check(
        request(
          'MESSAGE',
          'sip:bob@b.example',
          'sip:alice@a.example',
          'P-Asserted-Identity: <sip:bob@b.example>\r\n',
        ),
      ),
      undefined,
    );
  });

  test('a Request-URI outside our domains: 403 (no relaying to a third domain)', () => {
    assert.equal(
      check(
        request('MESSAGE', 'sip:bob@b.example', 'sip:dave@d.example'),
        'b.example',
        'sip:dave@d.example',
      )?.reason,
      'Not Our Domain',
    );
  });
});

describe('discovered-partner limits', () => {
  test('distinct local users are capped per window; the partner is watched', () => {
    const throttle = new PartnerThrottle({
      maxLocalUsers: 2,
      windowMs: 60_000,
      messagesPerSecond: 100,
    });
    assert.equal(throttle.hit('d.example', 'alice@a.example', 0), 'ok');
    assert.equal(throttle.hit('d.example', 'bob@a.example', 1), 'ok');
    assert.equal(throttle.hit('d.example', 'alice@a.example', 2), 'ok');
    assert.equal(throttle.hit('d.example', 'carol@a.example', 3), 'users');
    assert.equal(throttle.isWatched('d.example'), true);
    assert.equal(throttle.watchList()[0]?.reason, 'users');
    // A new window forgets the users (the watch list remembers).
    assert.equal(throttle.hit('d.example', 'carol@a.example', 60_003), 'ok');
    assert.equal(throttle.isWatched('d.example'), true);
    assert.equal(throttle.hit('e.example', 'carol@a.example', 60_004), 'ok');
  });

  test('the message rate is a token bucket (burst twice the rate)', () => {
    const throttle = new PartnerThrottle({
      maxLocalUsers: 100,
      windowMs: 60_000,
      messagesPerSecond: 5,
    });
    const verdicts = Array.from({ length: 11 }, () => throttle.hit('d.example', 'a@a.example', 0));
    assert.deepEqual(verdicts.slice(0, 10), Array(10).fill('ok'));
    assert.equal(verdicts[10], 'rate');
    assert.equal(throttle.hit('d.example', 'a@a.example', 200), 'ok');
    assert.equal(throttle.watchList()[0]?.count, 1);
  });

  test('memory is bounded: the least recently seen partner is forgotten', () => {
    const throttle = new PartnerThrottle(
      { maxLocalUsers: 1, windowMs: 60_000, messagesPerSecond: 100 },
      2,
    );
    throttle.hit('one.example', 'a@a.example', 0);
    throttle.hit('two.example', 'a@a.example', 0);
    throttle.hit('three.example', 'a@a.example', 0);
    // one.example was forgotten: a second user is its first again.
    assert.equal(throttle.hit('one.example', 'b@a.example', 1), 'ok');
    assert.equal(throttle.hit('three.example', 'b@a.example', 1), 'users');
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEdits } from '../../codec/sip/edit.ts';
import type { SipRequest } from '../../codec/sip/message.ts';
import { headerValues, parseSipMessage } from '../../codec/sip/parse.ts';
import type { SipUri } from '../../codec/sip/uri.ts';
import {
  loopHash,
  newProxyBranch,
  planForward,
  preprocessRoute,
  validateProxyRequest,
  type ProxyIdentity,
  type ProxyInterface,
  receivedVia,
  statelessBranch,
  statelessToTag,
} from './forward.ts';

const UDP: ProxyInterface = { transport: 'udp', host: '192.0.2.1', port: 5060 };
const TLS: ProxyInterface = { transport: 'tls', host: '192.0.2.1', port: 5061 };

const identity: ProxyIdentity = {
  isLocalUri: (uri: SipUri) => uri.host === '192.0.2.1' && uri.user === undefined,
  isLocalSentBy: (host) => host === '192.0.2.1',
  supportedExtensions: [],
};

function request(lines: string, method = 'INVITE', uri = 'sip:bob@example.test'): SipRequest {
  const raw = Buffer.from(
    `${method} ${uri} SIP/2.0\r\n` +
      'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKabc\r\n' +
      'From: <sip:alice@example.test>;tag=1\r\nTo: <sip:bob@example.test>\r\n' +
      `Call-ID: c1\r\nCSeq: 1 ${method}\r\n` +
      lines +
      'Content-Length: 0\r\n\r\n',
  );
  const parsed = parseSipMessage(raw);
  assert.ok(parsed.ok && parsed.value.kind === 'request');
  return parsed.value;
}

function forward(
  req: SipRequest,
  outbound = UDP,
  recordRoute = true,
): { out: SipRequest; nextHop: SipUri } {
  const routed = preprocessRoute(req, identity);
  assert.ok(routed.ok);
  const plan = planForward(req, routed.value, {
    inbound: UDP,
    outbound,
    branch: newProxyBranch(req),
    recordRoute,
  });
  assert.ok(plan.ok);
  const parsed = parseSipMessage(applyEdits(req, plan.value.edits));
  assert.ok(parsed.ok && parsed.value.kind === 'request');
  return { out: parsed.value, nextHop: plan.value.nextHop };
}

describe('RFC 3261 §16.3 request validation', () => {
  test('§16.3 item 3: Max-Forwards 0 → 483', () => {
    const result = validateProxyRequest(request('Max-Forwards: 0\r\n'), identity);
    assert.ok(!result.ok);
    assert.equal(result.error.status, 483);
  });

  test('§16.3 item 2: an unsupported Request-URI scheme → 416', () => {
    const result = validateProxyRequest(
      request('Max-Forwards: 70\r\n', 'INVITE', 'http://example.test/'),
      identity,
    );
    assert.ok(!result.ok);
    assert.equal(result.error.status, 416);
  });

  test('§16.3 item 6: an unknown Proxy-Require option → 420 with Unsupported', () => {
    const result = validateProxyRequest(
      request('Max-Forwards: 70\r\nProxy-Require: foo, bar\r\n'),
      identity,
    );
    assert.ok(!result.ok);
    assert.equal(result.error.status, 420);
    assert.deepEqual(result.error.headers, [['Unsupported', 'foo, bar']]);
  });

  test('§16.3 item 4: a request that comes back with our own loop hash → 482', () => {
    const first = request('Max-Forwards: 70\r\n');
    const { out } = forward(first);
    // The same request, looped back to us with our Via on it.
    const looped = parseSipMessage(out.raw);
    assert.ok(looped.ok && looped.value.kind === 'request');
    assert.equal(loopHash(looped.value), loopHash(first));
    const result = validateProxyRequest(looped.value, identity);
    assert.ok(!result.ok);
    assert.equal(result.error.status, 482);
  });

  test('a spiral (same request, changed Request-URI) is not a loop', () => {
    const { out } = forward(request('Max-Forwards: 70\r\n'));
    const spiral = parseSipMessage(
      Buffer.from(
        out.raw
          .toString('latin1')
          .replace('sip:bob@example.test SIP/2.0', 'sip:bob2@example.test SIP/2.0'),
        'latin1',
      ),
    );
    assert.ok(spiral.ok && spiral.value.kind === 'request');
    assert.ok(validateProxyRequest(spiral.value, identity).ok);
  });
});

describe('RFC 3261 §16.4 route pre-processing and §16.6 forwarding', () => {
  test('§16.6 items 3 and 8: Max-Forwards decremented, our Via on top with a magic-cookie branch and rport', () => {
    const { out } = forward(request('Max-Forwards: 70\r\n'));
    assert.equal(headerValues(out, 'max-forwards')[0], '69');
    const vias = headerValues(out, 'via');
    assert.match(
      vias[0] ?? '',
      /^SIP\/2\.0\/UDP 192\.0\.2\.1:5060;branch=z9hG4bK[A-Za-z0-9]+\.[A-Za-z0-9]+;rport$/,
    );
    assert.equal(vias[1], 'SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKabc');
  });

  test('§16.6 item 3: a missing Max-Forwards is added with 70', () => {
    const { out } = forward(request(''));
    assert.deepEqual(headerValues(out, 'max-forwards'), ['70']);
  });

  test('untouched header lines are copied byte for byte', () => {
    const req = request('Max-Forwards: 70\r\nX-Odd:   spaced   value  \r\nSubject: hi\r\n');
    const { out } = forward(req);
    assert.ok(out.raw.includes('X-Odd:   spaced   value  \r\nSubject: hi\r\n'));
    assert.ok(
      out.raw.includes(
        'From: <sip:alice@example.test>;tag=1\r\nTo: <sip:bob@example.test>\r\nCall-ID: c1\r\n',
      ),
    );
  });

  test('§16.6 item 4: Record-Route for a dialog-creating request; none for MESSAGE', () => {
    const invite = forward(request('Max-Forwards: 70\r\n')).out;
    assert.deepEqual(headerValues(invite, 'record-route'), ['<sip:192.0.2.1:5060;lr>']);
    const message = forward(request('Max-Forwards: 70\r\n', 'MESSAGE')).out;
    assert.deepEqual(headerValues(message, 'record-route'), []);
  });

  test('§16.6 item 4: crossing transports records both interfaces, outbound first', () => {
    const { out } = forward(request('Max-Forwards: 70\r\n'), TLS);
    assert.deepEqual(headerValues(out, 'record-route'), [
      '<sip:192.0.2.1:5061;transport=tls;lr>',
      '<sip:192.0.2.1:5060;lr>',
    ]);
    assert.match(
      headerValues(out, 'via')[0] ?? '',
      /^SIP\/2\.0\/TLS 192\.0\.2\.1:5061;branch=z9hG4bK/,
    );
  });

  test('§16.4: a top Route naming us is removed and the next Route is the next hop', () => {
    const { out, nextHop } = forward(
      request('Max-Forwards: 70\r\nRoute: <sip:192.0.2.1;lr>, <sip:203.0.113.9;lr>\r\n'),
    );
    assert.deepEqual(headerValues(out, 'route'), ['<sip:203.0.113.9;lr>']);
    assert.equal(nextHop.host, '203.0.113.9');
  });

  test('§16.4: a Request-URI that is our Record-Route (strict router upstream) is restored from the last Route', () => {
    const req = request(
      'Max-Forwards: 70\r\nRoute: <sip:bob@203.0.113.5>\r\n',
      'BYE',
      'sip:192.0.2.1;lr',
    );
    const { out, nextHop } = forward(req);
    assert.equal(out.requestUri, 'sip:bob@203.0.113.5');
    assert.deepEqual(headerValues(out, 'route'), []);
    assert.equal(nextHop.host, '203.0.113.5');
  });

  test('§16.6 item 6: a next hop without lr is a strict router: it becomes the Request-URI', () => {
    const req = request(
      'Max-Forwards: 70\r\nRoute: <sip:203.0.113.9>\r\n',
      'BYE',
      'sip:bob@198.51.100.20',
    );
    const { out, nextHop } = forward(req);
    assert.equal(out.requestUri, 'sip:203.0.113.9');
    assert.deepEqual(headerValues(out, 'route'), ['<sip:bob@198.51.100.20>']);
    assert.equal(nextHop.host, '203.0.113.9');
  });

  test('§16.6 item 7: with no Route, the Request-URI is the next hop', () => {
    const { nextHop } = forward(request('Max-Forwards: 70\r\n'));
    assert.equal(nextHop.host, 'example.test');
    assert.equal(nextHop.user, 'bob');
  });
});

void test('receivedVia: RFC 3581 rport and RFC 3261 §18.2.1 received', () => {
  const parse = (via: string) => {
    const msg = parseSipMessage(
      Buffer.from(
        `INVITE sip:bob@example.test SIP/2.0\r\nVia: ${via}\r\nFrom: <sip:a@example.test>;tag=1\r\n` +
          'To: <sip:bob@example.test>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n' +
          'Content-Length: 0\r\n\r\n',
      ),
    );
    assert.ok(msg.ok && msg.value.kind === 'request');
    return msg.value;
  };
  const source = { address: '192.0.2.7', port: 40000 };
  // Same host, no rport: nothing to change.
  assert.equal(receivedVia(parse('SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1'), source), undefined);
  // rport asked: filled, with received.
  const asked = receivedVia(parse('SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK2'), source);
  assert.equal(
    asked?.value,
    'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK2;received=192.0.2.7;rport=40000',
  );
  // A name as sent-by: received only; the other Via values stay.
  const named = receivedVia(
    parse('SIP/2.0/UDP host.example:5060;branch=z9hG4bK3, SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK4'),
    source,
  );
  assert.equal(
    named?.value,
    'SIP/2.0/UDP host.example:5060;branch=z9hG4bK3;received=192.0.2.7, SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK4',
  );
  // The amended line and our own Via inserted above it combine.
  const request = parse('SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK2');
  const amended = receivedVia(request, source);
  assert.ok(amended !== undefined);
  const first = request.headers[0];
  assert.ok(first !== undefined);
  const out = applyEdits(request, [
    {
      type: 'insert-header',
      name: 'Via',
      value: 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKours',
      before: first,
    },
    { type: 'replace-header', field: amended.field, name: 'Via', value: amended.value },
  ]).toString();
  assert.match(
    out,
    /Via: SIP\/2.0\/UDP 192.0.2.1;branch=z9hG4bKours\r\nVia: SIP\/2.0\/UDP 10.0.0.1:5060;branch=z9hG4bK2;received=192.0.2.7;rport=40000\r\n/,
  );
});

describe('derived branches and tags', () => {
  test('statelessBranch: the same incoming branch gives the same RFC 3261 branch token', () => {
    const a = statelessBranch('z9hG4bK-1-1-5');
    assert.equal(statelessBranch('z9hG4bK-1-1-5'), a);
    assert.notEqual(statelessBranch('z9hG4bK-1-1-6'), a);
    assert.match(a, /^z9hG4bKsl\.[0-9a-z]{12}$/);
    const many = new Set(Array.from({ length: 10_000 }, (_, i) => statelessBranch(`b${i}`)));
    assert.equal(many.size, 10_000);
  });

  test('statelessToTag: the same transaction key gives the same tag, another key another', () => {
    const key = 'z9hG4bKx|127.0.0.1:5060|REGISTER';
    assert.equal(statelessToTag(key), statelessToTag(key));
    assert.notEqual(statelessToTag(`${key}x`), statelessToTag(key));
    assert.match(statelessToTag(key), /^sl[0-9a-z]{12}$/);
  });
});

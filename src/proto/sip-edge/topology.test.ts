import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEdits } from '../../codec/sip/edit.ts';
import type { SipMessage } from '../../codec/sip/message.ts';
import { headerValues, parseSipMessage } from '../../codec/sip/parse.ts';
import type { SipUri } from '../../codec/sip/uri.ts';
import { FloodGuard } from './flood.ts';
import {
  CallIdMask,
  hideContacts,
  hideResponseRecordRoutes,
  openContact,
  openRoutes,
  recordRouteFor,
  sealRoutes,
  TopologySeal,
} from './topology.ts';

const seal = new TopologySeal('unit test secret');
const EDGE_OUT = { host: '192.0.2.1', port: 5061, transport: 'tls' };
const EDGE_IN = { host: '203.0.113.1', port: 5065, transport: 'tls' };
const isOurHost = (uri: SipUri): boolean =>
  (uri.host === '192.0.2.1' && uri.port === 5061) ||
  (uri.host === '203.0.113.1' && uri.port === 5065);

function parse(text: string): SipMessage {
  const parsed = parseSipMessage(Buffer.from(text.replace(/\r?\n/g, '\r\n')));
  assert.ok(parsed.ok);
  return parsed.value;
}

const REGISTER = `REGISTER sip:example.test SIP/2.0
Via: SIP/2.0/TLS 198.51.100.10:50000;branch=z9hG4bK1
From: <sip:bob@example.test>;tag=1
To: <sip:bob@example.test>
Call-ID: c1
CSeq: 1 REGISTER
Contact: "Bob" <sip:bob@198.51.100.10:50000;transport=tls;ob>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>";reg-id=1;expires=600
Content-Length: 0

`;

describe('TopologySeal', () => {
  test('opens what it sealed; a changed or foreign token opens to nothing', () => {
    const token = seal.seal(['a', 'b c', '']);
    assert.deepEqual(seal.open(token), ['a', 'b c', '']);
    const flipped = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21);
    assert.equal(seal.open(flipped), undefined);
    assert.equal(new TopologySeal('another secret').open(token), undefined);
    assert.equal(seal.open('not/base64url'), undefined);
    assert.equal(seal.open('AAAA'), undefined);
  });
});

describe('hideContacts', () => {
  test('a client Contact becomes a token of the inside interface; its parameters stay', () => {
    const message = parse(REGISTER);
    const edits = hideContacts(message, {
      seal,
      side: 'external',
      flowId: 'tls-flow-7',
      facing: EDGE_IN,
      publicDomains: new Set(['example.test']),
      isOurHost,
    });
    const out = parse(applyEdits(message, edits).toString());
    const contact = headerValues(out, 'contact')[0] ?? '';
    assert.ok(!contact.includes('198.51.100.10'), contact);
    assert.match(contact, /^"Bob" <sip:[A-Za-z0-9_-]+@203\.0\.113\.1:5065;transport=tls;ob>;/);
    assert.ok(
      contact.endsWith(
        ';+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>";reg-id=1;expires=600',
      ),
      contact,
    );
    const user = /<sip:([^@]+)@/.exec(contact)?.[1] ?? '';
    assert.deepEqual(openContact(seal, user), {
      side: 'external',
      uri: 'sip:bob@198.51.100.10:50000;transport=tls;ob',
      flowId: 'tls-flow-7',
    });
    // Going back out (a registrar's 200 lists it), the client gets its own Contact back.
    const back = parse(
      `SIP/2.0 200 OK\nVia: SIP/2.0/TLS 198.51.100.10:50000;branch=z9hG4bK1\nFrom: <sip:bob@example.test>;tag=1\nTo: <sip:bob@example.test>;tag=2\nCall-ID: c1\nCSeq: 1 REGISTER\nContact: ${contact}\nContent-Length: 0\n\n`,
    );
    const restored = applyEdits(
      back,
      hideContacts(back, {
        seal,
        side: 'internal',
        flowId: undefined,
        facing: EDGE_OUT,
        publicDomains: new Set(['example.test']),
        isOurHost,
      }),
    ).toString();
    assert.match(
      restored,
      /Contact: <sip:bob@198\.51\.100\.10:50000;transport=tls;ob>;\+sip\.instance=/,
    );
  });

  test('a GRUU of our domain and a * Contact are left alone', () => {
    const message = parse(
      REGISTER.replace(/Contact: .*/, 'Contact: <sip:bob@example.test;gr=urn:uuid:1>, *'),
    );
    const edits = hideContacts(message, {
      seal,
      side: 'external',
      flowId: 'f',
      facing: EDGE_IN,
      publicDomains: new Set(['example.test']),
      isOurHost,
    });
    const out = applyEdits(message, edits).toString();
    assert.match(out, /Contact: <sip:bob@example\.test;gr=urn:uuid:1>, \*/);
  });
});

describe('Record-Route hiding', () => {
  test('a 2xx going out keeps only our value, the inside values sealed into it', () => {
    const inside = [
      '<sip:203.0.113.10:5072;transport=tls;lr>',
      '<sip:203.0.113.20:5082;transport=tls;lr>',
    ];
    const response = parse(
      `SIP/2.0 200 OK\nVia: SIP/2.0/TLS 198.51.100.10:50000;branch=z9hG4bK1\nRecord-Route: ${inside[1] ?? ''}\nRecord-Route: ${inside[0] ?? ''}, <sip:203.0.113.1:5065;transport=tls;lr>\nFrom: <sip:bob@example.test>;tag=1\nTo: <sip:alice@example.test>;tag=2\nCall-ID: c2\nCSeq: 1 INVITE\nContent-Length: 0\n\n`,
    );
    const edits = hideResponseRecordRoutes(response, {
      seal,
      toward: 'external',
      facingValue: recordRouteFor(EDGE_OUT),
      isOurs: (v) => v.includes('203.0.113.1:5065'),
    });
    assert.ok(edits !== undefined);
    const out = parse(applyEdits(response, edits).toString());
    const values = headerValues(out, 'record-route');
    assert.equal(values.length, 1, values.join(' | '));
    assert.ok(!values[0]?.includes('203.0.113'), values[0]);
    // The caller's in-dialog request comes back with that value as its Route: the edge pushes
    // the inside values in the order the caller walks them (bottom-up).
    assert.deepEqual(openRoutes(seal, 'internal', values), [inside[0], inside[1]]);
  });

  test('sealed routes of one side are not opened for the other; a forged one is refused', () => {
    const sealed = sealRoutes(seal, 'external', ['<sip:192.0.2.99;lr>']);
    assert.deepEqual(openRoutes(seal, 'internal', [`<sip:192.0.2.1:5061;lr;ext=${sealed}>`]), []);
    assert.deepEqual(openRoutes(seal, 'external', [`<sip:192.0.2.1:5061;lr;ext=${sealed}>`]), [
      '<sip:192.0.2.99;lr>',
    ]);
    assert.equal(
      openRoutes(seal, 'external', [
        '<sip:192.0.2.1:5061;lr;ext=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA>',
      ]),
      undefined,
    );
  });
});

describe('FloodGuard', () => {
  test('a burst of twice the rate passes, the next message bans, the ban expires', () => {
    const guard = new FloodGuard({ ratePerSecond: 10, banMs: 1000 });
    for (let i = 0; i < 20; i++) assert.equal(guard.hit('a', 0), 'ok');
    assert.equal(guard.hit('a', 0), 'newly-banned');
    assert.equal(guard.hit('a', 500), 'banned');
    assert.equal(guard.hit('b', 500), 'ok');
    assert.equal(guard.hit('a', 1001), 'ok');
  });

  test('memory is bounded: the least recently seen key is forgotten first', () => {
    const guard = new FloodGuard({ ratePerSecond: 1, banMs: 1000, maxKeys: 3 });
    for (const key of ['a', 'b', 'c']) guard.hit(key, 0);
    guard.hit('a', 1);
    guard.hit('d', 2);
    assert.equal(guard.size, 3);
    // 'b' was evicted: it starts with a full bucket again.
    for (let i = 0; i < 2; i++) assert.equal(guard.hit('b', 3), 'ok');
  });
});

describe('CallIdMask', () => {
  test('a Call-ID crosses masked, always the same way, and comes back as it was', () => {
    const mask = new CallIdMask('unit test secret');
    const original = 'a84b4c76e66710@203.0.113.20';
    const masked = mask.cross(original);
    assert.ok(!masked.includes('203.0.113'), masked);
    assert.equal(mask.cross(original), masked);
    assert.equal(mask.cross(masked), original);
    // Another edge's key, or a forged value with our prefix, is masked again, not opened.
    assert.equal(new CallIdMask('another').unmask(masked), undefined);
    assert.equal(mask.unmask('rh-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), undefined);
  });
});

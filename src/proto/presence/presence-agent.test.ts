import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePidf, serializePidf } from '../../codec/pidf/pidf.ts';
import { parseWatcherInfo } from '../../codec/pidf/watcherinfo.ts';
import { parseSipMessage } from '../../codec/sip/parse.ts';
import { FakeClock } from '../../lib/clock.ts';
import { PresenceAgent, type SubscribeInput } from './presence-agent.ts';
import { publishInputFrom, subscribeInputFrom } from './sip-input.ts';
import type { NotifyAction } from './types.ts';

const ALICE = 'sip:alice@example.com';
const BOB = 'sip:bob@example.com';
const CAROL = 'sip:carol@example.com';

function agent(): PresenceAgent {
  let n = 0;
  let e = 0;
  return new PresenceAgent({
    subscriptions: { newId: () => `w${++n}` },
    publications: { newEtag: () => `e${++e}` },
    isKnownResource: (a) => a !== 'sip:nobody@example.com',
  });
}

function sub(
  subscriber: string,
  resource: string,
  now: number,
  over: Partial<SubscribeInput> = {},
): SubscribeInput {
  return {
    key: { callId: `${subscriber}>${resource}`, localTag: 'L', remoteTag: 'R' },
    event: 'presence',
    subscriber,
    resource,
    expiresSeconds: 600,
    now,
    ...over,
  };
}

function openBody(entity = 'pres:alice@example.com'): Buffer {
  return Buffer.from(
    serializePidf({
      entity,
      tuples: [{ id: 'pc', basic: 'open', notes: [] }],
      persons: [{ id: 'p', activities: ['busy'], notes: [] }],
      notes: [],
    }),
  );
}

function basicOf(action: NotifyAction | undefined): string | undefined {
  assert.ok(action?.body !== undefined, 'NOTIFY has a body');
  const parsed = parsePidf(action.body);
  assert.ok(parsed.ok);
  return parsed.value.tuples[0]?.basic;
}

describe('PresenceAgent', () => {
  test('a listed watcher is active at once and follows publications', () => {
    const clock = new FakeClock(0);
    const a = agent();
    a.setContacts(ALICE, [BOB], clock.now());
    const subscribed = a.subscribe(sub(BOB, ALICE, clock.now()));
    assert.equal(subscribed.response.status, 200);
    assert.deepEqual(subscribed.response.headers, [['Expires', '600']]);
    assert.equal(subscribed.actions.length, 1);
    assert.equal(subscribed.actions[0]!.state, 'active;expires=600');
    assert.equal(subscribed.actions[0]!.cseq, 1);
    assert.equal(basicOf(subscribed.actions[0]), 'closed');

    clock.advance(1000);
    const published = a.publish({
      entity: ALICE,
      publisher: ALICE,
      event: 'presence',
      expiresSeconds: 120,
      contentType: 'application/pidf+xml',
      body: openBody(),
      now: clock.now(),
    });
    assert.equal(published.response.status, 200);
    assert.deepEqual(published.response.headers, [
      ['SIP-ETag', 'e1'],
      ['Expires', '120'],
    ]);
    assert.equal(published.actions.length, 1);
    assert.equal(published.actions[0]!.cseq, 2);
    assert.equal(basicOf(published.actions[0]), 'open');

    // The publication lapses: watchers see the offline document.
    clock.advance(120_000);
    assert.equal(a.nextTimeoutAt, 121_000);
    const lapsed = a.tick(clock.now());
    assert.equal(lapsed.length, 1);
    assert.equal(basicOf(lapsed[0]), 'closed');
  });

  test('PUBLISH errors: event, publisher, media type, body, entity', () => {
    const a = agent();
    const base = {
      entity: ALICE,
      publisher: ALICE,
      event: 'presence',
      contentType: 'application/pidf+xml',
      now: 0,
    };
    assert.equal(a.publish({ ...base, event: 'dialog', body: openBody() }).response.status, 489);
    assert.equal(a.publish({ ...base, publisher: BOB, body: openBody() }).response.status, 403);
    assert.equal(
      a.publish({ ...base, contentType: 'text/plain', body: openBody() }).response.status,
      415,
    );
    assert.equal(a.publish({ ...base, body: Buffer.from('<presence') }).response.status, 400);
    assert.equal(
      a.publish({ ...base, body: openBody('pres:bob@example.com') }).response.status,
      400,
    );
    assert.equal(a.publish({ ...base, ifMatch: 'unknown' }).response.status, 412);
    assert.equal(a.publish({ ...base, expiresSeconds: 10, body: openBody() }).response.status, 423);
  });

  test('SUBSCRIBE errors: event, Accept, unknown resource', () => {
    const a = agent();
    const bad = a.subscribe(sub(BOB, ALICE, 0, { event: 'dialog' }));
    assert.equal(bad.response.status, 489);
    assert.deepEqual(bad.response.headers, [['Allow-Events', 'presence, presence.winfo']]);
    assert.equal(a.subscribe(sub(BOB, ALICE, 0, { accept: ['text/plain'] })).response.status, 406);
    assert.equal(a.subscribe(sub(BOB, 'sip:nobody@example.com', 0)).response.status, 404);
  });

  test('a stranger is pending, seen in winfo, approved when added to the list', () => {
    const clock = new FakeClock(0);
    const a = agent();
    const winfo = a.subscribe(
      sub(ALICE, ALICE, 0, {
        event: 'presence.winfo',
        key: { callId: 'w', localTag: 'L', remoteTag: 'R' },
      }),
    );
    assert.equal(winfo.response.status, 200);
    assert.equal(winfo.actions[0]!.contentType, 'application/watcherinfo+xml');
    const first = parseWatcherInfo(winfo.actions[0]!.body ?? '');
    assert.ok(first.ok);
    assert.equal(first.value.version, 0);
    assert.equal(first.value.state, 'full');

    clock.advance(5000);
    const pending = a.subscribe(sub(CAROL, ALICE, clock.now()));
    assert.equal(pending.response.status, 200);
    assert.equal(pending.actions[0]!.state, 'pending;expires=600');
    assert.equal(pending.actions[0]!.body, undefined);
    const seen = parseWatcherInfo(pending.actions[1]?.body ?? '');
    assert.ok(seen.ok);
    assert.equal(seen.value.version, 1);
    assert.equal(seen.value.state, 'partial');
    assert.deepEqual(seen.value.lists[0]?.watchers[0], {
      id: 'w2',
      uri: CAROL,
      status: 'pending',
      event: 'subscribe',
      durationSubscribedSeconds: 0,
      expirationSeconds: 600,
    });

    clock.advance(10_000);
    const approved = a.setContacts(ALICE, [CAROL], clock.now());
    assert.equal(approved.length, 2);
    assert.equal(approved[0]?.state, 'active;expires=590');
    assert.equal(basicOf(approved[0]), 'closed');
    const winfoApproved = parseWatcherInfo(approved[1]?.body ?? '');
    assert.ok(winfoApproved.ok);
    assert.equal(winfoApproved.value.lists[0]!.watchers[0]!.event, 'approved');
    assert.equal(winfoApproved.value.lists[0]!.watchers[0]!.durationSubscribedSeconds, 10);
  });

  test('only the owner may watch its winfo', () => {
    const a = agent();
    assert.equal(a.subscribe(sub(BOB, ALICE, 0, { event: 'presence.winfo' })).response.status, 403);
  });

  test('blocking ends a live subscription with reason rejected; a new one is 403', () => {
    const a = agent();
    a.setContacts(ALICE, [BOB], 0);
    a.subscribe(sub(BOB, ALICE, 0));
    const result = a.setRules(ALICE, [{ address: BOB, action: 'block' }], 1000);
    assert.ok(result.ok);
    assert.equal(result.value.length, 1);
    assert.equal(result.value[0]!.state, 'terminated;reason=rejected');
    assert.equal(result.value[0]!.body, undefined);
    assert.equal(a.subscriptions.size, 0);
    assert.equal(a.subscribe(sub(BOB, ALICE, 2000)).response.status, 403);
  });

  test('removal from the contact list ends with reason deactivated; re-subscribing is pending', () => {
    const a = agent();
    a.setContacts(ALICE, [BOB, CAROL], 0);
    a.subscribe(sub(BOB, ALICE, 0));
    const actions = a.setContacts(ALICE, [CAROL], 1000);
    assert.equal(actions[0]!.state, 'terminated;reason=deactivated');
    const again = a.subscribe(
      sub(BOB, ALICE, 2000, { key: { callId: 'again', localTag: 'L', remoteTag: 'R' } }),
    );
    assert.equal(again.actions[0]!.state, 'pending;expires=600');
  });

  test('refresh sends the current state; unsubscribe a final NOTIFY with the document', () => {
    const a = agent();
    a.setContacts(ALICE, [BOB], 0);
    a.subscribe(sub(BOB, ALICE, 0));
    const refreshed = a.subscribe(sub(BOB, ALICE, 60_000, { expiresSeconds: 300 }));
    assert.equal(refreshed.actions[0]!.state, 'active;expires=300');
    assert.equal(refreshed.actions[0]!.cseq, 2);
    const gone = a.subscribe(sub(BOB, ALICE, 70_000, { expiresSeconds: 0 }));
    assert.deepEqual(gone.response.headers, [['Expires', '0']]);
    assert.equal(gone.actions[0]!.state, 'terminated;reason=timeout');
    assert.equal(basicOf(gone.actions[0]), 'closed');
    assert.equal(a.subscriptions.size, 0);
  });

  test('a fetch gets one terminated NOTIFY', () => {
    const a = agent();
    a.setContacts(ALICE, [BOB], 0);
    const fetched = a.subscribe(sub(BOB, ALICE, 0, { expiresSeconds: 0 }));
    assert.equal(fetched.actions.length, 1);
    assert.equal(fetched.actions[0]!.state, 'terminated;reason=timeout');
    assert.equal(basicOf(fetched.actions[0]), 'closed');
    const stranger = a.subscribe(sub(CAROL, ALICE, 0, { expiresSeconds: 0 }));
    assert.equal(stranger.actions[0]!.body, undefined);
  });

  test('an expired subscription gets a final NOTIFY and shows as timeout in winfo', () => {
    const a = agent();
    a.subscribe(
      sub(ALICE, ALICE, 0, {
        event: 'presence.winfo',
        expiresSeconds: 3600,
        key: { callId: 'w', localTag: 'L', remoteTag: 'R' },
      }),
    );
    a.subscribe(sub(BOB, ALICE, 0));
    const actions = a.tick(600_000);
    assert.equal(actions.length, 2);
    assert.equal(actions[0]!.state, 'terminated;reason=timeout');
    const winfo = parseWatcherInfo(actions[1]?.body ?? '');
    assert.ok(winfo.ok);
    assert.equal(winfo.value.lists[0]!.watchers[0]!.status, 'terminated');
    assert.equal(winfo.value.lists[0]!.watchers[0]!.event, 'timeout');
  });

  test("terminateAllFor ends a disabled user's subscriptions as watcher and as resource", () => {
    const a = agent();
    a.setContacts(ALICE, [BOB], 0);
    a.setContacts(BOB, [ALICE], 0);
    a.subscribe(
      sub(BOB, BOB, 0, {
        event: 'presence.winfo',
        key: { callId: 'bw', localTag: 'L', remoteTag: 'R' },
      }),
    );
    a.subscribe(
      sub(ALICE, ALICE, 0, {
        event: 'presence.winfo',
        key: { callId: 'aw', localTag: 'L', remoteTag: 'R' },
      }),
    );
    a.subscribe(sub(BOB, ALICE, 0));
    a.subscribe(sub(ALICE, BOB, 0));
    a.publish({
      entity: BOB,
      publisher: BOB,
      event: 'presence',
      contentType: 'application/pidf+xml',
      body: openBody('pres:bob@example.com'),
      now: 0,
    });
    const actions = a.terminateAllFor(BOB, 'deactivated', 1000);
    const states = actions.map(
      (x) => `${x.subscription.subscriber}->${x.subscription.resource}:${x.event}:${x.state}`,
    );
    assert.deepEqual(states.sort(), [
      `${ALICE}->${ALICE}:presence.winfo:active;expires=599`,
      `${ALICE}->${BOB}:presence:terminated;reason=deactivated`,
      `${BOB}->${ALICE}:presence:terminated;reason=deactivated`,
      `${BOB}->${BOB}:presence.winfo:terminated;reason=deactivated`,
    ]);
    assert.equal(a.subscriptions.size, 1);
    assert.equal(a.publications.size, 0);
  });
});

describe('sip-input', () => {
  test('reads a SUBSCRIBE and a PUBLISH', () => {
    const subscribe = parseSipMessage(
      Buffer.from(
        'SUBSCRIBE sip:alice@example.com SIP/2.0\r\n' +
          'Via: SIP/2.0/TLS 192.0.2.2;branch=z9hG4bK1\r\n' +
          'From: "Bob B" <sip:bob@example.com>;tag=ft\r\n' +
          'To: <sip:alice@example.com>\r\n' +
          'Call-ID: cid\r\nCSeq: 1 SUBSCRIBE\r\nMax-Forwards: 70\r\n' +
          'Contact: <sip:bob@192.0.2.2;transport=tls>\r\n' +
          'Event: presence;id=1\r\nAccept: application/pidf+xml;q=1, application/rlmi+xml\r\n' +
          'Expires: 300\r\nContent-Length: 0\r\n\r\n',
      ),
    );
    assert.ok(subscribe.ok);
    assert.equal(subscribe.value.kind, 'request');
    const input = subscribeInputFrom(
      subscribe.value,
      { localTag: 'lt', subscriber: BOB, resource: ALICE },
      5,
    );
    assert.ok(input.ok, JSON.stringify(input));
    assert.deepEqual(input.value.key, { callId: 'cid', localTag: 'lt', remoteTag: 'ft' });
    assert.equal(input.value.event, 'presence');
    assert.deepEqual(input.value.accept, ['application/pidf+xml', 'application/rlmi+xml']);
    assert.equal(input.value.expiresSeconds, 300);
    assert.equal(input.value.displayName, 'Bob B');
    assert.equal(input.value.remoteTarget, 'sip:bob@192.0.2.2;transport=tls');

    const body = openBody();
    const publish = parseSipMessage(
      Buffer.concat([
        Buffer.from(
          'PUBLISH sip:alice@example.com SIP/2.0\r\n' +
            'Via: SIP/2.0/TLS 192.0.2.2;branch=z9hG4bK2\r\n' +
            'From: <sip:alice@example.com>;tag=a\r\nTo: <sip:alice@example.com>\r\n' +
            'Call-ID: p\r\nCSeq: 1 PUBLISH\r\nMax-Forwards: 70\r\nEvent: presence\r\n' +
            'SIP-If-Match: e9\r\nExpires: 120\r\nContent-Type: application/pidf+xml\r\n' +
            `Content-Length: ${body.length}\r\n\r\n`,
        ),
        body,
      ]),
    );
    assert.ok(publish.ok);
    assert.equal(publish.value.kind, 'request');
    const p = publishInputFrom(publish.value, { entity: ALICE, publisher: ALICE }, 5);
    assert.ok(p.ok);
    assert.equal(p.value.ifMatch, 'e9');
    assert.equal(p.value.expiresSeconds, 120);
    assert.equal(p.value.contentType, 'application/pidf+xml');
    assert.equal(p.value.body?.toString(), body.toString());
  });
});

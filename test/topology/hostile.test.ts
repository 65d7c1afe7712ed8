// Hostile input from the Internet namespace against the Access Edge in the DMZ, with the
// Director and Front End on `corp` (hostile-deployment.ts): the RFC 4475 corpus, spoofed
// trust headers, requests aimed at internal addresses, Max-Forwards 0, Route headers, a
// flood from one address, 1,000 idle TLS connections and slowloris. Each case checks what
// the attacker gets back, what reaches the corporate side (a capture on corp, TLS decrypted
// with the edge's key log), and that a legitimate user at home, behind the NAT, is served.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep } from '../helpers/process.ts';
import { sipHeader, startCapture } from './capture.ts';
import { buildTopology } from './netns.ts';
import type { Topology } from './netns.ts';
import { callIdOf, EDGE_EXPECTED, fromDomain, loadCorpus, tagged } from './hostile-corpus.ts';
import type { EdgeExpectation, EdgeOutcome } from './hostile-corpus.ts';
import {
  DIRECTOR_PORT,
  DOMAIN,
  EDGE_INTERNAL_TLS,
  EDGE_LIMITS,
  FRONT_END_PORT,
  startDeployment,
  USERS,
} from './hostile-deployment.ts';
import type { Deployment } from './hostile-deployment.ts';
import {
  ALICE,
  callIdsFrom,
  finals,
  headerValues,
  lifetimesOutside,
  mismatch,
  sipMessage,
  whenAllClosed,
} from './hostile-checks.ts';
/** Extra addresses of the Internet client: 25 × 40 idle TLS sessions, then slowloris. */
const IDLE_SOURCES = Array.from({ length: 25 }, (_, i) => `192.0.2.${String(100 + i)}`);
const SLOW_SOURCES = Array.from({ length: 6 }, (_, i) => `192.0.2.${String(130 + i)}`);
/** The transport layer's per-message deadline (not configurable: DEFAULT_TRANSPORT_LIMITS). */
const MESSAGE_TIMEOUT_MS = 30_000;

describe('hostile input from the Internet against the Access Edge', { timeout: 150_000 }, () => {
  let topo: Topology;
  let work: string;
  let d: Deployment;
  /** Undone in order by after(), whatever before() got to. */
  const teardown: (() => Promise<void>)[] = [];

  /** Bob, at home behind the NAT, sends a MESSAGE to alice: 200, and alice gets it. */
  async function servesBob(label: string, name = 'bob'): Promise<void> {
    await d.connectRemote(d.home, name, 'bob');
    const callId = `legit-${label}`;
    const received = d.corp2.call('ua.waitForRequest', {
      name: 'alice',
      method: 'MESSAGE',
      callId: d.insideCallId(callId),
      timeoutMs: 5000,
    });
    const response = await d.home.call('ua.request', {
      name,
      method: 'MESSAGE',
      uri: ALICE,
      options: { callId, body: label, headers: [['Content-Type', 'text/plain']] },
    });
    assert.equal(response.status, 200, `${label}: ${JSON.stringify(response)}`);
    assert.equal((await received).body, label);
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'rt-hostile-'));
    topo = await buildTopology();
    teardown.push(() => topo.destroy());
    const batch = [...IDLE_SOURCES, ...SLOW_SOURCES].map(
      (address) => `addr add ${address}/24 dev ${topo.iface.client}`,
    );
    await writeFile(join(work, 'client-addresses.batch'), `${batch.join('\n')}\n`);
    await topo.runOk('client', ['ip', '-batch', join(work, 'client-addresses.batch')]);
    d = await startDeployment(topo, work);
    teardown.unshift(() => d.stop());
    await d.corp2.call('ua.connect', {
      name: 'alice',
      host: topo.addr.corp,
      port: FRONT_END_PORT,
      transport: 'tcp',
      user: 'alice',
      password: USERS.alice,
    });
    assert.equal((await d.corp2.call('ua.register', { name: 'alice' })).status, 200);
    await servesBob('before');
  });

  after(async () => {
    for (const step of teardown) await step();
    // RT_KEEP_WORK=1 keeps the captures, key log and PKI for a look with Wireshark.
    if (process.env['RT_KEEP_WORK'] === undefined) await rm(work, { recursive: true, force: true });
    else process.stderr.write(`hostile topology work dir kept: ${work}\n`);
  });

  test('the RFC 4475 corpus over UDP and TLS: the RFC answer or a drop, and only valid messages cross', async () => {
    const corpus = loadCorpus();
    assert.ok(corpus.length >= 49, `corpus: ${String(corpus.length)} files`);
    assert.deepEqual(
      corpus.map((m) => m.name).filter((name) => !(name in EDGE_EXPECTED)),
      [],
      'every corpus file has an expectation',
    );
    const passes = [
      { pass: 'udp', transport: 'udp', port: 5060, pick: (e: EdgeExpectation) => e.udp },
      { pass: 'tls', transport: 'tls', port: 5061, pick: (e: EdgeExpectation) => e.tls },
      { pass: 'ours', transport: 'udp', port: 5060, pick: (e: EdgeExpectation) => e.ours },
    ] as const;
    const problems: string[] = [];
    const sent: { label: string; callId: string; crosses: boolean }[] = [];
    for (const { pass, transport, port, pick } of passes) {
      const expected = new Map<string, EdgeOutcome>();
      const payloads = corpus.flatMap(({ name, raw }) => {
        const outcome = pick(EDGE_EXPECTED[name]!);
        if (outcome === 'skip') return [];
        expected.set(name, outcome);
        const bytes = tagged(pass === 'ours' ? fromDomain(raw, DOMAIN) : raw, `${pass}.${name}`);
        const callId = callIdOf(bytes);
        if (callId !== undefined)
          sent.push({ label: `${pass}/${name}`, callId, crosses: outcome === 'director' });
        return [{ key: name, data: bytes.toString('base64') }];
      });
      const outcomes = await d.client.call('exchange', {
        transport,
        host: topo.addr.dmzExternal,
        port,
        caFile: d.pki.caFile,
        payloads,
        concurrency: 25,
        waitMs: 1500,
      });
      for (const [name, outcome] of expected) {
        const got = outcomes[name];
        const problem = got === undefined ? 'no outcome' : mismatch(outcome, got, transport);
        if (problem !== undefined) problems.push(`${pass}/${name}: ${problem}`);
      }
    }
    assert.deepEqual(problems, [], 'each message gets the RFC answer, the policy answer or a drop');
    assert.equal(d.dmz.process.hasExited, false, d.dmz.output());

    // At corp: the messages that are valid and ours crossed, and nothing else did.
    const crossed = callIdsFrom(await d.corpSip(), topo.addr.dmzInternal);
    const seen = (callId: string): boolean =>
      crossed.has(d.insideCallId(callId)) || crossed.has(callId);
    const leaked = sent.filter((m) => !m.crosses && seen(m.callId)).map((m) => m.label);
    const missing = sent.filter((m) => m.crosses && !seen(m.callId)).map((m) => m.label);
    assert.deepEqual(leaked, [], 'refused or dropped messages never reach corp');
    assert.deepEqual(missing, [], 'valid messages of our domain reach the Director');
    assert.ok((await d.metric('dmz', 'rampart_sip_drops_total', 'reason="parse-error"')) >= 9);
    await servesBob('after-corpus');
  });

  test('spoofed P-Asserted-Identity and P-Rampart-* never reach the inside; unauthenticated → 407', async () => {
    await d.connectRemote(d.client, 'mallory', 'mallory');
    const spoof: [string, string][] = [
      ['P-Asserted-Identity', `<sip:ceo@${DOMAIN}>`],
      ['P-Preferred-Identity', `<sip:ceo@${DOMAIN}>`],
      ['P-Rampart-Origin', 'federation'],
      ['P-Rampart-Trusted', 'yes'],
      ['P-Rampart-Source', '203.0.113.99'],
    ];
    const received = d.corp2.call('ua.waitForRequest', {
      name: 'alice',
      method: 'MESSAGE',
      callId: d.insideCallId('spoof-auth'),
      timeoutMs: 5000,
    });
    const sentAuth = await d.client.call('ua.request', {
      name: 'mallory',
      method: 'MESSAGE',
      uri: ALICE,
      options: { callId: 'spoof-auth', body: 'spoofed', headers: spoof },
    });
    assert.equal(sentAuth.status, 200);
    const atAlice = await received;
    // The Director asserts who authenticated, whatever the client claimed.
    assert.deepEqual(headerValues(atAlice.headers, 'p-asserted-identity'), [
      `<sip:mallory@${DOMAIN}>`,
    ]);
    assert.deepEqual(headerValues(atAlice.headers, 'p-preferred-identity'), []);
    assert.deepEqual(
      atAlice.headers.filter(
        ([name, value]) => name.startsWith('p-rampart-') || value.includes('ceo@'),
      ),
      [],
    );

    const unauthenticated = await d.client.call('ua.request', {
      name: 'mallory',
      method: 'MESSAGE',
      uri: ALICE,
      options: { callId: 'spoof-noauth', authenticate: false, headers: spoof },
    });
    assert.equal(unauthenticated.status, 407);
    // The same over UDP, claiming to be alice herself.
    const overUdp = await d.client.call('exchange', {
      transport: 'udp',
      host: topo.addr.dmzExternal,
      port: 5060,
      payloads: [
        {
          key: 'spoof',
          data: Buffer.from(
            sipMessage('spoof-udp', [
              ...spoof.map(([n, v]) => `${n}: ${v}`),
              'Content-Length: 0',
            ]).replace(`<sip:mallory@${DOMAIN}>`, `<${ALICE}>`),
          ).toString('base64'),
        },
      ],
      concurrency: 1,
      waitMs: 1500,
    });
    assert.deepEqual(finals(overUdp['spoof']!), [407]);

    const messages = await d.corpSip();
    const [auth, noauth, udp] = ['spoof-auth', 'spoof-noauth', 'spoof-udp'].map((id) =>
      d.insideCallId(id),
    );
    const fromEdge = messages.filter(
      (m) =>
        m.src === topo.addr.dmzInternal &&
        m.method === 'MESSAGE' &&
        [auth, noauth, udp].includes(sipHeader(m, 'call-id')[0]),
    );
    // spoof-auth twice (challenged, then with credentials), spoof-noauth, spoof-udp.
    assert.equal(fromEdge.length, 4, fromEdge.map((m) => m.text).join('\n\n'));
    for (const message of fromEdge) {
      assert.deepEqual(sipHeader(message, 'p-rampart-origin'), ['remote'], message.text);
      // The edge's own mark of the client's address replaces the spoofed one.
      assert.deepEqual(sipHeader(message, 'p-rampart-source'), [topo.addr.client], message.text);
      assert.deepEqual(sipHeader(message, 'p-asserted-identity'), [], message.text);
      assert.deepEqual(sipHeader(message, 'p-preferred-identity'), [], message.text);
      assert.doesNotMatch(message.text, /ceo@|P-Rampart-Trusted|203\.0\.113\.99/i);
    }
    const toAlice = callIdsFrom(messages, topo.addr.corp);
    assert.ok(toAlice.has(auth!));
    assert.ok(!toAlice.has(noauth!) && !toAlice.has(udp!), 'only authenticated IM reaches alice');
  });

  test('Request-URI or Route naming the Director, the Front End or the edge → 403; Max-Forwards 0 → 483', async () => {
    await d.connectRemote(d.client, 'mallory', 'mallory');
    const { corp, dmzInternal, dmzExternal } = topo.addr;
    const refused: [label: string, uri: string, routes: string[]][] = [
      ['ruri-front-end', `sip:alice@${corp}:${String(FRONT_END_PORT)}`, []],
      ['ruri-director', `sip:alice@${corp}:${String(DIRECTOR_PORT)};transport=tls`, []],
      [
        'ruri-edge-internal',
        `sip:alice@${dmzInternal}:${String(EDGE_INTERNAL_TLS)};transport=tls`,
        [],
      ],
      ['ruri-edge', `sip:alice@${dmzExternal}`, []],
      ['ruri-edge-tls', `sip:alice@${dmzExternal}:5061;transport=tls`, []],
      ['route-director', ALICE, [`<sip:${corp}:${String(DIRECTOR_PORT)};transport=tls;lr>`]],
      ['route-front-end', ALICE, [`<sip:${corp}:${String(FRONT_END_PORT)};lr>`]],
      ['route-edge-other-port', ALICE, [`<sip:${dmzExternal}:5070;lr>`]],
      // A strict route: the Request-URI names the edge, the Route the Front End.
      [
        'strict-route',
        `sip:${dmzExternal}:5061;transport=tls`,
        [`<sip:alice@${corp}:${String(FRONT_END_PORT)}>`],
      ],
    ];
    for (const [label, uri, routes] of refused) {
      const response = await d.client.call('ua.request', {
        name: 'mallory',
        method: 'MESSAGE',
        uri,
        options: { callId: label, routes, authenticate: false, to: ALICE },
      });
      assert.equal(response.status, 403, `${label}: ${response.status} ${response.reason}`);
    }
    const zero = (callId: string): string =>
      sipMessage(callId, ['Content-Length: 0']).replace('Max-Forwards: 70', 'Max-Forwards: 0');
    for (const transport of ['udp', 'tls'] as const) {
      const outcomes = await d.client.call('exchange', {
        transport,
        host: dmzExternal,
        port: transport === 'udp' ? 5060 : 5061,
        caFile: d.pki.caFile,
        payloads: [{ key: 'mf0', data: Buffer.from(zero(`mf0-${transport}`)).toString('base64') }],
        concurrency: 1,
        waitMs: 1500,
      });
      assert.deepEqual(finals(outcomes['mf0']!), [483], transport);
    }
    // A Route naming the edge's own listener is the edge's (RFC 3261 §16.4), as a client
    // with the edge as outbound proxy sends it: consumed, and the request goes to the
    // Director like any other.
    const outbound = await d.client.call('ua.request', {
      name: 'mallory',
      method: 'MESSAGE',
      uri: ALICE,
      options: {
        callId: 'route-edge-listener',
        routes: [`<sip:${dmzExternal}:5061;transport=tls;lr>`],
        authenticate: false,
      },
    });
    assert.equal(outbound.status, 407);

    const messages = await d.corpSip();
    const crossed = callIdsFrom(messages, dmzInternal);
    const labels = [...refused.map(([label]) => label), 'mf0-udp', 'mf0-tls'];
    assert.deepEqual(
      labels.filter((label) => crossed.has(d.insideCallId(label)) || crossed.has(label)),
      [],
      'nothing crosses to corp',
    );
    const viaEdge = messages.find(
      (m) =>
        m.src === dmzInternal &&
        sipHeader(m, 'call-id')[0] === d.insideCallId('route-edge-listener'),
    );
    assert.ok(viaEdge !== undefined, 'the outbound-proxy request reaches the Director');
    assert.doesNotMatch(
      sipHeader(viaEdge, 'route').join(','),
      new RegExp(dmzExternal.replaceAll('.', '\\.')),
    );
  });

  // Found by this test (since fixed): a Route from outside that named neither a hidden host
  // nor the edge was followed, so the edge relayed unauthenticated requests to its own
  // loopback, to any Internet host (retransmitting over UDP), and to corp hosts other than
  // the next hop; a Route naming the internal interface was consumed as the edge's own.
  test('a Route from outside takes a request nowhere but the next hop', async () => {
    const { corp2, dmzExternal, dmzInternal, client } = topo.addr;
    const captures = await Promise.all([
      startCapture(topo, {
        role: 'dmz',
        iface: 'lo',
        file: join(work, 'dmz-lo.pcapng'),
        filter: 'port 9999',
      }),
      startCapture(topo, {
        role: 'client',
        iface: topo.iface.client,
        file: join(work, 'client-7777.pcapng'),
        filter: 'port 7777',
      }),
      startCapture(topo, {
        role: 'corp2',
        iface: topo.iface.corp2,
        file: join(work, 'corp2-5060.pcapng'),
        filter: 'port 5060',
      }),
    ]);
    const routes: [label: string, route: string][] = [
      ['route-dmz-loopback', '<sip:127.0.0.1:9999;lr>'],
      ['route-internet', `<sip:${client}:7777;lr>`],
      ['route-corp2-udp', `<sip:${corp2}:5060;lr>`],
      ['route-corp2-tcp', `<sip:${corp2}:5060;transport=tcp;lr>`],
      ['route-edge-internal', `<sip:${dmzInternal}:${String(EDGE_INTERNAL_TLS)};transport=tls;lr>`],
    ];
    const outcomes = await d.client.call('exchange', {
      transport: 'udp',
      host: dmzExternal,
      port: 5060,
      payloads: routes.map(([label, route]) => ({
        key: label,
        data: Buffer.from(sipMessage(label, [`Route: ${route}`, 'Content-Length: 0'])).toString(
          'base64',
        ),
      })),
      concurrency: routes.length,
      waitMs: 2000,
    });
    const [loopback, internet, corp2Host] = await Promise.all(
      captures.map(async (capture) => (await capture.packets()).length),
    );
    assert.deepEqual(
      {
        packets: { loopback, internet, corp2Host },
        statuses: Object.fromEntries(routes.map(([label]) => [label, finals(outcomes[label]!)])),
      },
      {
        packets: { loopback: 0, internet: 0, corp2Host: 0 },
        statuses: Object.fromEntries(routes.map(([label]) => [label, [403]])),
      },
    );
  });

  // Found by this test (since fixed): a UDP request without Content-Length (allowed on UDP,
  // RFC 3261 §18.3; RFC 4475 inv2543) was forwarded over TLS without one; the Director
  // could not frame it and closed the edge's connection, failing every transaction on it.
  test('a UDP request without Content-Length crosses to the Director framed', async () => {
    const before = d.corpLog.events('rejected', { reason: 'missing-content-length' }).length;
    const outcomes = await d.client.call('exchange', {
      transport: 'udp',
      host: topo.addr.dmzExternal,
      port: 5060,
      payloads: [
        {
          key: 'nocl',
          data: Buffer.from(
            sipMessage('no-content-length', ['Content-Type: text/plain']) + 'hello',
          ).toString('base64'),
        },
      ],
      concurrency: 1,
      waitMs: 2000,
    });
    assert.deepEqual(finals(outcomes['nocl']!), [407]);
    const crossed = callIdsFrom(await d.corpSip(), topo.addr.dmzInternal);
    assert.ok(crossed.has(d.insideCallId('no-content-length')));
    assert.equal(
      d.corpLog.events('rejected', { reason: 'missing-content-length' }).length,
      before,
      'the Director frames what the edge forwards',
    );
  });

  // The two run side by side: slowloris waits for the 30 s per-message deadline anyway.
  describe('connection exhaustion', { concurrency: true }, () => {
    test('1,000 idle TLS connections: all handshake, stay open until the idle timeout, bounded memory', async () => {
      const rssBefore = await d.edgeRssKib();
      const opened = await d.client.call('hold.start', {
        group: 'idle',
        kind: 'tls-idle',
        host: topo.addr.dmzExternal,
        port: 5061,
        sources: IDLE_SOURCES,
        perSource: 40,
        concurrency: 50,
        caFile: d.pki.caFile,
        maxHoldMs: 60_000,
      });
      assert.deepEqual([opened.ready, opened.failed], [1000, 0]);
      const rssHeld = await d.edgeRssKib();
      const connectionsHeld = await d.metric(
        'dmz',
        'rampart_sip_connections',
        'service="access-edge"',
      );
      const { connections } = await d.client.call('hold.status', { group: 'idle' });
      const open = connections.filter((c) => c.closedAt === undefined).length;
      process.stderr.write(
        `idle TLS: 1000 open in ${String(opened.endedAt - connections[0]!.openedAt)} ms, ` +
          `edge RSS ${String(rssBefore)} → ${String(rssHeld)} KiB\n`,
      );
      // The edge holds them all (its gauge counts every connection, inside ones too).
      assert.equal(open, 1000, 'every session still open once all are up');
      assert.ok(connectionsHeld >= 1000, `${String(connectionsHeld)} connections`);
      // Memory stays bounded: under 96 KiB per idle TLS session (about 45 measured).
      assert.ok(rssHeld - rssBefore < 96 * 1000, `RSS grew ${String(rssHeld - rssBefore)} KiB`);
      await servesBob('idle-tls', 'bob-idle');
      // Closed by the idle timeout, and by nothing earlier.
      const closed = await whenAllClosed(d.client, 'idle', EDGE_LIMITS.idleTimeoutMs + 10_000);
      assert.deepEqual(
        lifetimesOutside(closed, EDGE_LIMITS.idleTimeoutMs - 200, EDGE_LIMITS.idleTimeoutMs + 6000),
        [],
      );
      assert.ok(
        (await d.metric('dmz', 'rampart_transport_rejections_total', 'reason="idle-timeout"')) >=
          1000,
      );
    });

    test('slowloris: trickles cut by the per-message deadline, stalls by the idle timeout, half handshakes by handshakeTimeoutMs', async () => {
      const text = sipMessage('slowloris', ['Content-Length: 0']);
      const start = (
        group: string,
        kind: 'tcp-trickle' | 'tcp-stall' | 'tls-stall',
        sources: string[],
        port: number,
        extra: { text?: string; intervalMs?: number; stallAfterBytes?: number },
      ) =>
        d.client.call('hold.start', {
          group,
          kind,
          host: topo.addr.dmzExternal,
          port,
          sources,
          perSource: 10,
          concurrency: 20,
          maxHoldMs: MESSAGE_TIMEOUT_MS + 20_000,
          ...extra,
        });
      // The first bytes of a ClientHello record: a handshake that never completes.
      const halfHello = Buffer.from('160301020001', 'hex').toString('latin1');
      const started = await Promise.all([
        start('trickle', 'tcp-trickle', SLOW_SOURCES.slice(0, 2), 5060, { text, intervalMs: 1000 }),
        start('stall', 'tcp-stall', SLOW_SOURCES.slice(2, 4), 5060, { text, stallAfterBytes: 40 }),
        start('tls-silent', 'tls-stall', SLOW_SOURCES.slice(4, 5), 5061, {}),
        start('tls-half', 'tls-stall', SLOW_SOURCES.slice(5, 6), 5061, { text: halfHello }),
      ]);
      assert.deepEqual(
        started.map((s) => s.ready),
        [20, 20, 10, 10],
      );
      // A legitimate user is served all along.
      const failures: string[] = [];
      const servingUntil = Date.now() + MESSAGE_TIMEOUT_MS;
      let rounds = 0;
      const serving = (async () => {
        while (Date.now() < servingUntil) {
          const label = `slowloris-${String(rounds++)}`;
          await servesBob(label, 'bob-slow').catch((error: unknown) => {
            failures.push(`${label}: ${String(error)}`);
          });
          await sleep(3000);
        }
      })();

      const handshake = EDGE_LIMITS.handshakeTimeoutMs;
      for (const group of ['tls-silent', 'tls-half']) {
        const closed = await whenAllClosed(d.client, group, handshake + 8000);
        assert.deepEqual(lifetimesOutside(closed, handshake - 200, handshake + 4000), [], group);
        assert.deepEqual(
          closed.filter((c) => c.bytesReceived > 0).map((c) => c.source),
          [],
          group,
        );
      }
      const idle = EDGE_LIMITS.idleTimeoutMs;
      const stalled = await whenAllClosed(d.client, 'stall', idle + 10_000);
      assert.deepEqual(lifetimesOutside(stalled, idle - 200, idle + 6000), [], 'stalled headers');
      const trickled = await whenAllClosed(d.client, 'trickle', MESSAGE_TIMEOUT_MS + 12_000);
      assert.deepEqual(
        lifetimesOutside(trickled, MESSAGE_TIMEOUT_MS - 200, MESSAGE_TIMEOUT_MS + 6000),
        [],
        'trickles',
      );
      // Still sending when cut, long past the idle timeout; never answered.
      assert.deepEqual(
        trickled.filter((c) => c.bytesSent < 25 || c.bytesReceived > 0),
        [],
      );
      await serving;
      assert.deepEqual(failures, [], 'a user at home is served during slowloris');
      assert.ok(rounds >= 8, `${String(rounds)} rounds`);
      const rejections = async (reason: string): Promise<number> =>
        d.metric('dmz', 'rampart_transport_rejections_total', `reason="${reason}"`);
      assert.ok((await rejections('message-timeout')) >= 20);
      assert.ok((await rejections('handshake-timeout')) >= 20);
    });
  });

  test('a flood from 192.0.2.10 is banned within 2 s; a user at home keeps ≥ 99 % success', async () => {
    await d.connectRemote(d.home, 'bob', 'bob');
    const flooding = d.client.call('flood', {
      host: topo.addr.dmzExternal,
      port: 5060,
      text: [
        `OPTIONS sip:${DOMAIN} SIP/2.0`,
        `Via: SIP/2.0/UDP ${topo.addr.client}:5060;rport;branch=z9hG4bK-flood-{i}`,
        'Max-Forwards: 70',
        `From: <sip:flood@${DOMAIN}>;tag=f{i}`,
        `To: <sip:${DOMAIN}>`,
        'Call-ID: flood-{i}',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      ratePerSecond: 2000,
      durationMs: 6000,
      maxCount: 12_000,
    });
    await sleep(200);
    const legit = await d.home.call('ua.messages', {
      name: 'bob',
      to: ALICE,
      count: 200,
      intervalMs: 25,
      timeoutMs: 5000,
    });
    const flood = await flooding;
    const bans = d.edgeLog.events('ban', { kind: 'ip', remote: topo.addr.client });
    assert.equal(bans.length, 1, 'one log line per ban');
    const ban = bans[0]!;
    assert.ok(
      ban.text.includes(`"event":"ban","kind":"ip","remote":"${topo.addr.client}"`),
      ban.text,
    );
    const afterStart = Number(ban.fields['time']) - flood.startedAt;
    assert.ok(
      afterStart >= 0 && afterStart < 2000,
      `banned ${String(afterStart)} ms after the flood began`,
    );
    assert.ok(flood.sent >= 5000, `${String(flood.sent)} sent`);
    // Once banned, its datagrams are dropped unread: only the burst allowance was answered.
    assert.ok(
      flood.answered <= 2 * EDGE_LIMITS.messagesPerSecondPerIp + 50,
      `${String(flood.answered)} answered`,
    );
    const ok = legit.outcomes.filter((outcome) => outcome === 200).length;
    assert.ok(
      ok >= 198,
      `${String(ok)}/200 OK: ${JSON.stringify(legit.outcomes.filter((o) => o !== 200))}`,
    );
    assert.ok((await d.metric('dmz', 'rampart_access_edge_bans_total', 'kind="ip"')) >= 1);
    // Still banned afterwards; still served from home.
    const probe = await d.client.call('exchange', {
      transport: 'udp',
      host: topo.addr.dmzExternal,
      port: 5060,
      payloads: [
        {
          key: 'after',
          data: Buffer.from(sipMessage('after-ban', ['Content-Length: 0'])).toString('base64'),
        },
      ],
      concurrency: 1,
      waitMs: 1000,
    });
    assert.deepEqual(probe['after']!.responses, []);
    await servesBob('after-flood');
  });
  test('after all of it the edge and the internal servers are up and stop cleanly', async () => {
    assert.equal(d.dmz.process.hasExited, false, d.dmz.output());
    assert.equal(d.corp.process.hasExited, false, d.corp.output());
    const [edge, corp] = await Promise.all([d.dmz.stop(), d.corp.stop()]);
    assert.deepEqual([edge.code, corp.code], [0, 0], `${d.dmz.output()}\n${d.corp.output()}`);
  });
});

// Rampart issue 5, the remote-user scenarios, on the network-namespace topology (plan.ts):
// two Rampart processes sharing one PKI — the Access Edge alone in the DMZ (192.0.2.1 outside,
// 203.0.113.1 inside), the Director and the Front End in corp (203.0.113.10) — and real
// clients on each side. Nothing routes between the Internet and corp, so whatever works
// crossed the edge.
//
// Who does what:
// - bob, the remote user, is baresip 1.0.0 at home (198.51.100.10, behind the NAT): it signs
//   in over TLS to 192.0.2.1:5061, watches alice's presence with its presence module (a
//   contact with `;presence=p2p`: SUBSCRIBE Event: presence, status from the PIDF of each
//   NOTIFY), exchanges MESSAGE with alice, auto-answers her INVITE and hangs up with BYE.
// - alice, the internal user, is a SipUa (test/helpers/sip-ua.ts) run by ua-agent.ts in corp2
//   (203.0.113.20), registered at the Front End's TCP listener 203.0.113.10:5080: she allows
//   bob with a contact-list SERVICE, PUBLISHes PIDF, sends MESSAGE and INVITE, ACKs.
// - carol, an Internet client at 192.0.2.10, is a SipUa in `client`: her requests without
//   credentials are challenged by the Director and never reach the Front End.
// - tshark captures the DMZ's two interfaces and corp's loopback (Director → Front End),
//   decrypted with the key logs of the two Rampart processes.
//
// The last two tests found two bugs, since fixed: a Call-ID naming an internal host left the
// corporate network unchanged (the edge now masks Call-IDs), and the Director's per-address
// lockout saw every remote user as the edge's address (the edge now names the client).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { startBaresip } from '../helpers/baresip.ts';
import type { Baresip } from '../helpers/baresip.ts';
import { waitUntil } from '../helpers/process.ts';
import { header, parseSipMessage } from '../../src/codec/sip/parse.ts';
import { CallIdMask } from '../../src/proto/sip-edge/topology.ts';
import { SipStreamFramer } from '../../src/codec/sip/stream-framer.ts';
import { decodeSipOn, readTlsStreams, sipHeader, startCapture } from './capture.ts';
import type { Capture, CapturedSip, TlsStream } from './capture.ts';
import { buildTopology, inSubnet, NODE_BINARY, REPO_ROOT, SUBNETS } from './netns.ts';
import type { Topology } from './netns.ts';
import { createSharedPki, startRampartIn } from './rampart-in-netns.ts';
import type { NetnsRampart, SharedPki } from './rampart-in-netns.ts';
import { startUaAgent, wireHeader } from './ua-remote.ts';
import type { UaAgent, WireMessage } from './ua-remote.ts';

const run = promisify(execFile);

const DOMAIN = 'example.test';
const PASSWORDS = { alice: 'alice-secret', bob: 'bob-secret', carol: 'carol-secret' } as const;
type User = keyof typeof PASSWORDS;
const aor = (user: User): string => `sip:${user}@${DOMAIN}`;
const TIMEOUT_MS = 10_000;
const ADMIN_PORT = 8080;

/** alice's presence documents (RFC 3863). */
function pidf(basic: 'open' | 'closed', note: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:alice@${DOMAIN}">` +
    `<tuple id="desk"><status><basic>${basic}</basic></status><note>${note}</note></tuple>` +
    '</presence>'
  );
}

/** alice's SDP offer (RFC 4566): her corp2 address, as a real internal client would write. */
const ALICE_SDP = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 203.0.113.20',
  's=-',
  'c=IN IP4 203.0.113.20',
  't=0 0',
  'm=audio 49170 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  '',
].join('\r\n');

/** The presence status baresip's contact list shows for `uri` (`Online`, `Offline`, ...). */
async function presenceShown(peer: Baresip, uri: string): Promise<string> {
  const listing = await peer.command('contacts');
  const line = listing.data.split('\n').find((l) => l.includes(`<${uri}>`));
  return /^>?\s*(\S+)\s+</.exec(line ?? '')?.[1] ?? `(not listed: ${listing.data})`;
}

/** `rampart_sip_messages_total` of corp's Rampart, keyed `service direction kind`. */
async function corpSipCounters(topo: Topology): Promise<Map<string, number>> {
  // The admin endpoint listens on corp's loopback: fetched from inside corp.
  const script = `fetch('http://127.0.0.1:${ADMIN_PORT}/metrics').then(async (r) => process.stdout.write(await r.text()))`;
  const { stdout } = await topo.runOk('corp', [NODE_BINARY, '-e', script]);
  const counters = new Map<string, number>();
  const pattern =
    /^rampart_sip_messages_total\{service="([^"]+)",direction="([^"]+)",kind="([^"]+)"\} (\d+)$/gm;
  for (const match of stdout.matchAll(pattern)) {
    counters.set(`${match[1]} ${match[2]} ${match[3]}`, Number(match[4]));
  }
  assert.ok(counters.size > 0, `no rampart_sip_messages_total in:\n${stdout.slice(0, 2000)}`);
  return counters;
}

/** One SIP message out of a decrypted TLS connection. */
interface DecryptedMessage {
  readonly startLine: string;
  /** Start line and header fields, as sent. */
  readonly head: string;
  readonly contentType: string | undefined;
  readonly body: string;
  readonly raw: string;
}

/** Frames each direction of each connection into SIP messages (CRLF keep-alives skipped). */
function decryptedMessages(streams: readonly TlsStream[]): DecryptedMessage[] {
  const messages: DecryptedMessage[] = [];
  for (const stream of streams) {
    for (const from of [0, 1] as const) {
      const framer = new SipStreamFramer();
      const bytes = Buffer.concat(stream.chunks.filter((c) => c.from === from).map((c) => c.data));
      for (const output of framer.push(bytes)) {
        assert.notEqual(
          output.type,
          'error',
          `stream ${String(stream.stream)}: ${JSON.stringify(output)}`,
        );
        if (output.type !== 'message') continue;
        const parsed = parseSipMessage(output.data);
        assert.ok(parsed.ok, `stream ${String(stream.stream)}: ${output.data.toString('latin1')}`);
        const message = parsed.value;
        const raw = output.data.toString('latin1');
        messages.push({
          startLine: raw.slice(0, raw.indexOf('\r\n')),
          head: raw.slice(0, message.bodyStart),
          contentType: header(message, 'content-type'),
          body: message.body.toString('latin1'),
          raw,
        });
      }
    }
  }
  return messages;
}

/** Where `needle` appears in decrypted messages: in a head, or in a body (which lines). */
function bodyFindings(
  messages: readonly DecryptedMessage[],
  needle: string,
): {
  where: 'head' | 'body';
  startLine: string;
  contentType: string | undefined;
  lines: string[];
}[] {
  return messages.flatMap((m) => [
    ...(m.head.includes(needle)
      ? [
          {
            where: 'head' as const,
            startLine: m.startLine,
            contentType: m.contentType,
            lines: m.head.split('\r\n').filter((l) => l.includes(needle)),
          },
        ]
      : []),
    ...(m.body.includes(needle)
      ? [
          {
            where: 'body' as const,
            startLine: m.startLine,
            contentType: m.contentType,
            lines: m.body.split(/\r?\n/).filter((l) => l.includes(needle)),
          },
        ]
      : []),
  ]);
}

/** The route set a UAC takes from a 2xx's Record-Route (RFC 3261 §12.1.2: reversed). */
function routeSet(response: WireMessage): string[] {
  return wireHeader(response, 'record-route')
    .flatMap((value) => value.split(/,(?![^<]*>)/))
    .map((value) => value.trim())
    .reverse();
}

function tagOf(value: string | undefined): string | undefined {
  return /;tag=([^;>\s]+)/.exec(value ?? '')?.[1];
}

describe(
  'remote users through the Access Edge in the namespace topology (issue 5)',
  {
    timeout: 90_000,
  },
  () => {
    let work = '';
    let topo: Topology;
    /** Set once the topology exists: `after` must not touch what `before` never built. */
    let destroyTopology: (() => Promise<void>) | undefined;
    let pki: SharedPki;
    let corp: NetnsRampart | undefined;
    let dmz: NetnsRampart | undefined;
    let external: Capture;
    let internal: Capture;
    let corpLoopback: Capture;
    let alice: UaAgent;
    let bob: Baresip | undefined;
    let dmzKeylog: string;
    let corpKeylog: string;
    const agents: UaAgent[] = [];
    const captures: Capture[] = [];

    /** Rampart's output, for assertion messages. */
    const serverLog = (): string => `${dmz?.output() ?? ''}\n${corp?.output() ?? ''}`;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'rt-remote-users-'));
      topo = await buildTopology();
      destroyTopology = () => topo.destroy();
      // The Director and Front End are reached by IP; SipUa checks the name `localhost`.
      pki = await createSharedPki(join(work, 'pki'), {
        dmz: [topo.addr.dmzExternal, topo.addr.dmzInternal, 'localhost'],
        corp: [topo.addr.corp, 'localhost'],
      });
      dmzKeylog = join(work, 'dmz-keys.log');
      corpKeylog = join(work, 'corp-keys.log');
      external = await startCapture(topo, {
        role: 'dmz',
        iface: topo.iface.dmzExternal,
        file: join(work, 'dmz-ext0.pcapng'),
        filter: 'ip',
      });
      internal = await startCapture(topo, {
        role: 'dmz',
        iface: topo.iface.dmzInternal,
        file: join(work, 'dmz-int0.pcapng'),
        filter: 'ip',
      });
      // The Director reaches the Front End on the same host: over corp's loopback.
      corpLoopback = await startCapture(topo, {
        role: 'corp',
        iface: 'lo',
        file: join(work, 'corp-lo.pcapng'),
        filter: 'tcp port 5082',
      });
      captures.push(external, internal, corpLoopback);
      corp = await startRampartIn(topo, 'corp', {
        keylogFile: corpKeylog,
        config: {
          domains: [DOMAIN],
          tls: pki.tlsConfig('corp'),
          admin: { host: '127.0.0.1', port: ADMIN_PORT },
          shutdown: { drainTimeoutMs: 200 },
          'access-edge': { enabled: false },
          'av-edge': { enabled: false },
          // baresip 1.0 (libre 1.1.0) fails on any challenge that is not MD5.
          director: {
            host: topo.addr.corp,
            udp: null,
            tcp: null,
            tls: null,
            serverTls: 5072,
            digestAlgorithms: ['MD5'],
          },
          'front-end': {
            host: topo.addr.corp,
            udp: 5080,
            tcp: 5080,
            tls: null,
            serverTls: 5082,
            digestAlgorithms: ['MD5'],
          },
        },
      });
      dmz = await startRampartIn(topo, 'dmz', {
        keylogFile: dmzKeylog,
        config: {
          domains: [DOMAIN],
          tls: pki.tlsConfig('dmz'),
          admin: { host: '127.0.0.1', port: ADMIN_PORT },
          shutdown: { drainTimeoutMs: 200 },
          director: { enabled: false },
          'front-end': { enabled: false },
          'av-edge': { enabled: false },
          'access-edge': {
            external: {
              host: topo.addr.dmzExternal,
              udp: 5060,
              tcp: 5060,
              tls: 5061,
              ws: null,
              wss: 5063,
            },
            internal: {
              host: topo.addr.dmzInternal,
              tls: 5065,
              nextHop: `sip:${topo.addr.corp}:5072;transport=tls`,
            },
          },
        },
      });
      // The directory is corp's SQLite file; the running Rampart reads users as they come.
      for (const user of Object.keys(PASSWORDS) as User[]) {
        await run(
          NODE_BINARY,
          [
            join(REPO_ROOT, 'bin/rampart.mjs'),
            'user',
            'add',
            `${user}@${DOMAIN}`,
            '--password',
            PASSWORDS[user],
            '--data-dir',
            corp.dataDir,
          ],
          { cwd: REPO_ROOT, timeout: 20_000 },
        );
      }
      alice = await startUaAgent(topo, 'corp2', {
        socketPath: join(work, 'alice.sock'),
        host: topo.addr.corp,
        port: 5080,
        transport: 'tcp',
        user: 'alice',
        password: PASSWORDS.alice,
      });
      agents.push(alice);
      const registered = await alice.register();
      assert.equal(registered.status, 200, `${alice.output()}\n${serverLog()}`);
    });

    after(async () => {
      await bob?.stop();
      await Promise.allSettled(agents.map((agent) => agent.stop()));
      await Promise.allSettled(captures.map((capture) => capture.stop(0)));
      await dmz?.stop();
      await corp?.stop();
      await destroyTopology?.();
      if (work === '') return;
      // RT_KEEP_WORK=1 keeps the captures and key logs for a look with Wireshark.
      if (process.env['RT_KEEP_WORK'] === undefined)
        await rm(work, { recursive: true, force: true });
      else process.stderr.write(`remote-users work dir kept: ${work}\n`);
    });

    test('(1) baresip at home signs in over TLS through the edge: 407 from the Director, then 200', async () => {
      bob = await startBaresip({
        aor: aor('bob'),
        password: PASSWORDS.bob,
        registrar: `sip:${topo.addr.dmzExternal}:5061`,
        transport: 'tls',
        caFile: pki.caFile,
        contacts: [aor('alice')],
        watch: [aor('alice')],
        modules: ['presence.so'],
        accountParams: ['answermode=auto'],
        netns: { name: topo.ns.home, sipAddress: topo.addr.home },
        name: 'bob at home',
      });
      await bob.waitRegistered(TIMEOUT_MS).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${serverLog()}`);
      });
      const peer = bob;
      const registers = peer.sipTrace.filter((m) => m.cseqMethod === 'REGISTER');
      // The edge authenticates no one: the Director behind it challenges (RFC 3261 §22.3).
      assert.deepEqual(
        registers
          .filter((m) => m.status !== undefined)
          .map((m) => m.status)
          .slice(0, 2),
        [407, 200],
        peer.log,
      );
    });

    test('(1) bob watches alice: pending until she lists him, then her PIDF through the edge', async () => {
      const peer = bob;
      assert.ok(peer !== undefined, 'bob did not start');
      // presence.so subscribed after registering; Rampart answers pending (RFC 6665 §4.1.3)
      // with no state, which baresip shows as Unknown.
      await waitUntil(
        () =>
          peer.sipTrace.some(
            (m) =>
              m.cseqMethod === 'SUBSCRIBE' &&
              m.status !== undefined &&
              m.status < 300 &&
              m.status >= 200,
          ),
        TIMEOUT_MS,
        () => `no 2xx to bob's SUBSCRIBE\n${peer.log}\n${serverLog()}`,
      );
      assert.equal(await presenceShown(peer, aor('alice')), 'Unknown');

      // alice puts bob on her contact list (docs/contacts-protocol.md): he becomes active.
      const listed = await alice.request('SERVICE', aor('alice'), {
        headers: [['Content-Type', 'application/vnd.rampart.contacts+json']],
        body: JSON.stringify({ op: 'put-contact', address: aor('bob'), name: 'Bob' }),
      });
      assert.equal(listed.status, 200, listed.body);
      const published = await alice.request('PUBLISH', aor('alice'), {
        headers: [
          ['Event', 'presence'],
          ['Content-Type', 'application/pidf+xml'],
          ['Expires', '600'],
        ],
        body: pidf('open', 'at my desk'),
      });
      assert.equal(published.status, 200, published.body);
      await waitUntil(
        async () => (await presenceShown(peer, aor('alice'))) === 'Online',
        TIMEOUT_MS,
        () => `bob never saw alice Online\n${peer.log}\n${serverLog()}`,
        100,
      );
      // A change of state reaches him too (RFC 3903 §4.4: refresh with SIP-If-Match).
      const [etag] = wireHeader(published, 'sip-etag');
      assert.ok(etag !== undefined, JSON.stringify(published.headers));
      const changed = await alice.request('PUBLISH', aor('alice'), {
        headers: [
          ['Event', 'presence'],
          ['Content-Type', 'application/pidf+xml'],
          ['SIP-If-Match', etag],
          ['Expires', '600'],
        ],
        body: pidf('closed', 'gone home'),
      });
      assert.equal(changed.status, 200, changed.body);
      await waitUntil(
        async () => (await presenceShown(peer, aor('alice'))) === 'Offline',
        TIMEOUT_MS,
        () => `bob never saw alice Offline\n${peer.log}`,
        100,
      );
      // pending, then active with each state (no publication yet: closed; open; closed).
      // (4) checks in the captures that they came down bob's own connection.
      const notifies = peer.sipTrace.filter(
        (m) => m.cseqMethod === 'NOTIFY' && m.status === undefined,
      );
      assert.ok(notifies.length >= 4, peer.log);
    });

    test('(1) bob and alice exchange MESSAGE both ways', async () => {
      const peer = bob;
      assert.ok(peer !== undefined, 'bob did not start');
      await peer.sendMessage(aor('alice'), 'hello alice, bob from home', TIMEOUT_MS);
      const atAlice = await alice.waitFor('MESSAGE', { pattern: /bob from home/ });
      assert.deepEqual(wireHeader(atAlice, 'p-asserted-identity'), [`<${aor('bob')}>`]);
      const sent = await alice.request('MESSAGE', aor('bob'), {
        headers: [['Content-Type', 'text/plain']],
        body: 'hi bob, alice in the office',
      });
      assert.equal(sent.status, 200, serverLog());
      assert.deepEqual(await peer.nextMessage(TIMEOUT_MS), {
        from: aor('alice'),
        text: 'hi bob, alice in the office',
      });
    });

    test('(2) alice calls bob: the INVITE reaches him over his flow, he answers, ACK, and his BYE ends it', async () => {
      const peer = bob;
      assert.ok(peer !== undefined, 'bob did not start');
      const callId = `call-alice-to-bob-${randomBytes(6).toString('hex')}`;
      const answered = await alice.request('INVITE', aor('bob'), {
        callId,
        headers: [['Content-Type', 'application/sdp']],
        body: ALICE_SDP,
        timeoutMs: TIMEOUT_MS,
      });
      assert.equal(answered.status, 200, `${peer.log}\n${serverLog()}`);
      assert.match(answered.body, /^m=audio \d+ RTP\/AVP 0/m, 'baresip answered with SDP');
      // The only way to bob is his TLS connection from behind the NAT; (4) checks in the
      // capture that the INVITE and the ACK came down that connection.
      const toTag = tagOf(wireHeader(answered, 'to')[0]);
      const contact = /<([^>]+)>/.exec(wireHeader(answered, 'contact')[0] ?? '')?.[1];
      assert.ok(toTag !== undefined && contact !== undefined, JSON.stringify(answered.headers));
      const cseq = Number((wireHeader(answered, 'cseq')[0] ?? '').split(' ')[0]);
      const dialog = { callId, to: aor('bob'), toTag, routes: routeSet(answered) };
      // RFC 3261 §13.2.2.4: the UAC ACKs the 2xx along the dialog's route set.
      await alice.send('ACK', contact, { ...dialog, cseq });
      await waitUntil(
        () => peer.events.some((e) => e.type === 'CALL_ESTABLISHED'),
        TIMEOUT_MS,
        () => `baresip never saw the ACK\n${peer.log}\n${serverLog()}`,
      );
      // bob hangs up: his BYE follows his route set (the edge) and reaches alice inside.
      const hangup = await peer.command('hangup');
      assert.ok(hangup.ok, hangup.data);
      const bye = await alice.waitFor('BYE', { header: 'call-id', pattern: /^call-alice-to-bob-/ });
      assert.equal(tagOf(wireHeader(bye, 'from')[0]), toTag);
      await waitUntil(
        () => peer.sipTrace.some((m) => m.cseqMethod === 'BYE' && m.status === 200),
        TIMEOUT_MS,
        () => `no 200 to bob's BYE\n${peer.log}`,
      );
      const invites = peer.sipTrace.filter(
        (m) => m.cseqMethod === 'INVITE' && m.status === undefined,
      );
      assert.equal(invites.length, 1, peer.log);
    });

    test('(3) requests without credentials from the Internet stop at the Director (407)', async () => {
      const carol = await startUaAgent(topo, 'client', {
        socketPath: join(work, 'carol.sock'),
        host: topo.addr.dmzExternal,
        port: 5061,
        transport: 'tls',
        user: 'carol',
        password: PASSWORDS.carol,
        caFile: pki.caFile,
      });
      agents.push(carol);
      const before = await corpSipCounters(topo);
      const message = await carol.request('MESSAGE', aor('alice'), {
        callId: 'unauth-message-1',
        headers: [['Content-Type', 'text/plain']],
        body: 'let me in',
        authenticate: false,
      });
      assert.equal(message.status, 407, JSON.stringify(message));
      const invite = await carol.request('INVITE', aor('alice'), {
        callId: 'unauth-invite-1',
        headers: [['Content-Type', 'application/sdp']],
        body: ALICE_SDP.replaceAll('203.0.113.20', topo.addr.client),
        authenticate: false,
      });
      assert.equal(invite.status, 407, JSON.stringify(invite));
      assert.equal(wireHeader(invite, 'proxy-authenticate').length, 1);
      const middle = await corpSipCounters(topo);
      const delta = (counters: Map<string, number>, key: string): number =>
        (counters.get(key) ?? 0) - (before.get(key) ?? 0);
      // The Director got both and answered both; the Front End got neither.
      assert.equal(delta(middle, 'director in MESSAGE'), 1);
      assert.equal(delta(middle, 'director in INVITE'), 1);
      // Responses are counted as one kind: the two 407s (and a 100 Trying for the INVITE).
      assert.ok(delta(middle, 'director out response') >= 2);
      assert.equal(delta(middle, 'front-end in MESSAGE'), 0);
      assert.equal(delta(middle, 'front-end in INVITE'), 0);

      // The same request with credentials does reach the Front End, and alice: the counter
      // above would have seen the others.
      const authenticated = await carol.request('MESSAGE', aor('alice'), {
        callId: 'auth-message-1',
        headers: [['Content-Type', 'text/plain']],
        body: 'carol, signed in',
      });
      assert.equal(authenticated.status, 200, serverLog());
      await alice.waitFor('MESSAGE', { pattern: /carol, signed in/ });
      const after = await corpSipCounters(topo);
      assert.equal(delta(after, 'front-end in MESSAGE'), 1);
      assert.equal(delta(after, 'front-end in INVITE'), 0);

      // Director → Front End, decrypted from corp's loopback: only the authenticated Call-ID.
      const toFrontEnd = await corpLoopback.sip({
        keylogFile: corpKeylog,
        decodeAs: decodeSipOn('tls', 5082),
      });
      // The edge masks Call-IDs crossing it (with a key from its data dir's sip-secret).
      assert.ok(dmz !== undefined);
      const mask = new CallIdMask((await readFile(join(dmz.dataDir, 'sip-secret'), 'utf8')).trim());
      const callIds = new Set(toFrontEnd.flatMap((m) => sipHeader(m, 'call-id')));
      assert.ok(callIds.has(mask.cross('auth-message-1')), [...callIds].join(', '));
      assert.ok(!callIds.has(mask.cross('unauth-message-1')));
      assert.ok(!callIds.has(mask.cross('unauth-invite-1')));
    });

    test('(4) captures: no home address inside, no corp address outside', async (t) => {
      const [outsidePackets, insidePackets] = await Promise.all([
        external.packets(),
        internal.packets(),
      ]);
      // IP headers.
      assert.ok(outsidePackets.length > 0 && insidePackets.length > 0);
      assert.deepEqual(
        outsidePackets.filter(
          (p) => inSubnet(p.src, SUBNETS.corp) || inSubnet(p.dst, SUBNETS.corp),
        ),
        [],
      );
      assert.deepEqual(
        insidePackets.filter((p) => inSubnet(p.src, SUBNETS.home) || inSubnet(p.dst, SUBNETS.home)),
        [],
      );
      const tlsPorts = [
        ...decodeSipOn('tls', 5061),
        ...decodeSipOn('tls', 5065),
        ...decodeSipOn('tls', 5072),
      ];
      const [outsideSip, insideSip] = await Promise.all([
        external.sip({ keylogFile: dmzKeylog, decodeAs: tlsPorts }),
        internal.sip({ keylogFile: dmzKeylog, decodeAs: tlsPorts }),
      ]);
      // The checks below mean something only if the conversations are in the captures.
      const methods = (messages: readonly CapturedSip[]): Set<string> =>
        new Set(messages.flatMap((m) => (m.method === undefined ? [] : [m.method])));
      for (const [side, messages] of [
        ['outside', outsideSip],
        ['inside', insideSip],
      ] as const) {
        for (const method of [
          'REGISTER',
          'SUBSCRIBE',
          'NOTIFY',
          'MESSAGE',
          'INVITE',
          'ACK',
          'BYE',
        ]) {
          assert.ok(methods(messages).has(method), `${side}: no ${method} decrypted`);
        }
      }
      // Outside, bob is his NAT's public address, and everything for him went down the one
      // TCP connection his REGISTER came up on: behind the NAT there is no other way.
      const bobRegisters = outsideSip.filter(
        (m) => m.method === 'REGISTER' && sipHeader(m, 'from').some((v) => v.includes('sip:bob@')),
      );
      assert.ok(bobRegisters.length >= 2, 'bob REGISTERed (407, then with credentials)');
      const flow = new Set(bobRegisters.map((m) => `${m.src}:${String(m.srcPort)}`));
      assert.deepEqual([...flow], [`${topo.addr.natWan}:${String(bobRegisters[0]?.srcPort)}`]);
      const toBob = outsideSip.filter((m) => m.method !== undefined && m.dst === topo.addr.natWan);
      assert.deepEqual([...new Set(toBob.map((m) => m.method))].sort(), [
        'ACK',
        'INVITE',
        'MESSAGE',
        'NOTIFY',
      ]);
      assert.ok(toBob.every((m) => flow.has(`${m.dst}:${String(m.dstPort)}`)));
      // Inside, requests from outside users carry the edge's mark and its Via alone, and
      // REGISTER a Path to the edge's internal listener with bob's flow token (RFC 5626).
      const fromOutside = insideSip.filter(
        (m) =>
          m.method !== undefined &&
          m.dstPort === 5072 &&
          sipHeader(m, 'from').some((v) => /sip:(?:bob|carol)@/.test(v)),
      );
      // RFC 3261 §17.1.1.3: the ACK to a non-2xx (the 407s) is the edge's own, hop by hop,
      // with its INVITE's branch; it is no request from outside.
      const branch = (m: CapturedSip): string | undefined =>
        /;branch=([^;,\s]+)/.exec(sipHeader(m, 'via')[0] ?? '')?.[1];
      const inviteBranches = new Set(
        insideSip.filter((m) => m.method === 'INVITE').map((m) => branch(m)),
      );
      const relayed = fromOutside.filter(
        (m) => m.method !== 'ACK' || !inviteBranches.has(branch(m)),
      );
      assert.ok(relayed.length > 0);
      for (const request of relayed) {
        assert.deepEqual(sipHeader(request, 'p-rampart-origin'), ['remote'], request.text);
        const vias = sipHeader(request, 'via').flatMap((v) => v.split(/,(?![^<]*>)/));
        assert.equal(vias.length, 1, request.text);
        assert.match(vias[0] ?? '', /^SIP\/2\.0\/TLS 203\.0\.113\.1:5065;/, request.text);
        if (request.method === 'REGISTER') {
          assert.match(
            sipHeader(request, 'path').join(', '),
            /^<sip:[\w-]+@203\.0\.113\.1:5065;transport=tls;lr;ob>$/,
            request.text,
          );
        }
      }

      // SIP start lines, headers and bodies: every decrypted byte of every TLS connection,
      // message by message, split at the blank line. (readSip's headers are not used for
      // this: tshark 4.0's sip.msg_hdr runs on into an SDP body.)
      const [outsideStreams, insideStreams] = await Promise.all([
        readTlsStreams(external.file, { keylogFile: dmzKeylog, decodeAs: tlsPorts }),
        readTlsStreams(internal.file, { keylogFile: dmzKeylog, decodeAs: tlsPorts }),
      ]);
      const outside = decryptedMessages(outsideStreams);
      const inside = decryptedMessages(insideStreams);
      // Every TLS connection was decrypted, and holds as many messages as readSip found.
      assert.ok(
        outsideStreams.every((s) => s.chunks.length > 0),
        'undecrypted TLS outside',
      );
      assert.ok(
        insideStreams.every((s) => s.chunks.length > 0),
        'undecrypted TLS inside',
      );
      assert.equal(outside.length, outsideSip.length);
      assert.equal(inside.length, insideSip.length);
      const insideFindings = bodyFindings(inside, '198.51.100.');
      const outsideFindings = bodyFindings(outside, '203.0.113.');
      // Start lines and headers, strictly: no address of the other side ...
      assert.deepEqual(
        [...insideFindings, ...outsideFindings].filter((f) => f.where === 'head'),
        [],
      );
      // ... and the only bodies naming the other side's addresses are SDP (media addresses are
      // the A/V Edge's business, not the Access Edge's): baresip's answer carries its home
      // address inward, alice's offer her corp2 address outward, on its c= and o= lines.
      for (const finding of [...insideFindings, ...outsideFindings]) {
        assert.equal(finding.contentType, 'application/sdp', JSON.stringify(finding));
        assert.ok(
          finding.lines.every((line) => /^[co]=/.test(line)),
          JSON.stringify(finding),
        );
      }
      t.diagnostic(`SDP inside carrying 198.51.100.x: ${JSON.stringify(insideFindings)}`);
      t.diagnostic(`SDP outside carrying 203.0.113.x: ${JSON.stringify(outsideFindings)}`);
      // The public address bob's NAT gave him (192.0.2.20), inside: reported, not asserted.
      const natInside = inside.filter((m) => m.raw.includes(topo.addr.natWan));
      t.diagnostic(
        `messages inside naming the NAT's public address: ${String(natInside.length)}` +
          natInside.map((m) => `\n${m.startLine}`).join(''),
      );
    });

    test('(4) a Call-ID naming an internal host does not leave the corporate network', async () => {
      // A capture decrypts only connections whose handshake it saw: a new remote client.
      const capture = await startCapture(topo, {
        role: 'dmz',
        iface: topo.iface.dmzExternal,
        file: join(work, 'dmz-ext0-call-id.pcapng'),
        filter: 'tcp port 5061',
      });
      captures.push(capture);
      const carol = await startUaAgent(topo, 'client', {
        socketPath: join(work, 'carol-registered.sock'),
        host: topo.addr.dmzExternal,
        port: 5061,
        transport: 'tls',
        user: 'carol',
        password: PASSWORDS.carol,
        caFile: pki.caFile,
      });
      agents.push(carol);
      assert.equal((await carol.register()).status, 200);
      // RFC 3261 §8.1.1.4 suggests exactly this form: a random string @ the host.
      const callId = `${randomBytes(6).toString('hex')}@${topo.addr.corp2}`;
      const sent = await alice.request('MESSAGE', aor('carol'), {
        callId,
        headers: [['Content-Type', 'text/plain']],
        body: 'a Call-ID in the RFC 3261 style',
      });
      assert.equal(sent.status, 200);
      await carol.waitFor('MESSAGE', { pattern: /RFC 3261 style/ });
      const outside = await capture.sip({
        keylogFile: dmzKeylog,
        decodeAs: decodeSipOn('tls', 5061),
      });
      assert.ok(
        outside.some((m) => m.method === 'MESSAGE'),
        'the MESSAGE was not decrypted',
      );
      assert.deepEqual(
        outside.flatMap((m) => sipHeader(m, 'call-id')).filter((v) => v.includes('203.0.113.')),
        [],
      );
    });

    test('(3) failed sign-ins from one Internet address do not lock out the other remote users', async (t) => {
      const peer = bob;
      assert.ok(peer !== undefined, 'bob did not start');
      // 5 users × 4 wrong passwords: under the per-user limit (5), at the per-address one
      // (4 × 5); users unknown to the directory count as failures too.
      const outcomes: number[] = [];
      for (let intruder = 1; intruder <= 5; intruder++) {
        const agent = await startUaAgent(topo, 'client', {
          socketPath: join(work, `intruder-${String(intruder)}.sock`),
          host: topo.addr.dmzExternal,
          port: 5061,
          transport: 'tls',
          user: `intruder${String(intruder)}`,
          password: 'guess',
          caFile: pki.caFile,
        });
        agents.push(agent);
        for (let attempt = 0; attempt < 4; attempt++) {
          outcomes.push((await agent.request('MESSAGE', aor('alice'), { body: 'x' })).status ?? 0);
        }
        await agent.stop();
      }
      t.diagnostic(`the intruders' final statuses: ${outcomes.join(' ')}`);
      // bob, from another address, with the right password.
      await peer.sendMessage(aor('alice'), 'bob, still welcome?', TIMEOUT_MS);
      await alice.waitFor('MESSAGE', { pattern: /still welcome/ });
    });
  },
);

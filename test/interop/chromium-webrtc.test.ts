// Rampart's A/V Edge as the TURN server of a real browser: Debian's headless Chromium, driven by
// playwright-core, opens two pages of a tiny page this test serves on 127.0.0.1. Each page has
// one RTCPeerConnection restricted to relayed candidates (iceTransportPolicy 'relay') with
// Rampart as its only ICE server; SDP, candidates included, goes between the pages through
// page.evaluate. The call carries a data channel both ways and the fake camera's audio and
// video both ways, on a relay/relay pair through Rampart, once per client transport: turn:
// over UDP, over TCP, and turns: over TLS (Chromium is told to trust the key of Rampart's
// generated server certificate, --ignore-certificate-errors-spki-list, since it has no way to
// take the generated CA short of an NSS database). Rampart's /metrics must count the media.
// Needs the Debian package `chromium`.
import assert from 'node:assert/strict';
import { createHash, createHmac, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Endpoint } from '../../src/lib/endpoint.ts';
import { requireProgram, sleep, waitUntil } from '../helpers/process.ts';
import { startRampart, type RampartInstance } from '../helpers/rampart.ts';

const SECRET = '0123456789abcdef0123';
const REALM = 'example.test';
/** The server's external address; the relayed candidates of both pages are on it. */
const SERVER_HOST = '127.0.0.2';
const MESSAGES = 10;
/** Budget for one step of the call: gathering, ICE + DTLS + SCTP, first media. */
const STEP_TIMEOUT_MS = 15_000;
const TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
type ClientTransport = (typeof TRANSPORTS)[number];

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  // Lets ICE use the loopback interface too, for machines where it is the only one.
  '--allow-loopback-in-peer-connection',
];

/**
 * The page both tabs load: one RTCPeerConnection, the fake camera and microphone, and a data
 * channel, behind `globalThis.rampartTest` ({@link PageApi}). Candidates are not trickled:
 * offer and answer are taken once gathering is complete, so they carry every candidate.
 */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>rampart webrtc interop</title>
<script>
'use strict';
const state = { pc: undefined, channel: undefined, received: [], waiters: [], errors: [], events: [] };
function within(ms, what, promise) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(
    new Error(what + ' not done in ' + ms + ' ms; ' + globalThis.rampartTest.describe())), ms))]);
}
function adopt(channel) {
  state.channel = channel;
  channel.addEventListener('message', (event) => {
    state.received.push(String(event.data));
    for (const wake of state.waiters.splice(0)) wake();
  });
}
function gathered(ms) {
  const pc = state.pc;
  return within(ms, 'ICE gathering', new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
  }));
}
globalThis.rampartTest = {
  async setup(config) {
    const pc = new RTCPeerConnection(config);
    state.pc = pc;
    pc.addEventListener('icecandidateerror', (e) =>
      state.errors.push(e.url + ' ' + e.errorCode + ' ' + e.errorText));
    pc.addEventListener('icecandidate', (e) =>
      state.events.push(e.candidate ? e.candidate.candidate : 'end-of-candidates'));
    pc.addEventListener('iceconnectionstatechange', () => state.events.push('ice ' + pc.iceConnectionState));
    pc.addEventListener('datachannel', (e) => adopt(e.channel));
    const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    for (const track of media.getTracks()) pc.addTrack(track, media);
  },
  async offer(ms) {
    adopt(state.pc.createDataChannel('chat'));
    await state.pc.setLocalDescription();
    await gathered(ms);
    return state.pc.localDescription.toJSON();
  },
  async answer(offer, ms) {
    await state.pc.setRemoteDescription(offer);
    await state.pc.setLocalDescription();
    await gathered(ms);
    return state.pc.localDescription.toJSON();
  },
  async accept(answer) {
    await state.pc.setRemoteDescription(answer);
  },
  channelOpen(ms) {
    return within(ms, 'data channel open', new Promise((resolve) => {
      const poll = () => state.channel && state.channel.readyState === 'open' ? resolve() : setTimeout(poll, 20);
      poll();
    }));
  },
  send(messages) {
    for (const message of messages) state.channel.send(message);
  },
  receive(count, ms) {
    return within(ms, count + ' messages', new Promise((resolve) => {
      const check = () => state.received.length >= count ? resolve(state.received.splice(0, count)) : state.waiters.push(check);
      check();
    }));
  },
  async stats() {
    return [...(await state.pc.getStats()).values()].map((s) => ({ ...s }));
  },
  describe() {
    const pc = state.pc;
    return pc === undefined ? 'no peer connection' :
      'ICE ' + pc.iceConnectionState + ', gathering ' + pc.iceGatheringState +
      ', events: ' + (state.events.join(' | ') || 'none') +
      ', candidate errors: ' + (state.errors.join(' | ') || 'none');
  },
  close() {
    if (state.pc) state.pc.close();
  },
};
</script>`;

/** RTCSessionDescriptionInit as it crosses page.evaluate. */
interface SessionDescription {
  readonly type: string;
  readonly sdp: string;
}

/** What {@link PAGE} exposes as `globalThis.rampartTest`. */
interface PageApi {
  setup(config: {
    iceServers: { urls: string[]; username: string; credential: string }[];
    iceTransportPolicy: 'relay';
  }): Promise<void>;
  offer(timeoutMs: number): Promise<SessionDescription>;
  answer(offer: SessionDescription, timeoutMs: number): Promise<SessionDescription>;
  accept(answer: SessionDescription): Promise<void>;
  channelOpen(timeoutMs: number): Promise<void>;
  send(messages: string[]): void;
  receive(count: number, timeoutMs: number): Promise<string[]>;
  stats(): Promise<Stats[]>;
  describe(): string;
  close(): void;
}

/** One entry of an RTCStatsReport, copied out of the page. */
type Stats = Readonly<Record<string, unknown>> & { readonly type: string; readonly id: string };

/** Calls `rampartTest[method](...args)` in `page`. */
async function call<K extends keyof PageApi>(
  page: Page,
  method: K,
  ...args: Parameters<PageApi[K]>
): Promise<Awaited<ReturnType<PageApi[K]>>> {
  const result: unknown = await page.evaluate(
    ([name, params]) => {
      const api = (
        globalThis as unknown as { rampartTest: Record<string, (...a: unknown[]) => unknown> }
      ).rampartTest;
      return api[name]!(...params);
    },
    [method, args as unknown[]] as const,
  );
  return result as Awaited<ReturnType<PageApi[K]>>;
}

/** A REST-API credential (draft-uberti-behave-turn-rest): `expiry:user`, HMAC-SHA1 password. */
function restCredential(user: string): { username: string; credential: string } {
  const username = `${Math.floor(Date.now() / 1000) + 3600}:${user}`;
  return { username, credential: createHmac('sha1', SECRET).update(username).digest('base64') };
}

/** The ICE server URL for `transport`, RFC 7065 syntax. */
function turnUrl(transport: ClientTransport, endpoint: Endpoint): string {
  const hostPort = `${endpoint.host}:${endpoint.port}`;
  return transport === 'tls'
    ? `turns:${hostPort}?transport=tcp`
    : `turn:${hostPort}?transport=${transport}`;
}

/** The selected candidate pair of a page and its two candidates. */
interface SelectedPair {
  readonly pair: Stats;
  readonly local: Stats;
  readonly remote: Stats;
}

function selectedPair(stats: readonly Stats[]): SelectedPair {
  const byId = new Map(stats.map((s) => [s.id, s]));
  const transport = stats.find(
    (s) => s.type === 'transport' && typeof s['selectedCandidatePairId'] === 'string',
  );
  assert.ok(transport !== undefined, 'getStats(): no transport with a selected candidate pair');
  const pair = byId.get(transport['selectedCandidatePairId'] as string);
  assert.ok(pair !== undefined, 'getStats(): the selected candidate pair is missing');
  const local = byId.get(pair['localCandidateId'] as string);
  const remote = byId.get(pair['remoteCandidateId'] as string);
  assert.ok(local !== undefined && remote !== undefined, 'getStats(): pair candidates missing');
  return { pair, local, remote };
}

/** packetsReceived and bytesReceived of the page's inbound-rtp stream of `kind`. */
function inbound(
  stats: readonly Stats[],
  kind: 'audio' | 'video',
): { packets: number; bytes: number } {
  const stream = stats.find((s) => s.type === 'inbound-rtp' && s['kind'] === kind);
  return {
    packets: Number(stream?.['packetsReceived'] ?? 0),
    bytes: Number(stream?.['bytesReceived'] ?? 0),
  };
}

/** Base64 SHA-256 of the SubjectPublicKeyInfo of the first certificate in `pemFile`. */
async function spkiHash(pemFile: string): Promise<string> {
  const certificate = new X509Certificate(await readFile(pemFile));
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

describe('Chromium WebRTC through rampart A/V Edge (relay-only ICE)', () => {
  let rampart: RampartInstance | undefined;
  let admin: Endpoint;
  let http: Server | undefined;
  let pageUrl: string;
  let browser: BrowserContext | undefined;
  let userDataDir: string | undefined;

  /** The value of the external side's series `name{side="external"<labels>}` in /metrics. */
  const metric = async (name: string, labels = ''): Promise<number> => {
    const text = await (await fetch(`http://${admin.host}:${admin.port}/metrics`)).text();
    const series = `${name}{side="external"${labels}}`;
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    assert.ok(line !== undefined, `no ${series} in /metrics:\n${text}`);
    return Number(line.slice(series.length + 1));
  };
  /** rampart_turn_relayed_packets_total{side="external"} by direction. */
  const relayedPackets = async (): Promise<{ toPeer: number; toClient: number }> => ({
    toPeer: await metric('rampart_turn_relayed_packets_total', ',direction="to-peer"'),
    toClient: await metric('rampart_turn_relayed_packets_total', ',direction="to-client"'),
  });

  before(async () => {
    const executablePath = requireProgram('chromium', 'chromium');
    const server = await startRampart({
      config: {
        'access-edge': { enabled: false },
        tls: { names: [SERVER_HOST] },
        'av-edge': {
          realm: REALM,
          external: { host: SERVER_HOST },
          internal: { host: '127.0.0.3' },
          auth: { secrets: [SECRET] },
          peers: { allowLoopback: true },
        },
      },
    });
    rampart = server;
    admin = server.endpoint('admin', 'internal', 'http');
    const serverKey = await spkiHash(join(server.dataDir, 'tls', 'server.pem'));

    const pageServer = createServer((request, response) => {
      if (request.method === 'GET' && request.url === '/') {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end(PAGE);
      } else {
        response.writeHead(404).end();
      }
    });
    http = pageServer;
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    const address = pageServer.address();
    assert.ok(address !== null && typeof address === 'object');
    pageUrl = `http://127.0.0.1:${address.port}/`;

    userDataDir = await mkdtemp(join(tmpdir(), 'rampart-chromium-'));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${serverKey}`],
      timeout: 30_000,
    });
  });

  after(async () => {
    await browser?.close();
    if (http !== undefined) {
      http.closeAllConnections();
      await new Promise((resolve) => http?.close(resolve));
    }
    if (userDataDir !== undefined) await rm(userDataDir, { recursive: true, force: true });
    await rampart?.stop();
  });

  for (const transport of TRANSPORTS) {
    const label = transport === 'tls' ? 'turns: (TLS)' : `turn:?transport=${transport}`;
    test(`two pages, ${label}: data channel and fake audio+video both ways on a relay/relay pair`, async () => {
      assert.ok(browser !== undefined);
      const endpoint = rampart!.endpoint('av-edge', 'external', transport);
      const url = turnUrl(transport, endpoint);
      const config = {
        iceServers: [{ urls: [url], ...restCredential('alice') }],
        iceTransportPolicy: 'relay' as const,
      };
      const relayedBefore = await relayedPackets();
      const pages = [await browser.newPage(), await browser.newPage()] as const;
      const [caller, callee] = pages;
      try {
        await Promise.all(pages.map((page) => page.goto(pageUrl)));
        await Promise.all(pages.map((page) => call(page, 'setup', config)));

        const offer = await call(caller, 'offer', STEP_TIMEOUT_MS);
        const answer = await call(callee, 'answer', offer, STEP_TIMEOUT_MS);
        await call(caller, 'accept', answer);
        for (const [description, page] of [
          [offer, caller],
          [answer, callee],
        ] as const) {
          const candidates = description.sdp.match(/^a=candidate:.*$/gm) ?? [];
          if (candidates.length === 0) {
            const state = await call(page, 'describe');
            assert.fail(`no relayed candidate in the ${description.type}: no allocation; ${state}`);
          }
          for (const line of candidates) assert.match(line, / typ relay /, line);
        }

        await Promise.all(pages.map((page) => call(page, 'channelOpen', STEP_TIMEOUT_MS)));
        const expected = (from: string): string[] =>
          Array.from({ length: MESSAGES }, (_, i) => `${from} #${i} via ${transport}`);
        await call(caller, 'send', expected('caller'));
        await call(callee, 'send', expected('callee'));
        assert.deepEqual(
          await call(callee, 'receive', MESSAGES, STEP_TIMEOUT_MS),
          expected('caller'),
        );
        assert.deepEqual(
          await call(caller, 'receive', MESSAGES, STEP_TIMEOUT_MS),
          expected('callee'),
        );

        // The fake devices' audio and video arrive at both pages, and keep arriving.
        const deadline = Date.now() + STEP_TIMEOUT_MS;
        let first = await Promise.all(pages.map((page) => call(page, 'stats')));
        while (
          first.some(
            (stats) =>
              inbound(stats, 'audio').packets === 0 || inbound(stats, 'video').packets === 0,
          )
        ) {
          if (Date.now() > deadline) {
            const states = await Promise.all(pages.map((page) => call(page, 'describe')));
            assert.fail(`no inbound audio and video on both pages; ${states.join(' // ')}`);
          }
          await sleep(250);
          first = await Promise.all(pages.map((page) => call(page, 'stats')));
        }
        await sleep(1000);
        const second = await Promise.all(pages.map((page) => call(page, 'stats')));
        for (const [index, name] of ['caller', 'callee'].entries()) {
          for (const kind of ['audio', 'video'] as const) {
            const earlier = inbound(first[index]!, kind);
            const later = inbound(second[index]!, kind);
            assert.ok(
              later.bytes > earlier.bytes && later.packets > earlier.packets,
              `${name} ${kind}: ${earlier.bytes} → ${later.bytes} bytes in 1 s`,
            );
          }
        }

        // Both pages sit on one relay/relay pair: each one's relayed address is the other's
        // remote candidate, allocated on Rampart over the transport under test.
        const [ofCaller, ofCallee] = second.map(selectedPair) as [SelectedPair, SelectedPair];
        for (const { pair, local, remote } of [ofCaller, ofCallee]) {
          const described = JSON.stringify({ local, remote });
          assert.equal(pair['state'], 'succeeded', described);
          assert.equal(local['candidateType'], 'relay', described);
          assert.equal(remote['candidateType'], 'relay', described);
          assert.equal(local['address'], SERVER_HOST, described);
          assert.equal(remote['address'], SERVER_HOST, described);
          assert.equal(local['relayProtocol'], transport, described);
          assert.equal(local['url'], url, described);
        }
        assert.equal(ofCaller.local['port'], ofCallee.remote['port']);
        assert.equal(ofCaller.remote['port'], ofCallee.local['port']);

        // Everything either page received on its pair, Rampart relayed to it (read after the
        // page stats, so the counters can only be ahead).
        const receivedOnPairs = [ofCaller, ofCallee].reduce(
          (sum, { pair }) => sum + Number(pair['packetsReceived'] ?? 0),
          0,
        );
        const relayedAfter = await relayedPackets();
        const toClient = relayedAfter.toClient - relayedBefore.toClient;
        const toPeer = relayedAfter.toPeer - relayedBefore.toPeer;
        assert.ok(
          toClient >= receivedOnPairs && toPeer >= receivedOnPairs,
          `rampart relayed ${toPeer} packets to peers and ${toClient} to clients; the pages received ${receivedOnPairs}`,
        );
      } finally {
        await Promise.all(
          pages.map(async (page) => {
            await call(page, 'close').catch(() => undefined);
            await page.close();
          }),
        );
      }
      // Closed pages give their allocations back: Refresh with LIFETIME 0 (RFC 8656 §7.3:
      // a zero lifetime deletes the allocation), or the end of the TCP/TLS connection.
      let allocations = Number.NaN;
      await waitUntil(
        async () => (allocations = await metric('rampart_turn_allocations')) === 0,
        5000,
        () => `${allocations} allocations left 5 s after the pages closed`,
      );
    });
  }
});

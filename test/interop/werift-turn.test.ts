// Rampart's A/V Edge as the TURN server of werift (npm `werift`, a WebRTC stack in TypeScript
// that nobody here wrote): two RTCPeerConnections in this process, ICE restricted to relayed
// candidates, trickle ICE, DTLS and SCTP over a relay-to-relay path through Rampart, once per
// client transport (turn: over UDP and TCP, turns: over TLS checked against Rampart's generated
// CA). A data channel carries messages both ways; werift's getStats() must show a nominated
// relay/relay pair that both peers agree on, and Rampart's /metrics must count the relaying.
// (@roamhq/wrtc is not used: it is a native addon, and the tests run none.)
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { RTCPeerConnection, type RTCDataChannel } from 'werift';
import type { Endpoint } from '../../src/lib/endpoint.ts';
import { waitUntil } from '../helpers/process.ts';
import { findGeneratedCaFile, startRampart, type RampartInstance } from '../helpers/rampart.ts';

const SECRET = '0123456789abcdef0123';
const REALM = 'example.test';
/** The server's external address; the relayed candidates of both peers are on it. */
const SERVER_HOST = '127.0.0.2';
const MESSAGES = 20;
/** Budget for ICE + DTLS + SCTP to open the data channel. */
const OPEN_TIMEOUT_MS = 15_000;
const TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
type ClientTransport = (typeof TRANSPORTS)[number];

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

/** One ICE candidate as getStats() reports it. */
interface CandidateStats {
  readonly candidateType: string;
  readonly address?: string;
  readonly port?: number;
}

/** The local and remote candidate of the pair the ICE agent selected, from getStats(). */
async function selectedPair(
  pc: RTCPeerConnection,
): Promise<{ local: CandidateStats; remote: CandidateStats }> {
  const stats = new Map<string, Record<string, unknown>>();
  for (const [id, value] of await pc.getStats()) {
    stats.set(id, value as unknown as Record<string, unknown>);
  }
  const transport = [...stats.values()].find(
    (s) => s['type'] === 'transport' && typeof s['selectedCandidatePairId'] === 'string',
  );
  assert.ok(transport !== undefined, 'getStats(): no transport with a selected candidate pair');
  const pair = stats.get(transport['selectedCandidatePairId'] as string);
  assert.ok(pair !== undefined, 'getStats(): the selected candidate pair is missing');
  assert.equal(pair['state'], 'succeeded');
  const local = stats.get(pair['localCandidateId'] as string);
  const remote = stats.get(pair['remoteCandidateId'] as string);
  assert.ok(local !== undefined && remote !== undefined, 'getStats(): pair candidates missing');
  return {
    local: local as unknown as CandidateStats,
    remote: remote as unknown as CandidateStats,
  };
}

/** Resolves with the first `count` messages `channel` receives, as strings. */
function collectMessages(channel: RTCDataChannel, count: number): Promise<string[]> {
  const received: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${channel.label}: ${received.length}/${count} messages in time`));
    }, OPEN_TIMEOUT_MS);
    channel.onMessage.subscribe((data) => {
      received.push(data.toString());
      if (received.length === count) {
        clearTimeout(timer);
        resolve(received);
      }
    });
  });
}

/** Resolves when `channel` is open; rejects after OPEN_TIMEOUT_MS with `why()` in the message. */
async function waitOpen(channel: RTCDataChannel, why: () => string): Promise<void> {
  if (channel.readyState === 'open') return;
  try {
    await channel.stateChanged.watch((state) => state === 'open', OPEN_TIMEOUT_MS);
  } catch {
    throw new Error(`data channel ${channel.label} not open in ${OPEN_TIMEOUT_MS} ms; ${why()}`);
  }
}

describe('rampart A/V Edge as the TURN server of werift (relay-only ICE)', () => {
  let rampart: RampartInstance | undefined;
  let admin: Endpoint;
  let caPem: string;

  const metrics = async (): Promise<string> =>
    (await fetch(`http://${admin.host}:${admin.port}/metrics`)).text();
  /** rampart_turn_allocations on the external side. */
  const liveAllocations = async (): Promise<number> => {
    const text = await metrics();
    const match = /^rampart_turn_allocations\{side="external"\} (\d+)$/m.exec(text);
    assert.ok(match !== null, `no rampart_turn_allocations in /metrics:\n${text}`);
    return Number(match[1]);
  };
  /** rampart_turn_relayed_{packets,bytes}_total on the external side, by unit and direction. */
  const relayed = async (): Promise<Record<string, number>> => {
    const text = await metrics();
    const totals: Record<string, number> = {};
    const series =
      /^rampart_turn_relayed_(packets|bytes)_total\{side="external",direction="([a-z-]+)"\} (\d+)$/gm;
    for (const match of text.matchAll(series)) {
      totals[`${match[1]!} ${match[2]!}`] = Number(match[3]);
    }
    assert.equal(Object.keys(totals).length, 4, `relayed counters missing from /metrics:\n${text}`);
    return totals;
  };

  before(async () => {
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
    const caFile = await findGeneratedCaFile(server.dataDir);
    assert.ok(caFile !== undefined, `rampart generated no CA in ${server.dataDir}`);
    caPem = await readFile(caFile, 'utf8');
  });

  after(async () => {
    await rampart?.stop();
  });

  for (const transport of TRANSPORTS) {
    test(`werift ↔ werift, ${transport === 'tls' ? 'turns: (TLS)' : `turn:?transport=${transport}`}: data channel both ways on a relay/relay pair`, async () => {
      const endpoint = rampart!.endpoint('av-edge', 'external', transport);
      if (transport !== 'udp') {
        // The URL names only the TCP (or TLS) listener's port: with no UDP listener there,
        // relayed candidates prove werift reached Rampart over the stream transport.
        const udp = rampart!.endpoint('av-edge', 'external', 'udp');
        assert.notEqual(endpoint.port, udp.port, 'ephemeral UDP and TCP ports coincide');
      }
      const iceServers = [{ urls: turnUrl(transport, endpoint), ...restCredential('alice') }];
      const makePeer = (): RTCPeerConnection =>
        new RTCPeerConnection({
          iceServers,
          iceTransportPolicy: 'relay',
          // The generated CA, not rejectUnauthorized: false: werift must verify Rampart's
          // certificate (IP SAN 127.0.0.2).
          ...(transport === 'tls' ? { turnTlsOptions: { ca: caPem } } : {}),
        });
      const relayedBefore = await relayed();
      const allocationsBefore = await liveAllocations();
      const offerer = makePeer();
      const answerer = makePeer();
      try {
        const gathered: string[] = [];
        // Trickle ICE, in process: each candidate goes to the other peer as it is gathered.
        offerer.onIceCandidate.subscribe((candidate) => {
          if (candidate === undefined) return;
          gathered.push(candidate.candidate);
          void answerer.addIceCandidate(candidate);
        });
        answerer.onIceCandidate.subscribe((candidate) => {
          if (candidate === undefined) return;
          gathered.push(candidate.candidate);
          void offerer.addIceCandidate(candidate);
        });
        const offered = offerer.createDataChannel('chat');
        const iceStates = (): string =>
          `ICE ${offerer.iceConnectionState}/${answerer.iceConnectionState}, ` +
          `candidates: ${gathered.join(' | ') || 'none (no allocation?)'}`;
        const answered = answerer.onDataChannel.asPromise(OPEN_TIMEOUT_MS).then(
          ([dc]) => dc,
          () => {
            throw new Error(
              `no data channel at the answerer in ${OPEN_TIMEOUT_MS} ms; ${iceStates()}`,
            );
          },
        );
        await offerer.setLocalDescription(await offerer.createOffer());
        await answerer.setRemoteDescription(offerer.localDescription!);
        await answerer.setLocalDescription(await answerer.createAnswer());
        await offerer.setRemoteDescription(answerer.localDescription!);

        const channel = await answered;
        await Promise.all([waitOpen(offered, iceStates), waitOpen(channel, iceStates)]);
        assert.ok(gathered.length >= 2, 'no candidates gathered');
        for (const line of gathered) assert.match(line, / typ relay /, line);

        const atAnswerer = collectMessages(channel, MESSAGES);
        const atOfferer = collectMessages(offered, MESSAGES);
        const expected = (from: string): string[] =>
          Array.from({ length: MESSAGES }, (_, i) => `${from} #${i} via ${transport}`);
        for (const text of expected('offerer')) offered.send(text);
        for (const text of expected('answerer')) channel.send(text);
        assert.deepEqual(await atAnswerer, expected('offerer'));
        assert.deepEqual(await atOfferer, expected('answerer'));

        const [ofOfferer, ofAnswerer] = await Promise.all([
          selectedPair(offerer),
          selectedPair(answerer),
        ]);
        for (const candidate of [
          ofOfferer.local,
          ofOfferer.remote,
          ofAnswerer.local,
          ofAnswerer.remote,
        ]) {
          assert.equal(candidate.candidateType, 'relay', JSON.stringify(candidate));
          assert.equal(candidate.address, SERVER_HOST, JSON.stringify(candidate));
        }
        // Both ends agree on the pair: one's local relayed address is the other's remote.
        assert.equal(ofOfferer.local.port, ofAnswerer.remote.port);
        assert.equal(ofOfferer.remote.port, ofAnswerer.local.port);

        // Each message crossed Rampart twice, inside SCTP in DTLS: from its sender's client to
        // that client's relay (to-peer) and from the other relay to the other client
        // (to-client). SCTP may bundle messages into one packet, so bytes are the bound.
        const payloadBytes = [...expected('offerer'), ...expected('answerer')].reduce(
          (sum, text) => sum + Buffer.byteLength(text),
          0,
        );
        const relayedAfter = await relayed();
        for (const direction of ['to-peer', 'to-client']) {
          const bytes = relayedAfter[`bytes ${direction}`]! - relayedBefore[`bytes ${direction}`]!;
          const packets =
            relayedAfter[`packets ${direction}`]! - relayedBefore[`packets ${direction}`]!;
          assert.ok(
            bytes >= payloadBytes && packets > 0,
            `rampart relayed ${packets} packets, ${bytes} bytes ${direction} over ${transport}; ` +
              `the messages alone are ${payloadBytes} bytes`,
          );
        }
      } finally {
        await Promise.all([offerer.close(), answerer.close()]);
      }
      // werift sends no Refresh with LIFETIME 0 on close (its UDP allocations simply expire),
      // but it closes its TCP/TLS connections, and with them Rampart ends their allocations.
      if (transport !== 'udp') {
        let allocations = Number.NaN;
        await waitUntil(
          async () => (allocations = await liveAllocations()) === allocationsBefore,
          5000,
          () =>
            `${allocations} allocations 5 s after werift closed its ${transport} connections, ` +
            `${allocationsBefore} before the test`,
        );
      }
    });
  }
});

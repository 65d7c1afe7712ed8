// Proves the TURN interop harness end to end against the reference, coturn 4.6.1: the same
// turnutils helpers will then be pointed at Rampart's A/V Edge. Needs the Debian package
// `coturn` (turnserver + turnutils_*); tests fail, never skip, when it is missing. The runs
// are sequential, as against Rampart: 12 parallel uclients on 2 cores overflow UDP buffers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCoturn } from '../helpers/coturn.ts';
import type { CoturnInstance } from '../helpers/coturn.ts';
import {
  describeUclient,
  runStunclient,
  runUclient,
  startTurnutilsPeer,
  uclientProblems,
} from '../helpers/turnutils.ts';
import type { TurnutilsPeer, UclientOptions, UclientTransport } from '../helpers/turnutils.ts';

const SECRET = 'harness-secret';
const REALM = 'rampart.test';
const TRANSPORTS: readonly UclientTransport[] = ['udp', 'tcp', 'tls'];
const AUTHS = ['rest', 'user'] as const;
const DATA_PATHS = ['channel', 'send'] as const;
/** Every run: 3 clients → 4 sessions (RTP+RTCP pairs) × 10 messages of 200 bytes. */
const MESSAGES = 10;
const CLIENTS = 3;
const LENGTH = 200;

function userName(
  transport: UclientTransport,
  auth: (typeof AUTHS)[number],
  path: (typeof DATA_PATHS)[number],
): string {
  return `${transport}-${auth}-${path}`;
}

const staticUsers: Record<string, string> = {};
for (const transport of TRANSPORTS) {
  for (const path of DATA_PATHS) staticUsers[userName(transport, 'user', path)] = `pw-${path}`;
}

/** ChannelBind successes coturn (verbose) logged for `user` (REST usernames are `<ts>:user`). */
function channelBinds(server: CoturnInstance, user: string): number {
  const pattern = new RegExp(
    `user <(?:\\d+:)?${user}>: incoming packet CHANNEL_BIND processed, success`,
    'g',
  );
  return server.process.stdout().match(pattern)?.length ?? 0;
}

/** Allocations coturn logged for `user`. */
function allocations(server: CoturnInstance, user: string): number {
  const pattern = new RegExp(
    `user <(?:\\d+:)?${user}>: incoming packet ALLOCATE processed, success`,
    'g',
  );
  return server.process.stdout().match(pattern)?.length ?? 0;
}

describe('coturn harness (turnutils against coturn 4.6.1)', () => {
  let restServer: CoturnInstance;
  let userServer: CoturnInstance;
  let peer: TurnutilsPeer;

  const cleanups: (() => Promise<void>)[] = [];
  /** Registers `peerOrServer.close` for after() as soon as it is up, even if another fails. */
  const closeLater = async <T extends { close(): Promise<void> }>(
    started: Promise<T>,
  ): Promise<T> => {
    const value = await started;
    cleanups.push(() => value.close());
    return value;
  };

  before(async () => {
    // coturn cannot mix REST secrets and static users: one server each.
    [restServer, userServer, peer] = await Promise.all([
      closeLater(
        startCoturn({ realm: REALM, auth: { kind: 'rest', secret: SECRET }, verbose: true }),
      ),
      closeLater(
        startCoturn({ realm: REALM, auth: { kind: 'users', users: staticUsers }, verbose: true }),
      ),
      closeLater(startTurnutilsPeer()),
    ]);
  });

  after(async () => {
    await Promise.all(cleanups.map((cleanup) => cleanup()));
  });

  test('turnutils_stunclient gets its mapped address from coturn', async () => {
    const result = await runStunclient({
      server: { host: restServer.host, port: restServer.port },
      localAddress: '127.0.0.1',
    });
    assert.equal(result.mapped.host, '127.0.0.1', result.output);
    assert.ok(
      Number.isInteger(result.mapped.port) && result.mapped.port > 0 && result.mapped.port < 65536,
      `mapped port ${result.mapped.port}\n${result.output}`,
    );
    assert.notEqual(result.mapped.port, restServer.port);
  });

  for (const transport of TRANSPORTS) {
    for (const auth of AUTHS) {
      for (const path of DATA_PATHS) {
        const user = userName(transport, auth, path);
        test(`uclient ${transport}, ${auth === 'rest' ? 'REST secret (-W)' : 'static user (-u/-w)'}, ${
          path === 'channel' ? 'ChannelData' : 'Send indications (-s)'
        } → turnutils_peer`, async () => {
          const server = auth === 'rest' ? restServer : userServer;
          const port = transport === 'tls' ? server.tlsPort : server.port;
          assert.ok(port !== undefined, 'coturn started without TLS');
          const options: UclientOptions = {
            server: { host: server.host, port },
            transport,
            auth:
              auth === 'rest'
                ? { kind: 'rest', secret: SECRET, user }
                : { kind: 'user', username: user, password: staticUsers[user] ?? '' },
            peer: { host: peer.host, port: peer.port },
            messages: MESSAGES,
            messageLength: LENGTH,
            clients: CLIENTS,
            sendIndications: path === 'send',
            ...(transport === 'tls' && server.caCertFile !== undefined
              ? { caCertFile: server.caCertFile }
              : {}),
            timeoutMs: 25_000,
          };
          const result = await runUclient(options);
          const line = describeUclient(result);
          assert.deepEqual(uclientProblems(result), [], `${line}\n${result.output.slice(-3000)}`);
          const stats = result.stats!;
          assert.equal(result.expectedSessions, 4, line);
          assert.equal(stats.sentMessages, 4 * MESSAGES, line);
          assert.equal(stats.receivedMessages, 4 * MESSAGES, line);
          assert.equal(stats.sentBytes, 4 * MESSAGES * LENGTH, line);
          assert.equal(stats.receivedBytes, 4 * MESSAGES * LENGTH, line);
          assert.equal(stats.lostPackets, 0, line);
          assert.equal(stats.lostPercent, 0, line);
          assert.ok(Number.isFinite(stats.rttAverageMs) && stats.rttAverageMs >= 0, line);
          assert.ok(Number.isFinite(stats.jitterAverageMs) && stats.jitterAverageMs >= 0, line);
          if (transport === 'tls') {
            const tlsSession = new RegExp(`username=<(?:\\d+:)?${user}>[^\\n]*method=TLSv1`);
            assert.match(server.process.stdout(), tlsSession, `${user}: no TLS session logged`);
          }
          // The data path really is the one asked for: coturn logs every ChannelBind.
          assert.ok(allocations(server, user) >= 4, `coturn logged no allocations of ${user}`);
          const binds = channelBinds(server, user);
          if (path === 'channel') assert.ok(binds >= 4, `${user}: ${binds} ChannelBinds, want ≥ 4`);
          else assert.equal(binds, 0, `${user}: Send-indication run made ChannelBinds`);
        });
      }
    }
  }

  test('uclient client-to-client (-y) over UDP relays between two allocations', async () => {
    const result = await runUclient({
      server: { host: restServer.host, port: restServer.port },
      auth: { kind: 'rest', secret: SECRET, user: 'c2c' },
      clientToClient: true,
      noRtcp: true,
      messages: MESSAGES,
      timeoutMs: 25_000,
    });
    const line = describeUclient(result);
    assert.deepEqual(uclientProblems(result), [], `${line}\n${result.output.slice(-3000)}`);
    const stats = result.stats;
    assert.ok(stats !== undefined, line);
    assert.equal(result.expectedSessions, 2, line);
    assert.equal(stats.sentMessages, 2 * MESSAGES, line);
    assert.equal(stats.receivedMessages, 2 * MESSAGES, line);
  });

  test('a wrong password is reported as a failed run, not as zero traffic', async () => {
    const result = await runUclient({
      server: { host: userServer.host, port: userServer.port },
      auth: { kind: 'user', username: userName('udp', 'user', 'channel'), password: 'wrong' },
      peer: { host: peer.host, port: peer.port },
      messages: 2,
      noRtcp: true,
      timeoutMs: 15_000,
    });
    const line = describeUclient(result);
    assert.equal(result.timedOut, false, line);
    assert.notEqual(result.exit.code, 0, line);
    assert.equal(result.stats, undefined, line);
    assert.ok(
      result.errors.some((error) => error.includes('Cannot complete Allocation')),
      `${line}\n${result.output}`,
    );
    assert.ok(uclientProblems(result).length > 0, line);
  });
});

// Rampart's A/V Edge against clients nobody here wrote: coturn's turnutils_stunclient and
// turnutils_uclient (UDP, TCP, TLS; REST secret with -W and static users with -u/-w;
// ChannelData and Send indications), relaying to turnutils_peer with zero loss. The same
// matrix runs against coturn itself in coturn-harness.test.ts. Needs the Debian package
// `coturn` (turnutils_*).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findGeneratedCaFile, startRampart, type RampartInstance } from '../helpers/rampart.ts';
import {
  describeUclient,
  runStunclient,
  runUclient,
  startTurnutilsPeer,
  uclientProblems,
} from '../helpers/turnutils.ts';
import type { TurnutilsPeer } from '../helpers/turnutils.ts';

const SECRET = 'interop-secret-0123456789';
const REALM = 'rampart.test';
const TRANSPORTS: readonly ('udp' | 'tcp' | 'tls')[] = ['udp', 'tcp', 'tls'];
const AUTHS = ['rest', 'user'] as const;
const DATA_PATHS = ['channel', 'send'] as const;
const MESSAGES = 10;
const CLIENTS = 3;
const LENGTH = 200;
/** The server listens on 127.0.0.2: a peer on 127.0.0.1 is then not one of its own addresses. */
const SERVER_HOST = '127.0.0.2';

const users = TRANSPORTS.flatMap((transport) =>
  DATA_PATHS.map((path) => ({ username: `${transport}-user-${path}`, password: `pw-${path}` })),
);

describe('rampart A/V Edge with coturn’s turnutils clients', () => {
  let rampart: RampartInstance;
  let peer: TurnutilsPeer;
  let caFile: string | undefined;
  let admin: string;

  /** Value of one rampart_turn_requests_total series (method label). */
  const requests = async (method: string): Promise<number> => {
    const text = await (await fetch(`${admin}/metrics`)).text();
    const match = new RegExp(
      `rampart_turn_requests_total\\{side="external",method="${method}"\\} (\\d+)`,
    ).exec(text);
    return Number(match?.[1] ?? 0);
  };

  before(async () => {
    [rampart, peer] = await Promise.all([
      startRampart({
        config: {
          'access-edge': { enabled: false },
          tls: { names: [SERVER_HOST] },
          'av-edge': {
            realm: REALM,
            external: { host: SERVER_HOST },
            internal: { host: '127.0.0.3' },
            auth: { secrets: [SECRET], users },
            peers: { allowLoopback: true },
          },
        },
      }),
      startTurnutilsPeer(),
    ]);
    caFile = await findGeneratedCaFile(rampart.dataDir);
    const endpoint = rampart.endpoint('admin', 'internal', 'http');
    admin = `http://${endpoint.host}:${endpoint.port}`;
  });

  after(async () => {
    await Promise.all([rampart.stop(), peer.close()]);
  });

  test('turnutils_stunclient gets its mapped address', async () => {
    const udp = rampart.endpoint('av-edge', 'external', 'udp');
    const result = await runStunclient({
      server: { host: udp.host, port: udp.port },
      localAddress: '127.0.0.1',
    });
    assert.equal(result.mapped.host, '127.0.0.1', result.output);
    assert.ok(result.mapped.port > 0 && result.mapped.port < 65536, result.output);
  });

  for (const transport of TRANSPORTS) {
    for (const auth of AUTHS) {
      for (const path of DATA_PATHS) {
        const user = `${transport}-${auth}-${path}`;
        test(`uclient ${transport}, ${auth === 'rest' ? 'REST secret (-W)' : 'static user (-u/-w)'}, ${
          path === 'channel' ? 'ChannelData' : 'Send indications (-s)'
        } → turnutils_peer, zero loss`, async () => {
          const endpoint = rampart.endpoint('av-edge', 'external', transport);
          const bindsBefore = await requests('ChannelBind');
          const result = await runUclient({
            server: { host: endpoint.host, port: endpoint.port },
            transport,
            auth:
              auth === 'rest'
                ? { kind: 'rest', secret: SECRET, user }
                : {
                    kind: 'user',
                    username: `${transport}-user-${path}`,
                    password: `pw-${path}`,
                  },
            peer: { host: peer.host, port: peer.port },
            messages: MESSAGES,
            messageLength: LENGTH,
            clients: CLIENTS,
            sendIndications: path === 'send',
            ...(transport === 'tls' && caFile !== undefined ? { caCertFile: caFile } : {}),
            timeoutMs: 25_000,
          });
          const line = describeUclient(result);
          assert.deepEqual(uclientProblems(result), [], `${line}\n${result.output.slice(-3000)}`);
          const stats = result.stats;
          assert.ok(stats !== undefined, line);
          assert.equal(stats.sentMessages, 4 * MESSAGES, line);
          assert.equal(stats.receivedMessages, 4 * MESSAGES, line);
          assert.equal(stats.receivedBytes, 4 * MESSAGES * LENGTH, line);
          assert.equal(stats.lostPackets, 0, line);
          // The data path is the one asked for: ChannelBinds only in ChannelData runs.
          const binds = (await requests('ChannelBind')) - bindsBefore;
          if (path === 'channel') assert.ok(binds >= 4, `${user}: ${binds} ChannelBinds`);
          else assert.equal(binds, 0, `${user}: a Send-indication run made ChannelBinds`);
        });
      }
    }
  }

  test('uclient client-to-client (-y): two allocations of this server relay to each other', async () => {
    const udp = rampart.endpoint('av-edge', 'external', 'udp');
    const result = await runUclient({
      server: { host: udp.host, port: udp.port },
      auth: { kind: 'rest', secret: SECRET, user: 'c2c' },
      clientToClient: true,
      noRtcp: true,
      messages: MESSAGES,
      timeoutMs: 25_000,
    });
    const line = describeUclient(result);
    assert.deepEqual(uclientProblems(result), [], `${line}\n${result.output.slice(-3000)}`);
    assert.equal(result.stats?.receivedMessages, 2 * MESSAGES, line);
  });

  for (const transport of ['tcp', 'tls'] as const) {
    test(`uclient -T over ${transport}: RFC 6062 TCP relay allocations (Connect, ConnectionAttempt, ConnectionBind) between two clients`, async () => {
      const endpoint = rampart.endpoint('av-edge', 'external', transport);
      const connectsBefore = await requests('Connect');
      const bindsBefore = await requests('ConnectionBind');
      const result = await runUclient({
        server: { host: endpoint.host, port: endpoint.port },
        transport,
        auth: { kind: 'rest', secret: SECRET, user: `tcp-relay-${transport}` },
        clientToClient: true,
        noRtcp: true,
        messages: MESSAGES,
        messageLength: LENGTH,
        extraArgs: ['-T'],
        timeoutMs: 25_000,
      });
      const line = describeUclient(result);
      assert.deepEqual(uclientProblems(result), [], `${line}\n${result.output.slice(-3000)}`);
      const stats = result.stats;
      assert.ok(stats !== undefined && stats.sentMessages > 0, line);
      assert.equal(stats.receivedMessages, stats.sentMessages, line);
      assert.equal(stats.lostPackets, 0, line);
      assert.ok((await requests('Connect')) > connectsBefore, 'no Connect request reached us');
      assert.ok((await requests('ConnectionBind')) > bindsBefore, 'no ConnectionBind reached us');
    });
  }

  test('a wrong password fails the allocation', async () => {
    const udp = rampart.endpoint('av-edge', 'external', 'udp');
    const result = await runUclient({
      server: { host: udp.host, port: udp.port },
      auth: { kind: 'user', username: 'udp-user-channel', password: 'wrong' },
      peer: { host: peer.host, port: peer.port },
      messages: 2,
      noRtcp: true,
      timeoutMs: 15_000,
    });
    assert.equal(result.stats, undefined, describeUclient(result));
    assert.ok(uclientProblems(result).length > 0, describeUclient(result));
  });
});

// `rampart turn credentials|sessions|disconnect`, run as an operator runs them against a
// running all-in-one deployment: the printed credential is accepted by coturn's own client,
// the live allocation is listed, and disconnect ends it. Needs the Debian package `coturn`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep } from '../helpers/process.ts';
import { startRampart, type RampartInstance } from '../helpers/rampart.ts';
import {
  describeUclient,
  runUclient,
  startTurnutilsPeer,
  type TurnutilsPeer,
} from '../helpers/turnutils.ts';

const BIN = new URL('../../bin/rampart.mjs', import.meta.url).pathname;

describe('rampart turn (CLI)', () => {
  let rampart: RampartInstance;
  let peer: TurnutilsPeer;
  let configFile: string;

  const run = (
    args: readonly string[],
  ): { status: number | null; stdout: string; stderr: string } => {
    const result = spawnSync(
      process.execPath,
      [BIN, ...args, '--data-dir', rampart.dataDir, '--config', configFile],
      { encoding: 'utf8', timeout: 30_000 },
    );
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  before(async () => {
    // No secret configured: the deployment generates <data-dir>/turn-secret, and the CLI
    // issues credentials with the same one.
    [rampart, peer] = await Promise.all([
      startRampart({
        config: {
          'access-edge': { enabled: false },
          'av-edge': {
            external: { host: '127.0.0.2' },
            internal: { host: '127.0.0.3' },
            peers: { allowLoopback: true },
          },
        },
      }),
      startTurnutilsPeer(),
    ]);
    configFile = join(rampart.dataDir, 'rampart.test.yaml');
  });

  after(async () => {
    await Promise.all([rampart.stop(), peer.close()]);
  });

  test('credentials: a REST username and its HMAC password, signed with the deployment secret', () => {
    const result = run(['turn', 'credentials', 'bob', '--ttl', '600']);
    assert.equal(result.status, 0, result.stderr);
    const username = /^username: (\d+):bob$/m.exec(result.stdout);
    const password = /^password: (\S+)$/m.exec(result.stdout)?.[1];
    assert.ok(username !== null && password !== undefined, result.stdout);
    const expiry = Number(username[1]);
    assert.ok(Math.abs(expiry - (Date.now() / 1000 + 600)) < 30, `expiry ${expiry}`);
    const secret = readFileSync(join(rampart.dataDir, 'turn-secret'), 'utf8').trim();
    assert.equal(password, createHmac('sha1', secret).update(`${expiry}:bob`).digest('base64'));
    assert.equal(run(['turn', 'credentials', 'bob', '--ttl', 'x']).status, 2);
  });

  test('the printed credential allocates; sessions lists it; disconnect ends it', async () => {
    const printed = run(['turn', 'credentials', 'carol']).stdout;
    const username = /^username: (\S+)$/m.exec(printed)?.[1] ?? '';
    const password = /^password: (\S+)$/m.exec(printed)?.[1] ?? '';
    const udp = rampart.endpoint('av-edge', 'external', 'udp');
    // 300 messages at 20 ms: the allocation lives for several seconds.
    const client = runUclient({
      server: { host: udp.host, port: udp.port },
      auth: { kind: 'user', username, password },
      peer: { host: peer.host, port: peer.port },
      messages: 300,
      noRtcp: true,
      timeoutMs: 30_000,
    });
    let listed = '';
    for (let i = 0; i < 80 && !/carol/.test(listed); i++) {
      await sleep(100);
      listed = run(['turn', 'sessions', 'carol']).stdout;
    }
    assert.match(listed, /external\s+\d+:carol\s+udp/, listed);
    const live = Number(/(\d+) allocation\(s\)/.exec(listed)?.[1]);
    assert.ok(live >= 1, listed);
    assert.match(run(['turn', 'sessions', 'nobody']).stdout, /0 allocation\(s\)/);
    const disconnected = run(['turn', 'disconnect', 'carol']);
    assert.equal(disconnected.status, 0, disconnected.stderr);
    assert.match(disconnected.stdout, new RegExp(`^${String(live)} allocation\\(s\\) ended$`, 'm'));
    assert.match(run(['turn', 'sessions', 'carol']).stdout, /0 allocation\(s\)/);
    const result = await client;
    // The relay is gone mid-run: the client cannot have received everything it sent.
    assert.ok(
      result.stats === undefined || result.stats.receivedMessages < 300,
      describeUclient(result),
    );
  });
});

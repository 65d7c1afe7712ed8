// Configuration reload without restart (coturn's most-asked-for missing feature): SIGHUP
// makes `rampart start` read its file again; the A/V Edge takes new users and secrets at
// once, live allocations stay, and an invalid file changes nothing. Needs `coturn`.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { sleep, waitUntil } from '../helpers/process.ts';
import { startRampart, type RampartInstance } from '../helpers/rampart.ts';
import {
  describeUclient,
  runUclient,
  startTurnutilsPeer,
  uclientProblems,
  type TurnutilsPeer,
} from '../helpers/turnutils.ts';

const config = (users: readonly { username: string; password: string }[]): unknown => ({
  'access-edge': { enabled: false },
  'av-edge': {
    external: { host: '127.0.0.2' },
    internal: { host: '127.0.0.3' },
    auth: { secrets: ['reload-secret-0123456789'], users },
    peers: { allowLoopback: true },
  },
});

describe('SIGHUP reloads the A/V Edge configuration', () => {
  let rampart: RampartInstance;
  let peer: TurnutilsPeer;

  const allocate = (password: string): ReturnType<typeof runUclient> => {
    const udp = rampart.endpoint('av-edge', 'external', 'udp');
    return runUclient({
      server: { host: udp.host, port: udp.port },
      auth: { kind: 'user', username: 'dave', password },
      peer: { host: peer.host, port: peer.port },
      messages: 5,
      noRtcp: true,
      timeoutMs: 15_000,
    });
  };

  const hangUp = async (users: readonly { username: string; password: string }[] | 'garbage') => {
    const file = join(rampart.dataDir, 'rampart.test.yaml');
    writeFileSync(
      file,
      users === 'garbage' ? 'av-edge: { auth: { users: 7 } }\n' : stringify(config(users)),
    );
    const before = rampart.process.stdout().length + rampart.process.stderr().length;
    const pid = rampart.process.child.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGHUP');
    await waitUntil(
      () =>
        Promise.resolve(
          /"event":"reload/.test(
            (rampart.process.stdout() + rampart.process.stderr()).slice(before - 1),
          ),
        ),
      5000,
      () => 'no reload log line after SIGHUP',
    );
    await sleep(100);
  };

  before(async () => {
    [rampart, peer] = await Promise.all([
      startRampart({ config: config([]) }),
      startTurnutilsPeer(),
    ]);
  });

  after(async () => {
    await Promise.all([rampart.stop(), peer.close()]);
  });

  test('an unknown user is refused, then accepted once the file lists it and SIGHUP arrives', async () => {
    const refused = await allocate('pw-1');
    assert.ok(uclientProblems(refused).length > 0, describeUclient(refused));
    await hangUp([{ username: 'dave', password: 'pw-1' }]);
    const accepted = await allocate('pw-1');
    assert.deepEqual(uclientProblems(accepted), [], describeUclient(accepted));
    assert.equal(accepted.stats?.lostPackets, 0, describeUclient(accepted));
  });

  test('an invalid file changes nothing; a changed password applies', async () => {
    await hangUp('garbage');
    assert.match(rampart.process.stdout() + rampart.process.stderr(), /reload-failed/);
    const still = await allocate('pw-1');
    assert.deepEqual(uclientProblems(still), [], describeUclient(still));
    await hangUp([{ username: 'dave', password: 'pw-2' }]);
    const old = await allocate('pw-1');
    assert.ok(uclientProblems(old).length > 0, describeUclient(old));
    const fresh = await allocate('pw-2');
    assert.deepEqual(uclientProblems(fresh), [], describeUclient(fresh));
  });
});

// Rampart issue 4: baresip 1.0.0 (test/helpers/baresip.ts, proven against Kamailio in
// baresip-harness.test.ts) against `rampart start`'s Front End and Director.
// - alice and bob register with Digest straight to the Front End's client listeners (the
//   registrar answers 401, RFC 3261 §22.2) and exchange MESSAGE (407 first, RFC 3261 §22.3).
// - carol registers through the Director (407: it is a proxy), which adds Path (RFC 3327)
//   and P-Asserted-Identity (RFC 3325) and relays over mutual TLS to the Front End's server
//   listener; her MESSAGEs to alice go the same way, alice's reach her back through the Path.
// - erin is a remote user: she registers through the Access Edge's TLS listener (issue 5),
//   which relays to the Director over mutual TLS with a Path carrying her flow token; alice's
//   MESSAGE comes back over erin's own TLS connection.
// - A wrong password never registers: 401, and once the lockout starts, 403.
//
// Digest algorithms: Rampart offers SHA-256 then MD5 by default (RFC 8760 §2.4). libre 1.1.0,
// under baresip 1.0.0, fails the whole authentication with ENOSYS ("Register: Function not
// implemented") as soon as ANY challenge names an algorithm other than MD5, so this
// deployment is configured with `digestAlgorithms: [MD5]` on the Front End and the Director.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { startBaresip } from '../helpers/baresip.ts';
import type { Baresip, BaresipOptions } from '../helpers/baresip.ts';
import { findGeneratedCaFile, REPO_ROOT, startRampart } from '../helpers/rampart.ts';
import type { RampartInstance } from '../helpers/rampart.ts';

const run = promisify(execFile);

const DOMAIN = 'example.test';
const PASSWORDS = {
  alice: 'alice-secret',
  bob: 'bob-secret',
  carol: 'carol-secret',
  // Only ever used with a wrong password: its lockout must not touch the others.
  dave: 'dave-secret',
  erin: 'erin-secret',
} as const;
type User = keyof typeof PASSWORDS;
const REGISTER_TIMEOUT_MS = 10_000;
const MESSAGE_TIMEOUT_MS = 10_000;

/** `rampart user add` in the running deployment's data dir (its SQLite file is shared). */
async function addUser(dataDir: string, user: User): Promise<void> {
  await run(
    process.execPath,
    [
      join(REPO_ROOT, 'bin/rampart.mjs'),
      'user',
      'add',
      `${user}@${DOMAIN}`,
      '--password',
      PASSWORDS[user],
      '--data-dir',
      dataDir,
    ],
    { cwd: REPO_ROOT, timeout: 20_000 },
  );
}

function aor(user: User): string {
  return `sip:${user}@${DOMAIN}`;
}

/** Status codes of the responses to `method` that baresip received, in order. */
function statuses(peer: Baresip, method: string): number[] {
  return peer.sipTrace
    .filter((m) => m.cseqMethod === method && m.status !== undefined && m.fromUri === peer.aor)
    .map((m) => m.status ?? 0);
}

describe('baresip against the Front End and the Director (digest, MESSAGE)', () => {
  let rampart: RampartInstance | undefined;
  const peers: Baresip[] = [];

  before(async () => {
    // The Director listens on UDP too (off by default): baresip here registers over UDP.
    rampart = await startRampart({
      config: {
        director: { udp: 0, digestAlgorithms: ['MD5'] },
        'front-end': { digestAlgorithms: ['MD5'] },
      },
    });
    for (const user of Object.keys(PASSWORDS) as User[]) await addUser(rampart.dataDir, user);
  });

  after(async () => {
    await Promise.allSettled(peers.map((peer) => peer.stop()));
    await rampart?.stop();
  });

  async function start(
    user: User,
    service: 'front-end' | 'director' | 'access-edge',
    contacts: readonly User[],
    password: string = PASSWORDS[user],
  ): Promise<Baresip> {
    assert.ok(rampart !== undefined, 'rampart did not start');
    const edge = service === 'access-edge';
    const endpoint = edge
      ? rampart.endpoint(service, 'external', 'tls')
      : rampart.endpoint(service, 'internal', 'udp');
    const caFile = edge ? await findGeneratedCaFile(rampart.dataDir) : undefined;
    const options: BaresipOptions = {
      aor: aor(user),
      password,
      registrar: `sip:127.0.0.1:${String(endpoint.port)}`,
      transport: edge ? 'tls' : 'udp',
      ...(caFile === undefined ? {} : { caFile }),
      contacts: contacts.map(aor),
      name: password === PASSWORDS[user] ? `${user} via ${service}` : `${user} (wrong password)`,
    };
    const peer = await startBaresip(options);
    peers.push(peer);
    return peer;
  }

  async function exchange(from: Baresip, to: Baresip, text: string): Promise<void> {
    await from.sendMessage(to.aor, text, MESSAGE_TIMEOUT_MS);
    assert.deepEqual(await to.nextMessage(MESSAGE_TIMEOUT_MS), { from: from.aor, text });
  }

  let alice: Baresip | undefined;

  test('alice and bob register on the Front End with digest and exchange MESSAGE', async () => {
    alice = await start('alice', 'front-end', ['bob', 'carol', 'erin']);
    const bob = await start('bob', 'front-end', ['alice']);
    await Promise.all([
      alice.waitRegistered(REGISTER_TIMEOUT_MS),
      bob.waitRegistered(REGISTER_TIMEOUT_MS),
    ]);
    // RFC 3261 §22.2: the registrar is a UAS and challenges with 401.
    assert.deepEqual(statuses(alice, 'REGISTER').slice(0, 2), [401, 200], alice.log);
    assert.deepEqual(statuses(bob, 'REGISTER').slice(0, 2), [401, 200], bob.log);

    await exchange(alice, bob, 'hello bob, this is alice');
    // RFC 3428 §4 / RFC 3261 §22.3: a MESSAGE the Front End proxies is challenged with 407.
    assert.deepEqual(statuses(alice, 'MESSAGE'), [407, 200], alice.log);
    await exchange(bob, alice, 'hi alice: got it');
    assert.deepEqual(statuses(bob, 'MESSAGE'), [407, 200], bob.log);
  });

  test('carol registers through the Director and exchanges MESSAGE with alice', async () => {
    alice ??= await start('alice', 'front-end', ['bob', 'carol', 'erin']);
    await alice.waitRegistered(REGISTER_TIMEOUT_MS);
    const carol = await start('carol', 'director', ['alice']);
    await carol.waitRegistered(REGISTER_TIMEOUT_MS);
    // The Director is a proxy (407, RFC 3261 §22.3); the Front End behind it trusts its
    // P-Asserted-Identity on the mutual-TLS listener and does not challenge again.
    assert.deepEqual(statuses(carol, 'REGISTER').slice(0, 2), [407, 200], carol.log);

    await exchange(carol, alice, 'hello alice, carol via the Director');
    assert.deepEqual(statuses(carol, 'MESSAGE'), [407, 200], carol.log);
    // alice → Front End → (Path: the Director, RFC 3327 §5.2) → carol.
    await exchange(alice, carol, 'hi carol, back through the Path');
    const received = carol.sipTrace.filter(
      (m) => m.status === undefined && m.cseqMethod === 'MESSAGE' && m.fromUri === alice?.aor,
    );
    assert.equal(received.length, 1, carol.log);
  });

  test('erin, a remote user, registers through the Access Edge over TLS and IMs alice both ways', async () => {
    alice ??= await start('alice', 'front-end', ['bob', 'carol', 'erin']);
    await alice.waitRegistered(REGISTER_TIMEOUT_MS);
    const erin = await start('erin', 'access-edge', ['alice']);
    await erin.waitRegistered(REGISTER_TIMEOUT_MS);
    // The edge authenticates no one: the Director behind it challenges (407).
    assert.deepEqual(statuses(erin, 'REGISTER').slice(0, 2), [407, 200], erin.log);
    await exchange(erin, alice, 'hello alice, erin from outside');
    await exchange(alice, erin, 'hi erin, over your own connection');
    const incoming = erin.sipTrace.filter(
      (m) => m.status === undefined && m.cseqMethod === 'MESSAGE' && m.fromUri === alice?.aor,
    );
    assert.equal(incoming.length, 1, erin.log);
  });

  test('a wrong password is refused: 401, then the lockout answers 403', async () => {
    const mallory = await start('dave', 'front-end', [], 'not-the-password');
    const reason = await mallory.waitRegistrationFailure(REGISTER_TIMEOUT_MS);
    const answers = statuses(mallory, 'REGISTER');
    assert.ok(!answers.some((status) => status >= 200 && status < 300), mallory.log);
    // baresip 1.0.0 takes each fresh 401 as a new challenge and answers it again with the
    // same wrong password; the Front End's lockout (5 failures) ends that with a 403.
    assert.equal(answers[0], 401, mallory.log);
    assert.match(reason, /^(?:401 |403 Account Locked)/, mallory.log);
    const reginfo = await mallory.command('reginfo');
    assert.match(reginfo.data, /sip:dave@example\.test\s+ERR/, reginfo.data);
  });
});

// Rampart issue 4: sipp 3.6.1 against `rampart start`'s Front End.
// - REGISTER with Digest (401, RFC 3261 §22.2) from scenarios/register-auth.xml with
//   `-au alice -ap <password>`, then MESSAGE with Digest (407, §22.3) from
//   scenarios/message-auth.xml to alice, whose registered Contact is a sipp uas.
// - The same for 50 users imported with `rampart user import`: register-auth-inf.xml and
//   message-auth-inf.xml take each call's user and password from an injection file (-inf),
//   so that every call authenticates as a different user.
//
// Digest algorithms: Rampart offers SHA-256 then MD5 by default (RFC 8760 §2.4). sipp 3.6.1
// reads only the first challenge and stops the call ("createAuthHeader: authentication must
// use MD5 or AKAv1-MD5"), so this deployment is configured with `digestAlgorithms: [MD5]`.
//
// Routing: the registered Contact is the registering sipp's own address and port, so each
// sipp uas binds the port the registering sipp used, once that one has exited.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../helpers/ports.ts';
import { REPO_ROOT, startRampart } from '../helpers/rampart.ts';
import type { RampartInstance } from '../helpers/rampart.ts';
import { describeSummary, runSipp, startSipp } from '../helpers/sipp.ts';
import type { SippSummary } from '../helpers/sipp.ts';

const run = promisify(execFile);
const DOMAIN = 'example.test';
const USER_COUNT = 50;
/** sipp's own limit for one run; the harness kills it 5 s later. */
const SIPP_TIMEOUT_SECONDS = 30;
/** A call fails when one expected message is this late. */
const RECV_TIMEOUT_MS = 5000;

function userName(index: number): string {
  return `user${String(index).padStart(3, '0')}`;
}

function passwordOf(index: number): string {
  return `pw-${index}-secret`;
}

function assertAllSucceeded(summary: SippSummary, calls: number): void {
  const detail = `${describeSummary(summary)}\n${summary.diagnostics}`;
  assert.equal(summary.killedByHarness, false, detail);
  assert.equal(summary.exitCode, 0, detail);
  assert.equal(summary.failedCalls, 0, detail);
  assert.equal(summary.successfulCalls, calls, detail);
}

describe('sipp against the Front End (digest REGISTER and MESSAGE)', () => {
  let rampart: RampartInstance | undefined;
  let workDir = '';

  before(async () => {
    rampart = await startRampart({ config: { 'front-end': { digestAlgorithms: ['MD5'] } } });
    workDir = await mkdtemp(join(tmpdir(), 'rampart-sipp-users-'));
    const rows = ['address,password', `alice@${DOMAIN},alice-secret`, `bob@${DOMAIN},bob-secret`];
    for (let i = 1; i <= USER_COUNT; i++) rows.push(`${userName(i)}@${DOMAIN},${passwordOf(i)}`);
    const csv = join(workDir, 'users.csv');
    await writeFile(csv, `${rows.join('\n')}\n`);
    await run(
      process.execPath,
      [join(REPO_ROOT, 'bin/rampart.mjs'), 'user', 'import', csv, '--data-dir', rampart.dataDir],
      { cwd: REPO_ROOT, timeout: 30_000 },
    );
  });

  after(async () => {
    await rampart?.stop();
    if (workDir !== '') await rm(workDir, { recursive: true, force: true });
  });

  function frontEndPort(): number {
    assert.ok(rampart !== undefined, 'rampart did not start');
    return rampart.endpoint('front-end', 'internal', 'udp').port;
  }

  test('-au/-ap: alice registers (401), bob sends her a MESSAGE (407), her sipp uas answers', async () => {
    const alicePort = await freePort();
    const register = await runSipp({
      name: 'sipp REGISTER alice',
      scenario: { file: 'register-auth.xml', role: 'client' },
      transport: 'udp',
      localPort: alicePort,
      remote: { host: '127.0.0.1', port: frontEndPort() },
      calls: 1,
      timeoutSeconds: SIPP_TIMEOUT_SECONDS,
      recvTimeoutMs: RECV_TIMEOUT_MS,
      service: 'alice',
      keys: { domain: DOMAIN, contact_port: String(alicePort) },
      extraArgs: ['-au', 'alice', '-ap', 'alice-secret', '-auth_uri', DOMAIN],
    });
    assertAllSucceeded(register, 1);

    const uas = await startSipp({
      name: 'sipp uas alice',
      scenario: { file: 'message-uas.xml', role: 'server' },
      transport: 'udp',
      localPort: alicePort,
      timeoutSeconds: SIPP_TIMEOUT_SECONDS,
    });
    try {
      const message = await runSipp({
        name: 'sipp MESSAGE bob to alice',
        scenario: { file: 'message-auth.xml', role: 'client' },
        transport: 'udp',
        localPort: await freePort(),
        remote: { host: '127.0.0.1', port: frontEndPort() },
        calls: 1,
        timeoutSeconds: SIPP_TIMEOUT_SECONDS,
        recvTimeoutMs: RECV_TIMEOUT_MS,
        service: 'alice',
        keys: { domain: DOMAIN, sender: 'bob' },
        extraArgs: ['-au', 'bob', '-ap', 'bob-secret', '-auth_uri', `alice@${DOMAIN}`],
      });
      assertAllSucceeded(message, 1);
    } finally {
      const received = await uas.stop();
      assert.equal(
        received.incomingCalls,
        1,
        `${describeSummary(received)}\n${received.diagnostics}`,
      );
      assert.equal(
        received.failedCalls,
        0,
        `${describeSummary(received)}\n${received.diagnostics}`,
      );
    }
  });

  test(`${USER_COUNT} imported users register, then each sends a MESSAGE, one user per call (-inf)`, async () => {
    const registerInf = join(workDir, 'register.inf');
    const messageInf = join(workDir, 'message.inf');
    const registerLines = ['SEQUENTIAL'];
    const messageLines = ['SEQUENTIAL'];
    for (let i = 1; i <= USER_COUNT; i++) {
      registerLines.push(`${userName(i)};${passwordOf(i)}`);
      messageLines.push(`${userName(i)};${passwordOf(i)}`);
    }
    // sipp computes one digest-uri per run (-auth_uri), and Rampart wants it equal to the
    // Request-URI: every call of the run goes to one registered user, from a different one.
    const target = userName(1);
    await writeFile(registerInf, `${registerLines.join('\n')}\n`);
    await writeFile(messageInf, `${messageLines.join('\n')}\n`);

    const contactPort = await freePort();
    const register = await runSipp({
      name: `sipp REGISTER x${USER_COUNT}`,
      scenario: { file: 'register-auth-inf.xml', role: 'client' },
      transport: 'udp',
      localPort: contactPort,
      remote: { host: '127.0.0.1', port: frontEndPort() },
      calls: USER_COUNT,
      rate: 25,
      concurrentLimit: 10,
      timeoutSeconds: SIPP_TIMEOUT_SECONDS,
      recvTimeoutMs: RECV_TIMEOUT_MS,
      keys: { domain: DOMAIN, contact_port: String(contactPort) },
      extraArgs: ['-inf', registerInf, '-auth_uri', DOMAIN],
    });
    assertAllSucceeded(register, USER_COUNT);

    const uas = await startSipp({
      name: `sipp uas x${USER_COUNT}`,
      scenario: { file: 'message-uas.xml', role: 'server' },
      transport: 'udp',
      localPort: contactPort,
      timeoutSeconds: SIPP_TIMEOUT_SECONDS,
    });
    try {
      const message = await runSipp({
        name: `sipp MESSAGE x${USER_COUNT}`,
        scenario: { file: 'message-auth-inf.xml', role: 'client' },
        transport: 'udp',
        localPort: await freePort(),
        remote: { host: '127.0.0.1', port: frontEndPort() },
        calls: USER_COUNT,
        rate: 25,
        concurrentLimit: 10,
        timeoutSeconds: SIPP_TIMEOUT_SECONDS,
        recvTimeoutMs: RECV_TIMEOUT_MS,
        service: target,
        keys: { domain: DOMAIN },
        extraArgs: ['-inf', messageInf, '-auth_uri', `${target}@${DOMAIN}`],
      });
      assertAllSucceeded(message, USER_COUNT);
    } finally {
      const received = await uas.stop();
      const detail = `${describeSummary(received)}\n${received.diagnostics}`;
      assert.equal(received.incomingCalls, USER_COUNT, detail);
      assert.equal(received.failedCalls, 0, detail);
    }
  });
});

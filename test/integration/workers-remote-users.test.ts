// `workers: 2` with the whole deployment: remote users' TLS connections are spread over both
// workers by the kernel (SO_REUSEPORT), and a connection lives in one process. Each worker
// has its own internal port and names it in the Path it gives a REGISTER, so a request from
// inside for a remote user reaches the worker holding that user's connection: every one of
// them gets its MESSAGE (none 430 Flow Failed).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { header } from '../../src/codec/sip/parse.ts';
import { rampartCli, startRampart, type RampartInstance } from '../helpers/rampart.ts';
import { SipUa } from '../helpers/sip-ua.ts';

const REMOTE_USERS = 8;

let rampart: RampartInstance | undefined;
const clients: SipUa[] = [];

before(async () => {
  rampart = await startRampart({
    config: { workers: 2, 'av-edge': { enabled: false }, 'web-services': { enabled: false } },
    startTimeoutMs: 40_000,
  });
  for (const user of [
    'inside',
    ...Array.from({ length: REMOTE_USERS }, (_, i) => `road${String(i)}`),
  ])
    await rampartCli(
      rampart.dataDir,
      'user',
      'add',
      `${user}@example.test`,
      '--password',
      `${user}-pw`,
    );
});

after(async () => {
  for (const client of clients) client.close();
  await rampart?.stop();
});

test('requests from inside reach every remote user, whichever worker holds its connection', async () => {
  assert.ok(rampart !== undefined);
  const ca = await readFile(join(rampart.dataDir, 'tls', 'ca.pem'), 'utf8');
  const edge = rampart.endpoint('access-edge', 'external', 'tls');
  const remote: SipUa[] = [];
  for (let i = 0; i < REMOTE_USERS; i++) {
    const ua = await SipUa.connect({
      host: '127.0.0.1',
      port: edge.port,
      transport: 'tls',
      user: `road${String(i)}`,
      password: `road${String(i)}-pw`,
      ca,
      // Different source addresses: the kernel's SO_REUSEPORT hash spreads them.
      localAddress: `127.0.0.${String(10 + i)}`,
    });
    clients.push(ua);
    remote.push(ua);
    assert.equal((await ua.register()).status, 200, `road${String(i)} REGISTER`);
  }
  const fe = rampart.endpoint('front-end', 'internal', 'tcp');
  const inside = await SipUa.connect({
    host: '127.0.0.1',
    port: fe.port,
    user: 'inside',
    password: 'inside-pw',
  });
  clients.push(inside);
  assert.equal((await inside.register()).status, 200);
  const statuses: number[] = [];
  for (const ua of remote) {
    const received = ua.waitForRequest('MESSAGE', (r) => r.body.toString() === `for ${ua.aor}`);
    const response = await inside.request('MESSAGE', ua.aor, {
      headers: [['Content-Type', 'text/plain']],
      body: `for ${ua.aor}`,
    });
    statuses.push(response.status);
    if (response.status === 200)
      assert.match(header(await received, 'from') ?? '', /sip:inside@example\.test/);
  }
  assert.deepEqual(statuses, Array(REMOTE_USERS).fill(200));
  // Both workers held some of the connections (the test would prove nothing otherwise).
  const admin = rampart.endpoint('admin', 'internal', 'http');
  const status = (await (
    await fetch(`http://127.0.0.1:${String(admin.port)}/api/status`)
  ).json()) as {
    workers: { services: { 'access-edge'?: { connections?: number } } }[];
  };
  const perWorker = status.workers.map((w) => w.services['access-edge']?.connections ?? 0);
  assert.ok(perWorker.filter((n) => n > 0).length === 2, JSON.stringify(perWorker));
});

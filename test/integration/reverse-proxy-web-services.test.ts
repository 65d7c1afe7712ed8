// The all-in-one deployment end to end through its reverse proxy: every web service the proxy
// publishes by default answers through it (address book, DL expansion, meeting content,
// device updates, web access behind the sign-in), unpublished paths are 404, and a large
// address-book file resumes with Range. Nothing here talks to the web services directly.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { rampartCli, startRampart, type RampartInstance } from '../helpers/rampart.ts';

const USERS = 1500;

let rampart: RampartInstance | undefined;
let base = '';
let agent: Agent | undefined;

async function cli(...args: string[]): Promise<string> {
  assert.ok(rampart !== undefined);
  return rampartCli(rampart.dataDir, ...args);
}

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function get(
  path: string,
  options: {
    method?: 'GET' | 'POST' | 'PUT';
    headers?: Record<string, string>;
    body?: string | Buffer;
  } = {},
) {
  const response = await request(`${base}${path}`, {
    method: options.method ?? 'GET',
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(agent === undefined ? {} : { dispatcher: agent }),
  });
  const body = Buffer.from(await response.body.arrayBuffer());
  return { status: response.statusCode, headers: response.headers, body };
}

before(async () => {
  rampart = await startRampart({ config: { 'av-edge': { enabled: false } } });
  // Enough users for an address book over 150 KB.
  const csv = ['address,password,name,email'];
  for (let i = 0; i < USERS; i++)
    csv.push(
      `user${String(i)}@example.test,pw-${String(i)},User Number ${String(i)} with a long display name,user${String(i)}@mail.example.test`,
    );
  const file = join(rampart.dataDir, 'users.csv');
  await writeFile(file, csv.join('\n') + '\n');
  await cli('user', 'import', file);
  await cli('user', 'add', 'alice@example.test', '--password', 'alice-pw', '--name', 'Alice');
  await cli('group', 'add', 'team');
  await cli('group', 'members', 'team', '--add', 'alice@example.test', 'user1@example.test');
  await cli('abs', 'generate');
  const ca = await readFile(join(rampart.dataDir, 'tls', 'ca.pem'), 'utf8');
  agent = new Agent({ connect: { ca } });
  base = `https://127.0.0.1:${String(rampart.endpoint('reverse-proxy', 'external', 'https').port)}`;
});

after(async () => {
  await agent?.close();
  await rampart?.stop();
});

describe('the reverse proxy publishes the web services of the deployment', () => {
  const alice = basic('alice@example.test', 'alice-pw');

  test('address book: index and full file; a large file resumes with Range', async () => {
    assert.equal((await get('/abs/index.json')).status, 401);
    const index = await get('/abs/index.json', { headers: { authorization: alice } });
    assert.equal(index.status, 200);
    const parsed = JSON.parse(index.body.toString()) as {
      full: { name: string; bytes: number; sha256: string; count: number }[];
    };
    const full = parsed.full.at(-1);
    assert.ok(full !== undefined && full.count >= USERS, index.body.toString());
    assert.ok(full.bytes > 150_000, String(full.bytes));
    // A download cut halfway, then resumed from where it stopped.
    const half = Math.floor(full.bytes / 2);
    const first = await get(`/abs/${full.name}`, {
      headers: { authorization: alice, range: `bytes=0-${String(half - 1)}` },
    });
    assert.equal(first.status, 206);
    const etag = String(first.headers.etag);
    const rest = await get(`/abs/${full.name}`, {
      headers: { authorization: alice, range: `bytes=${String(half)}-`, 'if-range': etag },
    });
    assert.equal(rest.status, 206);
    assert.equal(
      rest.headers['content-range'],
      `bytes ${String(half)}-${String(full.bytes - 1)}/${String(full.bytes)}`,
    );
    const whole = Buffer.concat([first.body, rest.body]);
    assert.equal(createHash('sha256').update(whole).digest('hex'), full.sha256);
  });

  test('DL expansion', async () => {
    const team = await get('/dl/team', { headers: { authorization: alice } });
    assert.equal(team.status, 200);
    assert.match(team.body.toString(), /alice@example\.test/);
    assert.match(team.body.toString(), /user1@example\.test/);
    assert.equal((await get('/dl/nope', { headers: { authorization: alice } })).status, 404);
  });

  test('meeting content: the organiser uploads, a participant downloads with the key', async () => {
    const created = await get('/meetings', {
      method: 'POST',
      headers: { authorization: alice, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(created.status, 201, created.body.toString());
    const { meetingId, key } = JSON.parse(created.body.toString()) as {
      meetingId: string;
      key: string;
    };
    const upload = await get(`/meetings/${meetingId}/content/agenda.txt`, {
      method: 'PUT',
      headers: { authorization: alice, 'content-type': 'text/plain' },
      body: 'agenda: federation review',
    });
    assert.ok(upload.status === 200 || upload.status === 201, String(upload.status));
    const without = await get(`/meetings/${meetingId}/content/agenda.txt`);
    assert.equal(without.status, 403);
    const download = await get(
      `/meetings/${meetingId}/content/agenda.txt?key=${encodeURIComponent(key)}`,
    );
    assert.equal(download.status, 200);
    assert.equal(download.body.toString(), 'agenda: federation review');
  });

  test('device updates: a published package is offered and served', async () => {
    assert.ok(rampart !== undefined);
    const file = join(rampart.dataDir, 'fw.bin');
    await writeFile(file, Buffer.alloc(4096, 7));
    await cli('updates', 'publish', 'phone-x', '2.0.0', file);
    const check = await get('/updates/check', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'phone-x', version: '1.0.0' }),
    });
    assert.equal(check.status, 200);
    const offer = JSON.parse(check.body.toString()) as { update: string };
    assert.notEqual(offer.update, 'none');
    const path = new URL(offer.update, base).pathname;
    const part = await get(path, { headers: { range: 'bytes=0-99' } });
    assert.equal(part.status, 206);
    assert.equal(part.body.length, 100);
  });

  test('web access needs the sign-in; unpublished paths are 404', async () => {
    const page = await get('/webaccess/');
    assert.equal(page.status, 303);
    assert.match(String(page.headers.location), /^\/signin\?return=/);
    for (const path of ['/', '/admin', '/metrics', '/auth/verify', '/abs-extra', '/..%2fmetrics'])
      assert.ok([400, 404].includes((await get(path)).status), path);
    assert.equal((await get('/auth/verify')).status, 404);
  });
});

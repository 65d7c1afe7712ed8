// The web services' other features end to end over real HTTPS on 127.0.0.1 with a real
// SQLite directory: DL expansion, device updates (with `rampart updates publish`), meeting
// content, and the reverse proxy's /auth/verify.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { parseConfig } from '../../src/config/index.ts';
import type { RunningService } from '../../src/lib/endpoint.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { startWebServices } from '../../src/services/web-services/index.ts';
import type { Directory } from '../../src/store/directory.ts';
import { openDirectory } from '../../src/store/open-directory.ts';
import { loadTlsMaterial, type TlsMaterial } from '../../src/store/tls-material.ts';

const BIN = new URL('../../bin/rampart.mjs', import.meta.url).pathname;
const run = promisify(execFile);

interface Response {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  json(): Record<string, unknown>;
}

const basic = (user: string, password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});
const alice = basic('alice@example.test', 'alice-pw');
const bob = basic('bob@example.test', 'bob-pw');

describe('web services: DL expansion, device updates, meeting content, /auth/verify', () => {
  let root: string;
  let dataDir: string;
  let tls: TlsMaterial;
  let directory: Directory;
  let service: RunningService;
  let base: string;
  let plain: Agent;
  let proxy: Agent;

  const call = async (
    method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD',
    path: string,
    options: { headers?: Record<string, string>; body?: Buffer | string; via?: Agent } = {},
  ): Promise<Response> => {
    const response = await request(`${base}${path}`, {
      method,
      dispatcher: options.via ?? plain,
      headers: options.headers ?? {},
      ...(options.body === undefined ? {} : { body: options.body }),
    });
    const body = Buffer.from(await response.body.arrayBuffer());
    return {
      status: response.statusCode,
      headers: response.headers,
      body,
      json: () => JSON.parse(body.toString()) as Record<string, unknown>,
    };
  };
  const json = (value: unknown): { headers: Record<string, string>; body: string } => ({
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(value),
  });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'rampart-web-features-'));
    dataDir = join(root, 'data');
    const config = parseConfig(
      [
        'web-services:',
        '  port: 0',
        '  abs: { dailyAt: null }',
        '  dl: { maxMembers: 5 }',
        '  meetings: { maxFileBytes: 65536, maxFilesPerMeeting: 3 }',
        '  auth: { maxFailures: 3, windowSeconds: 60, lockSeconds: 30 }',
        '',
      ].join('\n'),
    );
    assert.ok(config.ok);
    tls = await loadTlsMaterial({
      dataDir,
      certFile: null,
      keyFile: null,
      caFile: null,
      names: ['localhost', '127.0.0.1'],
    });
    directory = await openDirectory(config.value.directory, dataDir);
    const users = ['alice', 'bob', 'carol', 'dan', 'erin', 'frank', 'grace', 'off'];
    await directory.addUsers(
      users.map((name) => ({
        address: `${name}@example.test`,
        password: `${name}-pw`,
        displayName: name.charAt(0).toUpperCase() + name.slice(1),
        email: `${name}@mail.example.test`,
        enabled: name !== 'off',
      })),
    );
    // all → eng, ops, alice; eng → bob, core; ops → carol, core; core → dan, eng (a cycle).
    for (const group of ['all', 'eng', 'ops', 'core', 'big', 'loop'])
      await directory.addGroup(group);
    const add = async (group: string, ...members: string[]): Promise<void> => {
      for (const member of members) await directory.addMember(group, member);
    };
    await add('all', 'eng', 'ops', 'alice@example.test', 'off@example.test');
    await add('eng', 'bob@example.test', 'core');
    await add('ops', 'carol@example.test', 'core');
    await add('core', 'dan@example.test', 'eng');
    await add('big', 'all', 'erin@example.test', 'frank@example.test');
    await add('loop', 'loop', 'grace@example.test');
    service = await startWebServices({
      config: config.value['web-services'],
      dataDir,
      directory,
      tls,
      logger: silentLogger,
      registry: new Registry(),
    });
    base = `https://127.0.0.1:${String(service.endpoints[0]?.port)}`;
    plain = new Agent({ connect: { ca: tls.ca } });
    proxy = new Agent({ connect: { ca: tls.ca, cert: tls.cert, key: tls.key } });
  });
  after(async () => {
    await service.close(Date.now() + 2000);
    await directory.close();
    await Promise.all([plain.close(), proxy.close()]);
    tls.close();
    await rm(root, { recursive: true, force: true });
  });

  test('DL expansion: nested lists, a cycle, disabled users left out, the size bound', async () => {
    const all = await call('GET', '/dl/all', { headers: alice });
    assert.equal(all.status, 200);
    const body = all.json();
    assert.deepEqual(body.members, [
      { sipUri: 'sip:alice@example.test', displayName: 'Alice', email: 'alice@mail.example.test' },
      { sipUri: 'sip:bob@example.test', displayName: 'Bob', email: 'bob@mail.example.test' },
      { sipUri: 'sip:carol@example.test', displayName: 'Carol', email: 'carol@mail.example.test' },
      { sipUri: 'sip:dan@example.test', displayName: 'Dan', email: 'dan@mail.example.test' },
    ]);
    assert.deepEqual(body.cycles, [['eng', 'core', 'eng']]);
    const loop = (await call('GET', '/dl/loop', { headers: alice })).json();
    assert.deepEqual(loop.cycles, [['loop', 'loop']]);
    assert.equal((loop.members as unknown[]).length, 1);
    // 7 users (off counts toward the bound: it is a member) > maxMembers 5.
    const big = await call('GET', '/dl/big', { headers: alice });
    assert.equal(big.status, 413);
    assert.equal(big.json().error, 'too-large');
    assert.equal((await call('GET', '/dl/nope', { headers: alice })).status, 404);
    assert.equal((await call('GET', '/dl/all')).status, 401);
    const asserted = { 'x-rampart-user': 'sip:alice@example.test' };
    assert.equal((await call('GET', '/dl/all', { headers: asserted })).status, 401);
    assert.equal((await call('GET', '/dl/all', { headers: asserted, via: proxy })).status, 200);
  });

  test('device updates: rampart updates publish, check, download with Range', async () => {
    const pkg = randomBytes(300_000);
    const file = join(root, 'firmware.img');
    await writeFile(file, pkg);
    const cli = (...args: string[]) =>
      run(process.execPath, [BIN, 'updates', ...args, '--data-dir', dataDir], { timeout: 60_000 });
    assert.match(
      (await cli('publish', 'CX600', '4.0.2', file)).stdout,
      /^published CX600 4\.0\.2 as /,
    );
    await writeFile(join(root, 'beta.img'), randomBytes(10));
    assert.match(
      (await cli('publish', 'CX600', '5.0', join(root, 'beta.img'), '--no-approve')).stdout,
      /not approved/,
    );
    const listed = JSON.parse((await cli('list', '--json')).stdout) as {
      file: string;
      version: string;
    }[];
    assert.deepEqual(
      listed.map((p) => p.version),
      ['4.0.2', '5.0'],
    );

    const check = await call('POST', '/updates/check', json({ model: 'cx600', version: '4.0.1' }));
    assert.equal(check.status, 200);
    const offer = check.json();
    assert.equal(offer.version, '4.0.2');
    assert.equal(offer.bytes, pkg.length);
    const url = new URL(String(offer.update));
    assert.equal(url.origin, base);
    const whole = await call('GET', url.pathname);
    assert.deepEqual(whole.body, pkg);
    const tail = await call('GET', url.pathname, { headers: { range: 'bytes=200000-' } });
    assert.equal(tail.status, 206);
    assert.equal(tail.headers['content-range'], `bytes 200000-299999/${String(pkg.length)}`);
    assert.deepEqual(tail.body, pkg.subarray(200_000));
    assert.equal(
      (await call('GET', url.pathname, { headers: { range: 'bytes=400000-' } })).status,
      416,
    );
    const current = await call(
      'POST',
      '/updates/check',
      json({ model: 'CX600', version: '4.0.2' }),
    );
    assert.deepEqual(current.json(), { update: 'none' });
    assert.deepEqual(
      (await call('POST', '/updates/check', json({ model: 'other', version: '1' }))).json(),
      { update: 'none' },
    );
    assert.equal(
      (await call('POST', '/updates/check', json({ model: '../x', version: '1' }))).status,
      400,
    );
    const hidden = listed.find((p) => p.version === '5.0');
    assert.equal((await call('GET', `/updates/files/${hidden?.file ?? ''}`)).status, 404);
  });

  test('meeting content: organiser uploads, participants download with the key, limits', async () => {
    const created = await call('POST', '/meetings', {
      headers: { ...alice, ...json({}).headers },
      body: '{}',
    });
    assert.equal(created.status, 201);
    const { meetingId, key } = created.json() as { meetingId: string; key: string };
    const path = `/meetings/${meetingId}/content`;
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(40_000)]);
    const put = (name: string, type: string, body: Buffer, who = alice) =>
      call('PUT', `${path}/${name}`, { headers: { ...who, 'content-type': type }, body });

    assert.equal((await put('slides.pdf', 'application/pdf', pdf)).status, 201);
    assert.equal(
      (await put('x.pdf', 'application/pdf', pdf, bob)).status,
      403,
      'not the organiser',
    );
    assert.equal((await call('PUT', `${path}/y.pdf`, { body: pdf })).status, 401);
    const html = Buffer.from('<html><script>alert(1)</script></html>');
    const disguised = await put('evil.pdf', 'application/pdf', html);
    assert.equal(disguised.status, 415);
    assert.equal(disguised.json().error, 'content-mismatch');
    assert.equal((await put('page.html', 'text/html', html)).status, 415);
    const tooBig = await put(
      'big.pdf',
      'application/pdf',
      Buffer.concat([pdf, randomBytes(30_000)]),
    );
    assert.equal(tooBig.status, 413);
    assert.equal((await put('../x', 'application/pdf', pdf)).status, 404);
    assert.equal(
      (await put('notes.txt', 'text/plain; charset=utf-8', Buffer.from('agenda\n'))).status,
      201,
    );

    const withKey = { 'x-rampart-conference-key': key };
    const list = await call('GET', path, { headers: withKey });
    assert.deepEqual(
      (list.json().files as { name: string }[]).map((f) => f.name),
      ['slides.pdf', 'notes.txt'],
    );
    const download = await call('GET', `${path}/slides.pdf`, { headers: withKey });
    assert.equal(download.status, 200);
    assert.deepEqual(download.body, pdf);
    assert.equal(download.headers['content-type'], 'application/pdf');
    assert.equal(download.headers['x-content-type-options'], 'nosniff');
    assert.match(
      String(download.headers['content-disposition']),
      /^attachment; filename="slides.pdf"/,
    );
    const ranged = await call('GET', `${path}/slides.pdf?key=${encodeURIComponent(key)}`, {
      headers: { range: 'bytes=0-4' },
    });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.body.toString(), '%PDF-');
    assert.equal((await call('GET', `${path}/slides.pdf`)).status, 403, 'no key');
    assert.equal(
      (
        await call('GET', `${path}/slides.pdf`, {
          headers: { 'x-rampart-conference-key': 'guess' },
        })
      ).status,
      403,
    );
    assert.equal(
      (await call('GET', `/meetings/${'0'.repeat(32)}/content`, { headers: withKey })).status,
      404,
    );

    // maxFilesPerMeeting 3: a third file fits, a fourth does not; replacing one does.
    assert.equal((await put('c.txt', 'text/plain', Buffer.from('c'))).status, 201);
    assert.equal((await put('d.txt', 'text/plain', Buffer.from('d'))).status, 409);
    assert.equal((await put('c.txt', 'text/plain', Buffer.from('c2'))).status, 201);
    assert.equal((await call('DELETE', `${path}/c.txt`, { headers: bob })).status, 403);
    assert.equal((await call('DELETE', `${path}/c.txt`, { headers: alice })).status, 204);
    assert.equal((await call('GET', `${path}/c.txt`, { headers: withKey })).status, 404);

    const own = await call('POST', '/meetings', {
      headers: { ...bob, ...json({}).headers },
      body: JSON.stringify({ key: 'a-conference-key-from-the-focus' }),
    });
    assert.equal(own.json().key, 'a-conference-key-from-the-focus');
  });

  test('/auth/verify: client certificate required; failures lock the user out', async () => {
    const verify = (user: string, password: string, via = proxy) =>
      call('POST', '/auth/verify', { ...json({ user, password }), via });
    assert.equal((await verify('alice@example.test', 'alice-pw', plain)).status, 403);
    const good = await verify('sip:alice@example.test', 'alice-pw');
    assert.equal(good.status, 200);
    assert.deepEqual(good.json(), { sipUri: 'sip:alice@example.test', displayName: 'Alice' });
    assert.equal((await verify('off@example.test', 'off-pw')).status, 401, 'disabled');
    assert.equal((await verify('nobody@example.test', 'x')).status, 401);
    for (let i = 0; i < 3; i++)
      assert.equal((await verify('carol@example.test', 'wrong')).status, 401);
    const locked = await verify('carol@example.test', 'carol-pw');
    assert.equal(locked.status, 429, 'locked even with the right password');
    assert.ok(Number(locked.headers['retry-after']) > 0);
    assert.equal(
      (await call('GET', '/dl/all', { headers: basic('carol@example.test', 'carol-pw') })).status,
      429,
    );
    assert.equal((await verify('alice@example.test', 'alice-pw')).status, 200, 'others unaffected');
    assert.equal(
      (await call('POST', '/auth/verify', { ...json({ user: 1 }), via: proxy })).status,
      400,
    );
  });
});

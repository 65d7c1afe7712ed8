// The web services' address book end to end: real HTTPS on 127.0.0.1 (port 0), a real SQLite
// directory in a temporary data directory, the real `rampart abs generate|fetch` commands.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { parseConfig } from '../../src/config/index.ts';
import type { RunningService } from '../../src/lib/endpoint.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { syncAddressBook, LOCAL_BOOK } from '../../src/services/web-services/abs/client.ts';
import { readAbsIndex } from '../../src/services/web-services/abs/generate.ts';
import { parseFull } from '../../src/services/web-services/abs/format.ts';
import { startWebServices } from '../../src/services/web-services/index.ts';
import type { Directory } from '../../src/store/directory.ts';
import { openDirectory } from '../../src/store/open-directory.ts';
import {
  createCertificateAuthority,
  issueCertificate,
  loadTlsMaterial,
  type TlsMaterial,
} from '../../src/store/tls-material.ts';

const BIN = new URL('../../bin/rampart.mjs', import.meta.url).pathname;
const run = promisify(execFile);

interface Response {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

describe('web services: address book', () => {
  let root: string;
  let dataDir: string;
  let tls: TlsMaterial;
  let directory: Directory;
  let service: RunningService;
  let base: string;
  let proxy: Agent;
  let plain: Agent;
  let rogue: Agent;
  const basic = (user: string, password: string): string =>
    `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const bob = { authorization: basic('bob@example.test', 'bob-pw') };

  const get = async (
    path: string,
    headers: Record<string, string> = {},
    dispatcher: Agent = plain,
    method: 'GET' | 'HEAD' = 'GET',
  ): Promise<Response> => {
    const response = await request(`${base}${path}`, { dispatcher, headers, method });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: Buffer.from(await response.body.arrayBuffer()),
    };
  };
  const cli = async (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
    run(process.execPath, [BIN, ...args, '--data-dir', dataDir], {
      timeout: 60_000,
      env: { ...process.env, RAMPART_PASSWORD: 'bob-pw' },
    });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'rampart-web-abs-'));
    dataDir = join(root, 'data');
    const config = parseConfig('web-services: { port: 0, abs: { dailyAt: null } }\n');
    assert.ok(config.ok);
    tls = await loadTlsMaterial({
      dataDir,
      certFile: null,
      keyFile: null,
      caFile: null,
      names: ['localhost', '127.0.0.1'],
    });
    directory = await openDirectory(config.value.directory, dataDir);
    await directory.addUsers([
      { address: 'alice@example.test', password: 'alice-pw', displayName: 'Alice' },
      { address: 'bob@example.test', password: 'bob-pw', email: 'bob@example.test' },
      { address: 'carol@example.test', password: 'carol-pw', displayName: 'Carol' },
      { address: 'off@example.test', password: 'x', enabled: false },
    ]);
    service = await startWebServices({
      config: config.value['web-services'],
      dataDir,
      directory,
      tls,
      logger: silentLogger,
      registry: new Registry(),
    });
    const endpoint = service.endpoints[0];
    assert.ok(endpoint);
    assert.deepEqual(
      { ...endpoint, port: 0 },
      { service: 'web-services', side: 'internal', transport: 'https', host: '127.0.0.1', port: 0 },
    );
    base = `https://127.0.0.1:${String(endpoint.port)}`;
    plain = new Agent({ connect: { ca: tls.ca } });
    proxy = new Agent({ connect: { ca: tls.ca, cert: tls.cert, key: tls.key } });
    const otherCa = await createCertificateAuthority('Not the deployment CA');
    const otherCert = await issueCertificate(otherCa, ['proxy.example.test'], { client: true });
    rogue = new Agent({ connect: { ca: tls.ca, cert: otherCert.cert, key: otherCert.key } });
    // The first start generates the first address book on its own.
    const deadline = Date.now() + 10_000;
    while ((await readAbsIndex(join(dataDir, 'web-services', 'abs'))) === undefined) {
      assert.ok(Date.now() < deadline, 'no address book generated at start');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  after(async () => {
    await service.close(Date.now() + 2000);
    await directory.close();
    await Promise.all([plain.close(), proxy.close(), rogue.close()]);
    tls.close();
    await rm(root, { recursive: true, force: true });
  });

  test('who may read: Basic or a proxied user; X-Rampart-User is ignored without the CA client certificate', async () => {
    const none = await get('/abs/index.json');
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Basic realm="Rampart"/);
    const asserted = { 'x-rampart-user': 'sip:alice@example.test' };
    assert.equal((await get('/abs/index.json', asserted)).status, 401, 'no client certificate');
    assert.equal((await get('/abs/index.json', asserted, rogue)).status, 401, 'another CA');
    assert.equal((await get('/abs/index.json', asserted, proxy)).status, 200, 'the proxy');
    assert.equal(
      (await get('/abs/index.json', { 'x-rampart-user': 'sip:off@example.test' }, proxy)).status,
      403,
      'a disabled user, even through the proxy',
    );
    assert.equal((await get('/abs/index.json', bob)).status, 200);
    const wrong = await get('/abs/index.json', { authorization: basic('bob@example.test', 'no') });
    assert.equal(wrong.status, 401);
    assert.equal(
      (await get('/abs/index.json', { authorization: basic('off@example.test', 'x') })).status,
      401,
      'a disabled user with the right password',
    );
  });

  test('full file: gzip twin, ETag, 304, Range 206 and 416, HEAD', async () => {
    const index = JSON.parse((await get('/abs/index.json', bob)).body.toString()) as {
      latest: string;
      full: { name: string; sha256: string; bytes: number; gzipBytes: number; count: number }[];
    };
    const file = index.full.at(-1);
    assert.ok(file);
    assert.equal(file.count, 3, 'enabled users only');
    const identity = await get(`/abs/${file.name}`, bob);
    assert.equal(identity.status, 200);
    assert.equal(identity.headers['content-encoding'], undefined);
    assert.equal(identity.body.length, file.bytes);
    assert.equal(identity.headers['cache-control'], 'private, max-age=31536000, immutable');
    const parsed = parseFull(identity.body.toString());
    assert.ok(parsed.ok);
    assert.deepEqual(
      parsed.value.entries.map((e) => e.sipUri),
      ['sip:alice@example.test', 'sip:bob@example.test', 'sip:carol@example.test'],
    );
    const gz = await get(`/abs/${file.name}`, { ...bob, 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers.vary, 'Accept-Encoding');
    assert.equal(gz.body.length, file.gzipBytes);
    assert.deepEqual(gunzipSync(gz.body), identity.body);
    const etag = String(identity.headers.etag);
    assert.notEqual(etag, String(gz.headers.etag), 'each representation has its own tag');
    const cached = await get(`/abs/${file.name}`, { ...bob, 'if-none-match': etag });
    assert.equal(cached.status, 304);
    assert.equal(cached.body.length, 0);
    const since = await get(`/abs/${file.name}`, {
      ...bob,
      'if-modified-since': String(identity.headers['last-modified']),
    });
    assert.equal(since.status, 304);
    const part = await get(`/abs/${file.name}`, { ...bob, range: 'bytes=10-19' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 10-19/${String(file.bytes)}`);
    assert.deepEqual(part.body, identity.body.subarray(10, 20));
    const beyond = await get(`/abs/${file.name}`, {
      ...bob,
      range: `bytes=${String(file.bytes)}-`,
    });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers['content-range'], `bytes */${String(file.bytes)}`);
    const head = await get(`/abs/${file.name}`, bob, plain, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(file.bytes));
    assert.equal(head.body.length, 0);
    assert.equal((await get('/abs/abs-full-..%2Findex.json', bob)).status, 404);
    assert.equal((await get('/abs/abs-full-2020-01-01T000000Z.ndjson', bob)).status, 404);
  });

  test('rampart abs fetch keeps a local copy current across a change in the directory', async () => {
    const local = join(root, 'client');
    const url = ['--url', base, '--dir', local, '--user', 'bob@example.test'];
    const first = await cli('abs', 'fetch', ...url);
    assert.match(first.stdout, /3 entries, full file downloaded/);
    const again = await cli('abs', 'fetch', ...url);
    assert.match(again.stdout, /already current/);

    await directory.addUser({ address: 'dave@example.test', password: 'd', displayName: 'Dave' });
    await directory.updateUser('alice@example.test', { displayName: 'Alice Liddell' });
    await directory.removeUser('carol@example.test');
    const generated = await cli('abs', 'generate');
    // The first full file of the day gives way to this one (one full file per day is kept).
    assert.match(
      generated.stdout,
      /^generated \S+ \(serial 2, 3 entries; delta \+1 ~1 -1; 1 old files removed\)/,
    );
    assert.match((await cli('abs', 'generate')).stdout, /^unchanged/);

    const updated = await cli('abs', 'fetch', ...url);
    assert.match(updated.stdout, /3 entries, 1 delta\(s\) applied/);
    const book = parseFull(await readFile(join(local, LOCAL_BOOK), 'utf8'));
    assert.ok(book.ok);
    assert.deepEqual(book.value.entries, [
      { sipUri: 'sip:alice@example.test', displayName: 'Alice Liddell', email: null },
      { sipUri: 'sip:bob@example.test', displayName: null, email: 'bob@example.test' },
      { sipUri: 'sip:dave@example.test', displayName: 'Dave', email: null },
    ]);
    // What the deltas built is what the server's newest full file says.
    const index = await readAbsIndex(join(dataDir, 'web-services', 'abs'));
    assert.ok(index);
    const newest = await get(`/abs/${index.full.at(-1)?.name ?? ''}`, bob);
    const server = parseFull(newest.body.toString());
    assert.ok(server.ok);
    assert.deepEqual(server.value.entries, book.value.entries);
    assert.equal(index.deltas.length, 1);

    const refused = await run(
      process.execPath,
      [BIN, 'abs', 'fetch', ...url, '--data-dir', dataDir],
      {
        env: { ...process.env, RAMPART_PASSWORD: 'wrong' },
      },
    ).catch((error: unknown) => error as { code: number; stderr: string });
    assert.ok('code' in refused);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /HTTP 401/);
  });

  test('a large full file: Range in two halves, and a broken download resumed by the client', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => ({
      address: `user${String(i).padStart(5, '0')}@example.test`,
      password: 'p',
      displayName: `User number ${String(i)} of the big organisation`,
      email: `user${String(i)}@mail.example.test`,
    }));
    await directory.addUsers(many);
    const generated = await cli('abs', 'generate');
    assert.match(generated.stdout, /20003 entries; delta \+20000 ~0 -0/);
    const index = await readAbsIndex(join(dataDir, 'web-services', 'abs'));
    const file = index?.full.at(-1);
    assert.ok(file && file.count === 20_003);
    assert.ok(file.bytes > 1_000_000, `plain ${String(file.bytes)} bytes`);
    const gzip = { ...bob, 'accept-encoding': 'gzip' };
    const whole = await get(`/abs/${file.name}`, gzip);
    const half = Math.floor(file.gzipBytes / 2);
    const first = await get(`/abs/${file.name}`, { ...gzip, range: `bytes=0-${String(half - 1)}` });
    const rest = await get(`/abs/${file.name}`, {
      ...gzip,
      range: `bytes=${String(half)}-`,
      'if-range': String(whole.headers.etag),
    });
    assert.equal(first.status, 206);
    assert.equal(rest.status, 206);
    assert.deepEqual(Buffer.concat([first.body, rest.body]), whole.body);
    const stale = await get(`/abs/${file.name}`, {
      ...gzip,
      range: 'bytes=5-',
      'if-range': '"old"',
    });
    assert.equal(stale.status, 200, 'If-Range with another tag: the whole file');

    // A client whose earlier download broke at half-way.
    const local = join(root, 'resume');
    await rm(local, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(local, { recursive: true }));
    await writeFile(join(local, `${file.name}.gz.part`), whole.body.subarray(0, half));
    await writeFile(join(local, `${file.name}.gz.part.etag`), String(whole.headers.etag));
    const report = await syncAddressBook({
      baseUrl: base,
      dir: local,
      ca: tls.ca,
      user: 'bob@example.test',
      password: 'bob-pw',
    });
    assert.equal(report.outcome, 'full');
    assert.equal(report.resumedFrom, half);
    assert.equal(report.count, 20_003);
    assert.ok(report.receivedBytes < file.gzipBytes, `received ${String(report.receivedBytes)}`);
    const book = await readFile(join(local, LOCAL_BOOK));
    assert.deepEqual(book, (await get(`/abs/${file.name}`, bob)).body);
  });
});

// The `rampart` command, run as a user runs it: bin/rampart.mjs on the pinned Node.js.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoint } from '../../src/lib/endpoint.ts';

const BIN = new URL('../../bin/rampart.mjs', import.meta.url).pathname;

function run(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function waitFor(path: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > until) throw new Error(`${path} did not appear`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('rampart CLI', () => {
  test('--version prints the package version', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    const result = run(['--version']);
    assert.equal(result.status, 0);
    assert.equal(result.stdout.trim(), pkg.version);
  });

  test('config example passes config check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rampart-cli-'));
    try {
      const example = run(['config', 'example']);
      assert.equal(example.status, 0);
      const file = join(dir, 'rampart.yaml');
      writeFileSync(file, example.stdout);
      const check = run(['config', 'check', file]);
      assert.equal(check.status, 0, check.stderr);
      assert.match(check.stdout, /configuration OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a bad configuration exits 78 and names the key and the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rampart-cli-'));
    try {
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, 'domains: [a.test]\nadmin:\n  prot: 8080\n');
      const result = run(['config', 'check', file]);
      assert.equal(result.status, 78);
      assert.match(result.stderr, /bad\.yaml:3:3 admin\.prot: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a wrong type is reported with its key path and line, via --config too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rampart-cli-'));
    try {
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, '# comment\naccess-edge:\n  external:\n    tls: "fivethousand"\n');
      const result = run(['config', 'check', '--config', file]);
      assert.equal(result.status, 78);
      assert.match(result.stderr, /bad\.yaml:4:\d+ access-edge\.external\.tls: /);
      assert.equal(run(['start', '--config', file, '--data-dir', dir]).status, 78);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('configured certificate files that do not exist are a configuration error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rampart-cli-'));
    try {
      const file = join(dir, 'tls.yaml');
      writeFileSync(file, `tls:\n  certFile: ${dir}/nope.pem\n  keyFile: ${dir}/nope-key.pem\n`);
      const result = run(['config', 'check', file]);
      assert.equal(result.status, 78);
      assert.match(result.stderr, /nope/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('usage errors exit 2: unknown command, unknown option, no command', () => {
    assert.equal(run(['frobnicate']).status, 2);
    assert.equal(run(['start', '--no-such-option']).status, 2);
    assert.equal(run([]).status, 2);
    assert.equal(run(['--help']).status, 0);
  });

  test('start exits 1 when a listener cannot bind', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rampart-cli-'));
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const file = join(dataDir, 'busy.yaml');
      const port = (busy.address() as AddressInfo).port;
      writeFileSync(file, `admin: { port: ${port} }\naccess-edge: { enabled: false }\n`);
      const result = run(['start', '--config', file, '--data-dir', dataDir]);
      assert.equal(result.status, 1, result.stderr);
      assert.match(result.stderr, /EADDRINUSE/);
      assert.ok(!existsSync(join(dataDir, 'endpoints.json')));
    } finally {
      busy.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('start binds ephemeral ports, writes endpoints.json, serves admin, stops on SIGTERM with 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rampart-cli-'));
    const child = spawn(
      process.execPath,
      [BIN, 'start', '--ephemeral-ports', '--data-dir', dataDir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitFor(join(dataDir, 'endpoints.json'), 20_000);
      const endpoints = JSON.parse(
        readFileSync(join(dataDir, 'endpoints.json'), 'utf8'),
      ) as Endpoint[];
      const transports = (side: string): string[] =>
        endpoints
          .filter((e) => e.service === 'access-edge' && e.side === side)
          .map((e) => e.transport)
          .sort();
      assert.deepEqual(transports('external'), ['tcp', 'tls', 'udp', 'ws', 'wss']);
      // The mutual-TLS listener toward the Director (remote-user policy on).
      assert.deepEqual(transports('internal'), ['tls']);
      const admin = endpoints.find((e) => e.service === 'admin');
      assert.ok(admin && admin.port > 0 && admin.transport === 'http');
      const base = `http://${admin.host}:${admin.port}`;
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      assert.equal((await fetch(`${base}/nope`)).status, 404);
      assert.equal((await fetch(`${base}/healthz`, { method: 'POST' })).status, 405);
      const status = (await (await fetch(`${base}/api/status`)).json()) as {
        endpoints: Endpoint[];
        services: Record<string, unknown>;
      };
      assert.equal(status.endpoints.length, endpoints.length);
      assert.ok('access-edge' in status.services);
      assert.match(await (await fetch(`${base}/metrics`)).text(), /rampart_sip_messages_total/);
      assert.ok(existsSync(join(dataDir, 'tls', 'ca.pem')));
      assert.match(stdout, /access-edge\s+external\s+tls/);
      assert.ok(stdout.includes(join(dataDir, 'tls', 'ca.pem')), 'the CA path is printed');
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FederationStore } from './federation-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'rampart-federation-store-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('allow, block and remove; one entry per domain, the latest word wins', () => {
  const store = new FederationStore(join(dir, 'lists.sqlite'));
  store.allow('B.example', { edge: 'sip.b.example', port: 5062, verification: 'throttled' });
  store.block('c.example');
  assert.deepEqual(
    store.list().map((e) => [e.action, e.domain]),
    [
      ['allow', 'b.example'],
      ['block', 'c.example'],
    ],
  );
  const b = store.list()[0];
  assert.ok(b?.action === 'allow');
  assert.equal(b.edge, 'sip.b.example');
  assert.equal(b.port, 5062);
  assert.equal(b.verification, 'throttled');
  store.block('b.example');
  assert.equal(store.list()[0]?.action, 'block');
  assert.equal(store.remove('b.example'), true);
  assert.equal(store.remove('b.example'), false);
  assert.deepEqual(
    store.list().map((e) => e.domain),
    ['c.example'],
  );
  store.close();
  store.close();
});

test("another process's change shows in data_version; one's own does not", () => {
  const path = join(dir, 'shared.sqlite');
  const edge = new FederationStore(path);
  const cli = new FederationStore(path);
  const before = edge.version();
  edge.allow('own.example');
  assert.equal(edge.version(), before);
  cli.block('b.example');
  assert.notEqual(edge.version(), before);
  assert.equal(edge.list().find((e) => e.domain === 'b.example')?.action, 'block');
  edge.close();
  cli.close();
});

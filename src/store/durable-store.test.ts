import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDurableStore, SqliteDurableStore, type DurableStore } from './durable-store.ts';

async function contract(store: DurableStore): Promise<void> {
  await store.put('binding', 'b1', { aor: 'sip:alice@example.test', q: 1 });
  await store.put('binding', 'b2', { aor: 'sip:bob@example.test' });
  await store.put('contacts', 'b1', { other: true });
  assert.deepEqual(await store.get('binding', 'b1'), { aor: 'sip:alice@example.test', q: 1 });
  await store.put('binding', 'b1', { aor: 'sip:alice@example.test', q: 0.5 });
  assert.deepEqual(await store.get('binding', 'b1'), { aor: 'sip:alice@example.test', q: 0.5 });
  const ids = (await store.list('binding')).map((d) => d.id).sort();
  assert.deepEqual(ids, ['b1', 'b2']);
  await store.delete('binding', 'b1');
  await store.delete('binding', 'absent');
  assert.equal(await store.get('binding', 'b1'), undefined);
  assert.deepEqual(await store.get('contacts', 'b1'), { other: true });
}

test('memory store keeps documents by kind and id', async () => {
  await contract(new MemoryDurableStore());
});

test('sqlite store keeps documents across reopening', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-durable-'));
  try {
    const path = join(dir, 'state.sqlite');
    const store = new SqliteDurableStore(path);
    await contract(store);
    await store.close();
    const again = new SqliteDurableStore(path);
    assert.deepEqual(await again.get('binding', 'b2'), { aor: 'sip:bob@example.test' });
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

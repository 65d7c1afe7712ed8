import { test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import type { Worker } from 'node:worker_threads';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
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

test('sqlite store: writes of one tick commit together; reads and close see them first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-durable-'));
  try {
    const path = join(dir, 'state.sqlite');
    const store = new SqliteDurableStore(path);
    // Not awaited one by one: a registration burst.
    const writes = Array.from({ length: 500 }, (_, i) =>
      store.put('binding', `b${String(i)}`, { n: i }),
    );
    const removed = store.delete('binding', 'b7');
    // A read in the same tick already sees them.
    assert.deepEqual(await store.get('binding', 'b499'), { n: 499 });
    assert.equal(await store.get('binding', 'b7'), undefined);
    await Promise.all([...writes, removed]);
    assert.equal((await store.list('binding')).length, 499);
    // Pending writes reach the file when the store closes.
    void store.put('binding', 'last', { n: -1 });
    await store.close();
    const again = new SqliteDurableStore(path);
    assert.deepEqual(await again.get('binding', 'last'), { n: -1 });
    assert.equal((await again.list('binding')).length, 500);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite store: group commit — writes soon after a commit wait and share the next one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-durable-'));
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  try {
    const path = join(dir, 'state.sqlite');
    // Without a window, each turn of the event loop commits its own writes.
    const eager = new SqliteDurableStore(path, { minCommitIntervalMs: 0 });
    const eagerWrites: Promise<void>[] = [];
    for (let i = 0; i < 10; i += 1) {
      eagerWrites.push(eager.put('binding', `e${String(i)}`, { n: i }));
      await turn();
    }
    await Promise.all(eagerWrites);
    assert.equal(eager.commits, 10);
    await eager.close();
    // With a window far longer than ten turns: the first turn commits at once, the other
    // nine wait for the window and commit together.
    const grouped = new SqliteDurableStore(path, { minCommitIntervalMs: 300 });
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 10; i += 1) {
      writes.push(grouped.put('binding', `g${String(i)}`, { n: i }));
      await turn();
    }
    assert.equal(grouped.commits, 1);
    await Promise.all(writes);
    assert.equal(grouped.commits, 2);
    // A read does not wait for the window: it commits what is pending first.
    void grouped.put('binding', 'read-me', { n: 99 });
    await turn();
    void grouped.put('binding', 'read-me-too', { n: 100 });
    assert.deepEqual(await grouped.get('binding', 'read-me-too'), { n: 100 });
    assert.equal(grouped.commits, 3);
    await grouped.close();
    const again = new SqliteDurableStore(path);
    assert.equal((await again.list('binding')).length, 22);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite store: the file has one owner while open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-durable-'));
  try {
    const path = join(dir, 'state.sqlite');
    const store = new SqliteDurableStore(path);
    await store.put('binding', 'b1', { n: 1 });
    // A second server on the same data directory is refused.
    assert.throws(() => new SqliteDurableStore(path), /in use by another process/);
    await store.close();
    await store.close();
    // Closed, the ownership is gone, and everything is in the database file.
    const after = new DatabaseSync(path);
    assert.deepEqual({ ...after.prepare('SELECT count(*) AS n FROM documents').get() }, { n: 1 });
    after.close();
    const again = new SqliteDurableStore(path);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite store: the WAL is checkpointed off the event loop, into the database file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-durable-'));
  try {
    const path = join(dir, 'state.sqlite');
    const store = new SqliteDurableStore(path, { checkpointIntervalMs: 50 });
    const before = statSync(path).size;
    const text = 'x'.repeat(1000);
    await Promise.all(
      Array.from({ length: 2000 }, (_, i) => store.put('binding', `b${String(i)}`, { text })),
    );
    // The store's own connection never checkpoints (wal_autocheckpoint = 0): only the
    // checkpointer thread moves the 2 MB of documents from the WAL into the file.
    const deadline = Date.now() + 10_000;
    while (statSync(path).size < before + 1_000_000 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(statSync(path).size >= before + 1_000_000, `file still ${statSync(path).size} B`);
    assert.equal((await store.list('binding')).length, 2000);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite store: without its checkpointer thread, the store checkpoints itself', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-durable-'));
  try {
    const path = join(dir, 'state.sqlite');
    // A checkpointer that would wait a minute, then ends early (a crash of that thread).
    const store = new SqliteDurableStore(path, { checkpointIntervalMs: 60_000 });
    const { checkpointer } = store as unknown as { checkpointer: Worker };
    await checkpointer.terminate();
    const before = statSync(path).size;
    const text = 'x'.repeat(1000);
    await Promise.all(
      Array.from({ length: 2000 }, (_, i) => store.put('binding', `b${String(i)}`, { text })),
    );
    // SQLite's own checkpoint (every 1000 WAL pages) moved pages into the file meanwhile.
    assert.ok(statSync(path).size >= before + 1_000_000, `file still ${statSync(path).size} B`);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite store: a state file that cannot be opened leaves no ownership behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-durable-'));
  try {
    // A directory where the file should be: SQLite cannot open it.
    const path = join(dir, 'state.sqlite');
    mkdirSync(path);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      assert.throws(
        () => new SqliteDurableStore(path),
        (error: unknown) => error instanceof Error && !/in use/.test(error.message),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite store: under steady writes the WAL starts over after each checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-durable-'));
  try {
    const path = join(dir, 'state.sqlite');
    const store = new SqliteDurableStore(path, { checkpointIntervalMs: 50 });
    const text = 'x'.repeat(1000);
    // 1.5 s of writes, a batch every 10 ms: about 15 MB through the WAL.
    for (let round = 0; round < 150; round += 1) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          store.put('binding', `b${String(round)}-${String(i)}`, { text }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Had it never started over, the WAL would hold every page written (tens of MB).
    const wal = statSync(`${path}-wal`).size;
    assert.ok(wal < 8_000_000, `WAL grew to ${wal} B`);
    assert.equal((await store.list('binding')).length, 15_000);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

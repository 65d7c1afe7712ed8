/**
 * The durable store's checkpointer, on a thread of its own: it copies the WAL's committed
 * pages into the database file (`PRAGMA wal_checkpoint(PASSIVE)`) when the store asks, so
 * that the fsyncs a checkpoint makes never stall the server's event loop. The store holds its
 * commits back while a checkpoint runs, so each one backfills the whole WAL and the next
 * commit starts the WAL over from its beginning (otherwise it would grow without bound).
 * Messages: `'checkpoint'` (answered `'checkpointed'`), `'stop'` (a last checkpoint, then
 * `'stopped'` and the thread ends). `workerData` is the file's path.
 */
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';

const { path } = workerData as { path: string };
const port = parentPort as MessagePort;
const db = new DatabaseSync(path, { timeout: 1000 });

/** Runs one checkpoint; a busy database is left for the next request. */
function checkpoint(): void {
  try {
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  } catch {
    // SQLITE_BUSY (a recovery or another checkpoint running): the next request tries again.
  }
}

port.on('message', (message: unknown) => {
  if (message === 'checkpoint') {
    checkpoint();
    port.postMessage('checkpointed');
  } else if (message === 'stop') {
    checkpoint();
    db.close();
    port.postMessage('stopped');
    port.close();
  }
});

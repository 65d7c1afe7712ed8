/**
 * The durable store's checkpointer, on a thread of its own: it copies the WAL's committed
 * pages into the database file (`PRAGMA wal_checkpoint(PASSIVE)`) so that the fsyncs a
 * checkpoint makes never stall the server's event loop. A PASSIVE checkpoint takes no lock
 * a writer needs (the event loop keeps committing meanwhile) and stops at the first frame a
 * reader still uses. Started by {@link SqliteDurableStore}; `workerData` is the file's path
 * and the interval between checkpoints; a message `'stop'` makes it checkpoint a last time
 * and close.
 */
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const port = parentPort as MessagePort;
const db = new DatabaseSync(path, { timeout: 1000 });

/** Runs one checkpoint; a busy database is tried again at the next tick. */
function checkpoint(): void {
  try {
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  } catch {
    // SQLITE_BUSY (a recovery or another checkpoint running): the next tick tries again.
  }
}

const timer = setInterval(checkpoint, intervalMs);
port.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  port.postMessage('stopped');
  port.close();
});

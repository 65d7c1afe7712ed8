/**
 * Durable documents of the internal servers: registrations (so a restart loses none), roaming
 * contact lists, presence authorisation rules. Each is a JSON document of a kind, by id. The
 * embedded implementation is SQLite (`node:sqlite`) in the data directory; an in-memory one
 * serves tests and throwaway runs.
 */
import { once } from 'node:events';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, RampartError } from '../lib/errors.ts';

/** The kinds of document kept. */
export type DocumentKind = 'binding' | 'contacts' | 'presence-rules';

export interface StoredDocument {
  readonly id: string;
  readonly value: unknown;
}

export interface DurableStore {
  put(kind: DocumentKind, id: string, value: unknown): Promise<void>;
  get(kind: DocumentKind, id: string): Promise<unknown>;
  delete(kind: DocumentKind, id: string): Promise<void>;
  list(kind: DocumentKind): Promise<StoredDocument[]>;
  close(): Promise<void>;
}

/** Options of {@link SqliteDurableStore}. */
export interface SqliteDurableStoreOptions {
  /**
   * Least time between two commits (group commit): writes that arrive sooner after a commit
   * wait for the next one, so under load a commit carries many writes. Measured here
   * (tmp harness, 20,000 binding upserts): 22.9 µs of CPU per write at one write per
   * commit, 8.0 at four, 7.1 at eight. Default 2 ms: at most 500 commits a second, and a
   * write waits at most that long. 0 commits after every turn of the event loop.
   */
  readonly minCommitIntervalMs?: number;
  /**
   * Least time between two checkpoints (the checkpointer thread copying the WAL into the
   * database file; commits wait while it runs). Default 1000 ms.
   */
  readonly checkpointIntervalMs?: number;
}

/** Default {@link SqliteDurableStoreOptions.checkpointIntervalMs}. */
export const CHECKPOINT_INTERVAL_MS = 1000;

/** What a WAL file is cut back to once checkpointed (SQLite `journal_size_limit`). */
const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;

const CHECKPOINTER = new URL('./durable-store-checkpointer.ts', import.meta.url);

/**
 * Takes the exclusive lock of `<path>-owner` (a tiny SQLite file): held by the returned
 * connection until it closes or the process ends. Throws "in use by another process" when
 * another process holds it.
 */
function takeOwnership(path: string): DatabaseSync {
  const owner = new DatabaseSync(`${path}-owner`, { timeout: 0 });
  try {
    owner.exec('PRAGMA locking_mode = EXCLUSIVE');
    // The first write takes the EXCLUSIVE lock; in this locking mode it is never released.
    owner.exec('CREATE TABLE IF NOT EXISTS owner (pid INTEGER)');
    owner.exec('BEGIN EXCLUSIVE');
    owner.exec('DELETE FROM owner');
    owner.prepare('INSERT INTO owner (pid) VALUES (?)').run(process.pid);
    owner.exec('COMMIT');
    return owner;
  } catch (error) {
    owner.close();
    if (error instanceof Error && /locked|busy/i.test(error.message)) {
      throw new RampartError(
        ERROR_CODES.INVALID_STATE,
        `${path} is in use by another process (another Rampart on the same data directory?)`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Default {@link SqliteDurableStoreOptions.minCommitIntervalMs}. */
export const DEFAULT_MIN_COMMIT_INTERVAL_MS = 2;

/**
 * Documents in one SQLite table (WAL). Writes are committed together in one transaction
 * right after the turn of the event loop that made them, or, when the previous commit was
 * less than `minCommitIntervalMs` ago, when that interval has passed (a registration burst
 * costs one commit, not one per binding); each write's promise settles when its commit did.
 * Reads commit what is pending first, so they always see every write made before them.
 * WAL checkpoints (and their fsyncs) run on a thread of their own
 * (`durable-store-checkpointer.ts`), every `checkpointIntervalMs`.
 */
export class SqliteDurableStore implements DurableStore {
  /** `kind\0id` → the JSON to write, or undefined to delete. */
  private readonly pending = new Map<
    string,
    { kind: DocumentKind; id: string; text: string | undefined }
  >();
  private waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /** When the last commit ended (performance.now()), or -Infinity. */
  private lastCommitAt = Number.NEGATIVE_INFINITY;
  private readonly minCommitIntervalMs: number;
  /** Transactions committed so far (for tests and metrics). */
  commits = 0;
  private readonly db: DatabaseSync;
  /** The connection holding `<path>-owner`'s exclusive lock. */
  private readonly owner: DatabaseSync | undefined;
  private readonly checkpointer: Worker | undefined;
  private checkpointerRunning = true;
  private readonly checkpointIntervalMs: number;
  /** A checkpoint is running on the checkpointer thread: commits wait for it. */
  private checkpointing = false;
  private checkpointTimer: NodeJS.Timeout | undefined;
  /** When the last checkpoint was asked for (performance.now()). */
  private lastCheckpointAt = performance.now();
  private closing: Promise<void> | undefined;
  private readonly putStatement: StatementSync;
  private readonly getStatement: StatementSync;
  private readonly deleteStatement: StatementSync;
  private readonly listStatement: StatementSync;

  constructor(path: string, options: SqliteDurableStoreOptions = {}) {
    this.minCommitIntervalMs = options.minCommitIntervalMs ?? DEFAULT_MIN_COMMIT_INTERVAL_MS;
    // One process owns the file (the Front End; in a cluster, the first worker), and a second
    // server started on the same data directory is refused rather than writing beside us:
    // the owner holds an exclusive lock on `<path>-owner` for as long as it runs (the system
    // drops it when the process ends, however it ends). The state file itself stays shared
    // with the checkpointer thread.
    this.owner = path === ':memory:' ? undefined : takeOwnership(path);
    try {
      this.db = new DatabaseSync(path, { timeout: 1000 });
    } catch (error) {
      this.owner?.close();
      throw error;
    }
    try {
      this.db.exec('PRAGMA journal_mode = WAL');
      this.db.exec('PRAGMA synchronous = NORMAL');
      // Commits append to the WAL and never sync (synchronous=NORMAL: durable across a
      // process crash); checkpoints sync, and take 60-400 ms on this machine's disk when
      // they do (in-process harness, 40,000 registrations: two flushes of 394 and 319 ms
      // against at most 17 ms without the sync). They run on the checkpointer thread, never
      // on the event loop, while commits wait (see flush).
      if (this.owner !== undefined) this.db.exec('PRAGMA wal_autocheckpoint = 0');
      // The WAL holds about one checkpoint interval of writes (50 MB for 1 s at 9,000
      // registrations/s in the harness); a burst's WAL file is cut back to this size when it
      // starts over.
      this.db.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
      this.db.exec(
        'CREATE TABLE IF NOT EXISTS documents (kind TEXT NOT NULL, id TEXT NOT NULL, ' +
          'value TEXT NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID',
      );
    } catch (error) {
      this.db.close();
      this.owner?.close();
      throw error;
    }
    this.checkpointer =
      this.owner === undefined
        ? undefined
        : new Worker(CHECKPOINTER, {
            workerData: { path },
          });
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS;
    this.checkpointer?.unref();
    this.checkpointer?.on('message', (message: unknown) => {
      if (message === 'checkpointed') this.checkpointDone();
    });
    // Should the thread ever end on its own, checkpoints come back to this connection (as
    // SQLite does by default, every 1000 pages) rather than the WAL growing without bound.
    this.checkpointer?.once('exit', () => {
      this.checkpointerRunning = false;
      if (this.closing === undefined && this.db.isOpen)
        this.db.exec('PRAGMA wal_autocheckpoint = 1000');
      this.checkpointDone();
    });
    this.checkpointer?.on('error', () => undefined);
    this.putStatement = this.db.prepare(
      'INSERT INTO documents (kind, id, value) VALUES (?, ?, ?) ' +
        'ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value',
    );
    this.getStatement = this.db.prepare('SELECT value FROM documents WHERE kind = ? AND id = ?');
    this.deleteStatement = this.db.prepare('DELETE FROM documents WHERE kind = ? AND id = ?');
    this.listStatement = this.db.prepare('SELECT id, value FROM documents WHERE kind = ?');
  }

  put(kind: DocumentKind, id: string, value: unknown): Promise<void> {
    this.pending.set(`${kind}\0${id}`, { kind, id, text: JSON.stringify(value) });
    return this.scheduled();
  }

  private scheduled(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      const wait = this.lastCommitAt + this.minCommitIntervalMs - performance.now();
      if (wait <= 0) {
        setImmediate(() => {
          this.flush();
        });
      } else {
        this.flushTimer = setTimeout(() => {
          this.flushTimer = undefined;
          this.flush();
        }, wait);
      }
    });
  }

  /**
   * Commits every pending write in one transaction and settles their promises. While a
   * checkpoint runs the writes wait (the checkpoint then backfills the whole WAL, and the
   * commit after it starts the WAL over), unless a read needs them now (`forRead`).
   */
  private flush(forRead = false): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flushScheduled = false;
    if (this.checkpointing && !forRead) return;
    const batch = [...this.pending.values()];
    this.pending.clear();
    const waiters = this.waiters;
    this.waiters = [];
    if (batch.length === 0 || !this.db.isOpen) {
      for (const waiter of waiters) waiter.resolve();
      return;
    }
    try {
      this.db.exec('BEGIN');
      for (const write of batch) {
        if (write.text === undefined) this.deleteStatement.run(write.kind, write.id);
        else this.putStatement.run(write.kind, write.id, write.text);
      }
      this.db.exec('COMMIT');
      this.commits += 1;
      this.lastCommitAt = performance.now();
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    for (const waiter of waiters) waiter.resolve();
    this.maybeCheckpoint();
  }

  /**
   * After a commit: asks the checkpointer thread for a checkpoint when one is due, or arms a
   * timer for when it will be (so the last writes of a burst reach the file too).
   */
  private maybeCheckpoint(): void {
    if (this.checkpointer === undefined || !this.checkpointerRunning || this.checkpointing) return;
    const wait = this.lastCheckpointAt + this.checkpointIntervalMs - performance.now();
    if (wait > 0) {
      this.checkpointTimer ??= setTimeout(() => {
        this.checkpointTimer = undefined;
        this.maybeCheckpoint();
      }, wait).unref();
      return;
    }
    this.checkpointing = true;
    this.lastCheckpointAt = performance.now();
    this.checkpointer.ref();
    this.checkpointer.postMessage('checkpoint');
  }

  /** The checkpoint ended (or its thread did): the writes that waited commit now. */
  private checkpointDone(): void {
    if (!this.checkpointing) return;
    this.checkpointing = false;
    this.checkpointer?.unref();
    if (this.pending.size > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flush();
      });
    }
  }

  get(kind: DocumentKind, id: string): Promise<unknown> {
    this.flush(true);
    const row = this.getStatement.get(kind, id) as { value: string } | undefined;
    return Promise.resolve(row === undefined ? undefined : (JSON.parse(row.value) as unknown));
  }

  delete(kind: DocumentKind, id: string): Promise<void> {
    this.pending.set(`${kind}\0${id}`, { kind, id, text: undefined });
    return this.scheduled();
  }

  list(kind: DocumentKind): Promise<StoredDocument[]> {
    this.flush(true);
    const rows = this.listStatement.all(kind) as { id: string; value: string }[];
    return Promise.resolve(
      rows.map((row) => ({ id: row.id, value: JSON.parse(row.value) as unknown })),
    );
  }

  /** Commits what is pending, checkpoints, and releases the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    clearTimeout(this.checkpointTimer);
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.db.isOpen) return;
    this.flush(true);
    if (this.checkpointer !== undefined && this.checkpointerRunning) {
      // A last checkpoint there, then this connection's close finds the WAL empty.
      this.checkpointer.ref();
      const stopped = new Promise<void>((resolve) => {
        this.checkpointer?.on('message', (message: unknown) => {
          if (message === 'stopped') resolve();
        });
      });
      this.checkpointer.postMessage('stop');
      await Promise.race([stopped, once(this.checkpointer, 'exit')]);
      await this.checkpointer.terminate();
    }
    this.db.close();
    this.owner?.close();
  }
}

/** Documents in memory (copies, so callers cannot change what is stored). */
export class MemoryDurableStore implements DurableStore {
  private readonly documents = new Map<string, string>();

  put(kind: DocumentKind, id: string, value: unknown): Promise<void> {
    this.documents.set(`${kind}\0${id}`, JSON.stringify(value));
    return Promise.resolve();
  }

  get(kind: DocumentKind, id: string): Promise<unknown> {
    const text = this.documents.get(`${kind}\0${id}`);
    return Promise.resolve(text === undefined ? undefined : (JSON.parse(text) as unknown));
  }

  delete(kind: DocumentKind, id: string): Promise<void> {
    this.documents.delete(`${kind}\0${id}`);
    return Promise.resolve();
  }

  list(kind: DocumentKind): Promise<StoredDocument[]> {
    const prefix = `${kind}\0`;
    const out: StoredDocument[] = [];
    for (const [key, text] of this.documents) {
      if (key.startsWith(prefix))
        out.push({ id: key.slice(prefix.length), value: JSON.parse(text) as unknown });
    }
    return Promise.resolve(out);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

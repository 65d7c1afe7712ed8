/**
 * Durable documents of the internal servers: registrations (so a restart loses none), roaming
 * contact lists, presence authorisation rules. Each is a JSON document of a kind, by id. The
 * embedded implementation is SQLite (`node:sqlite`) in the data directory; an in-memory one
 * serves tests and throwaway runs.
 */
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, RampartError } from '../lib/errors.ts';
import type {
  DocumentKind,
  StoreReply,
  StoreRequest,
  StoreWorkerData,
  StoreWrite,
} from './durable-store-protocol.ts';

export type { DocumentKind } from './durable-store-protocol.ts';

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

/** Options of {@link SqliteDurableStore.open}. */
export interface SqliteDurableStoreOptions {
  /**
   * Least time between two commits (group commit): writes that arrive sooner after a commit
   * wait for the next one, so under load a commit carries many writes. Measured here
   * (tmp harness, 20,000 binding upserts): 22.9 µs of CPU per write at one write per
   * commit, 8.0 at four, 7.1 at eight. Default 2 ms: at most 500 commits a second, and a
   * write waits at most that long. 0 commits whatever is queued on each turn of the store
   * thread's event loop.
   */
  readonly minCommitIntervalMs?: number;
}

/** Default {@link SqliteDurableStoreOptions.minCommitIntervalMs}. */
export const DEFAULT_MIN_COMMIT_INTERVAL_MS = 2;

const WORKER = new URL('./durable-store-worker.ts', import.meta.url);

/**
 * Documents in one SQLite table (WAL), owned by a thread of its own
 * (`durable-store-worker.ts`) so that the server's event loop never runs SQLite or waits on
 * the disk: a binding upsert, its commit and the WAL checkpoints cost the Front End's
 * REGISTER path about 25 µs a call when they ran on the event loop (tmp harness, 30,000
 * in-process registrations). The writes of one turn of the event loop go to the thread as
 * one message; it commits them, and whatever arrived meanwhile or within
 * `minCommitIntervalMs` of its last commit, in one transaction (group commit). Each write's
 * promise settles when its commit did. Reads go after every write made before them, so they
 * see them.
 */
export class SqliteDurableStore implements DurableStore {
  /** `kind\0id` → the write to send, in the current turn. */
  private readonly pending = new Map<string, StoreWrite>();
  private pendingWaiters: Waiter<void>[] = [];
  private sendScheduled = false;
  private nextSeq = 1;
  private readonly outstanding = new Map<number, Waiter<StoreReply>>();
  /** Why the store cannot be used any more (closed, or its thread failed). */
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  /** Transactions committed so far, as last reported by the store thread (for tests). */
  commits = 0;

  private readonly worker: Worker;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (reply: StoreReply) => {
      this.onReply(reply);
    });
    worker.on('error', (error) => {
      this.fail(
        new RampartError(ERROR_CODES.INVALID_STATE, 'durable store thread failed', {
          cause: error,
        }),
      );
    });
    worker.on('exit', () => {
      this.fail(new RampartError(ERROR_CODES.INVALID_STATE, 'durable store closed'));
    });
  }

  /**
   * Opens (creating as needed) the store at `path` and locks it to this process. Rejects
   * when another process holds the file ("in use by another process").
   */
  static async open(
    path: string,
    options: SqliteDurableStoreOptions = {},
  ): Promise<SqliteDurableStore> {
    const data: StoreWorkerData = {
      path,
      minCommitIntervalMs: options.minCommitIntervalMs ?? DEFAULT_MIN_COMMIT_INTERVAL_MS,
    };
    const worker = new Worker(WORKER, { workerData: data });
    const opened = await new Promise<StoreReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (opened.error !== undefined) {
      await worker.terminate();
      throw new RampartError(
        ERROR_CODES.INVALID_STATE,
        opened.locked === true
          ? `${path} is in use by another process (another Rampart on the same data directory?)`
          : `cannot open ${path}: ${opened.error}`,
      );
    }
    const store = new SqliteDurableStore(worker);
    worker.unref();
    return store;
  }

  put(kind: DocumentKind, id: string, value: unknown): Promise<void> {
    return this.write([kind, id, JSON.stringify(value)]);
  }

  delete(kind: DocumentKind, id: string): Promise<void> {
    return this.write([kind, id, null]);
  }

  get(kind: DocumentKind, id: string): Promise<unknown> {
    this.sendPending();
    return this.request({ op: 'get', seq: 0, kind, id }).then((reply) =>
      reply.value === undefined || reply.value === null
        ? undefined
        : (JSON.parse(reply.value) as unknown),
    );
  }

  list(kind: DocumentKind): Promise<StoredDocument[]> {
    this.sendPending();
    return this.request({ op: 'list', seq: 0, kind }).then((reply) =>
      (reply.rows ?? []).map(([id, text]) => ({ id, value: JSON.parse(text) as unknown })),
    );
  }

  /** Commits what is pending, then closes the file and ends its thread. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.sendPending();
      if (this.failure === undefined)
        await this.request({ op: 'close', seq: 0 }).catch(() => undefined);
      this.fail(new RampartError(ERROR_CODES.INVALID_STATE, 'durable store closed'));
      await this.worker.terminate();
    })();
    return this.closing;
  }

  private write(entry: StoreWrite): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    this.pending.set(`${entry[0]}\0${entry[1]}`, entry);
    return new Promise((resolve, reject) => {
      this.pendingWaiters.push({ resolve, reject });
      if (this.sendScheduled) return;
      this.sendScheduled = true;
      setImmediate(() => {
        this.sendPending();
      });
    });
  }

  /** Sends this turn's writes as one request; their promises settle with its reply. */
  private sendPending(): void {
    this.sendScheduled = false;
    if (this.pending.size === 0) return;
    const writes = [...this.pending.values()];
    const waiters = this.pendingWaiters;
    this.pending.clear();
    this.pendingWaiters = [];
    this.request({ op: 'write', seq: 0, writes }).then(
      () => {
        for (const waiter of waiters) waiter.resolve();
      },
      (error: unknown) => {
        for (const waiter of waiters) waiter.reject(error);
      },
    );
  }

  private request(request: StoreRequest): Promise<StoreReply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const seq = this.nextSeq++;
    return new Promise((resolve, reject) => {
      if (this.outstanding.size === 0) this.worker.ref();
      this.outstanding.set(seq, { resolve, reject });
      this.worker.postMessage({ ...request, seq });
    });
  }

  private onReply(reply: StoreReply): void {
    const waiter = this.outstanding.get(reply.seq);
    if (waiter === undefined) return;
    this.outstanding.delete(reply.seq);
    if (this.outstanding.size === 0) this.worker.unref();
    if (reply.commits !== undefined) this.commits = reply.commits;
    if (reply.error === undefined) waiter.resolve(reply);
    else
      waiter.reject(new RampartError(ERROR_CODES.INVALID_STATE, `durable store: ${reply.error}`));
  }

  /** Refuses every later call, and every call still waiting, with `error`. */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.outstanding.values()) waiter.reject(this.failure);
    this.outstanding.clear();
    for (const waiter of this.pendingWaiters) waiter.reject(this.failure);
    this.pendingWaiters = [];
    this.pending.clear();
  }
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
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

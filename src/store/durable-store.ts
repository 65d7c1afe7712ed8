/**
 * Durable documents of the internal servers: registrations (so a restart loses none), roaming
 * contact lists, presence authorisation rules. Each is a JSON document of a kind, by id. The
 * embedded implementation is SQLite (`node:sqlite`) in the data directory; an in-memory one
 * serves tests and throwaway runs.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';

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

/**
 * Documents in one SQLite table (WAL). Writes made in one turn of the event loop are
 * committed together in one transaction right after it (a registration burst costs one
 * commit, not one per binding); each write's promise settles when its commit did. Reads
 * commit what is pending first, so they always see every write made before them.
 */
export class SqliteDurableStore implements DurableStore {
  /** `kind\0id` → the JSON to write, or undefined to delete. */
  private readonly pending = new Map<
    string,
    { kind: DocumentKind; id: string; text: string | undefined }
  >();
  private waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private flushScheduled = false;
  private readonly db: DatabaseSync;
  private readonly putStatement: StatementSync;
  private readonly getStatement: StatementSync;
  private readonly deleteStatement: StatementSync;
  private readonly listStatement: StatementSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS documents (kind TEXT NOT NULL, id TEXT NOT NULL, ' +
        'value TEXT NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID',
    );
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
      setImmediate(() => {
        this.flush();
      });
    });
  }

  /** Commits every pending write in one transaction and settles their promises. */
  private flush(): void {
    this.flushScheduled = false;
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
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    for (const waiter of waiters) waiter.resolve();
  }

  get(kind: DocumentKind, id: string): Promise<unknown> {
    this.flush();
    const row = this.getStatement.get(kind, id) as { value: string } | undefined;
    return Promise.resolve(row === undefined ? undefined : (JSON.parse(row.value) as unknown));
  }

  delete(kind: DocumentKind, id: string): Promise<void> {
    this.pending.set(`${kind}\0${id}`, { kind, id, text: undefined });
    return this.scheduled();
  }

  list(kind: DocumentKind): Promise<StoredDocument[]> {
    this.flush();
    const rows = this.listStatement.all(kind) as { id: string; value: string }[];
    return Promise.resolve(
      rows.map((row) => ({ id: row.id, value: JSON.parse(row.value) as unknown })),
    );
  }

  close(): Promise<void> {
    if (this.db.isOpen) {
      this.flush();
      this.db.close();
    }
    return Promise.resolve();
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

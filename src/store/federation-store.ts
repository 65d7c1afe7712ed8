/**
 * The federation lists an administrator keeps with `rampart federation allow|block`: partner
 * domains allowed (with their edge, when known) and domains blocked. Kept in SQLite in the
 * data directory (`edge-policy.sqlite`); the Access Edge reads it at start and again whenever
 * another process changed it (`PRAGMA data_version`), so no restart is needed.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';

/** One administrator's entry. */
export type FederationEntry =
  | {
      readonly action: 'allow';
      readonly domain: string;
      readonly edge: string | null;
      readonly port: number;
      readonly verification: 'verified' | 'throttled';
      readonly addedAt: string;
    }
  | { readonly action: 'block'; readonly domain: string; readonly addedAt: string };

interface Row {
  readonly domain: string;
  readonly action: string;
  readonly edge: string | null;
  readonly port: number;
  readonly verification: string;
  readonly added_at: string;
}

/** The file name of the store in the data directory. */
export const FEDERATION_STORE_FILE = 'edge-policy.sqlite';

/** The administrator's federation lists in one SQLite table. */
export class FederationStore {
  private readonly db: DatabaseSync;
  private readonly upsert: StatementSync;
  private readonly removeStatement: StatementSync;
  private readonly listStatement: StatementSync;
  private readonly versionStatement: StatementSync;
  private closed = false;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA busy_timeout = 2000');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS federation (domain TEXT PRIMARY KEY, ' +
        "action TEXT NOT NULL CHECK (action IN ('allow', 'block')), edge TEXT, " +
        'port INTEGER NOT NULL DEFAULT 5061, ' +
        "verification TEXT NOT NULL DEFAULT 'verified', added_at TEXT NOT NULL) WITHOUT ROWID",
    );
    this.upsert = this.db.prepare(
      'INSERT INTO federation (domain, action, edge, port, verification, added_at) ' +
        'VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (domain) DO UPDATE SET action = excluded.action, ' +
        'edge = excluded.edge, port = excluded.port, verification = excluded.verification, ' +
        'added_at = excluded.added_at',
    );
    this.removeStatement = this.db.prepare('DELETE FROM federation WHERE domain = ?');
    this.listStatement = this.db.prepare('SELECT * FROM federation ORDER BY domain');
    this.versionStatement = this.db.prepare('PRAGMA data_version');
  }

  /** Allows a partner domain (replacing a block of it). */
  allow(
    domain: string,
    options: {
      readonly edge?: string | null;
      readonly port?: number;
      readonly verification?: 'verified' | 'throttled';
    } = {},
  ): void {
    this.upsert.run(
      domain.toLowerCase(),
      'allow',
      options.edge ?? null,
      options.port ?? 5061,
      options.verification ?? 'verified',
      new Date().toISOString(),
    );
  }

  /** Blocks a domain (replacing an allow of it). */
  block(domain: string): void {
    this.upsert.run(
      domain.toLowerCase(),
      'block',
      null,
      5061,
      'verified',
      new Date().toISOString(),
    );
  }

  /** Removes a domain from both lists; whether it was there. */
  remove(domain: string): boolean {
    return Number(this.removeStatement.run(domain.toLowerCase()).changes) > 0;
  }

  list(): FederationEntry[] {
    return (this.listStatement.all() as unknown as Row[]).map((row) =>
      row.action === 'block'
        ? { action: 'block', domain: row.domain, addedAt: row.added_at }
        : {
            action: 'allow',
            domain: row.domain,
            edge: row.edge,
            port: row.port,
            verification: row.verification === 'throttled' ? 'throttled' : 'verified',
            addedAt: row.added_at,
          },
    );
  }

  /** Changes when another connection (another process) committed a change (SQLite data_version). */
  version(): number {
    const row = this.versionStatement.get() as { data_version: number } | undefined;
    return row?.data_version ?? 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

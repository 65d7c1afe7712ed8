/**
 * The SQLite directory's schema, as an ordered list of migration steps. The schema version
 * is SQLite's `PRAGMA user_version`: step i brings a database from version i to i + 1, in
 * one transaction with the version bump, so a crash mid-migration leaves the old version.
 * Steps are append-only: a released step is never edited, a change is a new step.
 */
import type { DatabaseSync } from 'node:sqlite';
import { DirectoryError } from './directory.ts';

/** One migration step: SQL run inside a transaction. */
export interface MigrationStep {
  readonly description: string;
  readonly sql: string;
}

/** Every step, in order; the schema version of a database is how many have been applied. */
export const MIGRATIONS: readonly MigrationStep[] = Object.freeze([
  {
    description: 'users and their digest HA1 per realm and algorithm',
    sql: `
      CREATE TABLE users (
        address          TEXT PRIMARY KEY NOT NULL,
        display_name     TEXT,
        email            TEXT,
        enabled          INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        remote_access    INTEGER NOT NULL CHECK (remote_access IN (0, 1)),
        federation       INTEGER NOT NULL CHECK (federation IN (0, 1)),
        public_im        INTEGER NOT NULL CHECK (public_im IN (0, 1)),
        invite_anonymous INTEGER NOT NULL CHECK (invite_anonymous IN (0, 1)),
        max_endpoints    INTEGER NOT NULL CHECK (max_endpoints >= 0),
        -- scrypt$N$r$p$salt$key; NULL until the first sign-in of a bulk-imported user.
        password_hash    TEXT
      ) WITHOUT ROWID;
      CREATE TABLE user_ha1 (
        address   TEXT NOT NULL REFERENCES users (address) ON DELETE CASCADE,
        realm     TEXT NOT NULL,
        algorithm TEXT NOT NULL CHECK (algorithm IN ('MD5', 'SHA-256')),
        ha1       TEXT NOT NULL,
        PRIMARY KEY (address, realm, algorithm)
      ) WITHOUT ROWID;
    `,
  },
  {
    description: 'groups (distribution lists) and their members, users or nested groups',
    sql: `
      CREATE TABLE groups (
        name         TEXT PRIMARY KEY NOT NULL,
        display_name TEXT
      ) WITHOUT ROWID;
      -- A member is a user or a group, exactly one; both sides cascade on delete.
      CREATE TABLE group_members (
        group_name   TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
        member_user  TEXT REFERENCES users (address) ON DELETE CASCADE,
        member_group TEXT REFERENCES groups (name) ON DELETE CASCADE,
        CHECK ((member_user IS NULL) <> (member_group IS NULL)),
        UNIQUE (group_name, member_user),
        UNIQUE (group_name, member_group)
      );
      CREATE INDEX group_members_by_user ON group_members (member_user);
      CREATE INDEX group_members_by_group ON group_members (member_group);
    `,
  },
]);

/** The schema version of `database` (`PRAGMA user_version`). */
export function schemaVersion(database: DatabaseSync): number {
  const row = database.prepare('PRAGMA user_version').get();
  const version = row?.['user_version'];
  return typeof version === 'number' ? version : 0;
}

/**
 * Applies the steps `database` has not had yet, each in its own transaction. Up to `target`
 * (default: all; tests stop early to build an old file). `backend` when the file was written
 * by a newer Rampart.
 */
export function migrate(database: DatabaseSync, target: number = MIGRATIONS.length): number {
  const from = schemaVersion(database);
  if (from > MIGRATIONS.length) {
    throw new DirectoryError(
      'backend',
      `directory schema version ${from} is newer than this Rampart knows (${MIGRATIONS.length})`,
    );
  }
  for (let version = from; version < target; version++) {
    const step = MIGRATIONS[version];
    if (step === undefined) break;
    database.exec('BEGIN IMMEDIATE');
    try {
      database.exec(step.sql);
      // PRAGMA takes no bound parameters; `version` is a loop integer, not input.
      database.exec(`PRAGMA user_version = ${version + 1}`);
      database.exec('COMMIT');
    } catch (error) {
      database.exec('ROLLBACK');
      throw new DirectoryError('backend', `directory migration ${version + 1} failed`, {
        cause: error,
      });
    }
  }
  return schemaVersion(database);
}

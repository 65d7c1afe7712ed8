/**
 * The SQL of the SQLite directory: every statement, prepared once, and the mapping of rows
 * back to the interface's types. Parameters are always bound, never interpolated.
 */
import type { DatabaseSync, SQLOutputValue, StatementSync } from 'node:sqlite';
import { DirectoryError, type DirectoryUser } from './directory.ts';

/** A row as node:sqlite returns it. */
export type Row = Record<string, SQLOutputValue>;

/** A TEXT column that must be there. */
export function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw new DirectoryError('backend', `bad column ${column}`);
  return value;
}

/** A TEXT column that may be NULL. */
export function nullableText(row: Row, column: string): string | null {
  const value = row[column];
  return typeof value === 'string' ? value : null;
}

function flag(row: Row, column: string): boolean {
  return row[column] === 1;
}

/** A `users` row as the interface returns it. */
export function userFromRow(row: Row): DirectoryUser {
  const maxEndpoints = row['max_endpoints'];
  return {
    address: text(row, 'address'),
    displayName: nullableText(row, 'display_name'),
    email: nullableText(row, 'email'),
    enabled: flag(row, 'enabled'),
    policy: {
      remoteAccess: flag(row, 'remote_access'),
      federation: flag(row, 'federation'),
      publicIm: flag(row, 'public_im'),
      inviteAnonymous: flag(row, 'invite_anonymous'),
      maxEndpoints: typeof maxEndpoints === 'number' ? maxEndpoints : 0,
    },
  };
}

/** Every statement the directory runs, prepared once per connection. */
export function prepareStatements(db: DatabaseSync) {
  const prepare = (sql: string): StatementSync => db.prepare(sql);
  const USER_COLUMNS =
    'address, display_name, email, enabled, remote_access, federation, public_im, ' +
    'invite_anonymous, max_endpoints';
  return {
    insertUser: prepare(
      `INSERT INTO users (${USER_COLUMNS}, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (address) DO NOTHING`,
    ),
    insertHa1: prepare(
      'INSERT OR REPLACE INTO user_ha1 (address, realm, algorithm, ha1) VALUES (?, ?, ?, ?)',
    ),
    deleteHa1: prepare('DELETE FROM user_ha1 WHERE address = ?'),
    getHa1: prepare('SELECT ha1 FROM user_ha1 WHERE address = ? AND realm = ? AND algorithm = ?'),
    sha256Ha1: prepare(
      `SELECT realm, ha1 FROM user_ha1 WHERE address = ? AND algorithm = 'SHA-256' ORDER BY realm`,
    ),
    userExists: prepare('SELECT 1 AS found FROM users WHERE address = ?'),
    getUser: prepare(`SELECT ${USER_COLUMNS} FROM users WHERE address = ?`),
    getHash: prepare('SELECT password_hash FROM users WHERE address = ?'),
    setHash: prepare('UPDATE users SET password_hash = ? WHERE address = ?'),
    upgradeHash: prepare(
      'UPDATE users SET password_hash = ? WHERE address = ? AND password_hash IS ?',
    ),
    deleteUser: prepare('DELETE FROM users WHERE address = ?'),
    listUsers: prepare(
      `SELECT ${USER_COLUMNS} FROM users
       WHERE address >= ?1 AND address < ?2 AND substr(address, 1, length(?1)) = ?1
       ORDER BY address LIMIT ?3 OFFSET ?4`,
    ),
    countUsers: prepare('SELECT count(*) AS count FROM users'),
    updateUser: prepare(
      `UPDATE users SET display_name = ?, email = ?, enabled = ?, remote_access = ?,
       federation = ?, public_im = ?, invite_anonymous = ?, max_endpoints = ? WHERE address = ?`,
    ),
    insertGroup: prepare(
      'INSERT INTO groups (name, display_name) VALUES (?, ?) ON CONFLICT (name) DO NOTHING',
    ),
    deleteGroup: prepare('DELETE FROM groups WHERE name = ?'),
    groupExists: prepare('SELECT 1 AS found FROM groups WHERE name = ?'),
    listGroups: prepare('SELECT name, display_name FROM groups ORDER BY name'),
    addUserMember: prepare(
      'INSERT OR IGNORE INTO group_members (group_name, member_user) VALUES (?, ?)',
    ),
    addGroupMember: prepare(
      'INSERT OR IGNORE INTO group_members (group_name, member_group) VALUES (?, ?)',
    ),
    removeUserMember: prepare('DELETE FROM group_members WHERE group_name = ? AND member_user = ?'),
    removeGroupMember: prepare(
      'DELETE FROM group_members WHERE group_name = ? AND member_group = ?',
    ),
    directMembers: prepare(
      `SELECT coalesce(member_user, member_group) AS member FROM group_members
       WHERE group_name = ?`,
    ),
    userMembers: prepare(
      'SELECT member_user FROM group_members WHERE group_name = ? AND member_user IS NOT NULL',
    ),
    groupMembers: prepare(
      'SELECT member_group FROM group_members WHERE group_name = ? AND member_group IS NOT NULL',
    ),
  };
}

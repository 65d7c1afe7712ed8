import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { CONTRACT_REALMS, directoryContract } from '../../test/helpers/directory-suite.ts';
import { DirectoryError } from './directory.ts';
import { MIGRATIONS, migrate, schemaVersion } from './sqlite-directory-schema.ts';
import { SqliteDirectory } from './sqlite-directory.ts';

const scratch = mkdtempSync(join(tmpdir(), 'rampart-sqlite-directory-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});
let files = 0;
const freshFile = (): string => join(scratch, `directory-${++files}.sqlite`);

directoryContract('SQLite file', () => {
  const directory = SqliteDirectory.open({ path: freshFile(), realms: CONTRACT_REALMS });
  return Promise.resolve({ directory, close: () => directory.close() });
});

directoryContract('SQLite :memory:', () => {
  const directory = SqliteDirectory.open({ path: ':memory:', realms: CONTRACT_REALMS });
  return Promise.resolve({ directory, close: () => directory.close() });
});

describe('SqliteDirectory (SQLite specifics)', () => {
  test('cached user and HA1 answers follow changes from this and other connections', async () => {
    const path = freshFile();
    const server = SqliteDirectory.open({ path, realms: ['example.test'] });
    const cli = SqliteDirectory.open({ path, realms: ['example.test'] });
    try {
      await cli.addUser({ address: 'alice@example.test', password: 'first-pw' });
      assert.equal((await server.getUser('alice@example.test'))?.enabled, true);
      const before = await server.digestHa1('alice@example.test', 'example.test', 'MD5');
      assert.equal(await server.getUser('bob@example.test'), undefined);
      // Another process (the CLI) changes the file: the server sees it within 100 ms.
      const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 120));
      await cli.updateUser('alice@example.test', { enabled: false, federation: false });
      await settle();
      const changed = await server.getUser('alice@example.test');
      assert.equal(changed?.enabled, false);
      assert.equal(changed.policy.federation, false);
      await cli.setPassword('alice@example.test', 'second-pw');
      await settle();
      assert.notEqual(await server.digestHa1('alice@example.test', 'example.test', 'MD5'), before);
      await cli.addUser({ address: 'bob@example.test', password: 'bob-pw' });
      await settle();
      assert.ok((await server.getUser('bob@example.test')) !== undefined);
      // Its own writes too.
      await server.updateUser('alice@example.test', { enabled: true });
      assert.equal((await server.getUser('alice@example.test'))?.enabled, true);
      await server.removeUser('bob@example.test');
      assert.equal(await server.getUser('bob@example.test'), undefined);
      assert.equal(await cli.getUser('bob@example.test'), undefined);
    } finally {
      await server.close();
      await cli.close();
    }
  });

  test('a new file is at the latest schema version, in WAL mode, with foreign keys on', async () => {
    const path = freshFile();
    const directory = SqliteDirectory.open({ path, realms: ['example.test'] });
    await directory.close();
    const db = new DatabaseSync(path);
    assert.equal(schemaVersion(db), MIGRATIONS.length);
    assert.equal(db.prepare('PRAGMA journal_mode').get()?.['journal_mode'], 'wal');
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((row) => row['name']);
    assert.deepEqual(tables, ['group_members', 'groups', 'user_ha1', 'users']);
    db.close();
  });

  test('reopening a file keeps users, secrets, policy and groups', async () => {
    const path = freshFile();
    const first = SqliteDirectory.open({ path, realms: ['example.test'] });
    await first.addUser({ address: 'alice@example.test', password: 'pw', displayName: 'Alice' });
    await first.addUsers([{ address: 'bob@example.test', password: 'bob-pw' }]);
    await first.updateUser('alice@example.test', { maxEndpoints: 1, publicIm: true });
    await first.addGroup('sales', 'Sales');
    await first.addMember('sales', 'alice@example.test');
    await first.close();

    const second = SqliteDirectory.open({ path, realms: ['example.test'] });
    const alice = await second.getUser('alice@example.test');
    assert.equal(alice?.displayName, 'Alice');
    assert.equal(alice.policy.maxEndpoints, 1);
    assert.equal(alice.policy.publicIm, true);
    assert.equal(await second.verifyPassword('alice@example.test', 'pw'), true);
    assert.equal(await second.verifyPassword('bob@example.test', 'bob-pw'), true);
    assert.equal(await second.countUsers(), 2);
    assert.deepEqual(await second.listGroups(), [{ name: 'sales', displayName: 'Sales' }]);
    assert.deepEqual(await second.members('sales'), ['alice@example.test']);
    await second.close();
  });

  test('migrating an existing version-1 file keeps its data and adds the later tables', async () => {
    const path = freshFile();
    const db = new DatabaseSync(path);
    assert.equal(migrate(db, 1), 1);
    db.prepare(
      `INSERT INTO users (address, display_name, email, enabled, remote_access, federation,
       public_im, invite_anonymous, max_endpoints, password_hash)
       VALUES ('old@example.test', 'Old', NULL, 1, 1, 0, 0, 1, 4, NULL)`,
    ).run();
    db.prepare(
      `INSERT INTO user_ha1 (address, realm, algorithm, ha1) VALUES
       ('old@example.test', 'example.test', 'SHA-256', 'abc')`,
    ).run();
    db.close();

    const directory = SqliteDirectory.open({ path, realms: ['example.test'] });
    const old = await directory.getUser('old@example.test');
    assert.equal(old?.displayName, 'Old');
    assert.equal(old.policy.federation, false);
    assert.equal(old.policy.maxEndpoints, 4);
    assert.equal(await directory.digestHa1('old@example.test', 'example.test', 'SHA-256'), 'abc');
    await directory.addGroup('new');
    await directory.addMember('new', 'old@example.test');
    assert.deepEqual(await directory.members('new'), ['old@example.test']);
    await directory.close();
    const check = new DatabaseSync(path);
    assert.equal(schemaVersion(check), MIGRATIONS.length);
    check.close();
  });

  test('a file from a newer schema is refused, not touched', () => {
    const path = freshFile();
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    assert.throws(
      () => SqliteDirectory.open({ path, realms: [] }),
      (error: unknown) => error instanceof DirectoryError && error.reason === 'backend',
    );
  });

  test('a file that is not a database is a backend error', () => {
    assert.throws(
      () => SqliteDirectory.open({ path: join(scratch, 'no-such-dir', 'x.sqlite'), realms: [] }),
      (error: unknown) => error instanceof DirectoryError && error.reason === 'backend',
    );
  });

  test('addUsers is all or nothing: a duplicate late in the batch rolls back the rest', async () => {
    const directory = SqliteDirectory.open({ path: ':memory:', realms: ['example.test'] });
    await directory.addUser({ address: 'zed@example.test', password: 'pw' });
    await assert.rejects(
      directory.addUsers([
        { address: 'a@example.test', password: 'pw' },
        { address: 'b@example.test', password: 'pw' },
        { address: 'zed@example.test', password: 'pw' },
      ]),
      (error: unknown) => error instanceof DirectoryError && error.reason === 'duplicate',
    );
    assert.equal(await directory.countUsers(), 1);
    assert.equal(await directory.digestHa1('a@example.test', 'example.test', 'MD5'), undefined);
    await directory.close();
  });

  test('bulk-imported users get their scrypt hash at the first sign-in', async () => {
    const path = freshFile();
    const directory = SqliteDirectory.open({ path, realms: ['example.test'] });
    await directory.addUsers([{ address: 'a@example.test', password: 'pw' }]);
    const hashOf = (): unknown => {
      const db = new DatabaseSync(path, { readOnly: true });
      const value = db.prepare('SELECT password_hash FROM users').get()?.['password_hash'];
      db.close();
      return value;
    };
    assert.equal(hashOf(), null);
    assert.equal(await directory.verifyPassword('a@example.test', 'wrong'), false);
    assert.equal(hashOf(), null);
    assert.equal(await directory.verifyPassword('a@example.test', 'pw'), true);
    assert.match(String(hashOf()), /^scrypt\$16384\$8\$1\$/);
    assert.equal(await directory.verifyPassword('a@example.test', 'pw'), true);
    await directory.close();
  });

  test('with no realm, addUsers hashes with scrypt and keeps no HA1', async () => {
    const directory = SqliteDirectory.open({ path: ':memory:', realms: [] });
    const progress: number[] = [];
    const added = await directory.addUsers(
      [
        { address: 'a@example.test', password: 'pw-a' },
        { address: 'b@example.test', password: 'pw-b' },
      ],
      (done) => progress.push(done),
    );
    assert.equal(added, 2);
    assert.deepEqual(progress, [2]);
    assert.equal(await directory.verifyPassword('b@example.test', 'pw-b'), true);
    assert.equal(await directory.verifyPassword('b@example.test', 'pw-a'), false);
    assert.equal(await directory.digestHa1('a@example.test', 'example.test', 'MD5'), undefined);
    await directory.close();
  });

  test('close is idempotent and later calls are refused', async () => {
    const directory = SqliteDirectory.open({ path: ':memory:', realms: [] });
    await directory.close();
    await directory.close();
    assert.equal(directory.closed, true);
    await assert.rejects(directory.countUsers(), DirectoryError);
  });

  test('bounds: long passwords, long names and bad policy numbers are refused', async () => {
    const directory = SqliteDirectory.open({ path: ':memory:', realms: ['example.test'] });
    await assert.rejects(
      directory.addUser({ address: 'a@example.test', password: 'x'.repeat(2000) }),
      DirectoryError,
    );
    await assert.rejects(
      directory.addUser({ address: 'a@example.test', password: 'x', displayName: 'n'.repeat(300) }),
      (error: unknown) => error instanceof DirectoryError && error.reason === 'invalid-name',
    );
    await assert.rejects(
      directory.addUser({ address: 'a@example.test', password: 'x', policy: { maxEndpoints: -1 } }),
      RangeError,
    );
    assert.equal(await directory.verifyPassword('a@example.test', 'x'.repeat(5000)), false);
    assert.equal(await directory.countUsers(), 0);
    await directory.close();
  });
});

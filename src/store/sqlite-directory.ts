/**
 * The embedded directory: one SQLite file (WAL mode, foreign keys on) through `node:sqlite`.
 * Every statement is prepared once; bulk imports run in one transaction.
 *
 * Bulk imports and web sign-in hashes: scrypt at N=2^14 costs ~25–40 ms of CPU per user, so
 * 100,000 users would take over half an hour even across the thread pool. `addUsers`
 * therefore stores only the digest HA1s (microseconds each) and leaves the scrypt hash
 * pending; the first web sign-in checks the password against the SHA-256 HA1 (constant
 * time) and then stores the scrypt hash. This weakens nothing: the HA1 is a password
 * equivalent that the directory must keep anyway for digest (RFC 7616 §5.3), and offline it
 * is as fast to attack as any unsalted SHA-256. With no realm configured there is no HA1,
 * and `addUsers` hashes with scrypt across the thread pool instead.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  canonicalAddress,
  DEFAULT_POLICY,
  DirectoryError,
  type Directory,
  type DirectoryGroup,
  type DirectoryUser,
  type Ha1Algorithm,
  type ListOptions,
  type NewUser,
  type UserPolicy,
  type UserUpdate,
} from './directory.ts';
import {
  computeHa1,
  ha1Equal,
  hashPassword,
  needsRehash,
  userPart,
  verifyPassword,
} from './password-hash.ts';
import { migrate } from './sqlite-directory-schema.ts';
import {
  nullableText,
  prepareStatements,
  text,
  userFromRow,
} from './sqlite-directory-statements.ts';

/** Options of {@link SqliteDirectory.open}. */
export interface SqliteDirectoryOptions {
  /** The database file, or `':memory:'`. */
  readonly path: string;
  /** Realms an HA1 is kept for (usually the configured SIP domains). */
  readonly realms: readonly string[];
}

const ALGORITHMS: readonly Ha1Algorithm[] = ['MD5', 'SHA-256'];
const MAX_PASSWORD = 1024;
const MAX_DISPLAY_NAME = 256;
const MAX_EMAIL = 254;
const MAX_GROUP_NAME = 256;
const MAX_ENDPOINTS = 10_000;
/** Bounds on group expansion, against pathological nesting. */
const MAX_EXPANDED_GROUPS = 10_000;
/** `addUsers` reports progress this often, and at the end. */
const PROGRESS_EVERY = 1000;
/** Concurrent scrypt calls when a bulk import must hash (no realm): the pool's size. */
const HASH_CONCURRENCY = 4;
/** Compared against when the user is unknown, so that both paths cost one scrypt. */
const DUMMY_HASH =
  'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** True when `value` has a C0 control character or DEL (no such thing belongs in a name). */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function requireAddress(text: string): string {
  const address = canonicalAddress(text);
  if (address === undefined) {
    throw new DirectoryError('invalid-address', `not a SIP address of a user: ${text}`);
  }
  return address;
}

function checkPassword(password: string): void {
  if (password.length > MAX_PASSWORD) {
    throw new DirectoryError('backend', `password longer than ${MAX_PASSWORD} characters`);
  }
}

function checkText(value: string | null | undefined, max: number, what: string): void {
  if (value === null || value === undefined) return;
  if (value.length > max || hasControlCharacter(value)) {
    throw new DirectoryError('invalid-name', `${what} too long or has control characters`);
  }
}

function checkMaxEndpoints(value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_ENDPOINTS) {
    throw new RangeError(`maxEndpoints must be an integer 0..${MAX_ENDPOINTS}`);
  }
}

/** Printable text without controls, trimmed, so that `a` and `a ` are not two lists. */
function validGroupName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= MAX_GROUP_NAME &&
    name.trim() === name &&
    !hasControlCharacter(name)
  );
}

/** Cached getUser/digestHa1 answers kept at most (all dropped beyond). */
const MAX_CACHED = 200_000;
/** How often cached answers are checked against changes by other processes. */
const VERSION_CHECK_MS = 100;

/** The SQLite implementation of {@link Directory}. */
export class SqliteDirectory implements Directory {
  readonly #db: DatabaseSync;
  readonly #realms: readonly string[];
  readonly #sql: ReturnType<typeof prepareStatements>;
  #closed = false;
  /**
   * Answers of getUser and digestHa1 (null: no such user or HA1), read on every SIP request.
   * Valid while the file is unchanged: SQLite's data_version moves when another connection
   * (the CLI, another process) commits, and this connection's own writes clear them.
   */
  readonly #users = new Map<string, DirectoryUser | null>();
  readonly #ha1s = new Map<string, string | null>();
  readonly #dataVersion: StatementSync;
  #cachedVersion = -1;
  #checkedAt = -Infinity;

  private constructor(db: DatabaseSync, realms: readonly string[]) {
    this.#db = db;
    this.#realms = [...new Set(realms)];
    this.#sql = prepareStatements(db);
    this.#dataVersion = db.prepare('PRAGMA data_version');
  }

  /**
   * Drops cached answers when another connection changed the file since they were read.
   * Asking SQLite costs about as much as a lookup, so it is asked at most every
   * {@link VERSION_CHECK_MS}: a change by another process shows within that.
   */
  #fresh(): void {
    const now = performance.now();
    if (now - this.#checkedAt < VERSION_CHECK_MS && this.#users.size + this.#ha1s.size < MAX_CACHED)
      return;
    this.#checkedAt = now;
    const row = this.#dataVersion.get() as { data_version: number } | undefined;
    const version = row?.data_version ?? -1;
    if (version === this.#cachedVersion && this.#users.size + this.#ha1s.size < MAX_CACHED) return;
    this.#cachedVersion = version;
    this.#forget();
  }

  #forget(): void {
    this.#users.clear();
    this.#ha1s.clear();
  }

  /** Opens (creating and migrating as needed) the directory at `options.path`. */
  static open(options: SqliteDirectoryOptions): SqliteDirectory {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(options.path, { enableForeignKeyConstraints: true });
    } catch (error) {
      throw new DirectoryError('backend', `cannot open directory ${options.path}`, {
        cause: error,
      });
    }
    try {
      // WAL: readers (a running server) and a writer (the CLI) do not block each other;
      // synchronous=NORMAL is durable across process crashes in WAL mode.
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = NORMAL');
      db.exec('PRAGMA busy_timeout = 5000');
      db.exec('PRAGMA foreign_keys = ON');
      migrate(db);
      return new SqliteDirectory(db, options.realms);
    } catch (error) {
      db.close();
      if (error instanceof DirectoryError) throw error;
      throw new DirectoryError('backend', `cannot open directory ${options.path}`, {
        cause: error,
      });
    }
  }

  /** True once {@link close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  #open(): void {
    if (this.#closed) throw new DirectoryError('backend', 'directory closed');
  }

  /** Runs a synchronous operation as the interface's promise: a throw becomes a rejection. */
  #call<T>(operation: () => T): Promise<T> {
    try {
      this.#open();
      return Promise.resolve(operation());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Runs `body` in a transaction: committed when it returns, rolled back when it throws. */
  #transaction<T>(body: () => T): T {
    this.#forget();
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = body();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Inserts a user and its HA1s (inside the caller's transaction); `duplicate` if taken. */
  #insert(user: NewUser, address: string, passwordHash: string | null): void {
    const policy: UserPolicy = { ...DEFAULT_POLICY, ...user.policy };
    const inserted = this.#sql.insertUser.run(
      address,
      user.displayName ?? null,
      user.email ?? null,
      user.enabled === false ? 0 : 1,
      policy.remoteAccess ? 1 : 0,
      policy.federation ? 1 : 0,
      policy.publicIm ? 1 : 0,
      policy.inviteAnonymous ? 1 : 0,
      policy.maxEndpoints,
      passwordHash,
    );
    if (Number(inserted.changes) === 0) {
      throw new DirectoryError('duplicate', `user ${address} exists`);
    }
    this.#insertHa1(address, user.password);
  }

  #insertHa1(address: string, password: string): void {
    const user = userPart(address);
    for (const realm of this.#realms) {
      for (const algorithm of ALGORITHMS) {
        this.#sql.insertHa1.run(
          address,
          realm,
          algorithm,
          computeHa1(user, realm, password, algorithm),
        );
      }
    }
  }

  /** Validates a new user; returns its canonical address. */
  #check(user: NewUser): string {
    const address = requireAddress(user.address);
    checkPassword(user.password);
    checkText(user.displayName, MAX_DISPLAY_NAME, 'display name');
    checkText(user.email, MAX_EMAIL, 'email');
    checkMaxEndpoints(user.policy?.maxEndpoints);
    return address;
  }

  async addUser(user: NewUser): Promise<DirectoryUser> {
    this.#open();
    const address = this.#check(user);
    if (this.#sql.userExists.get(address) !== undefined) {
      throw new DirectoryError('duplicate', `user ${address} exists`);
    }
    const hash = await hashPassword(user.password);
    this.#open();
    this.#transaction(() => {
      this.#insert(user, address, hash);
    });
    return this.#requireUser(address);
  }

  async addUsers(users: Iterable<NewUser>, onProgress?: (done: number) => void): Promise<number> {
    this.#open();
    // Without a realm there is no HA1 to verify a first sign-in against: hash now, in
    // batches across the libuv pool, before the (synchronous) transaction.
    let hashes: Map<NewUser, string> | undefined;
    let list: Iterable<NewUser> = users;
    if (this.#realms.length === 0) {
      const all = [...users];
      for (const user of all) this.#check(user);
      hashes = new Map();
      for (let i = 0; i < all.length; i += HASH_CONCURRENCY) {
        const batch = all.slice(i, i + HASH_CONCURRENCY);
        const hashed = await Promise.all(batch.map((user) => hashPassword(user.password)));
        batch.forEach((user, j) => hashes?.set(user, hashed[j] ?? ''));
      }
      this.#open();
      list = all;
    }
    const done = this.#transaction(() => {
      let count = 0;
      for (const user of list) {
        this.#insert(user, this.#check(user), hashes?.get(user) ?? null);
        count++;
        if (count % PROGRESS_EVERY === 0) onProgress?.(count);
      }
      return count;
    });
    if (done % PROGRESS_EVERY !== 0 || done === 0) onProgress?.(done);
    return done;
  }

  removeUser(address: string): Promise<void> {
    return this.#call(() => {
      this.#forget();
      const canonical = canonicalAddress(address);
      // Memberships and HA1s go with the user (ON DELETE CASCADE).
      const removed =
        canonical === undefined ? 0 : Number(this.#sql.deleteUser.run(canonical).changes);
      if (removed === 0) throw new DirectoryError('unknown-user', `no user ${address}`);
    });
  }

  getUser(address: string): Promise<DirectoryUser | undefined> {
    return this.#call(() => {
      const canonical = canonicalAddress(address);
      if (canonical === undefined) return undefined;
      this.#fresh();
      const cached = this.#users.get(canonical);
      if (cached !== undefined) return cached ?? undefined;
      const row = this.#sql.getUser.get(canonical);
      const user = row === undefined ? undefined : userFromRow(row);
      this.#users.set(canonical, user ?? null);
      return user;
    });
  }

  #requireUser(address: string): DirectoryUser {
    const row = this.#sql.getUser.get(address);
    if (row === undefined) throw new DirectoryError('unknown-user', `no user ${address}`);
    return userFromRow(row);
  }

  listUsers(options: ListOptions = {}): Promise<DirectoryUser[]> {
    return this.#call(() => {
      const prefix = options.prefix ?? '';
      const limit = options.limit === undefined ? -1 : Math.max(0, Math.floor(options.limit));
      const offset = Math.max(0, Math.floor(options.offset ?? 0));
      // A range on the primary key (UTF-8 byte order is code-point order), so that a prefix
      // reads only its own rows; the substr test keeps it exact.
      const rows = this.#sql.listUsers.all(prefix, `${prefix}\u{10ffff}`, limit, offset);
      return rows.map(userFromRow);
    });
  }

  countUsers(): Promise<number> {
    return this.#call(() => {
      const count = this.#sql.countUsers.get()?.['count'];
      return typeof count === 'number' ? count : 0;
    });
  }

  async setPassword(address: string, password: string): Promise<void> {
    this.#open();
    checkPassword(password);
    const canonical = canonicalAddress(address);
    if (canonical === undefined || this.#sql.userExists.get(canonical) === undefined) {
      throw new DirectoryError('unknown-user', `no user ${address}`);
    }
    const hash = await hashPassword(password);
    this.#open();
    this.#transaction(() => {
      if (Number(this.#sql.setHash.run(hash, canonical).changes) === 0) {
        throw new DirectoryError('unknown-user', `no user ${address}`);
      }
      this.#sql.deleteHa1.run(canonical);
      this.#insertHa1(canonical, password);
    });
  }

  updateUser(address: string, update: UserUpdate): Promise<DirectoryUser> {
    return this.#call(() => {
      this.#forget();
      const canonical = canonicalAddress(address);
      const current = canonical === undefined ? undefined : this.#sql.getUser.get(canonical);
      if (canonical === undefined || current === undefined) {
        throw new DirectoryError('unknown-user', `no user ${address}`);
      }
      checkText(update.displayName, MAX_DISPLAY_NAME, 'display name');
      checkText(update.email, MAX_EMAIL, 'email');
      checkMaxEndpoints(update.maxEndpoints);
      const user = userFromRow(current);
      const policy = { ...user.policy };
      for (const key of Object.keys(DEFAULT_POLICY) as (keyof UserPolicy)[]) {
        const value = update[key];
        if (value !== undefined) (policy as Record<keyof UserPolicy, unknown>)[key] = value;
      }
      this.#sql.updateUser.run(
        update.displayName === undefined ? user.displayName : update.displayName,
        update.email === undefined ? user.email : update.email,
        (update.enabled ?? user.enabled) ? 1 : 0,
        policy.remoteAccess ? 1 : 0,
        policy.federation ? 1 : 0,
        policy.publicIm ? 1 : 0,
        policy.inviteAnonymous ? 1 : 0,
        policy.maxEndpoints,
        canonical,
      );
      return this.#requireUser(canonical);
    });
  }

  async verifyPassword(address: string, password: string): Promise<boolean> {
    this.#open();
    const canonical = canonicalAddress(address);
    const row =
      canonical === undefined || password.length > MAX_PASSWORD
        ? undefined
        : this.#sql.getHash.get(canonical);
    if (canonical === undefined || row === undefined) {
      // Same cost as a real check, so that timing does not tell which addresses exist.
      await verifyPassword(DUMMY_HASH, password.slice(0, MAX_PASSWORD));
      return false;
    }
    const stored = nullableText(row, 'password_hash');
    let matches: boolean;
    if (stored === null) {
      matches = this.#matchesHa1(canonical, password);
      // A miss costs a scrypt like every other miss (a hit pays one to store the hash).
      if (!matches) await verifyPassword(DUMMY_HASH, password);
    } else {
      matches = await verifyPassword(stored, password);
    }
    if (matches && (stored === null || needsRehash(stored))) {
      const hash = await hashPassword(password);
      // Only if no one changed the password meanwhile.
      if (!this.#closed) this.#sql.upgradeHash.run(hash, canonical, stored);
    }
    return matches;
  }

  /** First sign-in of a bulk-imported user: the password against its stored SHA-256 HA1. */
  #matchesHa1(address: string, password: string): boolean {
    const rows = this.#sql.sha256Ha1.all(address);
    const row = rows.find((r) => this.#realms.includes(text(r, 'realm'))) ?? rows[0];
    if (row === undefined) return false;
    const expected = computeHa1(userPart(address), text(row, 'realm'), password, 'SHA-256');
    return ha1Equal(expected, text(row, 'ha1'));
  }

  digestHa1(address: string, realm: string, algorithm: Ha1Algorithm): Promise<string | undefined> {
    return this.#call(() => {
      if (!this.#realms.includes(realm)) return undefined;
      const canonical = canonicalAddress(address);
      if (canonical === undefined) return undefined;
      this.#fresh();
      const key = `${canonical}\0${realm}\0${algorithm}`;
      const cached = this.#ha1s.get(key);
      if (cached !== undefined) return cached ?? undefined;
      const row = this.#sql.getHa1.get(canonical, realm, algorithm);
      const ha1 = row === undefined ? undefined : text(row, 'ha1');
      this.#ha1s.set(key, ha1 ?? null);
      return ha1;
    });
  }

  addGroup(name: string, displayName: string | null = null): Promise<DirectoryGroup> {
    return this.#call(() => {
      if (!validGroupName(name))
        throw new DirectoryError('invalid-name', `not a group name: ${name}`);
      checkText(displayName, MAX_DISPLAY_NAME, 'display name');
      if (Number(this.#sql.insertGroup.run(name, displayName).changes) === 0) {
        throw new DirectoryError('duplicate', `group ${name} exists`);
      }
      return { name, displayName };
    });
  }

  removeGroup(name: string): Promise<void> {
    return this.#call(() => {
      if (Number(this.#sql.deleteGroup.run(name).changes) === 0) {
        throw new DirectoryError('unknown-group', `no group ${name}`);
      }
    });
  }

  listGroups(): Promise<DirectoryGroup[]> {
    return this.#call(() => {
      return this.#sql.listGroups.all().map((row) => ({
        name: text(row, 'name'),
        displayName: nullableText(row, 'display_name'),
      }));
    });
  }

  #requireGroup(name: string): void {
    if (this.#sql.groupExists.get(name) === undefined) {
      throw new DirectoryError('unknown-group', `no group ${name}`);
    }
  }

  /** A member's kind: a user (by address) first, else a group (by name). */
  #resolveMember(member: string): { user: string } | { group: string } | undefined {
    const address = canonicalAddress(member);
    if (address !== undefined && this.#sql.userExists.get(address) !== undefined) {
      return { user: address };
    }
    if (this.#sql.groupExists.get(member) !== undefined) return { group: member };
    return undefined;
  }

  addMember(group: string, member: string): Promise<void> {
    return this.#call(() => {
      this.#requireGroup(group);
      const resolved = this.#resolveMember(member);
      if (resolved === undefined) {
        throw new DirectoryError('unknown-member', `${member} is neither a user nor a group`);
      }
      if ('user' in resolved) this.#sql.addUserMember.run(group, resolved.user);
      else this.#sql.addGroupMember.run(group, resolved.group);
    });
  }

  removeMember(group: string, member: string): Promise<void> {
    return this.#call(() => {
      this.#requireGroup(group);
      const resolved = this.#resolveMember(member);
      if (resolved === undefined) return;
      if ('user' in resolved) this.#sql.removeUserMember.run(group, resolved.user);
      else this.#sql.removeGroupMember.run(group, resolved.group);
    });
  }

  members(group: string, options: { readonly expand?: boolean } = {}): Promise<string[]> {
    return this.#call(() => {
      this.#requireGroup(group);
      if (options.expand !== true) {
        return this.#sql.directMembers
          .all(group)
          .map((row) => text(row, 'member'))
          .sort(byCodeUnit);
      }
      // Breadth-first over nested groups; `seen` makes cycles harmless.
      const users = new Set<string>();
      const seen = new Set<string>([group]);
      const queue = [group];
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        for (const row of this.#sql.userMembers.all(next)) users.add(text(row, 'member_user'));
        for (const row of this.#sql.groupMembers.all(next)) {
          const nested = text(row, 'member_group');
          if (seen.has(nested)) continue;
          if (seen.size >= MAX_EXPANDED_GROUPS) {
            throw new DirectoryError('backend', `group ${group} nests over ${MAX_EXPANDED_GROUPS}`);
          }
          seen.add(nested);
          queue.push(nested);
        }
      }
      return [...users].sort(byCodeUnit);
    });
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }
}

/**
 * The LDAP directory backend (OpenLDAP; schema in test/fixtures/ldap/rampart.ldif).
 *
 * Search-then-bind: Rampart binds once as its service account and finds users by filter
 * under `usersDn`; it never binds as a user. The web sign-in hash and the digest HA1s live in
 * Rampart's own attributes, which the directory's ACLs must let only the service account read.
 * Users are inetOrgPerson + rampartUser entries `rampartSipAddress=<address>,usersDn` (found
 * by filter anywhere below usersDn, so entries provisioned with other RDNs work too);
 * distribution lists are groupOfNames + rampartGroup entries `cn=<name>,groupsDn` whose
 * members are user DNs or group DNs (nesting).
 */
import { readFile } from 'node:fs/promises';
import { Attribute, Change, ResultCodeError } from 'ldapts';
import type { Entry, SearchOptions } from 'ldapts';
import { canonicalAddress, DEFAULT_POLICY, DirectoryError } from './directory.ts';
import type {
  Directory,
  DirectoryGroup,
  DirectoryUser,
  Ha1Algorithm,
  ListOptions,
  NewUser,
  UserUpdate,
} from './directory.ts';
import {
  ATTR,
  EMPTY_GROUP_MEMBER,
  findHa1,
  formatHa1,
  GROUP_CLASSES,
  HA1_ALGORITHMS,
  ldapBoolean,
  policyAttributes,
  USER_ATTRIBUTES,
  USER_CLASSES,
  userFromEntry,
  value,
  values,
} from './ldap-directory-entries.ts';
import { backendError, LdapConnection } from './ldap-directory-connection.ts';
import { escapeDnValue, escapeFilterValue } from './ldap-filter.ts';
import { computeHa1, ha1Equal, hashPassword, userPart, verifyPassword } from './password-hash.ts';

/** Where the directory lives and how Rampart binds to it. */
export interface LdapDirectoryOptions {
  /** `ldap://host:port` or `ldaps://host:port`. */
  readonly url: string;
  /** The service account's DN; it must be able to read the secret attributes. */
  readonly bindDn: string;
  readonly bindPassword: string;
  /** Subtree holding the users (searched with scope sub, new users added one level below). */
  readonly usersDn: string;
  /** Container of the distribution lists (one level). */
  readonly groupsDn: string;
  /** The digest realms an HA1 is kept for. */
  readonly realms: readonly string[];
  /**
   * CA certificates (PEM text, or a path to a PEM file) trusted for the server: used for
   * `ldaps://`, and for StartTLS (RFC 4513 §3) on an `ldap://` URL.
   */
  readonly tlsCa?: string;
}

/** LDAP result codes we act on (RFC 4511 §4.1.9). */
const RESULT = {
  noSuchAttribute: 16,
  attributeOrValueExists: 20,
  noSuchObject: 32,
  entryAlreadyExists: 68,
} as const;

const PAGE_SIZE = 500;
/** Compared against when there is no hash to check, so that every path costs one scrypt. */
const DUMMY_HASH =
  'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
/** Bounds on what one call may walk, whatever the directory holds. */
const MAX_GROUP_NAME = 256;
const MAX_PASSWORD = 1024;
const MAX_EXPANDED_GROUPS = 10_000;
const MAX_EXPANDED_MEMBERS = 200_000;

function resultCode(error: unknown): number | undefined {
  return error instanceof ResultCodeError ? error.code : undefined;
}

function validGroupName(name: string): boolean {
  // Printable text without controls; trimmed so that 'a' and 'a ' are not two lists.
  if (name.length === 0 || name.length > MAX_GROUP_NAME || name.trim() !== name) return false;
  for (const char of name) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) return false;
  }
  return true;
}

function checkPassword(password: string): void {
  if (password.length > MAX_PASSWORD) {
    throw new DirectoryError('backend', `password longer than ${MAX_PASSWORD} characters`);
  }
}

function replace(type: string, vals: readonly string[]): Change {
  return new Change({
    operation: 'replace',
    modification: new Attribute({ type, values: [...vals] }),
  });
}

/** The LDAP implementation of {@link Directory}. */
export class LdapDirectory implements Directory {
  readonly #options: LdapDirectoryOptions;
  readonly #connection: LdapConnection;

  private constructor(options: LdapDirectoryOptions, tlsCa: string | undefined) {
    this.#options = options;
    const { url, bindDn, bindPassword } = options;
    this.#connection = new LdapConnection({ url, bindDn, bindPassword, tlsCa });
  }

  /** Connects and binds as the service account; `backend` when that fails. */
  static async open(options: LdapDirectoryOptions): Promise<LdapDirectory> {
    let tlsCa: string | undefined;
    if (options.tlsCa !== undefined) {
      tlsCa = options.tlsCa.includes('-----BEGIN')
        ? options.tlsCa
        : await readFile(options.tlsCa, 'utf8').catch((error: unknown) => {
            throw backendError(`reading tlsCa ${options.tlsCa ?? ''}`, error);
          });
    }
    const directory = new LdapDirectory(options, tlsCa);
    await directory.#connection.connect();
    return directory;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#connection.closed;
  }

  async #search(base: string, options: SearchOptions): Promise<Entry[]> {
    return this.#connection.run(`search under ${base}`, async (client) => {
      const result = await client.search(base, { paged: { pageSize: PAGE_SIZE }, ...options });
      return result.searchEntries;
    });
  }

  /** The entry of the user with this canonical address, or undefined. */
  async #findUser(address: string, attributes: readonly string[]): Promise<Entry | undefined> {
    // RFC 4515 §3: the address is an assertion value and is escaped as one.
    const filter = `(&(objectClass=rampartUser)(${ATTR.sipAddress}=${escapeFilterValue(address)}))`;
    const entries = await this.#search(this.#options.usersDn, {
      scope: 'sub',
      filter,
      attributes: [...attributes],
      sizeLimit: 2,
    });
    return entries[0];
  }

  async #requireUser(text: string, attributes: readonly string[]): Promise<Entry> {
    const address = canonicalAddress(text);
    const entry = address === undefined ? undefined : await this.#findUser(address, attributes);
    if (entry === undefined) throw new DirectoryError('unknown-user', `no user ${text}`);
    return entry;
  }

  async #findGroup(name: string, attributes: readonly string[]): Promise<Entry | undefined> {
    if (!validGroupName(name)) return undefined;
    const filter = `(&(objectClass=groupOfNames)(cn=${escapeFilterValue(name)}))`;
    const entries = await this.#search(this.#options.groupsDn, {
      scope: 'one',
      filter,
      attributes: [...attributes],
      sizeLimit: 2,
    });
    return entries[0];
  }

  async #requireGroup(name: string, attributes: readonly string[]): Promise<Entry> {
    const entry = await this.#findGroup(name, attributes);
    if (entry === undefined) throw new DirectoryError('unknown-group', `no group ${name}`);
    return entry;
  }

  /**
   * The stored secrets for `password`. With `deferHash` (bulk import) and a realm configured,
   * the scrypt hash is left out: see {@link verifyPassword}.
   */
  async #secrets(
    address: string,
    password: string,
    deferHash = false,
  ): Promise<{ hash: string | undefined; ha1: string[] }> {
    checkPassword(password);
    const hash =
      deferHash && this.#options.realms.length > 0 ? undefined : await hashPassword(password);
    const ha1: string[] = [];
    for (const realm of this.#options.realms) {
      for (const algorithm of HA1_ALGORITHMS) {
        ha1.push(
          formatHa1(algorithm, realm, computeHa1(userPart(address), realm, password, algorithm)),
        );
      }
    }
    return { hash, ha1 };
  }

  async addUser(user: NewUser): Promise<DirectoryUser> {
    return this.#addUser(user, false);
  }

  async #addUser(user: NewUser, deferHash: boolean): Promise<DirectoryUser> {
    const address = canonicalAddress(user.address);
    if (address === undefined) {
      throw new DirectoryError('invalid-address', `not a SIP address of a user: ${user.address}`);
    }
    if ((await this.#findUser(address, ['1.1'])) !== undefined) {
      throw new DirectoryError('duplicate', `user ${address} exists`);
    }
    const { hash, ha1 } = await this.#secrets(address, user.password, deferHash);
    const policy = { ...DEFAULT_POLICY, ...user.policy };
    const displayName = user.displayName ?? null;
    const email = user.email ?? null;
    const enabled = user.enabled ?? true;
    const attributes: Record<string, string | string[]> = {
      [ATTR.objectClass]: USER_CLASSES,
      [ATTR.uid]: address,
      // inetOrgPerson inherits person's MUST cn, sn (RFC 4519 §3.12).
      [ATTR.cn]: displayName ?? address,
      [ATTR.sn]: userPart(address),
      [ATTR.sipAddress]: address,
      [ATTR.enabled]: ldapBoolean(enabled),
      ...policyAttributes(policy),
    };
    if (hash !== undefined) attributes[ATTR.passwordHash] = hash;
    // An attribute with no values may not be added (RFC 4511 §4.7): no realm, no HA1.
    if (ha1.length > 0) attributes[ATTR.digestHa1] = ha1;
    if (displayName !== null) attributes[ATTR.displayName] = displayName;
    if (email !== null) attributes[ATTR.mail] = email;
    // RDN on rampartSipAddress (caseExactIA5Match): RFC 3261 §19.1.4 compares user parts
    // case-sensitively, so `Bob@x` and `bob@x` are two users; a `uid=` RDN (caseIgnoreMatch)
    // would make them collide.
    const dn = `${ATTR.sipAddress}=${escapeDnValue(address)},${this.#options.usersDn}`;
    try {
      await this.#connection.run(`add ${address}`, (client) => client.add(dn, attributes));
    } catch (error) {
      if (resultCode(error) === RESULT.entryAlreadyExists) {
        throw new DirectoryError('duplicate', `user ${address} exists`, { cause: error });
      }
      throw backendError(`add ${address}`, error);
    }
    return { address, displayName, email, enabled, policy };
  }

  async addUsers(users: Iterable<NewUser>, onProgress?: (done: number) => void): Promise<number> {
    // OpenLDAP's mdb offers no multi-entry transaction (the LDAP transactions of RFC 5805 are
    // not assumed); each entry is added on its own and the first failure stops the loop.
    // scrypt at ~30 ms a user would make a large import take hours, so imported users get
    // their HA1s only and the sign-in hash on first sign-in (see verifyPassword).
    let done = 0;
    for (const user of users) {
      await this.#addUser(user, true);
      done++;
      onProgress?.(done);
    }
    return done;
  }

  async removeUser(address: string): Promise<void> {
    const entry = await this.#requireUser(address, ['1.1']);
    try {
      await this.#connection.run('delete user', (client) => client.del(entry.dn));
      // No referential-integrity overlay is assumed: drop the user from every list here.
      await this.#dropMemberEverywhere(entry.dn);
    } catch (error) {
      if (resultCode(error) === RESULT.noSuchObject) {
        throw new DirectoryError('unknown-user', `no user ${address}`, { cause: error });
      }
      throw backendError('delete user', error);
    }
  }

  async #dropMemberEverywhere(dn: string): Promise<void> {
    const groups = await this.#search(this.#options.groupsDn, {
      scope: 'one',
      filter: `(&(objectClass=groupOfNames)(${ATTR.member}=${escapeFilterValue(dn)}))`,
      attributes: [ATTR.member],
    });
    for (const group of groups) await this.#removeMemberDn(group, dn);
  }

  /** Removes `dn` from `group`, keeping the placeholder when the list would become empty. */
  async #removeMemberDn(group: Entry, dn: string): Promise<void> {
    const members = values(group, ATTR.member);
    const changes: Change[] = [];
    // RFC 4511 §4.6: the changes of one Modify apply in order, atomically.
    if (members.length <= 1 && !members.includes(EMPTY_GROUP_MEMBER)) {
      changes.push(
        new Change({
          operation: 'add',
          modification: new Attribute({ type: ATTR.member, values: [EMPTY_GROUP_MEMBER] }),
        }),
      );
    }
    changes.push(
      new Change({
        operation: 'delete',
        modification: new Attribute({ type: ATTR.member, values: [dn] }),
      }),
    );
    try {
      await this.#connection.run('remove member', (client) => client.modify(group.dn, changes));
    } catch (error) {
      if (resultCode(error) === RESULT.noSuchAttribute) return;
      throw error;
    }
  }

  async getUser(address: string): Promise<DirectoryUser | undefined> {
    const canonical = canonicalAddress(address);
    if (canonical === undefined) return undefined;
    const entry = await this.#findUser(canonical, USER_ATTRIBUTES);
    return entry === undefined ? undefined : userFromEntry(entry);
  }

  async listUsers(options: ListOptions = {}): Promise<DirectoryUser[]> {
    const prefix = options.prefix ?? '';
    const assertion = prefix === '' ? '*' : `${escapeFilterValue(prefix)}*`;
    const entries = await this.#search(this.#options.usersDn, {
      scope: 'sub',
      filter: `(&(objectClass=rampartUser)(${ATTR.sipAddress}=${assertion}))`,
      attributes: [...USER_ATTRIBUTES],
    });
    const users: DirectoryUser[] = [];
    for (const entry of entries) {
      const user = userFromEntry(entry);
      if (user !== undefined && user.address.startsWith(prefix)) users.push(user);
    }
    // LDAP returns entries in no defined order (RFC 4511 §4.5.2); page by address.
    users.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    const offset = Math.max(0, options.offset ?? 0);
    const end = options.limit === undefined ? undefined : offset + Math.max(0, options.limit);
    return users.slice(offset, end);
  }

  async countUsers(): Promise<number> {
    const entries = await this.#search(this.#options.usersDn, {
      scope: 'sub',
      filter: '(objectClass=rampartUser)',
      attributes: ['1.1'],
    });
    return entries.length;
  }

  async setPassword(address: string, password: string): Promise<void> {
    const entry = await this.#requireUser(address, [ATTR.sipAddress]);
    const canonical = value(entry, ATTR.sipAddress) ?? address;
    const { hash, ha1 } = await this.#secrets(canonical, password);
    await this.#modify(entry.dn, address, [
      replace(ATTR.passwordHash, hash === undefined ? [] : [hash]),
      replace(ATTR.digestHa1, ha1),
    ]);
  }

  async #modify(dn: string, address: string, changes: Change[]): Promise<void> {
    if (changes.length === 0) return;
    try {
      await this.#connection.run('modify user', (client) => client.modify(dn, changes));
    } catch (error) {
      if (resultCode(error) === RESULT.noSuchObject) {
        throw new DirectoryError('unknown-user', `no user ${address}`, { cause: error });
      }
      throw backendError('modify user', error);
    }
  }

  async updateUser(address: string, update: UserUpdate): Promise<DirectoryUser> {
    const entry = await this.#requireUser(address, USER_ATTRIBUTES);
    const current = userFromEntry(entry);
    if (current === undefined) throw new DirectoryError('unknown-user', `no user ${address}`);
    const changes: Change[] = [];
    for (const [type, text] of Object.entries(policyAttributes(update))) {
      changes.push(replace(type, [text]));
    }
    if (update.enabled !== undefined)
      changes.push(replace(ATTR.enabled, [ldapBoolean(update.enabled)]));
    if (update.displayName !== undefined) {
      changes.push(
        replace(ATTR.displayName, update.displayName === null ? [] : [update.displayName]),
      );
      changes.push(replace(ATTR.cn, [update.displayName ?? current.address]));
    }
    if (update.email !== undefined) {
      changes.push(replace(ATTR.mail, update.email === null ? [] : [update.email]));
    }
    await this.#modify(entry.dn, address, changes);
    const { displayName, email, enabled, ...policyUpdate } = update;
    return {
      address: current.address,
      displayName: displayName === undefined ? current.displayName : displayName,
      email: email === undefined ? current.email : email,
      enabled: enabled ?? current.enabled,
      policy: { ...current.policy, ...definedOnly(policyUpdate) },
    };
  }

  async verifyPassword(address: string, password: string): Promise<boolean> {
    if (password.length > MAX_PASSWORD) return false;
    const canonical = canonicalAddress(address);
    if (canonical === undefined) return false;
    const entry = await this.#findUser(canonical, [ATTR.passwordHash, ATTR.digestHa1]);
    const hash = entry === undefined ? undefined : value(entry, ATTR.passwordHash);
    if (entry === undefined || hash !== undefined) {
      // An unknown user costs one scrypt too, so timing does not tell who exists.
      return verifyPassword(hash ?? DUMMY_HASH, password);
    }
    // A bulk-imported user's first sign-in: the password against its SHA-256 HA1 of the first
    // realm (constant time), then the scrypt hash is stored. The HA1 is a password
    // equivalent the directory keeps for digest anyway (RFC 7616 §5.3).
    const realm = this.#options.realms[0];
    const stored =
      realm === undefined ? undefined : findHa1(values(entry, ATTR.digestHa1), 'SHA-256', realm);
    if (realm === undefined || stored === undefined) {
      return verifyPassword(DUMMY_HASH, password);
    }
    const matches = ha1Equal(stored, computeHa1(userPart(canonical), realm, password, 'SHA-256'));
    if (matches) await this.#storeFirstHash(entry.dn, password);
    return matches;
  }

  /**
   * Adds (not replaces) the sign-in hash: if a setPassword got there first, the add fails
   * on the single-valued attribute and its newer hash stays.
   */
  async #storeFirstHash(dn: string, password: string): Promise<void> {
    const hash = await hashPassword(password);
    const change = new Change({
      operation: 'add',
      modification: new Attribute({ type: ATTR.passwordHash, values: [hash] }),
    });
    try {
      await this.#connection.run('store sign-in hash', (client) => client.modify(dn, change));
    } catch (error) {
      if (error instanceof ResultCodeError) return;
      throw backendError('store sign-in hash', error);
    }
  }

  async digestHa1(
    address: string,
    realm: string,
    algorithm: Ha1Algorithm,
  ): Promise<string | undefined> {
    if (!this.#options.realms.includes(realm)) return undefined;
    const canonical = canonicalAddress(address);
    if (canonical === undefined) return undefined;
    const entry = await this.#findUser(canonical, [ATTR.digestHa1]);
    return entry === undefined
      ? undefined
      : findHa1(values(entry, ATTR.digestHa1), algorithm, realm);
  }

  async addGroup(name: string, displayName: string | null = null): Promise<DirectoryGroup> {
    if (!validGroupName(name))
      throw new DirectoryError('invalid-name', `not a group name: ${name}`);
    const attributes: Record<string, string | string[]> = {
      [ATTR.objectClass]: GROUP_CLASSES,
      [ATTR.cn]: name,
      [ATTR.member]: [EMPTY_GROUP_MEMBER],
    };
    if (displayName !== null) attributes[ATTR.displayName] = displayName;
    const dn = `${ATTR.cn}=${escapeDnValue(name)},${this.#options.groupsDn}`;
    if ((await this.#findGroup(name, ['1.1'])) !== undefined) {
      throw new DirectoryError('duplicate', `group ${name} exists`);
    }
    try {
      await this.#connection.run(`add group ${name}`, (client) => client.add(dn, attributes));
    } catch (error) {
      if (resultCode(error) === RESULT.entryAlreadyExists) {
        throw new DirectoryError('duplicate', `group ${name} exists`, { cause: error });
      }
      throw backendError(`add group ${name}`, error);
    }
    return { name, displayName };
  }

  async removeGroup(name: string): Promise<void> {
    const entry = await this.#requireGroup(name, ['1.1']);
    try {
      await this.#connection.run('delete group', (client) => client.del(entry.dn));
      await this.#dropMemberEverywhere(entry.dn);
    } catch (error) {
      if (resultCode(error) === RESULT.noSuchObject) {
        throw new DirectoryError('unknown-group', `no group ${name}`, { cause: error });
      }
      throw backendError('delete group', error);
    }
  }

  async listGroups(): Promise<DirectoryGroup[]> {
    const entries = await this.#search(this.#options.groupsDn, {
      scope: 'one',
      filter: '(objectClass=groupOfNames)',
      attributes: [ATTR.cn, ATTR.displayName],
    });
    const groups: DirectoryGroup[] = [];
    for (const entry of entries) {
      const name = value(entry, ATTR.cn);
      if (name !== undefined)
        groups.push({ name, displayName: value(entry, ATTR.displayName) ?? null });
    }
    groups.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return groups;
  }

  /** The DN of `member`: a user (by address) first, else a group (by name). */
  async #memberDn(member: string): Promise<string | undefined> {
    const address = canonicalAddress(member);
    if (address !== undefined) {
      const user = await this.#findUser(address, ['1.1']);
      if (user !== undefined) return user.dn;
    }
    const group = await this.#findGroup(member, ['1.1']);
    return group?.dn;
  }

  async addMember(group: string, member: string): Promise<void> {
    const groupEntry = await this.#requireGroup(group, ['1.1']);
    const memberDn = await this.#memberDn(member);
    if (memberDn === undefined) {
      throw new DirectoryError('unknown-member', `${member} is neither a user nor a group`);
    }
    const change = new Change({
      operation: 'add',
      modification: new Attribute({ type: ATTR.member, values: [memberDn] }),
    });
    try {
      await this.#connection.run('add member', (client) => client.modify(groupEntry.dn, change));
    } catch (error) {
      if (resultCode(error) === RESULT.attributeOrValueExists) return;
      if (resultCode(error) === RESULT.noSuchObject) {
        throw new DirectoryError('unknown-group', `no group ${group}`, { cause: error });
      }
      throw backendError('add member', error);
    }
  }

  async removeMember(group: string, member: string): Promise<void> {
    const groupEntry = await this.#requireGroup(group, [ATTR.member]);
    const memberDn = await this.#memberDn(member);
    if (memberDn === undefined) return;
    try {
      await this.#removeMemberDn(groupEntry, memberDn);
    } catch (error) {
      throw backendError('remove member', error);
    }
  }

  /** What a member DN names: a user's address or a group's name (undefined: neither, gone). */
  async #resolve(dn: string): Promise<{ kind: 'user' | 'group'; id: string } | undefined> {
    if (dn === EMPTY_GROUP_MEMBER) return undefined;
    let entries: Entry[];
    try {
      entries = await this.#search(dn, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: [ATTR.objectClass, ATTR.sipAddress, ATTR.cn],
        paged: false,
      });
    } catch (error) {
      if (resultCode(error) === RESULT.noSuchObject) return undefined;
      throw backendError('read member', error);
    }
    const entry = entries[0];
    if (entry === undefined) return undefined;
    const classes = values(entry, ATTR.objectClass).map((name) => name.toLowerCase());
    const address = value(entry, ATTR.sipAddress);
    if (classes.includes('rampartuser') && address !== undefined)
      return { kind: 'user', id: address };
    const name = value(entry, ATTR.cn);
    if (classes.includes('groupofnames') && name !== undefined) return { kind: 'group', id: name };
    return undefined;
  }

  async members(group: string, options: { readonly expand?: boolean } = {}): Promise<string[]> {
    const root = await this.#requireGroup(group, [ATTR.cn, ATTR.member]);
    const resolved = new Map<string, { kind: 'user' | 'group'; id: string } | undefined>();
    const resolve = async (
      dn: string,
    ): Promise<{ kind: 'user' | 'group'; id: string } | undefined> => {
      if (!resolved.has(dn)) resolved.set(dn, await this.#resolve(dn));
      return resolved.get(dn);
    };
    if (options.expand !== true) {
      const direct: string[] = [];
      for (const dn of values(root, ATTR.member)) {
        const item = await resolve(dn);
        if (item !== undefined) direct.push(item.id);
      }
      return direct.sort();
    }
    // Breadth-first over nested lists; a group seen once is not walked again (cycles).
    const seenGroups = new Set<string>([(value(root, ATTR.cn) ?? group).toLowerCase()]);
    const users = new Set<string>();
    let frontier: Entry[] = [root];
    while (frontier.length > 0) {
      const next: Entry[] = [];
      for (const entry of frontier) {
        for (const dn of values(entry, ATTR.member)) {
          const item = await resolve(dn);
          if (item === undefined) continue;
          if (item.kind === 'user') {
            users.add(item.id);
            if (users.size > MAX_EXPANDED_MEMBERS) {
              throw new DirectoryError(
                'backend',
                `group ${group} expands past ${MAX_EXPANDED_MEMBERS} users`,
              );
            }
            continue;
          }
          const key = item.id.toLowerCase();
          if (seenGroups.has(key)) continue;
          seenGroups.add(key);
          if (seenGroups.size > MAX_EXPANDED_GROUPS) {
            throw new DirectoryError(
              'backend',
              `group ${group} nests past ${MAX_EXPANDED_GROUPS} groups`,
            );
          }
          const nested = await this.#findGroup(item.id, [ATTR.cn, ATTR.member]);
          if (nested !== undefined) next.push(nested);
        }
      }
      frontier = next;
    }
    return [...users].sort();
  }

  async close(): Promise<void> {
    await this.#connection.close();
  }
}

function definedOnly<T extends object>(record: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(record).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

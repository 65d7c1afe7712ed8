/**
 * The directory: users, their SIP addresses, credentials and per-user policy, and
 * distribution lists. Two implementations sit behind this one interface — SQLite (embedded,
 * the default) and LDAP — and one shared test suite runs against both.
 *
 * Addresses are canonical `user@domain` strings (no `sip:` prefix, domain lower-cased); use
 * {@link canonicalAddress} to turn what an operator typed into one.
 */
import { RampartError, ERROR_CODES } from '../lib/errors.ts';

/** What a user may do; read by the Director, the Front End and the edges. */
export interface UserPolicy {
  /** May sign in from outside through the Access Edge. */
  readonly remoteAccess: boolean;
  /** May talk to users of federated partner domains. */
  readonly federation: boolean;
  /** May talk to users of public IM providers. */
  readonly publicIm: boolean;
  /** May invite anonymous participants to meetings. */
  readonly inviteAnonymous: boolean;
  /** How many endpoints may be registered at once. */
  readonly maxEndpoints: number;
}

export const DEFAULT_POLICY: UserPolicy = Object.freeze({
  remoteAccess: true,
  federation: true,
  publicIm: false,
  inviteAnonymous: true,
  maxEndpoints: 8,
});

/** A user as the directory returns it (never the secrets). */
export interface DirectoryUser {
  readonly address: string;
  readonly displayName: string | null;
  readonly email: string | null;
  readonly enabled: boolean;
  readonly policy: UserPolicy;
}

export interface NewUser {
  readonly address: string;
  readonly password: string;
  readonly displayName?: string | null;
  readonly email?: string | null;
  readonly enabled?: boolean;
  readonly policy?: Partial<UserPolicy>;
}

/** The digest hash algorithms the directory keeps an HA1 for (RFC 8760, RFC 7616). */
export type Ha1Algorithm = 'MD5' | 'SHA-256';

/** A change to a user's enabled flag and policy; absent fields stay as they are. */
export interface UserUpdate extends Partial<UserPolicy> {
  readonly enabled?: boolean;
  readonly displayName?: string | null;
  readonly email?: string | null;
}

export interface ListOptions {
  /** Only addresses starting with this text. */
  readonly prefix?: string;
  readonly limit?: number;
  readonly offset?: number;
}

/** A distribution list. Members are user addresses or names of other groups (nesting). */
export interface DirectoryGroup {
  readonly name: string;
  readonly displayName: string | null;
}

export interface Directory {
  /** Adds a user; `duplicate` when the address exists, `invalid-address` when malformed. */
  addUser(user: NewUser): Promise<DirectoryUser>;
  /** Adds many users in one transaction where the backend has one; returns how many. */
  addUsers(users: Iterable<NewUser>, onProgress?: (done: number) => void): Promise<number>;
  /** `unknown-user` when absent. */
  removeUser(address: string): Promise<void>;
  getUser(address: string): Promise<DirectoryUser | undefined>;
  listUsers(options?: ListOptions): Promise<DirectoryUser[]>;
  countUsers(): Promise<number>;
  /** Replaces the password: the web sign-in hash and every HA1. `unknown-user` when absent. */
  setPassword(address: string, password: string): Promise<void>;
  /** Changes the enabled flag, policy or names. `unknown-user` when absent. */
  updateUser(address: string, update: UserUpdate): Promise<DirectoryUser>;
  /** Web sign-in: checks a password against the salted hash (constant time). */
  verifyPassword(address: string, password: string): Promise<boolean>;
  /**
   * The digest HA1 = H(user-part ":" realm ":" password) for a realm the directory was
   * configured with, or undefined (unknown user, unknown realm).
   */
  digestHa1(address: string, realm: string, algorithm: Ha1Algorithm): Promise<string | undefined>;

  addGroup(name: string, displayName?: string | null): Promise<DirectoryGroup>;
  /** `unknown-group` when absent. */
  removeGroup(name: string): Promise<void>;
  listGroups(): Promise<DirectoryGroup[]>;
  /** `unknown-group`, or `unknown-member` when the member is neither a user nor a group. */
  addMember(group: string, member: string): Promise<void>;
  removeMember(group: string, member: string): Promise<void>;
  /**
   * The group's members. With `expand`, nested groups are replaced by their users (each user
   * once, cycles tolerated), sorted; without, the direct members (users and groups).
   */
  members(group: string, options?: { readonly expand?: boolean }): Promise<string[]>;

  close(): Promise<void>;
}

/** Why a directory operation was refused. */
export type DirectoryErrorReason =
  | 'duplicate'
  | 'invalid-address'
  | 'invalid-name'
  | 'unknown-user'
  | 'unknown-group'
  | 'unknown-member'
  | 'unknown-realm'
  | 'backend';

export class DirectoryError extends RampartError {
  readonly reason: DirectoryErrorReason;
  constructor(reason: DirectoryErrorReason, message: string, options?: { cause?: unknown }) {
    super(ERROR_CODES.DIRECTORY, message, options);
    this.reason = reason;
  }
}

const USER_PART = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$/;
const DOMAIN =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * `alice@Example.TEST`, `sip:alice@example.test` → `alice@example.test`; undefined when the
 * text is not a SIP address of a user (no user part, bad characters, parameters, a port).
 */
export function canonicalAddress(text: string): string | undefined {
  let s = text.trim();
  if (/^sips?:/i.test(s)) s = s.slice(s.indexOf(':') + 1);
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return undefined;
  const user = s.slice(0, at);
  const domain = s.slice(at + 1).toLowerCase();
  if (user.length > 128 || !USER_PART.test(user) || user.includes('@')) return undefined;
  if (!DOMAIN.test(domain)) return undefined;
  return `${user}@${domain}`;
}

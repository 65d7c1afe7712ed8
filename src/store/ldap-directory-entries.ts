/**
 * How Rampart users and groups look as LDAP entries (schema: test/fixtures/ldap/rampart.ldif),
 * and the conversions between entries and the Directory types. No I/O here.
 */
import type { Entry } from 'ldapts';
import { DEFAULT_POLICY } from './directory.ts';
import type { DirectoryUser, Ha1Algorithm, UserPolicy } from './directory.ts';

/** Attribute names of the Rampart schema (rampart.ldif) and the standard ones we use. */
export const ATTR = {
  objectClass: 'objectClass',
  uid: 'uid',
  cn: 'cn',
  sn: 'sn',
  displayName: 'displayName',
  mail: 'mail',
  member: 'member',
  sipAddress: 'rampartSipAddress',
  enabled: 'rampartEnabled',
  remoteAccess: 'rampartRemoteAccess',
  federation: 'rampartFederation',
  publicIm: 'rampartPublicIm',
  inviteAnonymous: 'rampartInviteAnonymous',
  maxEndpoints: 'rampartMaxEndpoints',
  digestHa1: 'rampartDigestHa1',
  passwordHash: 'rampartPasswordHash',
} as const;

export const USER_CLASSES = [
  'top',
  'person',
  'organizationalPerson',
  'inetOrgPerson',
  'rampartUser',
];
export const GROUP_CLASSES = ['top', 'groupOfNames', 'rampartGroup'];

/**
 * groupOfNames MUST have a member (RFC 4519 §3.5); an empty distribution list keeps the empty
 * DN (RFC 4514 §2.1, the root DSE, never a user or group) as its one placeholder member.
 */
export const EMPTY_GROUP_MEMBER = '';

/** Attributes read for a user (never the secrets). */
export const USER_ATTRIBUTES: readonly string[] = [
  ATTR.sipAddress,
  ATTR.displayName,
  ATTR.mail,
  ATTR.enabled,
  ATTR.remoteAccess,
  ATTR.federation,
  ATTR.publicIm,
  ATTR.inviteAnonymous,
  ATTR.maxEndpoints,
];

export const HA1_ALGORITHMS: readonly Ha1Algorithm[] = ['MD5', 'SHA-256'];

/** Every value of attribute `name` (matched case-insensitively, RFC 4512 §2.5) as text. */
export function values(entry: Entry, name: string): string[] {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(entry)) {
    if (key.toLowerCase() !== lower || key === 'dn') continue;
    const list = Array.isArray(value) ? value : [value];
    return list.map((item) => (typeof item === 'string' ? item : item.toString('utf8')));
  }
  return [];
}

/** The first value of `name`, or undefined. */
export function value(entry: Entry, name: string): string | undefined {
  return values(entry, name)[0];
}

/** RFC 4517 §3.3.3 Boolean: "TRUE" / "FALSE". */
export function ldapBoolean(flag: boolean): string {
  return flag ? 'TRUE' : 'FALSE';
}

function parseBoolean(text: string | undefined, fallback: boolean): boolean {
  if (text === 'TRUE') return true;
  if (text === 'FALSE') return false;
  return fallback;
}

/** RFC 4517 §3.3.16 Integer; absent or out of range → the default. */
function parseCount(text: string | undefined, fallback: number): number {
  if (text === undefined || !/^\d{1,9}$/.test(text)) return fallback;
  return Number(text);
}

/** The user an entry describes, or undefined when it has no usable SIP address. */
export function userFromEntry(entry: Entry): DirectoryUser | undefined {
  const address = value(entry, ATTR.sipAddress);
  if (address === undefined) return undefined;
  const policy: UserPolicy = {
    remoteAccess: parseBoolean(value(entry, ATTR.remoteAccess), DEFAULT_POLICY.remoteAccess),
    federation: parseBoolean(value(entry, ATTR.federation), DEFAULT_POLICY.federation),
    publicIm: parseBoolean(value(entry, ATTR.publicIm), DEFAULT_POLICY.publicIm),
    inviteAnonymous: parseBoolean(
      value(entry, ATTR.inviteAnonymous),
      DEFAULT_POLICY.inviteAnonymous,
    ),
    maxEndpoints: parseCount(value(entry, ATTR.maxEndpoints), DEFAULT_POLICY.maxEndpoints),
  };
  return {
    address,
    displayName: value(entry, ATTR.displayName) ?? null,
    email: value(entry, ATTR.mail) ?? null,
    enabled: parseBoolean(value(entry, ATTR.enabled), true),
    policy,
  };
}

/** Attribute values for a policy, as written on add and replace. */
export function policyAttributes(policy: Partial<UserPolicy>): Record<string, string> {
  const out: Record<string, string> = {};
  if (policy.remoteAccess !== undefined) out[ATTR.remoteAccess] = ldapBoolean(policy.remoteAccess);
  if (policy.federation !== undefined) out[ATTR.federation] = ldapBoolean(policy.federation);
  if (policy.publicIm !== undefined) out[ATTR.publicIm] = ldapBoolean(policy.publicIm);
  if (policy.inviteAnonymous !== undefined) {
    out[ATTR.inviteAnonymous] = ldapBoolean(policy.inviteAnonymous);
  }
  if (policy.maxEndpoints !== undefined) out[ATTR.maxEndpoints] = String(policy.maxEndpoints);
  return out;
}

/** One rampartDigestHa1 value: `<algorithm>:<realm>:<hex>`. */
export function formatHa1(algorithm: Ha1Algorithm, realm: string, hex: string): string {
  return `${algorithm}:${realm}:${hex}`;
}

/** The hex of the value for `algorithm` and `realm`, or undefined. */
export function findHa1(
  stored: readonly string[],
  algorithm: Ha1Algorithm,
  realm: string,
): string | undefined {
  const prefix = `${algorithm}:${realm}:`;
  for (const item of stored) {
    if (!item.startsWith(prefix)) continue;
    const hex = item.slice(prefix.length);
    // The realm may itself hold ':'; the hex part never does.
    if (/^[0-9a-f]+$/.test(hex)) return hex;
  }
  return undefined;
}

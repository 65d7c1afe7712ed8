/**
 * The roaming contact list body (`application/vnd.rampart.contacts+json`): one operation per
 * SERVICE request, the full list in each 200. The protocol is described in
 * docs/contacts-protocol.md. Parsing is bounded (body size, counts, lengths) and returns a
 * value saying why a body was refused; nothing here throws.
 */
import { z } from 'zod';
import { formatHost, isSipUri, normalizeEscapes, parseUri } from '../sip/uri.ts';
import { err, ok, type Result } from '../../lib/result.ts';

/** The media type of operations and lists. */
export const CONTACTS_CONTENT_TYPE = 'application/vnd.rampart.contacts+json';

/** Bounds of the contact list protocol. */
export const CONTACTS_LIMITS = {
  /** Largest operation body accepted, in bytes. */
  maxOperationBytes: 16 * 1024,
  /** Largest list body accepted (a stored or received list), in bytes. */
  maxListBytes: 1024 * 1024,
  maxContacts: 1000,
  maxGroups: 100,
  maxGroupsPerContact: 20,
  maxNameChars: 128,
  maxAddressChars: 256,
} as const;

/**
 * The canonical form of a contact address: `sip:user@host[:port]`, host lower-cased, URI
 * parameters and headers dropped, unreserved escapes decoded (RFC 3261 §10.3 step 5, §19.1.4).
 * Undefined unless the text is a sip/sips URI with a user part.
 */
export function canonicalContactAddress(text: string): string | undefined {
  if (text.length > CONTACTS_LIMITS.maxAddressChars) return undefined;
  const parsed = parseUri(text.trim());
  if (!parsed.ok || !isSipUri(parsed.value) || parsed.value.user === undefined) return undefined;
  const uri = parsed.value;
  const port = uri.port === undefined ? '' : `:${uri.port}`;
  return `sip:${normalizeEscapes(uri.user ?? '')}@${formatHost(uri.host)}${port}`;
}

// A display name or group name: printable, no control characters, trimmed, bounded.
const nameSchema = z
  .string()
  .max(CONTACTS_LIMITS.maxNameChars)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'control character')
  .transform((s) => s.trim());
const groupNameSchema = nameSchema.refine((s) => s.length > 0, 'empty group name');
const addressSchema = z
  .string()
  .max(CONTACTS_LIMITS.maxAddressChars)
  .transform((s, ctx) => {
    const canonical = canonicalContactAddress(s);
    if (canonical === undefined) {
      ctx.addIssue({ code: 'custom', message: 'not a sip address with a user part' });
      return z.NEVER;
    }
    return canonical;
  });
// Optimistic concurrency: the version the client last saw (see the protocol document).
const baseVersionSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional();

const opSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('get') }),
  z.strictObject({
    op: z.literal('put-contact'),
    address: addressSchema,
    name: nameSchema.optional(),
    groups: z.array(groupNameSchema).max(CONTACTS_LIMITS.maxGroupsPerContact).optional(),
    baseVersion: baseVersionSchema,
  }),
  z.strictObject({
    op: z.literal('delete-contact'),
    address: addressSchema,
    baseVersion: baseVersionSchema,
  }),
  z.strictObject({
    op: z.literal('put-group'),
    name: groupNameSchema,
    baseVersion: baseVersionSchema,
  }),
  z.strictObject({
    op: z.literal('delete-group'),
    name: groupNameSchema,
    baseVersion: baseVersionSchema,
  }),
]);

/** One operation on the contact list. */
export type ContactOp =
  | { readonly op: 'get' }
  | {
      readonly op: 'put-contact';
      readonly address: string;
      readonly name?: string;
      readonly groups?: readonly string[];
      readonly baseVersion?: number;
    }
  | { readonly op: 'delete-contact'; readonly address: string; readonly baseVersion?: number }
  | { readonly op: 'put-group'; readonly name: string; readonly baseVersion?: number }
  | { readonly op: 'delete-group'; readonly name: string; readonly baseVersion?: number };

/** One contact. */
export interface ContactEntry {
  /** Canonical address, unique in the list. */
  readonly address: string;
  /** Display name chosen by the owner; '' when none. */
  readonly name: string;
  /** Names of groups the contact is in; each is in the list's `groups`. */
  readonly groups: readonly string[];
}

/** A user's contact list. */
export interface ContactList {
  /** Increments by one with every change; 0 for a list never written. */
  readonly version: number;
  readonly groups: readonly string[];
  readonly contacts: readonly ContactEntry[];
}

/** The empty list of a user who never wrote one. */
export const EMPTY_CONTACT_LIST: ContactList = { version: 0, groups: [], contacts: [] };

const listSchema = z.strictObject({
  version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  groups: z.array(groupNameSchema).max(CONTACTS_LIMITS.maxGroups),
  contacts: z
    .array(
      z.strictObject({
        address: addressSchema,
        name: nameSchema,
        groups: z.array(groupNameSchema).max(CONTACTS_LIMITS.maxGroupsPerContact),
      }),
    )
    .max(CONTACTS_LIMITS.maxContacts),
});

/** Why a contacts body was refused; the server answers 400. */
export interface ContactsCodecError {
  readonly code: 'RAMPART_ERR_CONTACTS_PARSE';
  readonly reason: string;
}

function bad(reason: string): { ok: false; error: ContactsCodecError } {
  return err({ code: 'RAMPART_ERR_CONTACTS_PARSE', reason });
}

function decodeJson(
  body: Uint8Array | string,
  maxBytes: number,
): Result<unknown, ContactsCodecError> {
  const size = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
  if (size > maxBytes) return bad(`body over ${maxBytes} bytes`);
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      return bad('invalid UTF-8');
    }
  }
  try {
    return ok(JSON.parse(text) as unknown);
  } catch {
    return bad('invalid JSON');
  }
}

function issueText(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid';
  return `${issue.path.join('.') || 'body'}: ${issue.message}`;
}

/** Parses one operation body. Addresses come back canonical, names trimmed. */
export function parseContactOp(body: Uint8Array | string): Result<ContactOp, ContactsCodecError> {
  const json = decodeJson(body, CONTACTS_LIMITS.maxOperationBytes);
  if (!json.ok) return json;
  const parsed = opSchema.safeParse(json.value);
  if (!parsed.success) return bad(issueText(parsed.error));
  const op = parsed.data;
  // Drop keys zod left undefined, for exactOptionalPropertyTypes.
  return ok(Object.fromEntries(Object.entries(op).filter(([, v]) => v !== undefined)) as ContactOp);
}

/** Parses a list body (a stored list, or a 200's body on the client side). */
export function parseContactList(
  body: Uint8Array | string,
): Result<ContactList, ContactsCodecError> {
  const json = decodeJson(body, CONTACTS_LIMITS.maxListBytes);
  if (!json.ok) return json;
  const parsed = listSchema.safeParse(json.value);
  if (!parsed.success) return bad(issueText(parsed.error));
  return ok(parsed.data);
}

/** Serialises a list as the body of a 200. */
export function serializeContactList(list: ContactList): string {
  return JSON.stringify({ version: list.version, groups: list.groups, contacts: list.contacts });
}

/** Serialises an operation (for clients and tests). */
export function serializeContactOp(op: ContactOp): string {
  return JSON.stringify(op);
}

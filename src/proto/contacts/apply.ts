/**
 * Applying one operation to a contact list: pure, bounded, and refusing a stale `baseVersion`
 * (optimistic concurrency, docs/contacts-protocol.md §Versions).
 */
import {
  CONTACTS_LIMITS,
  type ContactEntry,
  type ContactList,
  type ContactOp,
} from '../../codec/contacts/contacts.ts';
import { err, ok, type Result } from '../../lib/result.ts';

/** Why an operation was refused, with the SIP status that says so. */
export interface ContactOpError {
  /** 412 stale version (RFC 3903 §11.2.1's Conditional Request Failed), 404 unknown, 403 caps. */
  readonly status: 403 | 404 | 412;
  readonly reason: string;
}

/** The list after the operation, and whether it changed. */
export interface ContactOpResult {
  readonly list: ContactList;
  readonly changed: boolean;
}

function refuse(
  status: ContactOpError['status'],
  reason: string,
): { ok: false; error: ContactOpError } {
  return err({ status, reason });
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
}

/** Applies `op` to `list`. A change increments the version by one. */
export function applyContactOp(
  list: ContactList,
  op: ContactOp,
): Result<ContactOpResult, ContactOpError> {
  if (op.op === 'get') return ok({ list, changed: false });
  if (op.baseVersion !== undefined && op.baseVersion !== list.version)
    return refuse(412, 'version changed');
  const changedTo = (
    groups: readonly string[],
    contacts: readonly ContactEntry[],
  ): ContactOpResult => ({
    list: { version: list.version + 1, groups, contacts },
    changed: true,
  });
  switch (op.op) {
    case 'put-contact': {
      const index = list.contacts.findIndex((c) => c.address === op.address);
      const previous = list.contacts[index];
      const groups = unique(op.groups ?? previous?.groups ?? []);
      // Groups named by a contact exist from then on: one request files a contact anywhere.
      const allGroups = unique([...list.groups, ...groups]);
      if (allGroups.length > CONTACTS_LIMITS.maxGroups) return refuse(403, 'too many groups');
      const entry: ContactEntry = {
        address: op.address,
        name: op.name ?? previous?.name ?? '',
        groups,
      };
      if (previous === undefined) {
        if (list.contacts.length >= CONTACTS_LIMITS.maxContacts)
          return refuse(403, 'too many contacts');
        return ok(changedTo(allGroups, [...list.contacts, entry]));
      }
      const contacts = list.contacts.map((c, i) => (i === index ? entry : c));
      return ok(changedTo(allGroups, contacts));
    }
    case 'delete-contact': {
      if (!list.contacts.some((c) => c.address === op.address))
        return refuse(404, 'no such contact');
      return ok(
        changedTo(
          list.groups,
          list.contacts.filter((c) => c.address !== op.address),
        ),
      );
    }
    case 'put-group': {
      if (list.groups.includes(op.name)) return ok({ list, changed: false });
      if (list.groups.length >= CONTACTS_LIMITS.maxGroups) return refuse(403, 'too many groups');
      return ok(changedTo([...list.groups, op.name], list.contacts));
    }
    case 'delete-group': {
      if (!list.groups.includes(op.name)) return refuse(404, 'no such group');
      // Contacts stay; they only leave the group.
      const contacts = list.contacts.map((c) =>
        c.groups.includes(op.name) ? { ...c, groups: c.groups.filter((g) => g !== op.name) } : c,
      );
      return ok(
        changedTo(
          list.groups.filter((g) => g !== op.name),
          contacts,
        ),
      );
    }
  }
}

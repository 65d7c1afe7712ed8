/**
 * Where contact lists live. Small and async so the SQLite (embedded) and PostgreSQL
 * (distributed) implementations fit behind it; an in-memory one serves tests and the default.
 */
import type { ContactList } from '../../codec/contacts/contacts.ts';

/** Contact lists by owner (canonical address). */
export interface ContactListStore {
  /** The owner's list; undefined when never written. */
  get(owner: string): Promise<ContactList | undefined>;
  /**
   * Writes `list` if the stored version is still `expectedVersion` (0 when never written);
   * false, writing nothing, when another write came first.
   */
  put(owner: string, list: ContactList, expectedVersion: number): Promise<boolean>;
}

/** A {@link ContactListStore} in memory. */
export class MemoryContactListStore implements ContactListStore {
  private readonly lists = new Map<string, ContactList>();

  get(owner: string): Promise<ContactList | undefined> {
    return Promise.resolve(this.lists.get(owner));
  }

  put(owner: string, list: ContactList, expectedVersion: number): Promise<boolean> {
    if ((this.lists.get(owner)?.version ?? 0) !== expectedVersion) return Promise.resolve(false);
    this.lists.set(owner, list);
    return Promise.resolve(true);
  }
}

/**
 * The contact list service: a SERVICE request's body in, the response out
 * (docs/contacts-protocol.md). Reads and writes through a {@link ContactListStore}; each
 * change is announced to listeners (presence authorization re-evaluates watchers with it).
 */
import {
  CONTACTS_CONTENT_TYPE,
  EMPTY_CONTACT_LIST,
  parseContactOp,
  serializeContactList,
  type ContactList,
} from '../../codec/contacts/contacts.ts';
import type { HeaderLine } from '../../codec/sip/serialize.ts';
import { applyContactOp } from './apply.ts';
import type { ContactListStore } from './store.ts';

/** A change of one user's list. */
export interface ContactListChange {
  readonly owner: string;
  readonly list: ContactList;
}

/** What to answer. */
export interface ContactsResponse {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly HeaderLine[];
  /** The full list (JSON) on 200 and on 412, so a client can rebase; else undefined. */
  readonly body: string | undefined;
}

/** One request as the service sees it, after the driver authenticated `owner`. */
export interface ContactsRequest {
  readonly owner: string;
  readonly contentType: string | undefined;
  readonly body: Uint8Array;
}

// A write that loses a race without a baseVersion is applied again to the newer list.
const MAX_WRITE_ATTEMPTS = 3;

/** Serves the roaming contact list protocol. */
export class ContactListService {
  private readonly listeners = new Set<(change: ContactListChange) => void>();

  private readonly store: ContactListStore;
  private readonly onListenerError: (error: unknown) => void;

  /** `onListenerError` receives what a change listener threw (listeners are isolated). */
  constructor(
    store: ContactListStore,
    onListenerError: (error: unknown) => void = () => undefined,
  ) {
    this.store = store;
    this.onListenerError = onListenerError;
  }

  /** Calls `listener` after every stored change; returns a function that unsubscribes. */
  onChange(listener: (change: ContactListChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The owner's list (empty, version 0, when never written). */
  async list(owner: string): Promise<ContactList> {
    return (await this.store.get(owner)) ?? EMPTY_CONTACT_LIST;
  }

  /** Handles one request; never rejects for bad input (store failures do reject). */
  async handle(request: ContactsRequest): Promise<ContactsResponse> {
    const mediaType = (request.contentType?.split(';')[0] ?? '').trim().toLowerCase();
    if (mediaType !== CONTACTS_CONTENT_TYPE)
      return answer(415, 'Unsupported Media Type', [['Accept', CONTACTS_CONTENT_TYPE]]);
    const op = parseContactOp(request.body);
    if (!op.ok) return answer(400, 'Bad Request');
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const current = await this.list(request.owner);
      const applied = applyContactOp(current, op.value);
      if (!applied.ok) {
        const { status, reason } = applied.error;
        return answer(
          status,
          reason === 'version changed' ? 'Conditional Request Failed' : reason,
          [],
          status === 412 ? current : undefined,
        );
      }
      if (!applied.value.changed) return answer(200, 'OK', [], current);
      if (await this.store.put(request.owner, applied.value.list, current.version)) {
        this.emit({ owner: request.owner, list: applied.value.list });
        return answer(200, 'OK', [], applied.value.list);
      }
    }
    // Still racing: the client retries.
    return answer(500, 'Server Internal Error', [['Retry-After', '1']]);
  }

  private emit(change: ContactListChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}

function answer(
  status: number,
  reason: string,
  headers: readonly HeaderLine[] = [],
  list?: ContactList,
): ContactsResponse {
  if (list === undefined) return { status, reason, headers, body: undefined };
  return {
    status,
    reason,
    headers: [...headers, ['Content-Type', CONTACTS_CONTENT_TYPE]],
    body: serializeContactList(list),
  };
}

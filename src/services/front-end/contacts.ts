/**
 * The roaming contact list (docs/contacts-protocol.md), kept in the deployment's durable
 * store: the user reads and changes it with SERVICE requests; every change re-evaluates who
 * may watch the user's presence.
 */
import {
  CONTACTS_CONTENT_TYPE,
  parseContactList,
  type ContactList,
} from '../../codec/contacts/contacts.ts';
import type { SipRequest } from '../../codec/sip/message.ts';
import { header } from '../../codec/sip/parse.ts';
import type { Logger } from '../../lib/logger.ts';
import { ContactListService, type ContactListStore } from '../../proto/contacts/index.ts';
import type { RequestDecision } from '../../runtime/sip/handler.ts';
import type { DurableStore } from '../../store/durable-store.ts';

/** Contact lists as documents of the durable store; writes are serialised per process. */
class DurableContactListStore implements ContactListStore {
  private readonly store: DurableStore;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(store: DurableStore) {
    this.store = store;
  }

  async get(owner: string): Promise<ContactList | undefined> {
    const value = await this.store.get('contacts', owner);
    if (value === undefined) return undefined;
    const parsed = parseContactList(JSON.stringify(value));
    return parsed.ok ? parsed.value : undefined;
  }

  put(owner: string, list: ContactList, expectedVersion: number): Promise<boolean> {
    // Compare-and-set: one write at a time, so the version check and the write are atomic.
    const attempt = this.queue.then(async () => {
      const current = await this.get(owner);
      if ((current?.version ?? 0) !== expectedVersion) return false;
      await this.store.put('contacts', owner, list);
      return true;
    });
    this.queue = attempt.catch(() => undefined);
    return attempt;
  }
}

export interface ContactsServiceOptions {
  readonly store: DurableStore;
  readonly logger: Logger;
}

export class ContactsService {
  static readonly CONTENT_TYPE = CONTACTS_CONTENT_TYPE;
  private readonly service: ContactListService;

  constructor(options: ContactsServiceOptions) {
    this.service = new ContactListService(new DurableContactListStore(options.store), (error) => {
      options.logger.error({ event: 'contacts-listener', error: String(error) }, 'listener failed');
    });
  }

  /** Calls `listener` with the owner and the addresses on their list after each change. */
  onChange(listener: (owner: string, addresses: readonly string[]) => void): void {
    this.service.onChange((change) => {
      listener(
        change.owner,
        change.list.contacts.map((c) => c.address),
      );
    });
  }

  list(owner: string): Promise<ContactList> {
    return this.service.list(owner);
  }

  async handle(request: SipRequest, identity: string): Promise<RequestDecision> {
    const answer = await this.service.handle({
      owner: identity,
      contentType: header(request, 'content-type'),
      body: request.body,
    });
    return {
      kind: 'respond',
      status: answer.status,
      reason: answer.reason,
      headers: answer.headers,
      ...(answer.body === undefined ? {} : { body: Buffer.from(answer.body, 'utf8') }),
    };
  }
}

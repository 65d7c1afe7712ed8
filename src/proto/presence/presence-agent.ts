/**
 * The presence agent (RFC 3856 §3): the PUBLISH compositor, the notifier for `presence` and
 * `presence.winfo`, and the authorization that decides who sees whom. Sans-IO: every method
 * takes `now` and returns the response to send and the NOTIFYs to send after it.
 *
 * Choices, with the RFC text they rest on:
 * - A watcher the owner has not ruled on and who is not on the owner's contact list is
 *   `pending` (RFC 6665 §4.1.3) and gets NOTIFYs without a body; the owner sees it through
 *   presence.winfo (RFC 3857) and decides by adding it to the list or an allow rule.
 * - An explicit block refuses a new SUBSCRIBE with 403 (RFC 6665 §4.2.1.1) and ends a live one
 *   with `terminated;reason=rejected` (RFC 6665 §4.1.3: "SHOULD NOT attempt to re-subscribe").
 * - A watcher who loses the default permission (removed from the contact list, allow rule
 *   deleted) is ended with `terminated;reason=deactivated`: RFC 6665 §4.1.3 lets it re-subscribe
 *   at once, and the new subscription is `pending`. Active never goes back to pending.
 * - Only the resource owner may subscribe to its presence.winfo (RFC 3857 §5.1.1 default).
 * - Final NOTIFYs after a rejection or deactivation carry no body; an unsubscribe's and a
 *   fetch's carry the current document when the watcher was allowed (RFC 6665 §4.4.1).
 */
import {
  PIDF_CONTENT_TYPE,
  parsePidf,
  serializePidf,
  type PidfLimits,
} from '../../codec/pidf/pidf.ts';
import {
  serializeWatcherInfo,
  WATCHERINFO_CONTENT_TYPE,
  type Watcher,
  type WatcherEvent,
} from '../../codec/pidf/watcherinfo.ts';
import type { HeaderLine } from '../../codec/sip/serialize.ts';
import {
  PresenceAuthorization,
  type PresenceRule,
  type PresenceRulesError,
} from './authorization.ts';
import { PublicationStore, type PublicationStoreOptions } from './publication-store.ts';
import { SubscriptionTable, type SubscriptionTableOptions } from './subscription-table.ts';
import {
  isPresenceEventPackage,
  PRESENCE_EVENT,
  PRESENCE_WINFO_EVENT,
  type DialogKey,
  type NotifyAction,
  type PresenceOutcome,
  type Subscription,
  type TerminationReason,
} from './types.ts';
import { err, ok, type Result } from '../../lib/result.ts';

/** Options of {@link PresenceAgent}. */
export interface PresenceAgentOptions {
  readonly publications?: PublicationStoreOptions;
  readonly subscriptions?: SubscriptionTableOptions;
  /** Whether an address is a user here; a SUBSCRIBE to another is answered 404. */
  readonly isKnownResource?: (address: string) => boolean;
  readonly pidfLimits?: PidfLimits;
}

/** One PUBLISH, authenticated by the driver. */
export interface PublishInput {
  /** Canonical address of the presentity (the Request-URI). */
  readonly entity: string;
  /** Canonical address the request was authenticated as. */
  readonly publisher: string;
  /** The Event header's package (parameters removed); undefined when absent. */
  readonly event: string | undefined;
  readonly ifMatch?: string;
  readonly expiresSeconds?: number;
  readonly contentType?: string;
  /** The body; empty or undefined when there is none. */
  readonly body?: Uint8Array;
  readonly now: number;
}

/** One SUBSCRIBE, authenticated by the driver. */
export interface SubscribeInput {
  readonly key: DialogKey;
  /** The Event header's package (parameters removed); undefined when absent. */
  readonly event: string | undefined;
  /** Canonical address the request was authenticated as. */
  readonly subscriber: string;
  /** Canonical address of the watched resource (the Request-URI). */
  readonly resource: string;
  readonly expiresSeconds?: number;
  /** Accept header media types, lower-cased, parameters removed; empty when absent. */
  readonly accept?: readonly string[];
  readonly displayName?: string;
  readonly remoteTarget?: string;
  readonly routeSet?: readonly string[];
  readonly now: number;
}

/** Reasons {@link PresenceAgent.terminateAllFor} accepts. */
export type UserTerminationReason = Extract<
  TerminationReason,
  'deactivated' | 'rejected' | 'noresource'
>;

const ALLOW_EVENTS: HeaderLine = ['Allow-Events', `${PRESENCE_EVENT}, ${PRESENCE_WINFO_EVENT}`];

function respond(
  status: number,
  reason: string,
  headers: readonly HeaderLine[] = [],
  actions: readonly NotifyAction[] = [],
): PresenceOutcome {
  return { response: { status, reason, headers }, actions };
}

/** `sip:alice@example.com` → `pres:alice@example.com` (RFC 3863 §4.1.1 entity). */
export function presentityUri(address: string): string {
  return `pres:${address.replace(/^[a-z]+:/i, '')}`;
}

/** Compares a PIDF entity with an address: scheme ignored, domain case-insensitive. */
export function entityMatchesAddress(entity: string, address: string): boolean {
  const norm = (uri: string): string => {
    const bare = uri.replace(/^[a-z]+:/i, '');
    const at = bare.lastIndexOf('@');
    return at < 0 ? bare.toLowerCase() : `${bare.slice(0, at)}@${bare.slice(at + 1).toLowerCase()}`;
  };
  return norm(entity) === norm(address);
}

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/** The presence agent: publications, subscriptions and authorization together. */
export class PresenceAgent {
  readonly publications: PublicationStore;
  readonly subscriptions: SubscriptionTable;
  readonly authorization = new PresenceAuthorization();
  private readonly isKnownResource: (address: string) => boolean;
  private readonly pidfLimits: PidfLimits | undefined;
  /** The last watcherinfo event of each presence subscription (RFC 3858 §4.3 `event`). */
  private readonly watcherEvents = new WeakMap<Subscription, WatcherEvent>();

  constructor(options: PresenceAgentOptions = {}) {
    this.publications = new PublicationStore(options.publications);
    this.subscriptions = new SubscriptionTable(options.subscriptions);
    this.isKnownResource = options.isKnownResource ?? (() => true);
    this.pidfLimits = options.pidfLimits;
  }

  /** The earliest deadline of publications and subscriptions; call {@link tick} then. */
  get nextTimeoutAt(): number | undefined {
    const a = this.publications.nextTimeoutAt;
    const b = this.subscriptions.nextTimeoutAt;
    if (a === undefined) return b;
    if (b === undefined) return a;
    return Math.min(a, b);
  }

  /** Handles a PUBLISH (RFC 3903 §6); watchers are notified when the composed state changed. */
  publish(input: PublishInput): PresenceOutcome {
    // RFC 3903 §6 step 2: an unsupported event package → 489 Bad Event.
    if (input.event !== PRESENCE_EVENT)
      return respond(489, 'Bad Event', [['Allow-Events', PRESENCE_EVENT]]);
    // RFC 3903 §6 step 1 / RFC 3856 §6.6: only the presentity publishes its own state.
    if (input.publisher !== input.entity) return respond(403, 'Forbidden');
    let document;
    if (input.body !== undefined && input.body.byteLength > 0) {
      if (input.contentType === undefined || mediaType(input.contentType) !== PIDF_CONTENT_TYPE)
        return respond(415, 'Unsupported Media Type', [['Accept', PIDF_CONTENT_TYPE]]);
      const parsed = parsePidf(input.body, this.pidfLimits);
      if (!parsed.ok) return respond(400, 'Bad Request');
      if (!entityMatchesAddress(parsed.value.entity, input.entity))
        return respond(400, 'Bad Request');
      document = parsed.value;
    }
    const result = this.publications.publish({
      entity: input.entity,
      ifMatch: input.ifMatch,
      expiresSeconds: input.expiresSeconds,
      document,
      now: input.now,
    });
    if (!result.ok) return respond(result.status, result.reason, result.headers);
    const actions = result.changed ? this.notifyWatchersOf(input.entity, input.now) : [];
    return respond(200, 'OK', result.headers, actions);
  }

  /** Handles a SUBSCRIBE to `presence` or `presence.winfo` (RFC 6665 §4.2.1). */
  subscribe(input: SubscribeInput): PresenceOutcome {
    const { now } = input;
    const event = input.event;
    // RFC 6665 §4.2.1.1 / §8.2.1: an event package not served → 489 with Allow-Events.
    if (event === undefined || !isPresenceEventPackage(event))
      return respond(489, 'Bad Event', [ALLOW_EVENTS]);
    const wanted = event === PRESENCE_EVENT ? PIDF_CONTENT_TYPE : WATCHERINFO_CONTENT_TYPE;
    const accept = input.accept ?? [];
    // RFC 6665 §4.2.1.1: a body format the subscriber does not accept → 406.
    if (
      accept.length > 0 &&
      !accept.some((t) => t === wanted || t === '*/*' || t === 'application/*')
    )
      return respond(406, 'Not Acceptable');

    const existing = this.subscriptions.get(input.key);
    const wasActive = existing?.state === 'active';
    if (existing === undefined) {
      if (!this.isKnownResource(input.resource)) return respond(404, 'Not Found');
      if (this.decide(event, input.subscriber, input.resource) === 'block')
        return respond(403, 'Forbidden');
    }
    const result = this.subscriptions.subscribe({
      key: input.key,
      event,
      subscriber: input.subscriber,
      resource: input.resource,
      expiresSeconds: input.expiresSeconds,
      now,
      ...(input.displayName === undefined ? {} : { displayName: input.displayName }),
      ...(input.remoteTarget === undefined ? {} : { remoteTarget: input.remoteTarget }),
      ...(input.routeSet === undefined ? {} : { routeSet: input.routeSet }),
    });
    switch (result.kind) {
      case 'refused':
        return respond(result.status, result.reason, result.headers);
      case 'created': {
        const subscription = result.subscription;
        if (this.decide(event, input.subscriber, input.resource) === 'allow')
          this.subscriptions.activate(subscription);
        const actions = [this.stateNotify(subscription, now)];
        if (event === PRESENCE_EVENT)
          actions.push(...this.watcherChanged(subscription, 'subscribe', now));
        return respond(200, 'OK', [['Expires', String(result.expiresSeconds)]], actions);
      }
      case 'fetch': {
        const allowed = this.decide(event, input.subscriber, input.resource) === 'allow';
        const subscription = result.subscription;
        const action = allowed
          ? this.withBody(subscription, now)
          : this.subscriptions.notify(subscription, undefined, undefined, now);
        return respond(200, 'OK', [['Expires', '0']], [action]);
      }
      case 'refreshed':
        // RFC 6665 §4.2.1.2: a refresh is answered with a NOTIFY of the current state.
        return respond(
          200,
          'OK',
          [['Expires', String(result.expiresSeconds)]],
          [this.stateNotify(result.subscription, now)],
        );
      case 'unsubscribed': {
        const subscription = result.subscription;
        const actions = [
          wasActive
            ? this.withBody(subscription, now)
            : this.subscriptions.notify(subscription, undefined, undefined, now),
        ];
        if (event === PRESENCE_EVENT)
          actions.push(...this.watcherChanged(subscription, 'timeout', now));
        return respond(200, 'OK', [['Expires', '0']], actions);
      }
    }
  }

  /** Replaces `owner`'s rules and re-evaluates the subscriptions to `owner`'s presence. */
  setRules(
    owner: string,
    rules: readonly PresenceRule[],
    now: number,
  ): Result<NotifyAction[], PresenceRulesError> {
    const set = this.authorization.setRules(owner, rules);
    if (!set.ok) return err(set.error);
    return ok(this.reevaluate(owner, now));
  }

  /**
   * Replaces the addresses on `owner`'s contact list (the contacts service's change event)
   * and re-evaluates the subscriptions to `owner`'s presence.
   */
  setContacts(owner: string, addresses: Iterable<string>, now: number): NotifyAction[] {
    this.authorization.setContacts(owner, addresses);
    return this.reevaluate(owner, now);
  }

  /**
   * Ends every subscription of `address`, as watcher and as resource, with final NOTIFYs,
   * and drops its publications: a user disabled mid-session.
   */
  terminateAllFor(address: string, reason: UserTerminationReason, now: number): NotifyAction[] {
    const actions: NotifyAction[] = [];
    for (const subscription of this.subscriptions.forSubscriber(address)) {
      this.subscriptions.terminate(subscription, reason);
      actions.push(this.subscriptions.notify(subscription, undefined, undefined, now));
      if (subscription.event === PRESENCE_EVENT && subscription.resource !== address)
        actions.push(...this.watcherChanged(subscription, reason, now));
    }
    for (const event of [PRESENCE_EVENT, PRESENCE_WINFO_EVENT] as const) {
      for (const subscription of this.subscriptions.forResource(address, event)) {
        this.subscriptions.terminate(subscription, reason);
        actions.push(this.subscriptions.notify(subscription, undefined, undefined, now));
      }
    }
    this.publications.removeAllFor(address);
    return actions;
  }

  /** Expires publications and subscriptions due at `now`; returns the NOTIFYs that follow. */
  tick(now: number): NotifyAction[] {
    const actions: NotifyAction[] = [];
    for (const subscription of this.subscriptions.tick(now)) {
      // RFC 6665 §4.2.2: an expired subscription gets a final NOTIFY, reason timeout.
      actions.push(this.subscriptions.notify(subscription, undefined, undefined, now));
      if (subscription.event === PRESENCE_EVENT)
        actions.push(...this.watcherChanged(subscription, 'timeout', now));
    }
    for (const entity of this.publications.tick(now))
      actions.push(...this.notifyWatchersOf(entity, now));
    return actions;
  }

  /** The composed PIDF document of `address` as a watcher would receive it. */
  presenceDocument(address: string): string {
    return serializePidf(this.publications.compose(address, presentityUri(address)));
  }

  private decide(
    event: string,
    subscriber: string,
    resource: string,
  ): 'allow' | 'block' | 'pending' {
    if (event === PRESENCE_WINFO_EVENT) return subscriber === resource ? 'allow' : 'block';
    return this.authorization.decide(subscriber, resource);
  }

  private reevaluate(owner: string, now: number): NotifyAction[] {
    const actions: NotifyAction[] = [];
    for (const subscription of this.subscriptions.forResource(owner, PRESENCE_EVENT)) {
      const decision = this.authorization.decide(subscription.subscriber, owner);
      if (subscription.state === 'pending' && decision === 'allow') {
        this.subscriptions.activate(subscription);
        actions.push(this.withBody(subscription, now));
        actions.push(...this.watcherChanged(subscription, 'approved', now));
      } else if (decision === 'block') {
        this.subscriptions.terminate(subscription, 'rejected');
        actions.push(this.subscriptions.notify(subscription, undefined, undefined, now));
        actions.push(...this.watcherChanged(subscription, 'rejected', now));
      } else if (subscription.state === 'active' && decision === 'pending') {
        this.subscriptions.terminate(subscription, 'deactivated');
        actions.push(this.subscriptions.notify(subscription, undefined, undefined, now));
        actions.push(...this.watcherChanged(subscription, 'deactivated', now));
      }
    }
    return actions;
  }

  /** A NOTIFY of the current state: with a body when active, without when pending. */
  private stateNotify(subscription: Subscription, now: number): NotifyAction {
    return subscription.state === 'active'
      ? this.withBody(subscription, now)
      : this.subscriptions.notify(subscription, undefined, undefined, now);
  }

  private withBody(subscription: Subscription, now: number): NotifyAction {
    if (subscription.event === PRESENCE_EVENT)
      return this.subscriptions.notify(
        subscription,
        this.presenceDocument(subscription.resource),
        PIDF_CONTENT_TYPE,
        now,
      );
    // RFC 3858 §4.2: the first document, and any sent on a refresh, is full state.
    const watchers = this.subscriptions
      .forResource(subscription.resource, PRESENCE_EVENT)
      .map((watched) => this.watcherOf(watched, now));
    const body = serializeWatcherInfo({
      version: this.subscriptions.nextWinfoVersion(subscription),
      state: 'full',
      lists: [{ resource: subscription.resource, package: PRESENCE_EVENT, watchers }],
    });
    return this.subscriptions.notify(subscription, body, WATCHERINFO_CONTENT_TYPE, now);
  }

  /** Partial watcherinfo NOTIFYs to the resource owner's winfo subscriptions (RFC 3857 §5.3). */
  private watcherChanged(watched: Subscription, event: WatcherEvent, now: number): NotifyAction[] {
    this.watcherEvents.set(watched, event);
    const actions: NotifyAction[] = [];
    for (const winfo of this.subscriptions.forResource(watched.resource, PRESENCE_WINFO_EVENT)) {
      if (winfo.state !== 'active') continue;
      const body = serializeWatcherInfo({
        version: this.subscriptions.nextWinfoVersion(winfo),
        state: 'partial',
        lists: [
          {
            resource: watched.resource,
            package: PRESENCE_EVENT,
            watchers: [this.watcherOf(watched, now)],
          },
        ],
      });
      actions.push(this.subscriptions.notify(winfo, body, WATCHERINFO_CONTENT_TYPE, now));
    }
    return actions;
  }

  private watcherOf(subscription: Subscription, now: number): Watcher {
    return {
      id: subscription.id,
      uri: subscription.subscriber,
      status: subscription.state,
      event: this.watcherEvents.get(subscription) ?? 'subscribe',
      durationSubscribedSeconds: Math.floor((now - subscription.createdAt) / 1000),
      ...(subscription.state === 'terminated'
        ? {}
        : { expirationSeconds: Math.max(0, Math.ceil((subscription.expiresAt - now) / 1000)) }),
      ...(subscription.displayName === undefined ? {} : { displayName: subscription.displayName }),
    };
  }

  private notifyWatchersOf(entity: string, now: number): NotifyAction[] {
    const watchers = this.subscriptions
      .forResource(entity, PRESENCE_EVENT)
      .filter((s) => s.state === 'active');
    if (watchers.length === 0) return [];
    const body = this.presenceDocument(entity);
    return watchers.map((s) => this.subscriptions.notify(s, body, PIDF_CONTENT_TYPE, now));
  }
}

/**
 * Subscriptions held by the presence notifier (RFC 6665 §4.2, RFC 3856 §6), keyed by dialog.
 * The table owns lifetimes, caps, the state guard, the NOTIFY CSeq of each dialog and the
 * watcherinfo version; it knows nothing of bodies or authorization (see presence-agent.ts).
 * Time is `now` in milliseconds; nothing here sends or sets timers.
 *
 * Caps: a subscriber over its cap, a resource over its cap, or the table full is answered
 * 503 with Retry-After (RFC 3261 §21.5.4: a temporary condition; a client retries later).
 * 489 Bad Event is kept for what RFC 6665 §8.2.1 gives it: an event package not served here.
 */
import type { HeaderLine } from '../../codec/sip/serialize.ts';
import { DeadlineHeap } from '../../lib/deadline-heap.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import { randomToken } from '../../lib/ids.ts';
import {
  dialogKeyString,
  type DialogKey,
  type NotifyAction,
  type PresenceEventPackage,
  type Subscription,
  type SubscriptionStateName,
  type TerminationReason,
} from './types.ts';

/** Options of {@link SubscriptionTable}. */
export interface SubscriptionTableOptions {
  /** Expiry when the SUBSCRIBE has no Expires. Default 3600 (RFC 3856 §6.4). */
  readonly defaultExpiresSeconds?: number;
  /** Shorter non-zero expiries are answered 423 with Min-Expires. Default 60. */
  readonly minExpiresSeconds?: number;
  /** Longer expiries are shortened to this (RFC 6665 §4.2.1.1 "MAY shorten"). Default 3600. */
  readonly maxExpiresSeconds?: number;
  /**
   * Most live subscriptions of one subscriber (as watcher). Sized above the contact-list cap
   * (1000) since a client subscribes to each contact. Default 1200.
   */
  readonly maxPerSubscriber?: number;
  /** Most live subscriptions to one resource. Default 2000. */
  readonly maxPerResource?: number;
  /** Most live subscriptions in all. Default 200000. */
  readonly maxSubscriptions?: number;
  /** Seconds put in Retry-After when a cap refuses a SUBSCRIBE. Default 60. */
  readonly retryAfterSeconds?: number;
  /** Subscription id generator; for tests. */
  readonly newId?: () => string;
}

/** One SUBSCRIBE as the table sees it (authorization already decided by the caller). */
export interface SubscribeRequest {
  readonly key: DialogKey;
  readonly event: PresenceEventPackage;
  readonly subscriber: string;
  readonly resource: string;
  /** The Expires header value; undefined when absent. */
  readonly expiresSeconds: number | undefined;
  readonly displayName?: string;
  readonly remoteTarget?: string;
  readonly routeSet?: readonly string[];
  readonly now: number;
}

/** What the table made of a SUBSCRIBE. */
export type SubscribeResult =
  /** A new subscription, still `pending` until the caller activates it. */
  | {
      readonly kind: 'created';
      readonly subscription: Subscription;
      readonly expiresSeconds: number;
    }
  /**
   * RFC 6665 §4.4.3: an initial SUBSCRIBE with Expires: 0 is a fetch: one NOTIFY, no state
   * kept. The subscription is not in the table; it is already `terminated;reason=timeout`.
   */
  | { readonly kind: 'fetch'; readonly subscription: Subscription }
  | {
      readonly kind: 'refreshed';
      readonly subscription: Subscription;
      readonly expiresSeconds: number;
    }
  /** RFC 6665 §4.2.1.4 unsubscribe: terminated with reason timeout, removed from the table. */
  | { readonly kind: 'unsubscribed'; readonly subscription: Subscription }
  | {
      readonly kind: 'refused';
      readonly status: number;
      readonly reason: string;
      readonly headers: readonly HeaderLine[];
    };

// RFC 6665 §4.1.3 / RFC 3857 §5.2: a subscription goes pending → active, and either to
// terminated; terminated is final. Active never returns to pending here: a watcher whose
// permission is withdrawn is terminated (see presence-agent.ts).
const ALLOWED_TRANSITIONS: Readonly<
  Record<SubscriptionStateName, readonly SubscriptionStateName[]>
> = {
  pending: ['active', 'terminated'],
  active: ['terminated'],
  terminated: [],
};

/** The one guard every state change passes; throws on an edge RFC 6665 does not allow. */
export function transitionSubscription(
  subscription: Subscription,
  to: SubscriptionStateName,
  reason?: TerminationReason,
): void {
  if (!ALLOWED_TRANSITIONS[subscription.state].includes(to))
    throw new RampartError(
      ERROR_CODES.INVALID_STATE,
      `subscription ${subscription.id}: ${subscription.state} → ${to}`,
    );
  if (to === 'terminated' && reason === undefined)
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'terminated needs a reason');
  subscription.state = to;
  subscription.reason = to === 'terminated' ? reason : undefined;
}

function countUp(map: Map<string, Set<Subscription>>, key: string, sub: Subscription): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(sub);
}

function countDown(map: Map<string, Set<Subscription>>, key: string, sub: Subscription): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(sub);
  if (set.size === 0) map.delete(key);
}

/** Live presence and presence.winfo subscriptions. */
export class SubscriptionTable {
  readonly defaultExpiresSeconds: number;
  readonly minExpiresSeconds: number;
  readonly maxExpiresSeconds: number;
  private readonly maxPerSubscriber: number;
  private readonly maxPerResource: number;
  private readonly maxSubscriptions: number;
  private readonly retryAfterSeconds: number;
  private readonly newId: () => string;
  private readonly byKey = new Map<string, Subscription>();
  private readonly bySubscriber = new Map<string, Set<Subscription>>();
  private readonly byResource = new Map<string, Set<Subscription>>();
  private readonly deadlines = new DeadlineHeap<Subscription>();

  constructor(options: SubscriptionTableOptions = {}) {
    this.defaultExpiresSeconds = options.defaultExpiresSeconds ?? 3600;
    this.minExpiresSeconds = options.minExpiresSeconds ?? 60;
    this.maxExpiresSeconds = options.maxExpiresSeconds ?? 3600;
    this.maxPerSubscriber = options.maxPerSubscriber ?? 1200;
    this.maxPerResource = options.maxPerResource ?? 2000;
    this.maxSubscriptions = options.maxSubscriptions ?? 200_000;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 60;
    this.newId = options.newId ?? (() => randomToken(16));
  }

  /** Number of live subscriptions. */
  get size(): number {
    return this.byKey.size;
  }

  /** The earliest expiry; the driver calls {@link tick} then. */
  get nextTimeoutAt(): number | undefined {
    return this.deadlines.next;
  }

  /** The live subscription of a dialog. */
  get(key: DialogKey): Subscription | undefined {
    return this.byKey.get(dialogKeyString(key));
  }

  /** Live subscriptions to `resource` for `event`. */
  forResource(resource: string, event: PresenceEventPackage): Subscription[] {
    return [...(this.byResource.get(resource) ?? [])].filter((s) => s.event === event);
  }

  /** Live subscriptions whose subscriber is `subscriber`. */
  forSubscriber(subscriber: string): Subscription[] {
    return [...(this.bySubscriber.get(subscriber) ?? [])];
  }

  /** Every live subscription. */
  all(): IterableIterator<Subscription> {
    return this.byKey.values();
  }

  /**
   * Applies a SUBSCRIBE's lifetime to the table: creates, refreshes, unsubscribes or refuses.
   * A refresh must come from the dialog's subscriber (else 403).
   */
  subscribe(request: SubscribeRequest): SubscribeResult {
    const existing = this.get(request.key);
    const expires = request.expiresSeconds ?? this.defaultExpiresSeconds;
    if (existing !== undefined) {
      if (existing.subscriber !== request.subscriber || existing.event !== request.event)
        return refused(403, 'Forbidden', []);
      if (expires === 0) {
        this.terminate(existing, 'timeout');
        return { kind: 'unsubscribed', subscription: existing };
      }
      const granted = this.grant(expires);
      if (granted === undefined) return this.tooBrief();
      existing.expiresAt = request.now + granted * 1000;
      if (request.remoteTarget !== undefined) existing.remoteTarget = request.remoteTarget;
      this.deadlines.schedule(existing, existing.expiresAt);
      return { kind: 'refreshed', subscription: existing, expiresSeconds: granted };
    }
    if (expires === 0) {
      const fetched = this.newSubscription(request, request.now);
      transitionSubscription(fetched, 'terminated', 'timeout');
      return { kind: 'fetch', subscription: fetched };
    }
    const granted = this.grant(expires);
    if (granted === undefined) return this.tooBrief();
    // Caps: RFC 3261 §21.5.4 503 with Retry-After, a temporary refusal (see the file comment).
    if (
      this.byKey.size >= this.maxSubscriptions ||
      (this.bySubscriber.get(request.subscriber)?.size ?? 0) >= this.maxPerSubscriber ||
      (this.byResource.get(request.resource)?.size ?? 0) >= this.maxPerResource
    )
      return refused(503, 'Service Unavailable', [['Retry-After', String(this.retryAfterSeconds)]]);
    const subscription = this.newSubscription(request, request.now + granted * 1000);
    this.byKey.set(dialogKeyString(subscription.key), subscription);
    countUp(this.bySubscriber, subscription.subscriber, subscription);
    countUp(this.byResource, subscription.resource, subscription);
    this.deadlines.schedule(subscription, subscription.expiresAt);
    return { kind: 'created', subscription, expiresSeconds: granted };
  }

  /** Moves a pending subscription to active. */
  activate(subscription: Subscription): void {
    transitionSubscription(subscription, 'active');
  }

  /** Terminates a subscription with `reason` and removes it from the table. */
  terminate(subscription: Subscription, reason: TerminationReason): void {
    transitionSubscription(subscription, 'terminated', reason);
    const keyString = dialogKeyString(subscription.key);
    if (this.byKey.get(keyString) !== subscription) return;
    this.byKey.delete(keyString);
    countDown(this.bySubscriber, subscription.subscriber, subscription);
    countDown(this.byResource, subscription.resource, subscription);
    this.deadlines.schedule(subscription, undefined);
  }

  /**
   * Terminates every subscription expired at `now` (RFC 6665 §4.2.2: reason `timeout`) and
   * returns them; the caller sends their final NOTIFYs.
   */
  tick(now: number): Subscription[] {
    const expired = this.deadlines.takeDue(now);
    for (const subscription of expired) this.terminate(subscription, 'timeout');
    return expired;
  }

  /** The Subscription-State header value for a NOTIFY sent now (RFC 6665 §8.2.3, §4.1.3). */
  subscriptionState(subscription: Subscription, now: number): string {
    if (subscription.state === 'terminated')
      return `terminated;reason=${subscription.reason ?? 'timeout'}`;
    const remaining = Math.max(0, Math.ceil((subscription.expiresAt - now) / 1000));
    return `${subscription.state};expires=${remaining}`;
  }

  /**
   * A NOTIFY for `subscription` carrying `body`: takes the dialog's next CSeq and computes
   * Subscription-State. The driver sends it; nothing here does.
   */
  notify(
    subscription: Subscription,
    body: string | undefined,
    contentType: string | undefined,
    now: number,
  ): NotifyAction {
    subscription.notifyCseq++;
    return {
      type: 'notify',
      subscription,
      cseq: subscription.notifyCseq,
      event: subscription.event,
      state: this.subscriptionState(subscription, now),
      body,
      contentType: body === undefined ? undefined : contentType,
    };
  }

  /** The next watcherinfo version for a winfo subscription (RFC 3858 §4.2: +1 per document). */
  nextWinfoVersion(subscription: Subscription): number {
    subscription.winfoVersion++;
    return subscription.winfoVersion;
  }

  private grant(expires: number): number | undefined {
    // RFC 6665 §4.2.1.1: too short an interval is answered 423 with Min-Expires.
    if (expires < this.minExpiresSeconds) return undefined;
    return Math.min(expires, this.maxExpiresSeconds);
  }

  private tooBrief(): SubscribeResult {
    return refused(423, 'Interval Too Brief', [['Min-Expires', String(this.minExpiresSeconds)]]);
  }

  private newSubscription(request: SubscribeRequest, expiresAt: number): Subscription {
    return {
      id: this.newId(),
      key: request.key,
      event: request.event,
      subscriber: request.subscriber,
      resource: request.resource,
      displayName: request.displayName,
      createdAt: request.now,
      state: 'pending',
      reason: undefined,
      expiresAt,
      notifyCseq: 0,
      winfoVersion: -1,
      remoteTarget: request.remoteTarget,
      routeSet: request.routeSet ?? [],
    };
  }
}

function refused(status: number, reason: string, headers: readonly HeaderLine[]): SubscribeResult {
  return { kind: 'refused', status, reason, headers };
}

/**
 * The presence server's data: subscriptions (RFC 6665) to `presence` (RFC 3856) and
 * `presence.winfo` (RFC 3857), and the NOTIFY actions the driver turns into requests.
 */
import type { HeaderLine } from '../../codec/sip/serialize.ts';

/** The event packages this server is a notifier for. */
export const PRESENCE_EVENT = 'presence';
/** RFC 3857 §3: the watcher-information template package applied to presence. */
export const PRESENCE_WINFO_EVENT = 'presence.winfo';

/** An event package served here. */
export type PresenceEventPackage = typeof PRESENCE_EVENT | typeof PRESENCE_WINFO_EVENT;

/** Whether `event` (the Event header's package, parameters removed) is served here. */
export function isPresenceEventPackage(event: string): event is PresenceEventPackage {
  return event === PRESENCE_EVENT || event === PRESENCE_WINFO_EVENT;
}

/**
 * The notifier's side of a subscription dialog (RFC 3261 §12, RFC 6665 §4.1.2.1). The local
 * tag is the To tag this server put on the 200; the remote tag is the subscriber's From tag.
 */
export interface DialogKey {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
}

/** A dialog key as one map key. */
export function dialogKeyString(key: DialogKey): string {
  return `${key.callId}\n${key.localTag}\n${key.remoteTag}`;
}

/** RFC 6665 §4.1.3 subscription states (`waiting` of RFC 3857 is never used here). */
export type SubscriptionStateName = 'pending' | 'active' | 'terminated';

/** RFC 6665 §8.2.3 / RFC 3857 §5.2: why a subscription ended. */
export type TerminationReason =
  'timeout' | 'rejected' | 'deactivated' | 'noresource' | 'probation' | 'giveup';

/** One subscription. Mutable fields change only through {@link SubscriptionTable}. */
export interface Subscription {
  /** Unique and stable; the watcher id in watcherinfo (RFC 3858 §4.3). */
  readonly id: string;
  readonly key: DialogKey;
  readonly event: PresenceEventPackage;
  /** The watcher's canonical address (the authenticated subscriber). */
  readonly subscriber: string;
  /** The watched resource's canonical address (the presentity or, for winfo, its owner). */
  readonly resource: string;
  /** Display name from the SUBSCRIBE's From, for watcherinfo. */
  readonly displayName: string | undefined;
  readonly createdAt: number;
  state: SubscriptionStateName;
  reason: TerminationReason | undefined;
  expiresAt: number;
  /** CSeq of the last NOTIFY sent in this dialog; 0 before the first. */
  notifyCseq: number;
  /** Version of the last watcherinfo document sent (RFC 3858 §4.2); -1 before the first. */
  winfoVersion: number;
  /** Remote target (the subscriber's Contact), refreshed by each SUBSCRIBE (RFC 6665 §4.1.2.1). */
  remoteTarget: string | undefined;
  /** Route set of the dialog, for the driver. */
  routeSet: readonly string[];
}

/** A NOTIFY to send in a subscription dialog; nothing in proto sends it. */
export interface NotifyAction {
  readonly type: 'notify';
  readonly subscription: Readonly<Subscription>;
  /** CSeq number for this NOTIFY (RFC 3261 §12.2.1.1: one more than the previous). */
  readonly cseq: number;
  /** The Event header value (RFC 6665 §8.2.1): the package, plus `id` if the SUBSCRIBE had one. */
  readonly event: PresenceEventPackage;
  /** The Subscription-State header value, e.g. `active;expires=3598` (RFC 6665 §8.2.3). */
  readonly state: string;
  /** The body, or undefined for a NOTIFY without one (pending, rejected). */
  readonly body: string | undefined;
  readonly contentType: string | undefined;
}

/** The response to a SUBSCRIBE or PUBLISH: status and the headers to add. */
export interface PresenceResponse {
  readonly status: number;
  readonly reason?: string;
  readonly headers: readonly HeaderLine[];
}

/** A response with the NOTIFYs it triggers (sent after the response, RFC 6665 §4.2.1.4). */
export interface PresenceOutcome {
  readonly response: PresenceResponse;
  readonly actions: readonly NotifyAction[];
}

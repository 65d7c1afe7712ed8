/**
 * The Front End's presence server: drives the sans-IO presence agent with the SIP engine.
 * PUBLISH and SUBSCRIBE are answered here; each NOTIFY the agent asks for is sent as a request
 * of the subscription dialog (RFC 6665 §4.2.1, RFC 3261 §12.2.1.1) through the engine.
 */
import type { SipRequest } from '../../codec/sip/message.ts';
import { callIdOf, fromTag, parseNameAddr, toTag } from '../../codec/sip/headers.ts';
import { header, headerValues } from '../../codec/sip/parse.ts';
import type { HeaderLine } from '../../codec/sip/serialize.ts';
import { randomToken } from '../../lib/ids.ts';
import type { Logger } from '../../lib/logger.ts';
import {
  PresenceAgent,
  publishInputFrom,
  subscribeInputFrom,
  dialogKeyString,
  type NotifyAction,
  type PresenceOutcome,
} from '../../proto/presence/index.ts';
import type {
  OutgoingRequest,
  OutgoingResult,
  RequestDecision,
} from '../../runtime/sip/handler.ts';
import type { Directory } from '../../store/directory.ts';
import type { Flow } from '../../transport/index.ts';
import type { ContactsService } from './contacts.ts';
import type { FrontEndMetrics } from './metrics.ts';

/** Most users one periodic check looks up. */
const MAX_USERS_CHECKED = 10_000;

export interface PresenceSettings {
  readonly minExpiresSeconds: number;
  readonly maxExpiresSeconds: number;
  readonly defaultExpiresSeconds: number;
  readonly maxSubscriptionsPerUser: number;
  readonly maxWatchersPerUser: number;
}

export interface PresenceServiceOptions {
  readonly settings: PresenceSettings;
  /** Sends the NOTIFYs (the SIP engine). */
  readonly engine: { sendRequest(outgoing: OutgoingRequest): Promise<OutgoingResult> };
  /** Our Contact for the dialogs we create. */
  /**
   * Our Contact: for a subscriber that reached us through the deployment's servers
   * (`viaServer`: the Director, a web access agent), the mutual-TLS listener they can reach;
   * for a client connected to us, the client listener.
   */
  readonly contactUri: (viaServer: boolean) => string | undefined;
  readonly directory: Directory;
  readonly contacts: ContactsService;
  readonly logger: Logger;
  readonly metrics: FrontEndMetrics;
}

/** How to reach a subscriber: the flow the SUBSCRIBE came on when it has no route set. */
interface DialogPeer {
  readonly flow: Flow | undefined;
}

/** `sip:alice@example.test` for a Request-URI naming one of our users, else undefined. */
function addressOf(uri: string): string | undefined {
  const match = /^sips?:([^@;?>]+)@([^;?>:]+)/i.exec(uri);
  if (match === null) return undefined;
  return `sip:${match[1] ?? ''}@${(match[2] ?? '').toLowerCase()}`;
}

export class PresenceService {
  private readonly options: PresenceServiceOptions;
  private readonly agent: PresenceAgent;
  private readonly peers = new Map<string, DialogPeer>();
  private readonly log: Logger;
  /** Users whose contact list the agent already knows. */
  private readonly contactsLoaded = new Set<string>();

  constructor(options: PresenceServiceOptions) {
    this.options = options;
    this.log = options.logger;
    const { settings } = options;
    const expiry = {
      defaultExpiresSeconds: settings.defaultExpiresSeconds,
      minExpiresSeconds: settings.minExpiresSeconds,
      maxExpiresSeconds: settings.maxExpiresSeconds,
    };
    this.agent = new PresenceAgent({
      publications: expiry,
      subscriptions: {
        ...expiry,
        maxPerSubscriber: settings.maxSubscriptionsPerUser,
        maxPerResource: settings.maxWatchersPerUser,
      },
    });
  }

  /** Whether an in-dialog request belongs to one of our subscription dialogs. */
  isOurDialog(request: SipRequest): boolean {
    const local = toTag(request);
    const remote = fromTag(request);
    const callId = callIdOf(request);
    if (local === undefined || remote === undefined || callId === undefined) return false;
    return (
      this.agent.subscriptions.get({ callId, localTag: local, remoteTag: remote }) !== undefined
    );
  }

  /** An in-dialog request of a subscription: a refresh or an unsubscribe. */
  async inDialog(request: SipRequest, identity: string | undefined): Promise<RequestDecision> {
    if (request.method !== 'SUBSCRIBE')
      return { kind: 'respond', status: 405, reason: 'Method Not Allowed' };
    const localTag = toTag(request) ?? '';
    return this.subscribe(request, identity, undefined, localTag);
  }

  /** PUBLISH or an initial SUBSCRIBE. */
  async handle(
    request: SipRequest,
    identity: string | undefined,
    flow: Flow,
    fromServer: boolean,
  ): Promise<RequestDecision> {
    if (request.method === 'PUBLISH') return this.publish(request, identity);
    return this.subscribe(request, identity, fromServer ? undefined : flow, randomToken(12));
  }

  private publish(request: SipRequest, identity: string | undefined): RequestDecision {
    const entity = addressOf(request.requestUri);
    if (entity === undefined) return { kind: 'respond', status: 404, reason: 'Not Found' };
    // Only a user publishes their own presence.
    if (identity === undefined || identity !== entity)
      return { kind: 'respond', status: 403, reason: 'Publish Only Your Own Presence' };
    const input = publishInputFrom(request, { entity, publisher: identity }, Date.now());
    if (!input.ok) return { kind: 'respond', ...input.error };
    const outcome = this.agent.publish(input.value);
    this.options.metrics.presence(outcome.response.status < 300 ? 'publish' : 'refused');
    return this.answer(outcome);
  }

  private async subscribe(
    request: SipRequest,
    identity: string | undefined,
    flow: Flow | undefined,
    localTag: string,
  ): Promise<RequestDecision> {
    // In a dialog the Request-URI is our Contact (no user part): the resource is in To.
    const to = parseNameAddr(header(request, 'to') ?? '');
    const resource = addressOf(request.requestUri) ?? (to.ok ? addressOf(to.value.uri) : undefined);
    if (resource === undefined || identity === undefined)
      return { kind: 'respond', status: 404, reason: 'Not Found' };
    if (toTag(request) === undefined) {
      const user = await this.options.directory.getUser(resource.replace(/^sip:/, ''));
      if (user === undefined) return { kind: 'respond', status: 404, reason: 'Not Found' };
      await this.loadContacts(resource);
    }
    const input = subscribeInputFrom(
      request,
      { localTag, subscriber: identity, resource },
      Date.now(),
    );
    if (!input.ok) return { kind: 'respond', ...input.error };
    const key = dialogKeyString(input.value.key);
    if (!this.peers.has(key)) this.peers.set(key, { flow });
    const outcome = this.agent.subscribe(input.value);
    this.options.metrics.presence(outcome.response.status < 300 ? 'subscribe' : 'refused');
    if (outcome.response.status >= 300) this.peers.delete(key);
    const viaServer = this.peers.get(key)?.flow === undefined;
    return this.answer(outcome, localTag, request, viaServer);
  }

  /** The response now; the NOTIFYs right after it (RFC 6665 §4.2.1.4). */
  private answer(
    outcome: PresenceOutcome,
    toTag?: string,
    request?: SipRequest,
    viaServer = false,
  ): RequestDecision {
    const contact = this.options.contactUri(viaServer);
    const headers: HeaderLine[] = [...outcome.response.headers];
    if (toTag !== undefined && contact !== undefined) headers.push(['Contact', `<${contact}>`]);
    // RFC 3261 §12.1.1: a UAS copies every Record-Route of the dialog-creating request into
    // its 2xx, in order, so the subscriber's refreshes and unsubscribe follow the proxies
    // (the Director, an Access Edge) rather than our Contact, which it may not reach.
    if (toTag !== undefined && request !== undefined && outcome.response.status < 300)
      for (const value of headerValues(request, 'record-route'))
        headers.push(['Record-Route', value]);
    setImmediate(() => {
      this.send(outcome.actions);
    });
    return {
      kind: 'respond',
      status: outcome.response.status,
      ...(outcome.response.reason === undefined ? {} : { reason: outcome.response.reason }),
      headers,
      ...(toTag === undefined ? {} : { toTag }),
    };
  }

  /** Sends NOTIFYs; a 481 or a dead dialog ends the subscription (RFC 6665 §4.1.3). */
  private send(actions: readonly NotifyAction[]): void {
    for (const action of actions) void this.notify(action);
  }

  private async notify(action: NotifyAction): Promise<void> {
    const sub = action.subscription;
    const key = dialogKeyString(sub.key);
    const peer = this.peers.get(key);
    const target = sub.remoteTarget;
    if (target === undefined) return;
    const contact = this.options.contactUri(peer?.flow === undefined);
    // The route set is the SUBSCRIBE's Record-Route, in order (RFC 3261 §12.1.1).
    const routes: HeaderLine[] = sub.routeSet.map((r) => ['Route', r]);
    const headers: HeaderLine[] = [
      ...routes,
      ['From', `<${sub.resource}>;tag=${sub.key.localTag}`],
      ['To', `<${sub.subscriber}>;tag=${sub.key.remoteTag}`],
      ['Call-ID', sub.key.callId],
      ['CSeq', `${String(action.cseq)} NOTIFY`],
      ['Event', action.event],
      ['Subscription-State', action.state],
      ...(contact === undefined ? [] : ([['Contact', `<${contact}>`]] as HeaderLine[])),
      ...(action.contentType === undefined
        ? []
        : ([['Content-Type', action.contentType]] as HeaderLine[])),
    ];
    if (action.state.startsWith('terminated')) this.peers.delete(key);
    const flow = routes.length === 0 ? peer?.flow : undefined;
    const result = await this.options.engine.sendRequest({
      method: 'NOTIFY',
      requestUri: target,
      headers,
      ...(action.body === undefined ? {} : { body: Buffer.from(action.body, 'utf8') }),
      ...(flow === undefined ? {} : { flow }),
    });
    const status = result.kind === 'response' ? result.response.status : 0;
    if (status >= 200 && status < 300) {
      this.options.metrics.presence('notify');
      return;
    }
    this.options.metrics.presence('notify-failed');
    this.log.info(
      { event: 'notify-failed', outcome: result.kind, status, subscriber: sub.subscriber },
      'presence NOTIFY failed',
    );
    // RFC 6665 §4.1.3: a NOTIFY answered 481 (or never answered) ends the subscription.
    if (status === 481 || result.kind !== 'response') {
      const live = this.agent.subscriptions.get(sub.key);
      if (live !== undefined && live.state !== 'terminated')
        this.agent.subscriptions.terminate(live, 'timeout');
      this.peers.delete(key);
    }
  }

  /** The agent decides with the owner's contact list; load it once, then follow changes. */
  private async loadContacts(owner: string): Promise<void> {
    if (this.contactsLoaded.has(owner)) return;
    this.contactsLoaded.add(owner);
    const list = await this.options.contacts.list(owner);
    this.send(
      this.agent.setContacts(
        owner,
        list.contacts.map((c) => c.address),
        Date.now(),
      ),
    );
  }

  /** A contact list changed: re-evaluate who may watch its owner. */
  contactsChanged(owner: string, addresses: readonly string[]): void {
    this.contactsLoaded.add(owner);
    this.send(this.agent.setContacts(owner, addresses, Date.now()));
  }

  /**
   * Ends the subscriptions of users who were disabled or removed since they subscribed (or
   * were subscribed to): the directory is the truth, checked periodically.
   */
  async checkUsers(): Promise<void> {
    const addresses = new Set<string>();
    for (const subscription of this.agent.subscriptions.all()) {
      if (subscription.state === 'terminated') continue;
      addresses.add(subscription.subscriber);
      addresses.add(subscription.resource);
      if (addresses.size >= MAX_USERS_CHECKED) break;
    }
    for (const address of addresses) {
      const user = await this.options.directory.getUser(address.replace(/^sips?:/i, ''));
      if (user === undefined || !user.enabled) {
        this.log.info({ event: 'presence-user-disabled', address }, 'subscriptions ended');
        this.userDisabled(address);
      }
    }
  }

  /** A user disabled mid-session: every subscription of theirs ends (reason deactivated). */
  userDisabled(address: string): void {
    const canonical = address.startsWith('sip:') ? address : `sip:${address}`;
    this.send(this.agent.terminateAllFor(canonical, 'deactivated', Date.now()));
  }

  tick(now: number): void {
    const next = this.agent.nextTimeoutAt;
    if (next !== undefined && next <= now) this.send(this.agent.tick(now));
  }

  stats(): Record<string, number> {
    return {
      presenceSubscriptions: this.agent.subscriptions.size,
      presencePublications: this.agent.publications.size,
    };
  }

  close(): void {
    this.peers.clear();
  }
}

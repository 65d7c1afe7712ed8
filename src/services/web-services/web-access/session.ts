/**
 * One signed-in web access session: the browser's WebSocket on one side, a SIP user agent
 * on the other (./sip-agent.ts). On open it registers the user, reads the roaming contact
 * list, watches each contact's presence and publishes the user's own; it relays IM both
 * ways; on close it ends all of that. Browser commands are JSON objects, checked and rate
 * limited here (the browser is on the Internet, even behind the sign-in).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parsePidf, serializePidf, type RpidActivity } from '../../../codec/pidf/index.ts';
import type { SipRequest } from '../../../codec/sip/message.ts';
import { header } from '../../../codec/sip/parse.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { Directory } from '../../../store/directory.ts';
import type { AgentRequest, WebAccessSipAgent } from './sip-agent.ts';

/** What the browser may set its presence to. */
export const PRESENCE_STATES = ['available', 'busy', 'away', 'offline'] as const;
export type PresenceState = (typeof PRESENCE_STATES)[number];

const MAX_TEXT = 4000;
const address = z
  .string()
  .max(256)
  .regex(/^sips?:[^@\s<>"]+@[^@\s<>";]+$/i);

/** A command from the browser. */
export const browserCommand = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('im'),
    id: z.string().max(64),
    to: address,
    text: z.string().min(1).max(MAX_TEXT),
  }),
  z.strictObject({
    type: z.literal('presence'),
    state: z.enum(PRESENCE_STATES),
    note: z.string().max(200).optional(),
  }),
  z.strictObject({ type: z.literal('add-contact'), address, name: z.string().max(128).optional() }),
  z.strictObject({ type: z.literal('search'), query: z.string().min(1).max(64) }),
]);
export type BrowserCommand = z.infer<typeof browserCommand>;

/** An event for the browser. */
export type BrowserEvent =
  | { type: 'ready'; user: string; displayName: string | null }
  | { type: 'contacts'; contacts: { address: string; name: string | null }[] }
  | { type: 'presence'; address: string; state: PresenceState; note: string }
  | { type: 'im'; from: string; text: string; at: string }
  | { type: 'sent'; id: string; ok: boolean; status: number }
  | { type: 'search'; results: { address: string; name: string | null }[] }
  | { type: 'error'; message: string };

/** The presence state a PIDF document shows (RFC 3863 basic, RFC 4480 activities). */
export function stateOfPidf(body: string): { state: PresenceState; note: string } {
  const parsed = parsePidf(body);
  if (!parsed.ok) return { state: 'offline', note: '' };
  const doc = parsed.value;
  const open = doc.tuples.some((t) => t.basic === 'open');
  const activities = new Set(doc.persons.flatMap((p) => p.activities));
  const note =
    doc.tuples.flatMap((t) => t.notes)[0]?.text ??
    doc.persons.flatMap((p) => p.notes)[0]?.text ??
    doc.notes[0]?.text ??
    '';
  if (!open) return { state: 'offline', note };
  if (activities.has('busy') || activities.has('on-the-phone') || activities.has('meeting'))
    return { state: 'busy', note };
  if (activities.has('away')) return { state: 'away', note };
  return { state: 'available', note };
}

/** The PIDF document for a presence state. */
export function pidfOf(user: string, state: PresenceState, note: string): string {
  const activities: RpidActivity[] = state === 'busy' ? ['busy'] : state === 'away' ? ['away'] : [];
  return serializePidf({
    entity: user.replace(/^sips?:/, 'pres:'),
    tuples: [
      {
        id: 'web',
        basic: state === 'offline' ? 'closed' : 'open',
        notes: note === '' ? [] : [{ text: note }],
      },
    ],
    persons: activities.length === 0 ? [] : [{ id: 'p', activities, notes: [] }],
    notes: [],
  });
}

interface Subscription {
  readonly address: string;
  readonly callId: string;
  readonly fromTag: string;
  toTag: string | undefined;
  target: string;
  cseq: number;
}

const REGISTER_EXPIRES = 600;
const SUBSCRIBE_EXPIRES = 600;
/** Commands per second a browser may send (burst: twice that). */
const COMMANDS_PER_SECOND = 10;
const MAX_CONTACTS_WATCHED = 200;

function token(): string {
  return randomBytes(8).toString('hex');
}

/** A signed-in browser's SIP presence. */
export class WebAccessSession {
  private readonly agent: WebAccessSipAgent;
  private readonly user: string;
  private readonly directory: Directory;
  private readonly send: (event: BrowserEvent) => void;
  private readonly log: Logger;
  private readonly id: string;
  private readonly contact: string;
  private readonly registerCallId = `${token()}@web`;
  private readonly registerTag = token();
  private cseq = 1;
  private readonly subscriptions = new Map<string, Subscription>();
  private presence: { state: PresenceState; note: string } = { state: 'available', note: '' };
  private publishEtag: string | undefined;
  private tokens = COMMANDS_PER_SECOND * 2;
  private refilledAt = Date.now();
  private refresh: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: {
    readonly agent: WebAccessSipAgent;
    readonly user: string;
    readonly directory: Directory;
    readonly send: (event: BrowserEvent) => void;
    readonly logger: Logger;
  }) {
    this.agent = options.agent;
    this.user = options.user;
    this.directory = options.directory;
    this.send = options.send;
    this.log = options.logger;
    const opened = this.agent.open({ deliver: (request) => this.deliver(request) });
    this.id = opened.id;
    this.contact = opened.contact;
  }

  private request(
    method: string,
    requestUri: string,
    extra: Partial<AgentRequest> = {},
  ): ReturnType<WebAccessSipAgent['send']> {
    return this.agent.send({
      method,
      requestUri,
      from: this.user,
      fromTag: token(),
      to: requestUri,
      callId: `${token()}@web`,
      cseq: this.cseq++,
      contact: this.contact,
      ...extra,
    });
  }

  /** Registers, reads the contacts, watches them, publishes "available". */
  async start(): Promise<void> {
    const record = await this.directory.getUser(this.user.replace(/^sips?:/, ''));
    this.send({ type: 'ready', user: this.user, displayName: record?.displayName ?? null });
    await this.register(REGISTER_EXPIRES);
    const contacts = await this.readContacts();
    this.send({ type: 'contacts', contacts });
    await this.publish();
    for (const contact of contacts.slice(0, MAX_CONTACTS_WATCHED))
      await this.watch(contact.address);
    // Registration, subscriptions and publication are refreshed well before they lapse.
    this.refresh = setInterval(
      () => {
        void this.refreshAll();
      },
      (REGISTER_EXPIRES * 1000) / 2,
    );
    this.refresh.unref();
  }

  private async refreshAll(): Promise<void> {
    if (this.closed) return;
    await this.register(REGISTER_EXPIRES);
    await this.publish();
    for (const subscription of this.subscriptions.values())
      await this.resubscribe(subscription, SUBSCRIBE_EXPIRES);
  }

  private async register(expires: number): Promise<void> {
    const aorUri = this.user;
    const domain = aorUri.slice(aorUri.indexOf('@') + 1);
    const response = await this.agent.send({
      method: 'REGISTER',
      requestUri: `sip:${domain}`,
      from: aorUri,
      fromTag: this.registerTag,
      to: aorUri,
      callId: this.registerCallId,
      cseq: this.cseq++,
      contact: this.contact,
      headers: [['Expires', String(expires)]],
    });
    if (response?.status !== 200 && expires > 0)
      this.send({
        type: 'error',
        message: `sign-in to the SIP service failed (${String(response?.status ?? 'no answer')})`,
      });
  }

  private async readContacts(): Promise<{ address: string; name: string | null }[]> {
    const response = await this.request('SERVICE', this.user, {
      to: this.user,
      contentType: 'application/vnd.rampart.contacts+json',
      body: JSON.stringify({ op: 'get' }),
    });
    if (response?.status !== 200) return [];
    try {
      const list = JSON.parse(response.body.toString('utf8')) as {
        contacts?: { address: string; name?: string | null }[];
      };
      return (list.contacts ?? []).map((c) => ({ address: c.address, name: c.name ?? null }));
    } catch {
      return [];
    }
  }

  private async publish(): Promise<void> {
    const response = await this.request('PUBLISH', this.user, {
      to: this.user,
      headers: [
        ['Event', 'presence'],
        ['Expires', String(this.presence.state === 'offline' ? 0 : SUBSCRIBE_EXPIRES)],
        ...(this.publishEtag === undefined
          ? []
          : [['SIP-If-Match', this.publishEtag] as [string, string]]),
      ],
      contentType: 'application/pidf+xml',
      body: pidfOf(this.user, this.presence.state, this.presence.note),
    });
    if (response?.status === 412) this.publishEtag = undefined;
    const etag = response === undefined ? undefined : header(response, 'sip-etag');
    if (etag !== undefined) this.publishEtag = etag;
  }

  private async watch(target: string): Promise<void> {
    if (this.subscriptions.has(target) || this.subscriptions.size >= MAX_CONTACTS_WATCHED) return;
    const subscription: Subscription = {
      address: target,
      callId: `${token()}@web`,
      fromTag: token(),
      toTag: undefined,
      target,
      cseq: 1,
    };
    this.subscriptions.set(target, subscription);
    await this.resubscribe(subscription, SUBSCRIBE_EXPIRES);
  }

  private async resubscribe(subscription: Subscription, expires: number): Promise<void> {
    const response = await this.agent.send({
      method: 'SUBSCRIBE',
      requestUri: subscription.target,
      from: this.user,
      fromTag: subscription.fromTag,
      to: subscription.address,
      ...(subscription.toTag === undefined ? {} : { toTag: subscription.toTag }),
      callId: subscription.callId,
      cseq: subscription.cseq++,
      contact: this.contact,
      headers: [
        ['Event', 'presence'],
        ['Accept', 'application/pidf+xml'],
        ['Expires', String(expires)],
      ],
    });
    if (response === undefined || response.status >= 300) return;
    const to = header(response, 'to') ?? '';
    subscription.toTag ??= /;\s*tag=([^;\s]+)/i.exec(to)?.[1];
    const contact = /<([^>]+)>/.exec(header(response, 'contact') ?? '')?.[1];
    if (contact !== undefined) subscription.target = contact;
  }

  /** A request the Front End delivered to this session. */
  private deliver(request: SipRequest): { status: number; reason: string } {
    if (this.closed) return { status: 480, reason: 'Temporarily Unavailable' };
    const from = /<([^>]+)>/.exec(header(request, 'from') ?? '')?.[1] ?? '';
    switch (request.method) {
      case 'MESSAGE': {
        const type = (header(request, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
        if (type !== 'text/plain') return { status: 415, reason: 'Unsupported Media Type' };
        this.send({
          type: 'im',
          from: from.replace(/^(sips?:[^;?]+).*$/, '$1'),
          text: request.body.toString('utf8').slice(0, MAX_TEXT),
          at: new Date().toISOString(),
        });
        return { status: 200, reason: 'OK' };
      }
      case 'NOTIFY': {
        const callId = header(request, 'call-id');
        const subscription = [...this.subscriptions.values()].find((s) => s.callId === callId);
        if (subscription === undefined)
          return { status: 481, reason: 'Subscription Does Not Exist' };
        const state = (header(request, 'subscription-state') ?? '').toLowerCase();
        const shown =
          state.startsWith('active') && request.body.length > 0
            ? stateOfPidf(request.body.toString('utf8'))
            : {
                state: 'offline' as const,
                note: state.startsWith('pending') ? 'waiting for approval' : '',
              };
        this.send({ type: 'presence', address: subscription.address, ...shown });
        if (state.startsWith('terminated')) this.subscriptions.delete(subscription.address);
        return { status: 200, reason: 'OK' };
      }
      case 'OPTIONS':
        return { status: 200, reason: 'OK' };
      default:
        return { status: 405, reason: 'Method Not Allowed' };
    }
  }

  /** A command from the browser (already parsed as JSON). */
  async command(raw: unknown): Promise<void> {
    const now = Date.now();
    this.tokens = Math.min(
      COMMANDS_PER_SECOND * 2,
      this.tokens + ((now - this.refilledAt) / 1000) * COMMANDS_PER_SECOND,
    );
    this.refilledAt = now;
    if (this.tokens < 1) {
      this.send({ type: 'error', message: 'too many commands; slow down' });
      return;
    }
    this.tokens -= 1;
    const parsed = browserCommand.safeParse(raw);
    if (!parsed.success) {
      this.send({ type: 'error', message: 'malformed command' });
      return;
    }
    const command = parsed.data;
    switch (command.type) {
      case 'im': {
        const response = await this.request('MESSAGE', command.to, {
          contentType: 'text/plain;charset=utf-8',
          body: command.text,
        });
        this.send({
          type: 'sent',
          id: command.id,
          ok: response !== undefined && response.status < 300,
          status: response?.status ?? 408,
        });
        return;
      }
      case 'presence':
        this.presence = { state: command.state, note: command.note ?? '' };
        await this.publish();
        return;
      case 'add-contact': {
        await this.request('SERVICE', this.user, {
          to: this.user,
          contentType: 'application/vnd.rampart.contacts+json',
          body: JSON.stringify({
            op: 'put-contact',
            address: command.address,
            ...(command.name === undefined ? {} : { name: command.name }),
          }),
        });
        this.send({ type: 'contacts', contacts: await this.readContacts() });
        await this.watch(command.address);
        return;
      }
      case 'search': {
        const users = await this.directory.listUsers({
          prefix: command.query.toLowerCase(),
          limit: 20,
        });
        this.send({
          type: 'search',
          results: users
            .filter((u) => u.enabled)
            .map((u) => ({ address: `sip:${u.address}`, name: u.displayName })),
        });
        return;
      }
    }
  }

  /** Sign-out or a closed WebSocket: unsubscribes, withdraws presence, unregisters. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.refresh !== undefined) clearInterval(this.refresh);
    try {
      for (const subscription of this.subscriptions.values())
        if (subscription.toTag !== undefined) await this.resubscribe(subscription, 0);
      if (this.publishEtag !== undefined) {
        this.presence = { state: 'offline', note: '' };
        await this.publish();
      }
      await this.register(0);
    } catch (error) {
      this.log.warn({ event: 'web-access-close', error: String(error) }, 'session close failed');
    } finally {
      this.agent.forget(this.id);
    }
  }
}

/**
 * A sans-IO SIP registrar (RFC 3261 §10.3) with GRUU (RFC 5627), outbound (RFC 5626) and Path
 * (RFC 3327). The driver authenticates the REGISTER first (steps 1-3 are its business: the
 * Request-URI names this domain, the request is authenticated), then hands it here with the
 * authenticated address and the flow it arrived on; the result is the response to send.
 *
 * The live set of bindings is in memory; every change is written through to a
 * {@link BindingStore} before the response is released, and {@link Registrar.restore} rebuilds
 * the set from it at start. Time is `now`, wall-clock epoch milliseconds.
 */
import { callIdOf, cseqOf, parseExpires, parseNameAddr } from '../../codec/sip/headers.ts';
import type { SipRequest } from '../../codec/sip/message.ts';
import { header, headerValues } from '../../codec/sip/parse.ts';
import type { HeaderLine } from '../../codec/sip/serialize.ts';
import { isSipUri, parseUri, sipUriEquals, type SipUri } from '../../codec/sip/uri.ts';
import { DeadlineHeap } from '../../lib/deadline-heap.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import { randomToken } from '../../lib/ids.ts';
import { aorDomain, canonicalAor, canonicalAorText } from './aor.ts';
import {
  DEFAULT_CONTACT_LIMITS,
  formatContactParams,
  formatQValue,
  parseRegisterContacts,
  type ContactLimits,
  type RegisterContact,
} from './contact.ts';
import { callIdHash, GruuCodec, publicGruu, type GruuTarget } from './gruu.ts';
import type { Binding, BindingChanges, BindingStore } from './types.ts';

/** Option tags this registrar implements; any other in Require is answered 420 (§10.3 step 2). */
const SUPPORTED_EXTENSIONS = new Set(['path', 'outbound', 'gruu']);
const MAX_CALL_ID_LENGTH = 256;
const MAX_PATH_ENTRY_LENGTH = 1024;
const MAX_USER_AGENT_LENGTH = 256;

/** Options of {@link Registrar}. */
export interface RegistrarOptions {
  readonly store: BindingStore;
  /** Domains this registrar is responsible for (lower case); another AOR domain is a 404. */
  readonly domains: readonly string[];
  /** Expiry when neither the Contact nor an Expires header gives one. Default 3600 (§10.2.1). */
  readonly defaultExpiresSeconds?: number;
  /** Shortest registration accepted; shorter is answered 423 with Min-Expires. Default 60. */
  readonly minExpiresSeconds?: number;
  /** Longer registrations are shortened to this (§10.3 step 7 "MAY shorten"). Default 7200. */
  readonly maxExpiresSeconds?: number;
  /** Per-AOR cap when the REGISTER's policy gives none. Default 10. */
  readonly defaultMaxEndpoints?: number;
  /** Most bindings held in all; beyond it new bindings are answered 503. Default 100000. */
  readonly maxBindings?: number;
  /** Secret for temporary GRUUs shared by every registrar node; random per process by default. */
  readonly gruuSecret?: string | Uint8Array;
  /** Whether to apply RFC 5626 outbound to Contacts with reg-id and +sip.instance. Default true. */
  readonly outbound?: boolean;
  /**
   * RFC 5626 §6: refuse reg-id with 439 when the first hop did not show outbound support
   * (no Path with `ob` and more than one Via). Default true.
   */
  readonly requireOutboundFirstHop?: boolean;
  /** Third-party registration: whether `authenticated` may register `aor` (§10.3 step 4). */
  readonly mayRegisterFor?: (authenticated: string, aor: string) => boolean;
  readonly contactLimits?: Partial<ContactLimits>;
  /** Most Path values stored per binding. Default 8. */
  readonly maxPathEntries?: number;
  /** Store failures that did not fail a REGISTER (expiry, flow failure, compensation). */
  readonly onStoreError?: (error: unknown) => void;
  /** Binding id generator; for tests. */
  readonly newId?: () => string;
}

/** One authenticated REGISTER to process. */
export interface RegisterInput {
  readonly request: SipRequest;
  /** The address the request was authenticated as, e.g. `sip:alice@example.com`. */
  readonly authenticatedAor: string;
  /** Wall-clock epoch milliseconds. */
  readonly now: number;
  /** The transport flow the REGISTER arrived on (RFC 5626 flow token), if the driver names one. */
  readonly flowId?: string;
  /** The user's policy cap on registered endpoints; the registrar default otherwise. */
  readonly maxEndpoints?: number;
}

/** The response to send (with `buildResponse`) and what changed. */
export interface RegisterResult {
  readonly status: number;
  readonly reason: string;
  /** Headers to add to the response, after Via, From, To, Call-ID and CSeq. */
  readonly headers: readonly HeaderLine[];
  /** The canonical AOR, once it could be read from To. */
  readonly aor?: string;
  readonly changes: BindingChanges;
}

/** What a GRUU resolves to: its target and the live bindings answering to it. */
export interface GruuResolution extends GruuTarget {
  readonly bindings: readonly Binding[];
}

const NO_CHANGES: BindingChanges = { added: [], refreshed: [], removed: [] };

interface PlannedChange {
  readonly id: string;
  readonly before: Binding | undefined;
  readonly after: Binding | undefined;
}

function tokensOf(request: SipRequest, name: string): string[] {
  return headerValues(request, name).map((token) => token.trim().toLowerCase());
}

function reject(
  status: number,
  reason: string,
  headers: readonly HeaderLine[] = [],
  aor?: string,
): RegisterResult {
  return { status, reason, headers, changes: NO_CHANGES, ...(aor === undefined ? {} : { aor }) };
}

function sameContact(a: RegisterContact, b: Binding): boolean {
  const other = parseUri(b.contact);
  if (!other.ok) return false;
  if (isSipUri(a.parsedUri) && isSipUri(other.value)) return sipUriEquals(a.parsedUri, other.value);
  return a.uri === b.contact;
}

function compareBindings(a: Binding, b: Binding): number {
  return b.qThousandths - a.qThousandths || b.updatedAt - a.updatedAt;
}

/** The remaining lifetime in whole seconds, rounded up so a live binding never shows 0. */
function remainingSeconds(binding: Binding, now: number): number {
  return Math.max(1, Math.ceil((binding.expiresAt - now) / 1000));
}

/** The last Date value formatted: it changes once a second, and formatting is slow. */
let dateCache = { second: Number.NaN, text: '' };

/** RFC 3261 §20.17 SIP-date (RFC 1123 form, GMT) of `now`, epoch ms. */
function httpDate(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== dateCache.second) dateCache = { second, text: new Date(now).toUTCString() };
  return dateCache.text;
}

/** The sans-IO registrar. */
export class Registrar {
  private readonly store: BindingStore;
  private readonly domains: ReadonlySet<string>;
  private readonly defaultExpires: number;
  private readonly minExpires: number;
  private readonly maxExpires: number;
  private readonly defaultMaxEndpoints: number;
  private readonly maxBindings: number;
  private readonly outbound: boolean;
  private readonly requireOutboundFirstHop: boolean;
  private readonly mayRegisterFor: ((authenticated: string, aor: string) => boolean) | undefined;
  private readonly contactLimits: ContactLimits;
  private readonly maxPathEntries: number;
  private readonly onStoreError: (error: unknown) => void;
  private readonly newId: () => string;
  private readonly gruu: GruuCodec;

  private readonly byAor = new Map<string, Map<string, Binding>>();
  private readonly byId = new Map<string, Binding>();
  private readonly byFlow = new Map<string, Set<string>>();
  private readonly deadlines = new DeadlineHeap<string>();
  private writes: Promise<unknown> = Promise.resolve();

  constructor(options: RegistrarOptions) {
    this.store = options.store;
    this.domains = new Set(options.domains.map((d) => d.toLowerCase()));
    this.defaultExpires = options.defaultExpiresSeconds ?? 3600;
    this.minExpires = options.minExpiresSeconds ?? 60;
    this.maxExpires = options.maxExpiresSeconds ?? 7200;
    this.defaultMaxEndpoints = options.defaultMaxEndpoints ?? 10;
    this.maxBindings = options.maxBindings ?? 100_000;
    this.outbound = options.outbound ?? true;
    this.requireOutboundFirstHop = options.requireOutboundFirstHop ?? true;
    this.mayRegisterFor = options.mayRegisterFor;
    this.contactLimits = { ...DEFAULT_CONTACT_LIMITS, ...options.contactLimits };
    this.maxPathEntries = options.maxPathEntries ?? 8;
    this.onStoreError = options.onStoreError ?? (() => undefined);
    this.newId = options.newId ?? (() => randomToken(20));
    this.gruu = new GruuCodec(options.gruuSecret ?? randomToken(32));
    if (this.minExpires > this.maxExpires || this.defaultExpires <= 0) {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'inconsistent registrar expiry bounds');
    }
  }

  /** Number of bindings held (expired ones not yet swept included). */
  get size(): number {
    return this.byId.size;
  }

  /** When the next binding lapses; the driver calls {@link expire} then. */
  get nextExpiryAt(): number | undefined {
    return this.deadlines.next;
  }

  /**
   * Rebuilds the live set from the store, dropping (and deleting) bindings expired at `now`
   * and any beyond `maxBindings`. Call once at start, before any REGISTER.
   */
  async restore(now: number): Promise<{ restored: number; dropped: number }> {
    const all = await this.store.loadAll();
    let restored = 0;
    let dropped = 0;
    for (const binding of all) {
      if (binding.expiresAt <= now || this.byId.size >= this.maxBindings) {
        dropped++;
        void this.enqueue(() => this.store.delete(binding.id));
        continue;
      }
      this.put(binding);
      restored++;
    }
    return { restored, dropped };
  }

  /** Waits for every pending store write (shutdown, tests). */
  async flush(): Promise<void> {
    await this.writes;
  }

  /** The live bindings of an AOR, highest q first, then most recently refreshed. */
  lookup(aor: string, now: number): Binding[] {
    const key = canonicalAorText(aor) ?? aor;
    const bindings = this.byAor.get(key);
    if (bindings === undefined) return [];
    return [...bindings.values()].filter((b) => b.expiresAt > now).sort(compareBindings);
  }

  /**
   * Resolves a GRUU (RFC 5627 §5.5 / §6): a public GRUU to the live bindings of its instance, a
   * temporary one to those still registered under the Call-ID it was issued for. Undefined
   * when `uri` is not a GRUU or a forged one; an empty `bindings` when nothing answers (the
   * proxy then answers 480, §6).
   */
  resolveGruu(uri: string, now: number): GruuResolution | undefined {
    const target = this.gruu.open(uri);
    if (target === undefined) return undefined;
    const bindings = this.lookup(target.aor, now).filter(
      (b) =>
        b.instance === target.instance &&
        (target.callIdHash === undefined || callIdHash(b.callId) === target.callIdHash),
    );
    return { ...target, bindings };
  }

  /** Removes every binding on a transport flow that failed (RFC 5626 §5.2, §6). */
  flowFailed(flowId: string): Binding[] {
    const ids = this.byFlow.get(flowId);
    if (ids === undefined) return [];
    const removed: Binding[] = [];
    for (const id of [...ids]) {
      const binding = this.drop(id);
      if (binding !== undefined) {
        removed.push(binding);
        void this.enqueue(() => this.store.delete(id));
      }
    }
    return removed;
  }

  /** Removes and returns every binding lapsed at `now` (presence publishes them as gone). */
  expire(now: number): Binding[] {
    const removed: Binding[] = [];
    for (const id of this.deadlines.takeDue(now)) {
      const binding = this.drop(id);
      if (binding !== undefined) {
        removed.push(binding);
        void this.enqueue(() => this.store.delete(id));
      }
    }
    return removed;
  }

  /**
   * Processes an authenticated REGISTER: RFC 3261 §10.3 steps 2 and 4-8, with RFC 5626 §6,
   * RFC 5627 §5 and RFC 3327 §5.3. Resolves once the changes are in the store. Throws only on a
   * request that is not a REGISTER (the driver's mistake).
   */
  async register(input: RegisterInput): Promise<RegisterResult> {
    const { request, now } = input;
    if (request.method !== 'REGISTER') {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'Registrar.register needs a REGISTER');
    }
    // §10.3 step 2: "the registrar ... MUST process the Require header field values".
    const unsupported = tokensOf(request, 'require').filter((t) => !SUPPORTED_EXTENSIONS.has(t));
    if (unsupported.length > 0) {
      return reject(420, 'Bad Extension', [['Unsupported', unsupported.join(', ')]]);
    }
    const callId = callIdOf(request);
    if (callId === undefined || callId.length === 0 || callId.length > MAX_CALL_ID_LENGTH) {
      return reject(400, 'Invalid Call-ID');
    }
    const cseq = cseqOf(request);
    if (!cseq.ok || cseq.value.method !== 'REGISTER') return reject(400, 'Invalid CSeq');
    const toValue = header(request, 'to');
    const to = toValue === undefined ? undefined : parseNameAddr(toValue);
    if (to === undefined || !to.ok) return reject(400, 'Invalid To');
    if (!isSipUri(to.value.parsedUri) || to.value.parsedUri.user === undefined) {
      return reject(404, 'Not Found');
    }
    const toUri: SipUri = to.value.parsedUri;
    // §10.3 step 5: the AOR is the To URI in canonical form.
    const aor = canonicalAor(toUri);
    // §10.3 step 4: "the registrar determines if the authenticated user is authorized to modify
    // registrations for this address-of-record ... If ... not authorized ... 403 (Forbidden)".
    const authenticated = canonicalAorText(input.authenticatedAor);
    if (authenticated !== aor && this.mayRegisterFor?.(input.authenticatedAor, aor) !== true) {
      return reject(403, 'Not Authorized For This Address-of-Record', [], aor);
    }
    // §10.3 step 5: "If the address-of-record is not valid for the domain in the Request-URI,
    // the registrar MUST send a 404 (Not Found) response".
    if (!this.domains.has(toUri.host)) return reject(404, 'Not Found', [], aor);

    const path = this.readPath(request);
    if (typeof path === 'string') return reject(400, path, [], aor);
    const expiresText = header(request, 'expires');
    const expiresParsed = expiresText === undefined ? undefined : parseExpires(expiresText);
    // RFC 3261 §20.19: malformed values "SHOULD be treated as equivalent to 3600": absent here.
    const expiresHeader = expiresParsed?.ok === true ? expiresParsed.value : undefined;

    // §10.3 step 6: Contact "*".
    const contacts = parseRegisterContacts(headerValues(request, 'contact'), this.contactLimits);
    if (!contacts.ok) return reject(400, contacts.error.reason, [], aor);

    const supported = new Set(tokensOf(request, 'supported'));
    const current = this.liveBindings(aor, now);
    const planned = new Map<string, Binding | undefined>();
    const outboundUsed = { value: false };

    if (contacts.value.star) {
      // §10.3 step 6: "*" only with "an expiration time of zero"; the Expires header must say 0.
      if (expiresText === undefined || expiresHeader !== 0) {
        return reject(400, 'Wildcard Contact Requires Expires: 0', [], aor);
      }
      for (const binding of current) {
        // Same Call-ID: remove only if the CSeq is higher, "Otherwise, the update MUST be
        // aborted and the request fails."
        if (binding.callId === callId && cseq.value.seq <= binding.cseq) {
          return reject(500, 'Out-of-Order CSeq For Binding', [], aor);
        }
        planned.set(binding.id, undefined);
      }
    } else {
      const failure = this.planContacts({
        contacts: contacts.value.contacts,
        request,
        input,
        aor,
        callId,
        cseq: cseq.value.seq,
        expiresHeader,
        path,
        current,
        planned,
        outboundUsed,
      });
      if (failure !== undefined) return failure;
    }

    const next = new Map(current.map((b) => [b.id, b] as const));
    let adds = 0;
    for (const [id, after] of planned) {
      if (after === undefined) next.delete(id);
      else {
        if (!next.has(id)) adds++;
        next.set(id, after);
      }
    }
    if (adds > 0) {
      const cap = input.maxEndpoints ?? this.defaultMaxEndpoints;
      if (next.size > cap) {
        return reject(403, `Too Many Registered Endpoints (limit ${cap})`, [], aor);
      }
      if (this.byId.size - current.length + next.size > this.maxBindings) {
        return reject(503, 'Registrar Full', [['Retry-After', '60']], aor);
      }
    }

    const committed = await this.commit(aor, now, current, planned);
    if (!committed.ok) {
      // §10.3 step 8: "If any one of them fails (for example, because the back-end database
      // commit failed), the request MUST fail with a 500 (Server Error) response and all
      // tentative binding updates MUST be removed."
      return reject(500, 'Binding Store Failure', [], aor);
    }
    return {
      status: 200,
      reason: 'OK',
      aor,
      headers: this.okHeaders(aor, now, request, path, supported, outboundUsed.value),
      changes: committed.changes,
    };
  }

  private planContacts(ctx: {
    contacts: readonly RegisterContact[];
    request: SipRequest;
    input: RegisterInput;
    aor: string;
    callId: string;
    cseq: number;
    expiresHeader: number | undefined;
    path: readonly string[];
    current: readonly Binding[];
    planned: Map<string, Binding | undefined>;
    outboundUsed: { value: boolean };
  }): RegisterResult | undefined {
    const { aor, callId, cseq } = ctx;
    const now = ctx.input.now;
    const withRegId = ctx.contacts.filter((c) => c.regId !== undefined && c.instance !== undefined);
    if (this.outbound && withRegId.length > 1) {
      // RFC 5626 §4.2.1: a UA registers each flow in its own REGISTER, one Contact per flow.
      return reject(400, 'More Than One Contact With reg-id', [], aor);
    }
    if (this.outbound && withRegId.length === 1 && this.requireOutboundFirstHop) {
      // RFC 5626 §6: with no Path, more than one Via means an edge proxy between UA and
      // registrar that did not take part; a Path whose first hop lacks `ob` likewise. Each
      // proxy puts its Path value on top (RFC 3327 §5.1), so the first hop's — the edge
      // proxy's, nearest the UA — is the last one (a Director behind the edge adds its own).
      const paths = ctx.path;
      const edgePath = paths[paths.length - 1];
      const firstPath = edgePath === undefined ? undefined : parseNameAddr(edgePath);
      const firstHopOk =
        firstPath === undefined
          ? headerValues(ctx.request, 'via').length <= 1
          : firstPath.ok &&
            isSipUri(firstPath.value.parsedUri) &&
            firstPath.value.parsedUri.params.has('ob');
      if (!firstHopOk) return reject(439, 'First Hop Lacks Outbound Support', [], aor);
    }
    // §10.3 step 7: check every contact before changing any (step 8: all or nothing).
    const touched = new Set<string>();
    const userAgent = header(ctx.request, 'user-agent')?.slice(0, MAX_USER_AGENT_LENGTH);
    for (const contact of ctx.contacts) {
      if (
        isSipUri(contact.parsedUri) &&
        contact.parsedUri.params.has('gr') &&
        this.domains.has(contact.parsedUri.host)
      ) {
        // RFC 5627 §5.1: a Contact that is a GRUU this registrar hands out is refused with 403
        // (it would route to itself).
        return reject(403, 'Contact Is A GRUU', [], aor);
      }
      // §10.3 step 7: the Contact's expires parameter, else the Expires header, else a default.
      let expires = contact.expires ?? ctx.expiresHeader ?? this.defaultExpires;
      // "If and only if the requested expiration interval is greater than zero AND smaller than
      // one hour AND less than a registrar-configured minimum, the registrar MAY reject the
      // registration with a response of 423 (Interval Too Brief)."
      if (expires > 0 && expires < 3600 && expires < this.minExpires) {
        return reject(423, 'Interval Too Brief', [['Min-Expires', String(this.minExpires)]], aor);
      }
      // "the registrar MAY shorten the expiration interval"; never below the minimum.
      expires = Math.min(expires, this.maxExpires);
      const useOutbound =
        this.outbound && contact.regId !== undefined && contact.instance !== undefined;
      if (useOutbound) ctx.outboundUsed.value = true;
      const existing = ctx.current.find((b) =>
        useOutbound
          ? b.instance === contact.instance && b.regId === contact.regId
          : b.regId === undefined &&
            (contact.instance !== undefined
              ? b.instance === contact.instance
              : b.instance === undefined && sameContact(contact, b)),
      );
      if (existing !== undefined && !touched.has(existing.id)) {
        // §10.3 step 7: same Call-ID: "If the value is higher than that of the existing binding,
        // it MUST update or remove the binding as above. If not, the update MUST be aborted and
        // the request fails."
        if (existing.callId === callId && cseq <= existing.cseq) {
          return reject(500, 'Out-of-Order CSeq For Binding', [], aor);
        }
      }
      const id = existing?.id ?? this.newId();
      touched.add(id);
      if (expires === 0) {
        // "the binding MUST be removed if the expiration time is zero"; removing an absent
        // binding is not an error.
        if (existing !== undefined) ctx.planned.set(id, undefined);
        else ctx.planned.delete(id);
        continue;
      }
      const binding: Binding = {
        id,
        aor,
        contact: contact.uri,
        params: contact.params,
        qThousandths: contact.qThousandths,
        callId,
        cseq,
        expiresAt: now + expires * 1000,
        registeredAt: existing?.registeredAt ?? now,
        updatedAt: now,
        path: ctx.path,
        ...(contact.instance === undefined ? {} : { instance: contact.instance }),
        ...(useOutbound ? { regId: contact.regId } : {}),
        // RFC 5626 §6: the registrar remembers the flow the REGISTER arrived on; a new
        // REGISTER for the same instance and reg-id replaces the old flow.
        ...(ctx.input.flowId === undefined ? {} : { flowId: ctx.input.flowId }),
        ...(userAgent === undefined ? {} : { userAgent }),
      };
      ctx.planned.set(id, binding);
    }
    return undefined;
  }

  /** Path values, top first, or a reason to answer 400. */
  private readPath(request: SipRequest): readonly string[] | string {
    const values = headerValues(request, 'path');
    if (values.length > this.maxPathEntries) return 'Too Many Path Entries';
    for (const value of values) {
      if (value.length > MAX_PATH_ENTRY_LENGTH || !parseNameAddr(value).ok) return 'Invalid Path';
    }
    return values;
  }

  private okHeaders(
    aor: string,
    now: number,
    request: SipRequest,
    path: readonly string[],
    supported: ReadonlySet<string>,
    outboundUsed: boolean,
  ): HeaderLine[] {
    const headers: HeaderLine[] = [];
    const gruu = supported.has('gruu');
    const domain = aorDomain(aor);
    // §10.3 step 8: "The response MUST contain Contact header field values enumerating all
    // current bindings", each with "an 'expires' parameter indicating its expiration interval".
    for (const binding of this.lookup(aor, now)) {
      let value = `<${binding.contact}>;expires=${remainingSeconds(binding, now)}`;
      if (binding.qThousandths !== 1000) value += `;q=${formatQValue(binding.qThousandths)}`;
      value += formatContactParams(binding.params);
      if (gruu && binding.instance !== undefined) {
        // RFC 5627 §5.2: with Supported: gruu and an instance ID, the Contact carries pub-gruu
        // and temp-gruu (a new temporary GRUU per registration, §5.4).
        const pub = publicGruu(aor, binding.instance);
        if (pub !== undefined) {
          const temp = this.gruu.temporary(aor, binding.instance, binding.callId, domain);
          value += formatContactParams([
            ['pub-gruu', pub],
            ['temp-gruu', temp],
          ]);
        }
      }
      headers.push(['Contact', value]);
    }
    // §10.3 step 8: "The response SHOULD include a Date header field."
    headers.push(['Date', httpDate(now)]);
    if (
      outboundUsed &&
      (supported.has('outbound') || tokensOf(request, 'require').includes('outbound'))
    ) {
      // RFC 5626 §6: the registrar that applied outbound puts `outbound` in Require.
      headers.push(['Require', 'outbound']);
    }
    // RFC 3327 §5.3: with Supported: path the registrar returns the stored Path in the 200.
    if (supported.has('path')) for (const value of path) headers.push(['Path', value]);
    return headers;
  }

  private liveBindings(aor: string, now: number): Binding[] {
    const bindings = this.byAor.get(aor);
    if (bindings === undefined) return [];
    return [...bindings.values()].filter((b) => b.expiresAt > now);
  }

  /** Applies a plan in memory, writes it through, and undoes it when the store fails. */
  private async commit(
    aor: string,
    now: number,
    current: readonly Binding[],
    planned: ReadonlyMap<string, Binding | undefined>,
  ): Promise<{ ok: true; changes: BindingChanges } | { ok: false }> {
    const changes: PlannedChange[] = [];
    // Bindings of this AOR that lapsed but were not swept yet go now.
    for (const binding of this.byAor.get(aor)?.values() ?? []) {
      if (binding.expiresAt <= now && !planned.has(binding.id)) {
        changes.push({ id: binding.id, before: binding, after: undefined });
      }
    }
    const currentIds = new Map(current.map((b) => [b.id, b] as const));
    for (const [id, after] of planned) {
      const before = currentIds.get(id) ?? this.byId.get(id);
      if (before === undefined && after === undefined) continue;
      changes.push({ id, before, after });
    }
    for (const change of changes) {
      if (change.after === undefined) this.drop(change.id);
      else this.put(change.after);
    }
    const writes = changes.map((change) => {
      const after = change.after;
      return after === undefined
        ? this.enqueue(() => this.store.delete(change.id))
        : this.enqueue(() => this.store.save(after));
    });
    const results = await Promise.all(writes);
    if (results.some((written) => !written)) {
      for (const change of changes) this.undo(change);
      return { ok: false };
    }
    const added: Binding[] = [];
    const refreshed: Binding[] = [];
    const removed: Binding[] = [];
    for (const { before, after } of changes) {
      if (after === undefined) {
        if (before !== undefined) removed.push(before);
      } else if (before === undefined) {
        added.push(after);
      } else refreshed.push(after);
    }
    return { ok: true, changes: { added, refreshed, removed } };
  }

  /** Reverts one change unless a later request changed the binding meanwhile. */
  private undo(change: PlannedChange): void {
    const now = this.byId.get(change.id);
    if (now !== change.after) return;
    if (change.before === undefined) {
      this.drop(change.id);
      void this.enqueue(() => this.store.delete(change.id));
    } else {
      const before = change.before;
      this.put(before);
      void this.enqueue(() => this.store.save(before));
    }
  }

  /**
   * Starts a store operation now, in the order the registrar decided it (the store applies
   * operations in call order and may commit many together), and resolves with whether it
   * succeeded. Not chained behind the previous operation's commit: that would let one commit
   * through per event-loop turn and queue registrations behind each other under load.
   */
  private enqueue(op: () => Promise<void>): Promise<boolean> {
    let started: Promise<void>;
    try {
      started = op();
    } catch (error) {
      started = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const run = started.then(
      () => true,
      (error: unknown) => {
        this.onStoreError(error);
        return false;
      },
    );
    this.writes = this.writes.then(() => run);
    return run;
  }

  private put(binding: Binding): void {
    const previous = this.byId.get(binding.id);
    if (previous !== undefined) this.unindexFlow(previous);
    this.byId.set(binding.id, binding);
    let forAor = this.byAor.get(binding.aor);
    if (forAor === undefined) {
      forAor = new Map();
      this.byAor.set(binding.aor, forAor);
    }
    forAor.set(binding.id, binding);
    if (binding.flowId !== undefined) {
      let ids = this.byFlow.get(binding.flowId);
      if (ids === undefined) {
        ids = new Set();
        this.byFlow.set(binding.flowId, ids);
      }
      ids.add(binding.id);
    }
    this.deadlines.schedule(binding.id, binding.expiresAt);
  }

  private drop(id: string): Binding | undefined {
    const binding = this.byId.get(id);
    if (binding === undefined) return undefined;
    this.byId.delete(id);
    const forAor = this.byAor.get(binding.aor);
    forAor?.delete(id);
    if (forAor?.size === 0) this.byAor.delete(binding.aor);
    this.unindexFlow(binding);
    this.deadlines.schedule(id, undefined);
    return binding;
  }

  private unindexFlow(binding: Binding): void {
    if (binding.flowId === undefined) return;
    const ids = this.byFlow.get(binding.flowId);
    ids?.delete(binding.id);
    if (ids?.size === 0) this.byFlow.delete(binding.flowId);
  }
}

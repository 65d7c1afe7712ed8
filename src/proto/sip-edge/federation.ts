/**
 * Federation and public IM connectivity at the Access Edge, sans-IO: which foreign domains
 * may talk to us and how (allow list, block list, providers, open federation by DNS
 * discovery), whether a partner's certificate vouches for the domain it claims (RFC 5922),
 * what a partner may send, and the limits on partners found by discovery.
 */
import { parseNameAddr } from '../../codec/sip/headers.ts';
import type { SipRequest } from '../../codec/sip/message.ts';
import { header } from '../../codec/sip/parse.ts';
import { isSipUri, parseSipUri } from '../../codec/sip/uri.ts';
import type { EdgeRefusal } from './policy.ts';

/** How a foreign domain is treated: a federated organisation or a public IM provider. */
export type PartnerProfile = 'federation' | 'public';

/** An allow-list entry: a partner organisation. */
export interface AllowedPartner {
  readonly domain: string;
  /** The partner edge's FQDN (and port); null: found by DNS. */
  readonly edge: string | null;
  readonly port: number;
  /**
   * `verified`: a known partner, no limits beyond the edge's own. `throttled`: the
   * limits of discovered partners apply.
   */
  readonly verification: 'verified' | 'throttled';
}

/** A public IM provider: federation with a provider profile. */
export interface PublicProvider {
  readonly name: string;
  readonly domains: readonly string[];
  readonly edge: string;
  readonly port: number;
  readonly enabled: boolean;
  /** INVITE (audio/video) allowed; by default IM and presence only. */
  readonly allowMedia: boolean;
}

/** The federation settings the policy reads. */
export interface FederationRules {
  readonly enabled: boolean;
  /** Open federation: a domain on no list is found through DNS and throttled. */
  readonly discovery: boolean;
  readonly allow: readonly AllowedPartner[];
  readonly block: readonly string[];
  readonly providers: readonly PublicProvider[];
}

/** What the policy says about one foreign domain. */
export type PartnerStanding =
  | { readonly kind: 'off' }
  | { readonly kind: 'blocked' }
  | { readonly kind: 'unknown' }
  | {
      readonly kind: 'partner';
      readonly domain: string;
      readonly profile: PartnerProfile;
      /** Found by discovery, or allow-listed as `throttled`: the discovered-partner limits apply. */
      readonly throttled: boolean;
      /** Where its edge is, when configured (else DNS). */
      readonly edge: { readonly host: string; readonly port: number } | undefined;
      readonly allowMedia: boolean;
      /** Provider name, for logs. */
      readonly provider?: string;
    };

/** Methods a federated partner may send (no REGISTER, PUBLISH or SERVICE: those are users'). */
export const FEDERATION_METHODS: readonly string[] = [
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'MESSAGE',
  'SUBSCRIBE',
  'NOTIFY',
  'INFO',
  'UPDATE',
  'PRACK',
  'REFER',
];

/** Methods a public IM provider may send by default: IM and presence. */
export const PUBLIC_IM_METHODS: readonly string[] = [
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'MESSAGE',
  'SUBSCRIBE',
  'NOTIFY',
];

/** Whether `domain` equals `pattern`, is under it (`b.example` under `*.example`), or `*`. */
function domainMatches(pattern: string, domain: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return domain.endsWith(pattern.slice(1));
  return pattern === domain;
}

/** The federation lists, merged from configuration and the administrator's store. */
export class FederationPolicy {
  private rules: FederationRules;
  private readonly ourDomains: ReadonlySet<string>;

  constructor(rules: FederationRules, ourDomains: Iterable<string>) {
    this.rules = rules;
    this.ourDomains = new Set([...ourDomains].map((d) => d.toLowerCase()));
  }

  /** Replaces the lists (configuration reload, `rampart federation allow|block`). */
  update(rules: FederationRules): void {
    this.rules = rules;
  }

  get enabled(): boolean {
    return this.rules.enabled;
  }

  /** Whether `domain` is one this deployment serves. */
  isOurs(domain: string): boolean {
    return this.ourDomains.has(domain.toLowerCase());
  }

  /** The standing of a foreign domain: the block list wins, then providers, allow list, discovery. */
  standing(domainText: string): PartnerStanding {
    const domain = domainText.toLowerCase();
    if (!this.rules.enabled) return { kind: 'off' };
    if (this.ourDomains.has(domain)) return { kind: 'unknown' };
    if (this.rules.block.some((pattern) => domainMatches(pattern, domain)))
      return { kind: 'blocked' };
    const provider = this.rules.providers.find((p) =>
      p.domains.some((pattern) => domainMatches(pattern, domain)),
    );
    if (provider !== undefined) {
      if (!provider.enabled) return { kind: 'blocked' };
      return {
        kind: 'partner',
        domain,
        profile: 'public',
        throttled: false,
        edge: { host: provider.edge, port: provider.port },
        allowMedia: provider.allowMedia,
        provider: provider.name,
      };
    }
    const allowed = this.rules.allow.find((a) => domainMatches(a.domain, domain));
    if (allowed !== undefined)
      return {
        kind: 'partner',
        domain,
        profile: 'federation',
        throttled: allowed.verification === 'throttled',
        edge: allowed.edge === null ? undefined : { host: allowed.edge, port: allowed.port },
        allowMedia: true,
      };
    if (this.rules.discovery)
      return {
        kind: 'partner',
        domain,
        profile: 'federation',
        throttled: true,
        edge: undefined,
        allowMedia: true,
      };
    return { kind: 'unknown' };
  }
}

/** The parts of a peer certificate RFC 5922 looks at. */
export interface CertificateNames {
  /** Node's form: `'DNS:edge.b.example, URI:sip:b.example'`. */
  readonly subjectAltName?: string | undefined;
  readonly commonName?: string | undefined;
}

/**
 * The identities a certificate vouches for (RFC 5922 §7.1): the subjectAltName DNS names and
 * the host of `sip:` URIs, lower case; the Common Name only when there is no subjectAltName.
 */
export function certificateIdentities(names: CertificateNames): string[] {
  const san = names.subjectAltName;
  if (san === undefined || san.trim() === '')
    return names.commonName === undefined ? [] : [names.commonName.toLowerCase()];
  const out: string[] = [];
  for (const entry of san.split(',')) {
    const text = entry.trim();
    if (text.startsWith('DNS:')) out.push(text.slice(4).toLowerCase());
    else if (text.toLowerCase().startsWith('uri:sip:')) {
      const uri = parseSipUri(text.slice(4));
      if (uri.ok && uri.value.user === undefined) out.push(uri.value.host.toLowerCase());
    }
  }
  return out;
}

/**
 * Whether a certificate covers `domain` (RFC 5922 §7.2–7.3): an exact DNS or URI identity,
 * or a DNS wildcard for exactly one left-most label (RFC 6125 §6.4.3).
 */
export function certificateCovers(names: CertificateNames, domain: string): boolean {
  const wanted = domain.toLowerCase();
  return certificateIdentities(names).some((identity) => {
    if (identity === wanted) return true;
    if (!identity.startsWith('*.')) return false;
    const dot = wanted.indexOf('.');
    return dot > 0 && wanted.slice(dot) === identity.slice(1);
  });
}

function hostOfNameAddr(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parsed = parseNameAddr(value);
  if (!parsed.ok || !isSipUri(parsed.value.parsedUri)) return undefined;
  return parsed.value.parsedUri.host.toLowerCase();
}

/** The domain in a request's From, lower case; undefined when From is not a SIP URI. */
export function fromDomainOf(request: SipRequest): string | undefined {
  return hostOfNameAddr(header(request, 'from'));
}

/**
 * Checks a request a partner's edge sent us, after its domain was found acceptable.
 * `covers`: whether the partner's certificate vouches for a domain. `requestUriIsOurToken`:
 * the Request-URI is a Contact token the edge issued (in-dialog).
 */
export function checkPartnerRequest(
  request: SipRequest,
  options: {
    readonly standing: Extract<PartnerStanding, { kind: 'partner' }>;
    readonly policy: FederationPolicy;
    readonly requestUri: string;
    readonly requestUriIsOurToken: boolean;
    readonly covers: (domain: string) => boolean;
    readonly maxHeaders: number;
  },
): EdgeRefusal | undefined {
  const { standing, policy } = options;
  const methods =
    standing.profile === 'public'
      ? standing.allowMedia
        ? FEDERATION_METHODS
        : PUBLIC_IM_METHODS
      : FEDERATION_METHODS;
  if (!methods.includes(request.method))
    return { status: 405, reason: 'Method Not Allowed', headers: [['Allow', methods.join(', ')]] };
  if (request.headers.length > options.maxHeaders)
    return { status: 400, reason: 'Too Many Header Fields' };
  // RFC 5922 §7.4 (and RFC 3325 §5): the domain a partner claims must be one its
  // certificate covers; a partner never speaks for one of our domains.
  if (!options.covers(standing.domain)) return { status: 403, reason: 'Domain Not Certified' };
  for (const name of ['p-asserted-identity', 'p-preferred-identity']) {
    for (const field of request.headers) {
      if (field.name !== name) continue;
      const host = hostOfNameAddr(field.value);
      if (host === undefined || policy.isOurs(host) || !options.covers(host))
        return { status: 403, reason: 'Identity Not Certified' };
    }
  }
  if (!options.requestUriIsOurToken) {
    // Federation reaches our users only: an edge is not an open relay to a third domain.
    const ruri = parseSipUri(options.requestUri);
    if (!ruri.ok || !policy.isOurs(ruri.value.host))
      return { status: 403, reason: 'Not Our Domain' };
  }
  return undefined;
}

/** Limits on partners found by discovery (and allow-listed ones marked `throttled`). */
export interface DiscoveredPartnerLimits {
  /** Distinct local users one partner may contact per window. */
  readonly maxLocalUsers: number;
  readonly windowMs: number;
  /** Requests per second from one partner (burst: twice as many). */
  readonly messagesPerSecond: number;
}

/** Why a throttled partner's request was refused. */
export type ThrottleVerdict = 'ok' | 'rate' | 'users';

interface PartnerUsage {
  windowStart: number;
  readonly users: Set<string>;
  tokens: number;
  refilledAt: number;
}

/** A partner that went over a limit, as the watch list shows it. */
export interface WatchedPartner {
  readonly domain: string;
  readonly reason: Exclude<ThrottleVerdict, 'ok'>;
  readonly since: number;
  readonly count: number;
}

/**
 * Counts what each throttled partner does: distinct local users per window and a token
 * bucket of requests. A partner over either limit is refused and put on the watch list.
 * At most `maxPartners` partners are tracked; the least recently seen is forgotten first.
 */
export class PartnerThrottle {
  private readonly usage = new Map<string, PartnerUsage>();
  private readonly watched = new Map<string, WatchedPartner>();

  private readonly limits: DiscoveredPartnerLimits;
  private readonly maxPartners: number;

  constructor(limits: DiscoveredPartnerLimits, maxPartners = 10_000) {
    this.limits = limits;
    this.maxPartners = maxPartners;
  }

  /** Counts one request of `domain` for local user `localUser` (undefined: none). */
  hit(domain: string, localUser: string | undefined, now: number): ThrottleVerdict {
    let usage = this.usage.get(domain);
    if (usage === undefined) {
      if (this.usage.size >= this.maxPartners) {
        const oldest = this.usage.keys().next().value;
        if (oldest !== undefined) this.usage.delete(oldest);
      }
      usage = { windowStart: now, users: new Set(), tokens: this.burst, refilledAt: now };
    } else this.usage.delete(domain);
    this.usage.set(domain, usage);
    if (now - usage.windowStart >= this.limits.windowMs) {
      usage.windowStart = now;
      usage.users.clear();
    }
    usage.tokens = Math.min(
      this.burst,
      usage.tokens + ((now - usage.refilledAt) / 1000) * this.limits.messagesPerSecond,
    );
    usage.refilledAt = now;
    if (usage.tokens < 1) return this.watch(domain, 'rate', now);
    if (
      localUser !== undefined &&
      !usage.users.has(localUser) &&
      usage.users.size >= this.limits.maxLocalUsers
    )
      return this.watch(domain, 'users', now);
    usage.tokens -= 1;
    if (localUser !== undefined) usage.users.add(localUser);
    return 'ok';
  }

  /** Partners that went over a limit, most recent first. */
  watchList(): WatchedPartner[] {
    return [...this.watched.values()].sort((a, b) => b.since - a.since);
  }

  private get burst(): number {
    return this.limits.messagesPerSecond * 2;
  }

  private watch(
    domain: string,
    reason: Exclude<ThrottleVerdict, 'ok'>,
    now: number,
  ): ThrottleVerdict {
    const previous = this.watched.get(domain);
    if (previous === undefined && this.watched.size >= this.maxPartners) {
      const oldest = this.watched.keys().next().value;
      if (oldest !== undefined) this.watched.delete(oldest);
    }
    this.watched.set(domain, {
      domain,
      reason,
      since: previous?.since ?? now,
      count: (previous?.count ?? 0) + 1,
    });
    return reason;
  }

  /** Whether `domain` is on the watch list. */
  isWatched(domain: string): boolean {
    return this.watched.has(domain);
  }
}

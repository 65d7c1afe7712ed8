/**
 * Federation at the Access Edge: partner organisations and public IM providers, edge to edge
 * over mutual TLS. Decides whether a partner's request may come in (lists, certificate,
 * profile, discovered-partner limits: ../../proto/sip-edge/federation.ts), and finds or opens
 * the connection a request for a partner goes out on: the allow list's edge, else the
 * `_sipfederationtls._tcp` SRV record, else RFC 3263. Connections are pooled per partner and
 * used both ways: a partner's own connection to us carries our requests to it too.
 */
import { isIP } from 'node:net';
import { Gauge, type Counter, type Registry } from 'prom-client';
import type { SipRequest } from '../../codec/sip/message.ts';
import { header } from '../../codec/sip/parse.ts';
import { parseSipUri } from '../../codec/sip/uri.ts';
import type { Logger } from '../../lib/logger.ts';
import { orderSrvRecords } from '../../proto/locate/srv.ts';
import type { LocatedTarget } from '../../proto/locate/types.ts';
import {
  certificateCovers,
  checkPartnerRequest,
  FederationPolicy,
  PartnerThrottle,
  type FederationRules,
  type PartnerStanding,
  type WatchedPartner,
} from '../../proto/sip-edge/federation.ts';
import type { EdgeRefusal } from '../../proto/sip-edge/policy.ts';
import { locateSipServer } from '../../runtime/dns/locate.ts';
import type { DnsQuerier } from '../../runtime/dns/resolver.ts';
import { counterIn as counter } from '../../runtime/metrics.ts';
import type { FederationEntry, FederationStore } from '../../store/federation-store.ts';
import type { Flow, PeerCertificateInfo, SipTransportLayer } from '../../transport/index.ts';
import type { FederationSettings } from './settings.ts';

/** A partner in good standing. */
export type Partner = Extract<PartnerStanding, { kind: 'partner' }>;

/** How often the administrator's lists are looked at for changes. */
const STORE_POLL_MS = 1000;
/** Seconds a throttled partner is told to wait. */
const PARTNER_RETRY_AFTER_SECONDS = 5;

export interface PartnerFederationOptions {
  readonly settings: FederationSettings;
  readonly domains: readonly string[];
  readonly transport: SipTransportLayer;
  readonly resolver: DnsQuerier;
  /** The certificate and key presented to partners (the edge's external certificate). */
  readonly tls: { readonly cert: string; readonly key: string };
  /** Trust anchors for partners' certificates. */
  readonly ca: readonly string[];
  readonly store?: FederationStore | undefined;
  readonly registry: Registry;
  readonly logger: Logger;
}

interface Pool {
  readonly flows: Flow[];
  /** Names the partner's certificates vouch for, and the edge host it was dialled as. */
  readonly names: Set<string>;
  connecting: Promise<Flow | undefined> | undefined;
  pending: number;
}

/** The result of checking a partner's request. */
export type InboundVerdict =
  | { readonly kind: 'not-partner' }
  | { readonly kind: 'refuse'; readonly reason: string; readonly refusal: EdgeRefusal }
  | { readonly kind: 'accept'; readonly partner: Partner };

/** Where a request for a partner goes. */
export type OutboundRoute =
  | { readonly kind: 'refuse'; readonly reason: string; readonly refusal: EdgeRefusal }
  | { readonly kind: 'flow'; readonly flow: Flow };

function namesOf(certificate: PeerCertificateInfo): {
  subjectAltName?: string;
  commonName?: string;
} {
  const cn = certificate.subject.CN;
  const commonName = typeof cn === 'string' ? cn : cn?.[0];
  return {
    ...(certificate.subjectAltName === undefined
      ? {}
      : { subjectAltName: certificate.subjectAltName }),
    ...(commonName === undefined ? {} : { commonName }),
  };
}

function refuse(reason: string, status: number, text: string, headers?: EdgeRefusal['headers']) {
  return {
    kind: 'refuse' as const,
    reason,
    refusal: { status, reason: text, ...(headers === undefined ? {} : { headers }) },
  };
}

/** The refusal for a domain that is not a partner in good standing (both directions). */
function refuseStanding(standing: Exclude<PartnerStanding, { kind: 'partner' }>) {
  switch (standing.kind) {
    case 'off':
      return refuse('federation-off', 403, 'Federation Not Enabled');
    case 'blocked':
      return refuse('blocked', 403, 'Domain Blocked');
    case 'unknown':
      return refuse('unknown-partner', 403, 'Domain Not Federated');
  }
}

/** Federation: the partner lists, their connections, and the checks on their traffic. */
export class PartnerFederation {
  readonly policy: FederationPolicy;
  private readonly options: PartnerFederationOptions;
  private readonly throttle: PartnerThrottle;
  private readonly pools = new Map<string, Pool>();
  /** Flows we dialled to partners. */
  private readonly dialled = new Set<string>();
  /** `address|port` of partner flows we dialled (their Via names our external side). */
  private readonly dialledRemotes = new Set<string>();
  private readonly log: Logger;
  private readonly outcomes: Counter<'direction' | 'outcome'>;
  private storeVersion = -1;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;

  constructor(options: PartnerFederationOptions) {
    this.options = options;
    this.log = options.logger;
    this.policy = new FederationPolicy(this.rules(), options.domains);
    const discovered = options.settings.discovered;
    this.throttle = new PartnerThrottle({
      maxLocalUsers: discovered.maxLocalUsers,
      windowMs: discovered.windowSeconds * 1000,
      messagesPerSecond: discovered.messagesPerSecond,
    });
    this.outcomes = counter(
      options.registry,
      'rampart_access_edge_federation_total',
      'Federation requests through the Access Edge, by direction (in, out) and outcome',
      ['direction', 'outcome'],
    );
    const name = 'rampart_access_edge_partner_connections';
    if (options.registry.getSingleMetric(name) === undefined) {
      const pools = this.pools;
      new Gauge({
        name,
        help: 'Mutual-TLS connections to federation partners, both directions',
        registers: [options.registry],
        collect() {
          let count = 0;
          for (const pool of pools.values()) count += pool.flows.length;
          this.set(count);
        },
      });
    }
    this.unsubscribe = options.transport.on('flow-closed', (flow) => {
      this.forget(flow);
    });
    if (options.store !== undefined) {
      this.storeVersion = options.store.version();
      this.timer = setInterval(() => {
        this.reloadStore();
      }, STORE_POLL_MS);
      this.timer.unref();
    }
  }

  get enabled(): boolean {
    return this.options.settings.enabled;
  }

  /** Whether a flow is a partner's: one we dialled, or one whose certificate verified. */
  isPartnerFlow(flow: Flow): boolean {
    return this.dialled.has(flow.id) || flow.peerCertificate?.authorized === true;
  }

  /** Whether we dialled this flow to a partner. */
  isDialled(flow: Flow): boolean {
    return this.dialled.has(flow.id);
  }

  /** Whether an address and port is a partner edge we dialled (our Via faces it outside). */
  isDialledRemote(address: string, port: number): boolean {
    return this.dialledRemotes.has(`${address}|${String(port)}`);
  }

  /** Partners that went over a discovered-partner limit. */
  watchList(): WatchedPartner[] {
    return this.throttle.watchList();
  }

  status(): { partners: number; partnerConnections: number; watchedPartners: number } {
    let connections = 0;
    for (const pool of this.pools.values()) connections += pool.flows.length;
    return {
      partners: this.pools.size,
      partnerConnections: connections,
      watchedPartners: this.throttle.watchList().length,
    };
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.unsubscribe();
  }

  /** The configured lists with the administrator's entries first. */
  private rules(): FederationRules {
    return mergedRules(this.options.settings, this.options.store?.list() ?? []);
  }

  private reloadStore(): void {
    const store = this.options.store;
    if (store === undefined) return;
    try {
      const version = store.version();
      if (version === this.storeVersion) return;
      this.storeVersion = version;
      this.policy.update(this.rules());
      this.log.info({ event: 'federation-lists-reloaded' }, 'federation lists reloaded');
    } catch (error) {
      this.log.error({ event: 'federation-store-error', error: String(error) }, 'store failed');
    }
  }

  /**
   * Checks a request from outside whose From domain (`domain`) is not one of ours:
   * federation must be on, the domain neither blocked nor unknown, the flow's certificate
   * must vouch for it, the method fit the profile, and a throttled partner stay within its
   * limits.
   */
  checkInbound(
    incoming: { readonly request: SipRequest; readonly flow: Flow; readonly requestUri: string },
    domain: string | undefined,
    requestUriIsOurToken: boolean,
    maxHeaders: number,
  ): InboundVerdict {
    const { request, flow } = incoming;
    if (domain === undefined) return { kind: 'not-partner' };
    if (this.policy.isOurs(domain)) {
      if (flow.peerCertificate?.authorized !== true) return { kind: 'not-partner' };
      // A partner's connection never speaks for one of our domains (a remote user presents
      // no certificate).
      this.outcomes.inc({ direction: 'in', outcome: 'claims-our-domain' });
      this.log.warn(
        {
          event: 'federation-refused',
          domain,
          reason: 'claims-our-domain',
          remote: flow.remote.address,
        },
        'partner claimed one of our domains',
      );
      return refuse('claims-our-domain', 403, 'Partner May Not Claim Our Domain');
    }
    const verdict = this.inboundVerdict(request, flow, domain, incoming.requestUri, {
      requestUriIsOurToken,
      maxHeaders,
    });
    this.outcomes.inc({
      direction: 'in',
      outcome: verdict.kind === 'refuse' ? verdict.reason : 'ok',
    });
    if (verdict.kind === 'refuse')
      this.log.info(
        {
          event: 'federation-refused',
          domain,
          reason: verdict.reason,
          remote: flow.remote.address,
        },
        'partner request refused',
      );
    return verdict;
  }

  private inboundVerdict(
    request: SipRequest,
    flow: Flow,
    domain: string,
    requestUri: string,
    options: { readonly requestUriIsOurToken: boolean; readonly maxHeaders: number },
  ): InboundVerdict {
    const standing = this.policy.standing(domain);
    if (standing.kind !== 'partner') return refuseStanding(standing);
    const certificate = flow.peerCertificate;
    if (certificate?.authorized !== true)
      return refuse('no-certificate', 403, 'Partner Certificate Required');
    const names = namesOf(certificate);
    const edgeHost = standing.edge?.host;
    // The domain itself, or (allow list, provider) the edge the administrator tied it to.
    const covers = (claimed: string): boolean =>
      certificateCovers(names, claimed) ||
      (claimed === standing.domain && edgeHost !== undefined && certificateCovers(names, edgeHost));
    const refusal = checkPartnerRequest(request, {
      standing,
      policy: this.policy,
      requestUri,
      requestUriIsOurToken: options.requestUriIsOurToken,
      covers,
      maxHeaders: options.maxHeaders,
    });
    if (refusal !== undefined)
      return {
        kind: 'refuse',
        reason: refusal.reason.toLowerCase().replace(/\s+/g, '-'),
        refusal,
      };
    if (standing.throttled && request.method !== 'ACK') {
      const ruri = parseSipUri(requestUri);
      const localUser =
        options.requestUriIsOurToken || !ruri.ok || ruri.value.user === undefined
          ? undefined
          : `${ruri.value.user}@${ruri.value.host}`;
      const watchedBefore = this.throttle.isWatched(domain);
      const verdict = this.throttle.hit(domain, localUser, Date.now());
      if (verdict !== 'ok') {
        if (!watchedBefore)
          this.log.warn(
            { event: 'partner-watch', domain, reason: verdict, remote: flow.remote.address },
            `partner ${domain} over the discovered-partner limit (${verdict}): on the watch list`,
          );
        return verdict === 'rate'
          ? refuse('partner-rate', 503, 'Partner Rate Limit', [
              ['Retry-After', String(PARTNER_RETRY_AFTER_SECONDS)],
            ])
          : refuse('partner-users', 403, 'Too Many Local Users');
      }
    }
    this.adopt(standing.domain, flow, names);
    return { kind: 'accept', partner: standing };
  }

  /** A partner's own connection carries our requests to it too (connection reuse). */
  private adopt(domain: string, flow: Flow, names: ReturnType<typeof namesOf>): void {
    const pool = this.poolOf(domain);
    if (pool.flows.some((f) => f.id === flow.id)) return;
    pool.flows.push(flow);
    if (names.subjectAltName !== undefined)
      for (const entry of names.subjectAltName.split(','))
        if (entry.trim().startsWith('DNS:')) pool.names.add(entry.trim().slice(4).toLowerCase());
  }

  private poolOf(key: string): Pool {
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = { flows: [], names: new Set([key]), connecting: undefined, pending: 0 };
      this.pools.set(key, pool);
    }
    return pool;
  }

  private forget(flow: Flow): void {
    if (this.dialled.delete(flow.id))
      this.dialledRemotes.delete(`${flow.remote.address}|${String(flow.remote.port)}`);
    for (const [key, pool] of this.pools) {
      const index = pool.flows.findIndex((f) => f.id === flow.id);
      if (index < 0) continue;
      pool.flows.splice(index, 1);
      if (pool.flows.length === 0 && pool.connecting === undefined && pool.pending === 0)
        this.pools.delete(key);
    }
  }

  /**
   * The standing of the domain a request from inside is for, checked against the profile
   * (a provider takes no INVITE unless media is allowed).
   */
  checkOutbound(
    request: SipRequest,
    domain: string,
  ): OutboundRoute | { kind: 'ok'; partner: Partner } {
    const standing = this.policy.standing(domain);
    const verdict = ((): OutboundRoute | { kind: 'ok'; partner: Partner } => {
      if (standing.kind !== 'partner') return refuseStanding(standing);
      if (standing.profile === 'public' && !standing.allowMedia && request.method === 'INVITE')
        return refuse('public-no-media', 403, 'Media Not Allowed With Provider');
      return { kind: 'ok', partner: standing };
    })();
    if (verdict.kind === 'refuse') this.outcomes.inc({ direction: 'out', outcome: verdict.reason });
    return verdict;
  }

  /**
   * The connection a request goes out on to reach `hostText` (a partner's domain, its edge,
   * or a host in a partner's Record-Route): a pooled one, else a new one. `partner`: the
   * partner the request is for, when known (new requests); in-dialog requests name a host.
   */
  async flowToward(
    hostText: string,
    port: number | undefined,
    partner: Partner | undefined,
    callId: string,
  ): Promise<OutboundRoute> {
    const host = hostText.toLowerCase();
    const key = partner?.domain ?? this.poolKeyFor(host) ?? host;
    const pool = this.poolOf(key);
    const pick = (): Flow | undefined => {
      const live = pool.flows.filter((f) => this.options.transport.getFlow(f.id) !== undefined);
      if (live.length === 0) return undefined;
      // One dialog stays on one connection (ordered delivery); dialogs spread over the pool.
      let hash = 0;
      for (let i = 0; i < callId.length; i++) hash = (hash * 31 + callId.charCodeAt(i)) | 0;
      return live[Math.abs(hash) % live.length];
    };
    const settings = this.options.settings;
    const existing = pick();
    if (pool.flows.length < settings.connectionsPerPartner && pool.connecting === undefined)
      this.grow(pool, host, port, partner);
    if (existing !== undefined) {
      this.outcomes.inc({ direction: 'out', outcome: 'ok' });
      return { kind: 'flow', flow: existing };
    }
    if (pool.pending >= settings.maxPendingPerPartner) {
      this.outcomes.inc({ direction: 'out', outcome: 'queue-full' });
      return refuse('queue-full', 503, 'Partner Busy', [['Retry-After', '5']]);
    }
    pool.connecting ??= this.connect(pool, host, port, partner);
    pool.pending += 1;
    try {
      await pool.connecting;
    } finally {
      pool.pending -= 1;
    }
    const flow = pick();
    if (flow === undefined) {
      this.outcomes.inc({ direction: 'out', outcome: 'unreachable' });
      if (pool.flows.length === 0 && pool.pending === 0) this.pools.delete(key);
      // RFC 3261 §21.5.5: no timely answer from the server we had to reach.
      return refuse('unreachable', 504, 'Partner Unreachable');
    }
    this.outcomes.inc({ direction: 'out', outcome: 'ok' });
    return { kind: 'flow', flow };
  }

  /** The pool whose partner a host belongs to: by domain, certificate name or address. */
  private poolKeyFor(host: string): string | undefined {
    for (const [key, pool] of this.pools) {
      if (pool.names.has(host)) return key;
      if (pool.flows.some((f) => f.remote.address === host)) return key;
    }
    return undefined;
  }

  private grow(pool: Pool, host: string, port: number | undefined, partner: Partner | undefined) {
    pool.connecting = this.connect(pool, host, port, partner);
  }

  private connect(
    pool: Pool,
    host: string,
    port: number | undefined,
    partner: Partner | undefined,
  ): Promise<Flow | undefined> {
    const attempt = (async (): Promise<Flow | undefined> => {
      try {
        for (const { name, target } of await this.locate(host, port, partner)) {
          try {
            const flow = await this.options.transport.connect({
              transport: 'tls',
              host: target.address,
              port: target.port,
              ...(name === undefined ? {} : { servername: name }),
              ca: [...this.options.ca],
              cert: this.options.tls.cert,
              key: this.options.tls.key,
            });
            this.dialled.add(flow.id);
            this.dialledRemotes.add(`${flow.remote.address}|${String(flow.remote.port)}`);
            pool.flows.push(flow);
            if (name !== undefined) pool.names.add(name);
            this.log.info(
              {
                event: 'partner-connected',
                partner: partner?.domain ?? host,
                edge: name,
                address: target.address,
                port: target.port,
              },
              'connected to partner edge',
            );
            return flow;
          } catch (error) {
            this.log.warn(
              {
                event: 'partner-unreachable',
                partner: partner?.domain ?? host,
                address: target.address,
                port: target.port,
                error: String(error),
              },
              'partner edge unreachable',
            );
          }
        }
        return undefined;
      } finally {
        pool.connecting = undefined;
      }
    })();
    return attempt;
  }

  /** Where a partner's edge is (see {@link locatePartnerEdge}). */
  locate(
    host: string,
    port: number | undefined,
    partner: Partner | undefined,
  ): Promise<PartnerTarget[]> {
    return locatePartnerEdge(this.options.resolver, host, port, partner);
  }

  /** The Call-ID of a request, for choosing a pooled connection. */
  static callIdOf(request: SipRequest): string {
    return header(request, 'call-id') ?? '';
  }
}

/** One place a partner's edge may be, with the name its certificate must carry. */
export interface PartnerTarget {
  readonly name: string | undefined;
  readonly target: LocatedTarget;
}

/**
 * Where a partner's edge is: the configured edge; else the `_sipfederationtls._tcp.<domain>`
 * SRV record; else RFC 3263 for `sips:<host>`. An address given as such has no name to check.
 */
export async function locatePartnerEdge(
  resolver: DnsQuerier,
  host: string,
  port: number | undefined,
  partner: Pick<Partner, 'domain' | 'edge'> | undefined,
): Promise<PartnerTarget[]> {
  const addressesOf = async (name: string, targetPort: number): Promise<PartnerTarget[]> => {
    const located = await locateSipServer(
      { scheme: 'sip', host: name, port: targetPort, transport: 'tls' },
      { resolver, transports: ['tls'] },
    );
    return located.ok
      ? located.value.map((target) => ({ name: isIP(name) === 0 ? name : undefined, target }))
      : [];
  };
  if (partner?.edge !== undefined) return addressesOf(partner.edge.host, partner.edge.port);
  if (isIP(host) !== 0) return addressesOf(host, port ?? 5061);
  if (partner !== undefined) {
    const answer = await resolver.query({
      type: 'SRV',
      name: `_sipfederationtls._tcp.${partner.domain}`,
    });
    if (answer.type === 'SRV' && answer.records.length > 0) {
      const out: PartnerTarget[] = [];
      for (const record of orderSrvRecords(answer.records, Math.random))
        out.push(...(await addressesOf(record.name.toLowerCase(), record.port)));
      return out;
    }
  }
  const located = await locateSipServer(
    { scheme: 'sips', host, ...(port === undefined ? {} : { port }) },
    { resolver, transports: ['tls'] },
  );
  return located.ok ? located.value.map((target) => ({ name: host, target })) : [];
}

/** The lists as the edge merges them (the administrator's entries first). */
export function mergedRules(
  settings: FederationSettings,
  stored: readonly FederationEntry[],
): FederationRules {
  const storedDomains = new Set(stored.map((e) => e.domain));
  return {
    enabled: settings.enabled,
    discovery: settings.discovery,
    allow: [
      ...stored.flatMap((e) =>
        e.action === 'allow'
          ? [{ domain: e.domain, edge: e.edge, port: e.port, verification: e.verification }]
          : [],
      ),
      ...settings.allow.filter((a) => !storedDomains.has(a.domain)),
    ],
    block: [
      ...stored.flatMap((e) => (e.action === 'block' ? [e.domain] : [])),
      ...settings.block.filter((d) => !storedDomains.has(d)),
    ],
    providers: settings.providers,
  };
}

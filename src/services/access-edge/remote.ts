/**
 * The Access Edge's remote-user policy: what crosses between the Internet and the internal
 * next hop (the Director, or any SIP server), and how.
 *
 * From outside: refused unless the method, the From domain, the Request-URI and the Route set
 * pass ../../proto/sip-edge/policy.ts; trust headers stripped and `P-Rampart-Origin: remote`
 * added; everything goes to the healthy internal next hop (503 with Retry-After when none
 * is). From inside: requests for remote users go over the client's own flow (Contact and
 * Path tokens). Both ways Via, Record-Route and Contact of one side are hidden from the other
 * (../../proto/sip-edge/topology.ts). Floods are banned per source address and per user.
 */
import { Gauge, type Counter, type Registry } from 'prom-client';
import type { SipEdit } from '../../codec/sip/edit.ts';
import { parseNameAddr } from '../../codec/sip/headers.ts';
import type { SipRequest, SipResponse } from '../../codec/sip/message.ts';
import { header } from '../../codec/sip/parse.ts';
import { parseSipUri, type SipUri } from '../../codec/sip/uri.ts';
import type { Logger } from '../../lib/logger.ts';
import type { LocatedTarget } from '../../proto/locate/types.ts';
import { counterIn as counter } from '../../runtime/metrics.ts';
import { FloodGuard } from '../../proto/sip-edge/flood.ts';
import { fromDomainOf } from '../../proto/sip-edge/federation.ts';
import {
  ANONYMOUS_DOMAIN,
  checkAnonymousRequest,
  checkRemoteRequest,
  isOwnHeader,
  REMOTE_USER_METHODS,
  TRUST_HEADERS,
  type RemotePolicy,
} from '../../proto/sip-edge/policy.ts';
import {
  across,
  CallIdMask,
  crossCallId,
  hideContacts,
  hideResponseRecordRoutes,
  openContact,
  openRoutes,
  recordRouteFor,
  recordRouteValues,
  routeParamOf,
  sealRoutes,
  TopologySeal,
  type EdgeInterface,
  type Side,
} from '../../proto/sip-edge/topology.ts';
import type {
  ForwardTarget,
  HeaderEdits,
  IncomingRequest,
  RequestDecision,
} from '../../runtime/sip/handler.ts';
import type {
  ProxyListener,
  SipProxyEngine,
  SipProxyEngineOptions,
} from '../../runtime/sip/proxy-engine.ts';
import type { Flow, SipTransportLayer } from '../../transport/index.ts';
import type { Partner, PartnerFederation } from './federation.ts';
import type { AccessEdgeSettings } from './settings.ts';

/** The mark the Director reads on its mutual-TLS listener (services/director). */
const ORIGIN_HEADER = 'P-Rampart-Origin';
/** The client's address, for the Director's lockout per source (services/director). */
const SOURCE_HEADER = 'P-Rampart-Source';
/** The partner domain a federated request comes from, as its certificate vouched. */
const PARTNER_HEADER = 'P-Rampart-Partner';
const FLOW_TOKEN = 'f';
/** Seconds a client is told to wait when no internal next hop is up. */
const RETRY_AFTER_SECONDS = 30;

interface NextHop {
  readonly uri: string;
  readonly route: string;
  /** The address and port it was given as (a connection to it names them). */
  readonly host: string | undefined;
  readonly port: number | undefined;
  up: boolean;
  checking: boolean;
  /** Health checks unanswered in a row. */
  missed: number;
}

export interface RemoteUserPolicyOptions {
  readonly config: AccessEdgeSettings;
  readonly domains: readonly string[];
  readonly nextHops: readonly string[];
  readonly secret: string;
  readonly externalListeners: readonly ProxyListener[];
  readonly internalListeners: readonly ProxyListener[];
  readonly transport: SipTransportLayer;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Federation with partners and providers, when on. */
  readonly federation?: PartnerFederation | undefined;
}

function uriOf(text: string): SipUri | undefined {
  const parsed = parseSipUri(text);
  return parsed.ok ? parsed.value : undefined;
}

function routeUriOf(value: string): SipUri | undefined {
  const nameAddr = parseNameAddr(value);
  return nameAddr.ok ? uriOf(nameAddr.value.uri) : undefined;
}

function fromAddressOf(request: SipRequest): string | undefined {
  const from = header(request, 'from');
  const parsed = from === undefined ? undefined : parseNameAddr(from);
  return parsed?.ok === true ? parsed.value.uri.toLowerCase() : undefined;
}

export class RemoteUserPolicy {
  private readonly options: RemoteUserPolicyOptions;
  private readonly seal: TopologySeal;
  private readonly callIds: CallIdMask;
  private readonly policy: RemotePolicy;
  private readonly hops: NextHop[];
  private readonly internalIds: Set<string>;
  private readonly ownHosts: Set<string>;
  private readonly ownPorts: Set<number>;
  private readonly publicDomains: Set<string>;
  private readonly perIp: FloodGuard;
  private readonly perUser: FloodGuard;
  private readonly log: Logger;
  private readonly refused: Counter<'reason'>;
  private readonly bans: Counter<'kind'>;
  private timer: NodeJS.Timeout | undefined;
  private engine: SipProxyEngine | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(options: RemoteUserPolicyOptions) {
    this.options = options;
    this.log = options.logger;
    this.seal = new TopologySeal(options.secret);
    this.callIds = new CallIdMask(options.secret);
    this.hops = options.nextHops.map((uri) => ({
      uri,
      route: `<${uri};lr>`,
      host: uriOf(uri)?.host,
      port: uriOf(uri)?.port,
      up: true,
      checking: false,
      missed: 0,
    }));
    this.internalIds = new Set(options.internalListeners.map((l) => l.listenerId));
    const listeners = [...options.externalListeners, ...options.internalListeners];
    this.ownHosts = new Set([
      ...listeners.map((l) => l.host.toLowerCase()),
      options.config.external.host.toLowerCase(),
      options.config.internal.host.toLowerCase(),
    ]);
    this.ownPorts = new Set(listeners.map((l) => l.port));
    this.publicDomains = new Set(options.domains.map((d) => d.toLowerCase()));
    const hidden = new Set<string>([
      ...this.ownHosts,
      ...options.config.internal.hiddenHosts.map((h) => h.toLowerCase()),
    ]);
    for (const hop of options.nextHops) {
      const uri = uriOf(hop);
      if (uri !== undefined) hidden.add(uri.host);
    }
    this.policy = {
      domains: this.publicDomains,
      hiddenHosts: hidden,
      methods: new Set(REMOTE_USER_METHODS),
      maxHeaders: options.config.limits.maxHeaders,
    };
    const limits = options.config.limits;
    this.perIp = new FloodGuard({
      ratePerSecond: limits.messagesPerSecondPerIp,
      banMs: limits.banSeconds * 1000,
    });
    this.perUser = new FloodGuard({
      ratePerSecond: limits.messagesPerSecondPerUser,
      banMs: limits.banSeconds * 1000,
    });
    this.refused = counter(
      options.registry,
      'rampart_access_edge_refused_total',
      'Requests from outside the Access Edge refused, by reason',
      ['reason'],
    );
    this.bans = counter(
      options.registry,
      'rampart_access_edge_bans_total',
      'Temporary bans for flooding, by kind (ip, user)',
      ['kind'],
    );
    const name = 'rampart_access_edge_next_hops_up';
    if (options.registry.getSingleMetric(name) === undefined) {
      const hops = this.hops;
      new Gauge({
        name,
        help: 'Internal next hops answering the health check',
        registers: [options.registry],
        collect() {
          this.set(hops.filter((h) => h.up).length);
        },
      });
    }
  }

  /** The engine options that put this policy in charge. */
  engineHooks(): Pick<
    SipProxyEngineOptions,
    'handler' | 'handleAck' | 'admit' | 'interfaceFor' | 'rewriteResponse'
  > {
    return {
      handler: (incoming) => this.decide(incoming),
      handleAck: true,
      admit: (flow) => this.admit(flow),
      // New connections go inside and name the internal listener; those to federation
      // partners face outside.
      interfaceFor: (target: LocatedTarget) =>
        this.options.federation?.isDialledRemote(target.address, target.port) === true
          ? this.options.externalListeners.find((l) => l.transport === target.transport)
          : this.options.internalListeners.find((l) => l.transport === target.transport),
      rewriteResponse: (response, toward, _request, from) =>
        this.rewriteResponse(response, toward, from),
    };
  }

  /** Starts the health checks of the next hops. */
  start(engine: SipProxyEngine): void {
    this.engine = engine;
    const interval = this.options.config.internal.healthCheckIntervalMs;
    // A connection to a next hop that closes is checked again at once: a crashed Director is
    // noticed in milliseconds, not at the next interval.
    this.unsubscribe = this.options.transport.on('flow-closed', (flow) => {
      if (flow.direction !== 'outbound') return;
      for (const hop of this.hops) {
        if (hop.host === flow.remote.address && hop.port === flow.remote.port)
          void this.check(hop, interval);
      }
    });
    this.timer = setInterval(() => {
      for (const hop of this.hops) void this.check(hop, interval);
    }, interval);
    this.timer.unref();
    for (const hop of this.hops) void this.check(hop, interval);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.unsubscribe?.();
  }

  /** How many next hops there are and how many are up. */
  status(): { nextHops: number; nextHopsUp: number } {
    return { nextHops: this.hops.length, nextHopsUp: this.hops.filter((h) => h.up).length };
  }

  private async check(hop: NextHop, deadlineMs: number): Promise<void> {
    const engine = this.engine;
    if (engine === undefined || hop.checking || engine.closed) return;
    hop.checking = true;
    try {
      const listener = this.options.internalListeners[0];
      const self = listener === undefined ? 'sip:edge' : `sip:${listener.host}:${listener.port}`;
      // Any answer means the next hop is alive; none within the interval means it is not.
      const result = await Promise.race([
        engine.sendRequest({
          method: 'OPTIONS',
          requestUri: hop.uri,
          headers: [
            ['From', `<${self}>;tag=${Math.random().toString(36).slice(2, 10)}`],
            ['To', `<${hop.uri}>`],
            ['Call-ID', `health-${Math.random().toString(36).slice(2)}`],
            ['CSeq', '1 OPTIONS'],
          ],
        }),
        new Promise<{ kind: 'timeout' }>((resolve) => {
          setTimeout(() => {
            resolve({ kind: 'timeout' });
          }, deadlineMs).unref();
        }),
      ]);
      // Refused or unreachable: down at once. No answer in time: down on the second miss in
      // a row, as one late answer is what an overloaded edge or next hop gives too.
      hop.missed = result.kind === 'timeout' ? hop.missed + 1 : 0;
      const up = result.kind === 'response' || (result.kind === 'timeout' && hop.missed < 2);
      if (up !== hop.up)
        this.log.warn(
          { event: up ? 'next-hop-up' : 'next-hop-down', nextHop: hop.uri, result: result.kind },
          up ? 'internal next hop is back' : 'internal next hop is down',
        );
      hop.up = up;
    } catch (error) {
      hop.up = false;
      this.log.warn(
        { event: 'next-hop-down', nextHop: hop.uri, error: String(error) },
        'health check failed',
      );
    } finally {
      hop.checking = false;
    }
  }

  private sideOf(flow: Flow): Side {
    if (flow.listenerId !== undefined)
      return this.internalIds.has(flow.listenerId) ? 'internal' : 'external';
    // Connections we open go inside, or to a federation partner outside.
    if (this.options.federation?.isDialled(flow) === true) return 'external';
    return flow.direction === 'outbound' ? 'internal' : 'external';
  }

  /** Every message from outside counts against its source address; a flood is banned. */
  private admit(flow: Flow): boolean {
    if (this.sideOf(flow) === 'internal') return true;
    // A partner's edge carries many users' traffic; its own limits apply after parsing.
    if (this.options.federation?.isPartnerFlow(flow) === true) return true;
    const address = flow.remote.address;
    const verdict = this.perIp.hit(address, Date.now());
    if (verdict === 'ok') return true;
    if (verdict === 'newly-banned') {
      this.bans.inc({ kind: 'ip' });
      const closed = this.options.transport.closeFlowsFrom(address);
      // One line per ban, the address in a fixed place, for fail2ban.
      this.log.warn(
        {
          event: 'ban',
          kind: 'ip',
          remote: address,
          seconds: this.options.config.limits.banSeconds,
          closed,
        },
        `banned ${address}: message rate`,
      );
    }
    return false;
  }

  /** Whether a Route value names one of the edge's internal listeners. */
  private namesInternalSide(value: string): boolean {
    const uri = routeUriOf(value);
    if (uri === undefined) return false;
    return this.options.internalListeners.some(
      (l) => l.host.toLowerCase() === uri.host && l.port === (uri.port ?? 5060),
    );
  }

  private isOurHost(uri: SipUri): boolean {
    return this.ownHosts.has(uri.host) && this.ownPorts.has(uri.port ?? 5060);
  }

  private refuse(
    reason: string,
    status: number,
    text: string,
    headers?: readonly (readonly [string, string])[],
  ): RequestDecision {
    this.refused.inc({ reason });
    return { kind: 'respond', status, reason: text, ...(headers === undefined ? {} : { headers }) };
  }

  /** The internal listener for a URI's transport (the one our URIs toward it name). */
  private internalFacing(uriText: string | undefined): ProxyListener | undefined {
    const listeners = this.options.internalListeners;
    const text =
      uriText === undefined
        ? undefined
        : uriText.trim().startsWith('<')
          ? routeUriOf(uriText)
          : uriOf(uriText);
    const transport = text?.params.get('transport')?.toLowerCase() ?? 'udp';
    return listeners.find((l) => l.transport === transport) ?? listeners[0];
  }

  private decide(incoming: IncomingRequest): RequestDecision | Promise<RequestDecision> {
    return this.sideOf(incoming.flow) === 'external'
      ? this.fromOutside(incoming)
      : this.fromInside(incoming);
  }

  /** The hiding edits for a request crossing from `side`, and the Record-Route seal. */
  private crossing(
    request: SipRequest,
    side: Side,
    flow: Flow,
    facing: EdgeInterface | undefined,
  ): HeaderEdits {
    const raw: SipEdit[] = [];
    if (facing !== undefined)
      raw.push(
        ...hideContacts(request, {
          seal: this.seal,
          side,
          // A partner is reached again through the pool, not necessarily this connection.
          flowId:
            side === 'external' && this.options.federation?.isPartnerFlow(flow) !== true
              ? flow.id
              : undefined,
          facing,
          publicDomains: this.publicDomains,
          isOurHost: (uri) => this.isOurHost(uri),
        }),
      );
    raw.push(...crossCallId(request, this.callIds));
    const recordRoutes = recordRouteValues(request);
    for (const field of new Set(recordRoutes.map((v) => v.field)))
      raw.push({ type: 'remove-header', field });
    return {
      hideTopology: true,
      raw,
      ...(recordRoutes.length === 0
        ? {}
        : {
            recordRouteParams: `;${routeParamOf(side)}=${sealRoutes(
              this.seal,
              side,
              recordRoutes.map((v) => v.value),
            )}`,
          }),
    };
  }

  private fromOutside(incoming: IncomingRequest): RequestDecision {
    const ruri = uriOf(incoming.requestUri);
    const contact =
      ruri?.user !== undefined && this.isOurHost(ruri)
        ? openContact(this.seal, ruri.user)
        : undefined;
    if (contact !== undefined && contact.side !== 'internal')
      return this.refuse('bad-token', 403, 'Forbidden Request-URI');
    // An anonymous guest (RFC 3323 From), a federation partner's user, or a remote user.
    const fromDomain = fromDomainOf(incoming.request);
    if (fromDomain === ANONYMOUS_DOMAIN) {
      const refusal = checkAnonymousRequest(incoming.request, {
        policy: this.policy,
        requestUri: incoming.requestUri,
        routes: incoming.routes,
        requestUriIsOurToken: contact !== undefined,
      });
      if (refusal !== undefined)
        return this.refuse(
          `anonymous-${refusal.reason.toLowerCase().replace(/\s+/g, '-')}`,
          refusal.status,
          refusal.reason,
          refusal.headers,
        );
      return this.inward(incoming, contact, 'anonymous');
    }
    let partner: Partner | undefined;
    const federation = this.options.federation;
    if (federation?.enabled === true) {
      const verdict = federation.checkInbound(
        incoming,
        fromDomain,
        contact !== undefined,
        this.options.config.limits.maxHeaders,
      );
      if (verdict.kind === 'refuse') {
        this.refused.inc({ reason: verdict.reason });
        const { status, reason, headers } = verdict.refusal;
        return { kind: 'respond', status, reason, ...(headers === undefined ? {} : { headers }) };
      }
      if (verdict.kind === 'accept') partner = verdict.partner;
    }
    if (partner === undefined) {
      const refusal = this.checkRemoteUser(incoming, contact !== undefined);
      if (refusal !== undefined) return refusal;
    }
    return this.inward(incoming, contact, partner);
  }

  /** The checks on a remote user's request: remote access on, policy, rate per user. */
  private checkRemoteUser(
    incoming: IncomingRequest,
    requestUriIsOurToken: boolean,
  ): RequestDecision | undefined {
    const { request, flow } = incoming;
    if (!this.options.config.remoteAccess)
      return this.refuse('remote-access-off', 403, 'Remote Access Disabled');
    const refusal = checkRemoteRequest(request, {
      policy: this.policy,
      requestUri: incoming.requestUri,
      routes: incoming.routes,
      requestUriIsOurToken,
    });
    if (refusal !== undefined)
      return this.refuse(
        refusal.reason.toLowerCase().replace(/\s+/g, '-'),
        refusal.status,
        refusal.reason,
        refusal.headers,
      );
    const user = fromAddressOf(request);
    if (user !== undefined && request.method !== 'ACK') {
      const verdict = this.perUser.hit(user, Date.now());
      if (verdict !== 'ok') {
        if (verdict === 'newly-banned') {
          this.bans.inc({ kind: 'user' });
          this.log.warn(
            {
              event: 'ban',
              kind: 'user',
              user,
              remote: flow.remote.address,
              seconds: this.options.config.limits.banSeconds,
            },
            `banned ${user}: message rate`,
          );
        }
        return this.refuse('user-banned', 503, 'Service Unavailable', [
          ['Retry-After', String(this.options.config.limits.banSeconds)],
        ]);
      }
    }
    return undefined;
  }

  /** Forwards a request from outside that passed its checks to the inside. */
  private inward(
    incoming: IncomingRequest,
    contact: ReturnType<typeof openContact>,
    source: Partner | 'anonymous' | undefined,
  ): RequestDecision {
    const partner = source === 'anonymous' ? undefined : source;
    const { request, flow } = incoming;
    // From outside a request goes to the internal next hop and nowhere else: a Route the
    // edge does not own (an Internet host to reflect to, an internal host to reach without
    // the Director) is refused, and so is one naming the internal side of the edge itself.
    if (incoming.routes.length > 0) return this.refuse('route', 403, 'Forbidden Route');
    if (incoming.consumedRoutes.some((value) => this.namesInternalSide(value)))
      return this.refuse('route', 403, 'Forbidden Route');
    const sealedRoutes = openRoutes(this.seal, 'internal', incoming.consumedRoutes);
    if (sealedRoutes === undefined) return this.refuse('bad-token', 403, 'Forbidden Route');
    const hop = this.hops.find((h) => h.up);
    const inDialog = contact !== undefined || sealedRoutes.length > 0;
    if (hop === undefined && !inDialog)
      return this.refuse('next-hop-down', 503, 'Service Unavailable', [
        ['Retry-After', String(RETRY_AFTER_SECONDS)],
      ]);
    const facing = this.internalFacing(
      hop === undefined || inDialog ? (sealedRoutes[0] ?? contact?.uri) : hop.uri,
    );
    const crossing = this.crossing(request, 'external', flow, facing);
    const remove = [
      ...TRUST_HEADERS,
      ...request.headers.filter((h) => isOwnHeader(h.name)).map((h) => h.name),
    ];
    const insert: (readonly [string, string])[] = [];
    if (request.method === 'REGISTER' && facing !== undefined) {
      // RFC 3327 / RFC 5626 §5.1: requests for this registration come back to us, and we
      // send them over the flow the REGISTER came on.
      const token = this.seal.seal([FLOW_TOKEN, flow.id]);
      const transport = facing.transport === 'udp' ? '' : `;transport=${facing.transport}`;
      insert.push([
        'Path',
        `<sip:${token}@${facing.host}:${String(facing.port)}${transport};lr;ob>`,
      ]);
    }
    const edits: HeaderEdits = {
      ...crossing,
      remove,
      // The client's address, for the Director's per-address lockout (the edge's own address
      // is every remote user's).
      add:
        source === 'anonymous'
          ? [
              [ORIGIN_HEADER, 'anonymous'],
              [SOURCE_HEADER, flow.remote.address],
            ]
          : partner === undefined
            ? [
                [ORIGIN_HEADER, 'remote'],
                [SOURCE_HEADER, flow.remote.address],
              ]
            : [
                [ORIGIN_HEADER, 'federation'],
                [PARTNER_HEADER, `${partner.domain};profile=${partner.profile}`],
                [SOURCE_HEADER, flow.remote.address],
              ],
      insert,
    };
    const target: ForwardTarget = inDialog
      ? {
          uri: contact?.uri ?? incoming.requestUri,
          ...(sealedRoutes.length > 0 ? { routes: sealedRoutes } : {}),
        }
      : { uri: incoming.requestUri, routes: [hop?.route ?? ''] };
    return { kind: 'fork', targets: [target], edits };
  }

  private fromInside(incoming: IncomingRequest): RequestDecision | Promise<RequestDecision> {
    const { request, flow } = incoming;
    const ruri = uriOf(incoming.requestUri);
    const contact =
      ruri?.user !== undefined && this.isOurHost(ruri)
        ? openContact(this.seal, ruri.user)
        : undefined;
    const sealedRoutes = openRoutes(this.seal, 'external', incoming.consumedRoutes) ?? [];
    // The client's flow: from its Contact token, else from our Path (flow token).
    let flowId = contact?.side === 'external' ? contact.flowId : undefined;
    if (flowId === undefined) {
      for (const value of incoming.consumedRoutes) {
        const user = routeUriOf(value)?.user;
        const fields = user === undefined ? undefined : this.seal.open(user);
        if (fields?.[0] === FLOW_TOKEN && fields[1] !== undefined) flowId = fields[1];
      }
    }
    const clientFlow = flowId === undefined ? undefined : this.options.transport.getFlow(flowId);
    const facingListener =
      clientFlow === undefined
        ? this.options.externalListeners.find((l) => l.transport === 'tls')
        : this.options.externalListeners.find((l) => l.listenerId === clientFlow.listenerId);
    const crossing = this.crossing(request, 'internal', flow, facingListener);
    const edits: HeaderEdits = {
      ...crossing,
      remove: request.headers.filter((h) => isOwnHeader(h.name)).map((h) => h.name),
    };
    const uri = contact?.uri ?? incoming.requestUri;
    if (flowId !== undefined) {
      if (clientFlow === undefined) {
        this.refused.inc({ reason: 'flow-failed' });
        return { kind: 'respond', status: 430, reason: 'Flow Failed' };
      }
      return { kind: 'fork', targets: [{ uri, flow: clientFlow }], edits };
    }
    const federation = this.options.federation;
    if (federation?.enabled === true)
      return this.toPartner(federation, incoming, uri, sealedRoutes, contact !== undefined, edits);
    if (contact !== undefined || sealedRoutes.length > 0)
      return {
        kind: 'fork',
        targets: [{ uri, ...(sealedRoutes.length > 0 ? { routes: sealedRoutes } : {}) }],
        edits,
      };
    // Not for a remote user: routed as the static routes and DNS say.
    return { kind: 'proxy', edits };
  }

  /**
   * A request from inside for a federation partner: a new one is checked against the lists
   * and goes to the partner of its Request-URI's domain; an in-dialog one goes where its
   * route set (or the partner's Contact) points, over the partner's pooled connection.
   */
  private async toPartner(
    federation: PartnerFederation,
    incoming: IncomingRequest,
    uri: string,
    sealedRoutes: readonly string[],
    inDialog: boolean,
    edits: HeaderEdits,
  ): Promise<RequestDecision> {
    const { request } = incoming;
    const callId = header(request, 'call-id') ?? '';
    let partner: Partner | undefined;
    let hop: SipUri | undefined;
    if (inDialog || sealedRoutes.length > 0) {
      const top = sealedRoutes[0];
      hop = top === undefined ? uriOf(uri) : routeUriOf(top);
    } else {
      hop = uriOf(incoming.requestUri);
      if (hop === undefined) return this.refuse('bad-uri', 416, 'Unsupported URI Scheme');
      if (this.publicDomains.has(hop.host)) return this.refuse('loop', 482, 'Loop Detected');
      const verdict = federation.checkOutbound(request, hop.host);
      if (verdict.kind === 'refuse') {
        this.refused.inc({ reason: verdict.reason });
        const { status, reason, headers } = verdict.refusal;
        return { kind: 'respond', status, reason, ...(headers === undefined ? {} : { headers }) };
      }
      if (verdict.kind === 'ok') partner = verdict.partner;
    }
    if (hop === undefined) return this.refuse('bad-uri', 416, 'Unsupported URI Scheme');
    const route = await federation.flowToward(hop.host, hop.port, partner, callId);
    if (route.kind === 'refuse') {
      this.refused.inc({ reason: route.reason });
      const { status, reason, headers } = route.refusal;
      return { kind: 'respond', status, reason, ...(headers === undefined ? {} : { headers }) };
    }
    return {
      kind: 'fork',
      targets: [
        { uri, flow: route.flow, ...(sealedRoutes.length > 0 ? { routes: sealedRoutes } : {}) },
      ],
      edits,
    };
  }

  private rewriteResponse(
    response: SipResponse,
    toward: Flow,
    from: Flow | undefined,
  ): readonly SipEdit[] {
    const side = this.sideOf(toward);
    const fromSide = across(side);
    const listeners =
      side === 'internal' ? this.options.internalListeners : this.options.externalListeners;
    const facing =
      listeners.find((l) => l.listenerId === toward.listenerId) ??
      listeners.find((l) => l.transport === toward.transport) ??
      listeners[0];
    const edits: SipEdit[] = [];
    if (facing !== undefined)
      edits.push(
        ...hideContacts(response, {
          seal: this.seal,
          side: fromSide,
          flowId:
            fromSide === 'external' &&
            from !== undefined &&
            this.options.federation?.isPartnerFlow(from) !== true
              ? from.id
              : undefined,
          facing,
          publicDomains: this.publicDomains,
          isOurHost: (uri) => this.isOurHost(uri),
        }),
      );
    const routes =
      facing === undefined
        ? undefined
        : hideResponseRecordRoutes(response, {
            seal: this.seal,
            toward: side,
            facingValue: recordRouteFor(facing),
            isOurs: (value) => {
              const uri = routeUriOf(value);
              return uri !== undefined && uri.user === undefined && this.isOurHost(uri);
            },
          });
    if (routes !== undefined) edits.push(...routes);
    edits.push(...crossCallId(response, this.callIds));
    // A registrar echoes Path (RFC 3327 §5.3) and may name a Service-Route (RFC 3608): both
    // list internal servers, and a remote client needs neither (it only ever talks to us).
    if (side === 'external')
      for (const field of response.headers)
        if (field.name === 'path' || field.name === 'service-route')
          edits.push({ type: 'remove-header', field });
    return edits;
  }
}

/**
 * The stateful SIP proxy driver: connects the transport layer, the RFC 3261 §17
 * transaction machines and the §16 proxy core to real sockets, timers and DNS.
 */
import { isIP } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { Clock } from '../../lib/clock.ts';
import { systemClock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { BRANCH_MAGIC_COOKIE, randomToken } from '../../lib/ids.ts';
import { applyEdits, removeFirstValue, type SipEdit } from '../../codec/sip/edit.ts';
import { topVia } from '../../codec/sip/headers.ts';
import type { SipMessage, SipRequest, SipResponse } from '../../codec/sip/message.ts';
import { lazyRequest } from '../../codec/sip/lazy.ts';
import { parseSipMessage } from '../../codec/sip/parse.ts';
import {
  buildAckForNon2xx,
  buildCancel,
  buildResponse,
  serializeRequest,
  type HeaderLine,
} from '../../codec/sip/serialize.ts';
import { parseSipUri, type SipUri } from '../../codec/sip/uri.ts';
import { matchStaticRoute } from '../../proto/locate/static-route.ts';
import type { LocatedTarget, SipTransport as LocateTransport } from '../../proto/locate/types.ts';
import {
  newProxyBranch,
  nextHopOf,
  planForward,
  preprocessRoute,
  receivedVia,
  type ReceivedVia,
  statelessBranch,
  statelessToTag,
  validateProxyRequest,
  viaValue,
  type ProxyIdentity,
  type ProxyInterface,
  type RoutedRequest,
} from '../../proto/sip-proxy/forward.ts';
import {
  ResponseContext,
  type ResponseContextAction,
} from '../../proto/sip-proxy/response-context.ts';
import {
  cancelTargetKey,
  clientTransactionKey,
  clientTransactionKeyFor,
  clientTransactionKeyForRequest,
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  serverTransactionKey,
  shedRequest,
  TransactionTable,
  type ClientTransaction,
  type ClientTransactionAction,
  type ServerTransaction,
  type ServerTransactionAction,
  type TransactionTimerConfig,
} from '../../proto/transaction/index.ts';
import type { Flow, SipTransport, SipTransportLayer } from '../../transport/index.ts';
import { locateSipServer } from '../dns/locate.ts';
import type { DnsQuerier } from '../dns/resolver.ts';
import {
  headerEdits,
  type ForwardTarget,
  type HeaderEdits,
  type IncomingRequest,
  type OutgoingRequest,
  type OutgoingResult,
  type RequestDecision,
  type RequestHandler,
  type ResponseRewriter,
} from './handler.ts';

/** A listener the proxy sends from and advertises in Via / Record-Route. */
export interface ProxyListener extends ProxyInterface {
  readonly listenerId: string;
  readonly transport: SipTransport;
}

/**
 * A static route: requests for `domain` go to `nextHop` (a SIP URI), or to every URI of a
 * list at once (parallel forking, RFC 3261 §16.5–§16.7).
 */
export interface ProxyRoute {
  readonly domain: string;
  readonly nextHop: string | readonly string[];
}

/** Why the proxy dropped or refused something; each becomes a log line and a counter. */
export type ProxyDropReason =
  | 'parse-error'
  | 'no-transaction-key'
  | 'stray-response'
  | 'rejected-request'
  | 'no-route'
  | 'dns-failure'
  | 'send-failure'
  | 'not-admitted';

/** Hooks for metrics. */
export interface ProxyObserver {
  message(direction: 'in' | 'out', kind: string): void;
  dropped(reason: ProxyDropReason): void;
}

/** Options of {@link SipProxyEngine}. */
export interface SipProxyEngineOptions {
  readonly transport: SipTransportLayer;
  readonly listeners: readonly ProxyListener[];
  /** Host names that also designate this proxy in Route / Request-URI (besides listener hosts). */
  readonly localNames?: readonly string[];
  readonly routes: readonly ProxyRoute[];
  readonly resolver?: DnsQuerier;
  readonly recordRoute: boolean;
  readonly timers?: Partial<TransactionTimerConfig>;
  /** Trust anchors for outgoing TLS connections. */
  readonly tlsCa?: SecureContextOptions['ca'];
  /** A client certificate for outgoing TLS connections (mutual TLS between servers). */
  readonly tlsClient?: { readonly cert: string; readonly key: string };
  readonly logger: Logger;
  readonly observer?: ProxyObserver;
  readonly clock?: Clock;
  /**
   * A UDP socket of this process alone, for requests forwarded over UDP: it goes in their
   * Via, so responses come back to the process holding the client transaction when several
   * worker processes share the public port (SO_REUSEPORT). Record-Route keeps the public
   * listener.
   */
  readonly udpOutbound?: ProxyListener;
  /**
   * Decides for each new request whether it is answered here, proxied, or forked to chosen
   * targets; without one every request is proxied (a pure proxy such as the Access Edge).
   */
  readonly handler?: RequestHandler;
  /** Whether the handler also decides where the ACK of a 2xx goes (topology hiding). */
  readonly handleAck?: boolean;
  /**
   * Checked for every message before it is parsed: false drops it unread (a banned source).
   */
  readonly admit?: (flow: Flow) => boolean;
  /**
   * The listener our Via and Record-Route name toward a target, when it is not the first one
   * of the target's transport (an edge with an external and an internal side).
   */
  readonly interfaceFor?: (target: LocatedTarget) => ProxyListener | undefined;
  /** Edits on every response relayed upstream (topology hiding). */
  readonly rewriteResponse?: ResponseRewriter;
}

interface Branch {
  readonly id: string;
  /** The response context of a proxied request; absent for a request we originated. */
  readonly context: Context | undefined;
  /** For a request we originated: called once with how it ended. */
  readonly done?: (result: OutgoingResult) => void;
  readonly request: SipRequest;
  readonly target: LocatedTarget;
  readonly flowId: string | undefined;
}

/** One planned copy of a proxied request: its route state, Request-URI and how to reach it. */
interface PlannedHop {
  readonly routed: RoutedRequest;
  readonly targetUri?: string;
  readonly resolve: () => Promise<ResolvedHop | HopFailure>;
}

interface Context {
  readonly serverKey: string;
  readonly server: ServerTransaction;
  readonly flowId: string;
  readonly responses: ResponseContext;
  readonly branches: Map<string, Branch>;
  finished: boolean;
  /** Set when the forwarded copies carry only our Via (HeaderEdits.hideTopology). */
  hideTopology?: boolean;
  /** URI parameters for our callee-facing Record-Route value. */
  recordRouteParams?: string;
}

/** A next hop resolved to a target and (for streams) a flow. */
interface ResolvedHop {
  readonly target: LocatedTarget;
  readonly outbound: ProxyListener;
  readonly flowId: string | undefined;
}

/** Why a request cannot be forwarded: the response to send and the drop reason to count. */
interface HopFailure {
  readonly status: number;
  readonly reason: string;
  readonly drop: ProxyDropReason;
}

/** Retry-After of the 503 sent when no next hop can be reached. */
const RETRY_AFTER_SECONDS = 5;
const RELIABLE = new Set<SipTransport>(['tcp', 'tls', 'ws', 'wss']);
const ALL_TRANSPORTS: readonly LocateTransport[] = ['udp', 'tcp', 'tls', 'ws', 'wss'];

/**
 * A stateful proxy (RFC 3261 §16): every request gets a server transaction, is validated,
 * route-processed and forwarded through a client transaction per target; responses go back
 * through the response context. Responses and requests only ever go to flows and to targets
 * the proxy resolved itself, never to an address a Via claims.
 */
export class SipProxyEngine {
  private readonly options: SipProxyEngineOptions;
  private readonly clock: Clock;
  private readonly servers = new TransactionTable<ServerTransaction>();
  private readonly clients = new TransactionTable<ClientTransaction>();
  private readonly contexts = new Map<string, Context>();
  private readonly branchesByKey = new Map<string, Branch>();
  /** Client transactions per stream flow, failed at once when the flow closes. */
  private readonly branchesByFlow = new Map<string, Set<string>>();
  private readonly serverFlows = new Map<string, Flow>();
  /** Top Vias amended on receipt (received, rport), for responses and forwarded copies. */
  private readonly amendedVias = new WeakMap<SipRequest, ReceivedVia>();
  /** The flow each response arrived on, for the response rewriter. */
  private readonly responseFlows = new WeakMap<SipResponse, Flow>();
  private readonly identity: ProxyIdentity;
  private readonly routeHops = new Map<ProxyRoute, readonly SipUri[]>();
  private readonly unsubscribe: () => void;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private readonly sweep: NodeJS.Timeout;
  private closedValue = false;
  private draining = false;

  constructor(options: SipProxyEngineOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    const hosts = new Set<string>([
      ...options.listeners.map((l) => l.host.toLowerCase()),
      ...(options.localNames ?? []).map((n) => n.toLowerCase()),
    ]);
    const ports = new Set<number>(options.listeners.map((l) => l.port));
    if (options.udpOutbound !== undefined) ports.add(options.udpOutbound.port);
    const namesUs = (uri: SipUri): boolean =>
      hosts.has(uri.host) && ports.has(uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060));
    this.identity = {
      isLocalUri: (uri: SipUri) => uri.user === undefined && namesUs(uri),
      // A Route naming us may carry a flow token in its user part (RFC 5626 §5.3).
      isLocalRoute: namesUs,
      isLocalSentBy: (host, port) => hosts.has(host.toLowerCase()) && ports.has(port ?? 5060),
      supportedExtensions: [],
    };
    const unsubscribeMessages = options.transport.on('message', (data, flow) => {
      this.onMessage(data, flow);
    });
    const unsubscribeClosed = options.transport.on('flow-closed', (flow) => {
      this.onFlowClosed(flow);
    });
    this.unsubscribe = () => {
      unsubscribeMessages();
      unsubscribeClosed();
    };
    // Timer C has a granularity of a second; one sweep serves every response context.
    this.sweep = setInterval(() => {
      this.sweepContexts();
    }, 1000);
    this.sweep.unref();
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.closedValue;
  }

  /** Live transaction counts, for status pages. */
  stats(): { serverTransactions: number; clientTransactions: number; contexts: number } {
    return {
      serverTransactions: this.servers.size,
      clientTransactions: this.clients.size,
      contexts: this.contexts.size,
    };
  }

  /**
   * Sends a request we originate (a NOTIFY, a server-generated MESSAGE) through a non-INVITE
   * client transaction (RFC 3261 §17.1.2) and resolves with its final response, or why there
   * was none. It goes over `flow` when given, else to the top Route or the Request-URI.
   */
  async sendRequest(outgoing: OutgoingRequest): Promise<OutgoingResult> {
    if (outgoing.method === 'INVITE' || outgoing.method === 'ACK' || outgoing.method === 'CANCEL')
      throw new TypeError(`sendRequest does not originate ${outgoing.method}`);
    let hop: ResolvedHop | HopFailure;
    if (outgoing.flow !== undefined) {
      hop = this.hopOnFlow(outgoing.flow);
    } else {
      const route = outgoing.headers.find(([name]) => name.toLowerCase() === 'route')?.[1];
      const planned = nextHopOf({
        edits: [],
        requestUri: outgoing.requestUri,
        routes: route === undefined ? [] : [route.split(',')[0]?.trim() ?? route],
      });
      hop = planned.ok
        ? await this.resolveHop(planned.value)
        : { status: 416, reason: 'Unsupported URI Scheme', drop: 'rejected-request' };
    }
    if ('status' in hop || this.closedValue)
      return { kind: 'unreachable', reason: 'status' in hop ? hop.reason : 'closed' };
    const branchValue = `${BRANCH_MAGIC_COOKIE}${randomToken(16)}`;
    const data = serializeRequest({
      method: outgoing.method,
      requestUri: outgoing.requestUri,
      headers: [
        ['Via', viaValue(this.viaListener(hop), branchValue)],
        ['Max-Forwards', '70'],
        ...outgoing.headers,
      ],
      ...(outgoing.body === undefined ? {} : { body: outgoing.body }),
    });
    const parsed = parseSipMessage(data);
    if (!parsed.ok || parsed.value.kind !== 'request')
      throw new TypeError('sendRequest built an unparsable request');
    const request = parsed.value;
    const key = clientTransactionKeyForRequest(request);
    if (!key.ok) throw new TypeError('sendRequest built a request without a branch');
    return new Promise<OutgoingResult>((resolve) => {
      let settled = false;
      const branch: Branch = {
        id: key.value,
        context: undefined,
        done: (result) => {
          if (settled) return;
          settled = true;
          resolve(result);
        },
        request,
        target: hop.target,
        flowId: hop.flowId,
      };
      const client = new NonInviteClientTransaction({
        request,
        data,
        reliable: RELIABLE.has(hop.target.transport),
        timers: this.options.timers ?? {},
      });
      this.branchesByKey.set(key.value, branch);
      this.clients.set(key.value, client);
      this.trackFlow(key.value, hop.flowId);
      this.runClient(key.value, client, { type: 'start' });
      this.schedule();
    });
  }

  /** Our own URI on a transport (for Contact headers of dialogs the service creates). */
  localUri(transport: SipTransport): string | undefined {
    const listener = this.listenerFor(transport) ?? this.options.listeners[0];
    if (listener === undefined) return undefined;
    const param = listener.transport === 'udp' ? '' : `;transport=${listener.transport}`;
    const host = listener.host.includes(':') ? `[${listener.host}]` : listener.host;
    return `sip:${host}:${listener.port}${param}`;
  }

  /** Stops taking new requests (answered 503) while transactions in flight complete. */
  drain(): void {
    this.draining = true;
  }

  /** Resolves once no transaction is left, or at `deadline` (epoch ms). */
  async idle(deadline: number): Promise<void> {
    while (this.servers.size + this.clients.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Detaches from the transport and stops timers. Idempotent. */
  close(): void {
    if (this.closedValue) return;
    this.closedValue = true;
    this.unsubscribe();
    clearInterval(this.sweep);
    if (this.timer) clearTimeout(this.timer);
  }

  private onMessage(data: Buffer, flow: Flow): void {
    if (this.options.admit !== undefined && !this.options.admit(flow)) {
      this.drop('not-admitted', { flow: flow.id });
      return;
    }
    const parsed = parseSipMessage(data, { datagram: flow.transport === 'udp' });
    if (!parsed.ok) {
      this.drop('parse-error', {
        flow: flow.id,
        reason: parsed.error.reason,
        offset: parsed.error.offset,
      });
      // RFC 3261 §8.2 / RFC 4475: a recognisable request is answered (400, or 505 for another
      // SIP-Version), statelessly and only on the flow it came from.
      const { request, status } = parsed.error;
      if (
        request !== undefined &&
        status !== undefined &&
        request.method !== 'ACK' &&
        request.headers.some((h) => h.name === 'via')
      ) {
        this.options.transport.send(flow.id, buildResponse(request, status));
      }
      return;
    }
    const msg = parsed.value;
    this.options.observer?.message('in', msg.kind === 'request' ? msg.method : String(msg.status));
    if (msg.kind === 'request') this.onRequest(msg, flow);
    else {
      if (this.options.rewriteResponse !== undefined) this.responseFlows.set(msg, flow);
      this.onResponse(msg);
    }
    this.schedule();
  }

  // ---- requests -------------------------------------------------------------------------

  private onRequest(request: SipRequest, flow: Flow): void {
    const key = serverTransactionKey(request);
    if (!key.ok) {
      this.drop('no-transaction-key', { flow: flow.id, reason: key.error.reason });
      return;
    }
    const existing = this.servers.get(key.value);
    if (existing !== undefined) {
      // A retransmission, or the ACK of a non-2xx / an ACK reaching an Accepted INVITE.
      this.runServer(key.value, existing, { type: 'request', request });
      return;
    }
    const amended = receivedVia(request, flow.remote);
    if (amended !== undefined) this.amendedVias.set(request, amended);
    if (request.method === 'ACK') {
      // RFC 3261 §16.11: an ACK matching no transaction is the ACK for a 2xx — forward it statelessly.
      void this.forwardStateless(request, flow);
      return;
    }
    const reliable = RELIABLE.has(flow.transport);
    const timers = this.options.timers ?? {};
    const server: ServerTransaction =
      request.method === 'INVITE'
        ? new InviteServerTransaction({ request, reliable, timers })
        : new NonInviteServerTransaction({ request, reliable, timers });
    this.servers.set(key.value, server);
    this.serverFlows.set(key.value, flow);
    this.runServer(key.value, server, { type: 'request', request });
  }

  private runServer(
    key: string,
    server: ServerTransaction,
    event: Parameters<ServerTransaction['handle']>[0],
  ): void {
    const actions = server.handle(event, this.clock.now());
    this.servers.touch(key);
    for (const action of actions) this.onServerAction(key, server, action);
    if (server.state === 'terminated') this.serverFlows.delete(key);
  }

  private onServerAction(
    key: string,
    server: ServerTransaction,
    action: ServerTransactionAction,
  ): void {
    switch (action.type) {
      case 'send': {
        const flow = this.serverFlows.get(key);
        if (flow === undefined || !this.options.transport.send(flow.id, action.data)) {
          this.runServerLater(key, server, { type: 'transport-error' });
        } else {
          this.options.observer?.message('out', 'response');
        }
        break;
      }
      case 'deliver-request':
        if (action.request.method === 'ACK') {
          const flow = this.serverFlows.get(key);
          if (flow !== undefined) void this.forwardStateless(action.request, flow);
        } else {
          this.onNewRequest(key, server, action.request);
        }
        break;
      case 'timeout':
      case 'transport-error':
        break;
      case 'terminated':
        this.contexts.delete(key);
        break;
    }
  }

  private runServerLater(
    key: string,
    server: ServerTransaction,
    event: Parameters<ServerTransaction['handle']>[0],
  ): void {
    queueMicrotask(() => {
      if (server.state !== 'terminated') this.runServer(key, server, event);
      this.schedule();
    });
  }

  private respond(
    key: string,
    server: ServerTransaction,
    status: number,
    reason?: string,
    headers?: readonly HeaderLine[],
    extra: { readonly body?: Buffer; readonly toTag?: string } = {},
  ): void {
    const amended = this.amendedVias.get(server.request);
    const data = buildResponse(server.request, status, {
      ...(amended === undefined ? {} : { topVia: amended.value }),
      ...(reason === undefined ? {} : { reason }),
      ...(headers === undefined ? {} : { headers }),
      ...extra,
    });
    this.runServer(key, server, { type: 'send-response', data, status });
  }

  /**
   * Answers as a stateless UAS (RFC 3261 §8.2.7; a challenge): the response goes out on the
   * request's flow and the server transaction is forgotten at once — nothing lingers for
   * Timer J, and a retransmission of the request is a new request, answered anew with the
   * same To tag.
   */
  private respondStateless(
    key: string,
    server: ServerTransaction,
    status: number,
    reason?: string,
    headers?: readonly HeaderLine[],
  ): void {
    const flow = this.serverFlows.get(key);
    this.servers.delete(key);
    this.serverFlows.delete(key);
    if (flow === undefined) return;
    const amended = this.amendedVias.get(server.request);
    const data = buildResponse(server.request, status, {
      ...(amended === undefined ? {} : { topVia: amended.value }),
      ...(reason === undefined ? {} : { reason }),
      ...(headers === undefined ? {} : { headers }),
      toTag: statelessToTag(key),
    });
    if (this.options.transport.send(flow.id, data)) {
      this.options.observer?.message('out', 'response');
    }
  }

  private onNewRequest(key: string, server: ServerTransaction, request: SipRequest): void {
    const flow = this.serverFlows.get(key);
    if (flow === undefined) return;
    if (request.method === 'CANCEL') {
      this.onCancel(key, server, request);
      return;
    }
    // RFC 3261 §16.2: a stateful proxy sends 100 Trying for an INVITE right away.
    if (request.method === 'INVITE') this.respond(key, server, 100);
    if (this.draining) {
      this.respond(key, server, 503, 'Service Unavailable', [['Retry-After', '5']]);
      return;
    }
    const valid = validateProxyRequest(request, this.identity);
    if (!valid.ok) {
      this.drop('rejected-request', {
        status: valid.error.status,
        reason: valid.error.reason,
        flow: flow.id,
      });
      this.respond(key, server, valid.error.status, valid.error.reason, valid.error.headers);
      return;
    }
    const routed = preprocessRoute(request, this.identity);
    if (!routed.ok) {
      this.respond(key, server, routed.error.status, routed.error.reason);
      return;
    }
    if (this.options.handler !== undefined) {
      void this.decide(this.options.handler, key, server, request, routed.value, flow);
      return;
    }
    this.proxy(key, server, request, routed.value, flow);
  }

  /** Forwards a request as routing says: static routes, Route headers, the Request-URI. */
  private proxy(
    key: string,
    server: ServerTransaction,
    request: SipRequest,
    routed: RoutedRequest,
    flow: Flow,
    edits?: HeaderEdits,
  ): void {
    const context = this.newContext(key, server, request, flow, edits);
    const hops = this.hopsOf(routed);
    const planned: PlannedHop[] | HopFailure =
      'status' in hops
        ? hops
        : hops.map((hop) => ({ routed, resolve: () => this.resolveHop(hop) }));
    void this.forwardStateful(context, request, planned, flow);
  }

  private newContext(
    key: string,
    server: ServerTransaction,
    request: SipRequest,
    flow: Flow,
    edits?: HeaderEdits,
  ): Context {
    const context: Context = {
      serverKey: key,
      server,
      flowId: flow.id,
      responses: new ResponseContext({ isInvite: request.method === 'INVITE' }),
      branches: new Map(),
      finished: false,
      ...(edits?.hideTopology === true ? { hideTopology: true } : {}),
      ...(edits?.recordRouteParams === undefined
        ? {}
        : { recordRouteParams: edits.recordRouteParams }),
    };
    this.contexts.set(key, context);
    return context;
  }

  /** Asks the service's handler what to do with a new request, then does it. */
  private async decide(
    handler: RequestHandler,
    key: string,
    server: ServerTransaction,
    request: SipRequest,
    routed: RoutedRequest,
    flow: Flow,
  ): Promise<void> {
    const incoming: IncomingRequest = {
      request,
      flow,
      requestUri: routed.requestUri,
      routes: routed.routes,
      consumedRoutes: routed.consumed ?? [],
    };
    let decision: RequestDecision;
    try {
      decision = await handler(incoming);
    } catch (error) {
      this.options.logger.error(
        { event: 'sip-handler-error', method: request.method, error: String(error) },
        'sip request handler failed',
      );
      decision = { kind: 'respond', status: 500, reason: 'Server Internal Error' };
    }
    if (server.state === 'terminated' || this.closedValue) return;
    switch (decision.kind) {
      case 'respond':
        if (decision.stateless === true && request.method !== 'INVITE') {
          this.respondStateless(key, server, decision.status, decision.reason, decision.headers);
          break;
        }
        this.respond(key, server, decision.status, decision.reason, decision.headers, {
          ...(decision.body === undefined ? {} : { body: decision.body }),
          ...(decision.toTag === undefined ? {} : { toTag: decision.toTag }),
        });
        break;
      case 'proxy': {
        const extra = headerEdits(request, decision.edits);
        this.proxy(
          key,
          server,
          request,
          { ...routed, edits: [...routed.edits, ...extra] },
          flow,
          decision.edits,
        );
        break;
      }
      case 'fork': {
        if (decision.targets.length === 0) {
          this.respond(key, server, 480, 'Temporarily Unavailable');
          break;
        }
        const extra = headerEdits(request, decision.edits);
        const context = this.newContext(key, server, request, flow, decision.edits);
        const planned = decision.targets.map((target) =>
          this.planTarget({ ...routed, edits: [...routed.edits, ...extra] }, target),
        );
        void this.forwardStateful(context, request, planned, flow);
        break;
      }
    }
    this.schedule();
  }

  /** The copy for one chosen target: its Request-URI, pushed Route values, and its hop. */
  private planTarget(routed: RoutedRequest, target: ForwardTarget): PlannedHop {
    const pushed = target.routes ?? [];
    const withRoutes: RoutedRequest =
      pushed.length === 0
        ? routed
        : {
            edits: [
              ...routed.edits,
              ...(routed.routes.length === 0
                ? [{ type: 'insert-header' as const, name: 'Route', value: pushed.join(', ') }]
                : []),
            ],
            requestUri: routed.requestUri,
            routes: routed.routes.length === 0 ? pushed : routed.routes,
          };
    const flow = target.flow;
    const resolve =
      flow !== undefined
        ? () => Promise.resolve(this.hopOnFlow(flow))
        : async (): Promise<ResolvedHop | HopFailure> => {
            const planned = nextHopOf({ ...withRoutes, requestUri: target.uri });
            if (!planned.ok)
              return { status: 416, reason: 'Unsupported URI Scheme', drop: 'rejected-request' };
            return this.resolveHop(planned.value);
          };
    return { routed: withRoutes, targetUri: target.uri, resolve };
  }

  /** A hop over an existing flow (RFC 5626 §5.3); 430 Flow Failed when it is gone. */
  private hopOnFlow(flow: Flow): ResolvedHop | HopFailure {
    const failed: HopFailure = { status: 430, reason: 'Flow Failed', drop: 'send-failure' };
    if (flow.transport !== 'udp' && this.options.transport.getFlow(flow.id) === undefined)
      return failed;
    const outbound = this.inboundListener(flow);
    if (outbound === undefined) return failed;
    return {
      target: {
        transport: flow.transport,
        address: flow.remote.address,
        port: flow.remote.port,
        family: isIP(flow.remote.address) === 6 ? 6 : 4,
      },
      outbound,
      flowId: flow.id,
    };
  }

  private onCancel(key: string, server: ServerTransaction, cancel: SipRequest): void {
    // RFC 3261 §16.10: find the server transaction the CANCEL cancels; answer the CANCEL
    // itself with 200 when found, 481 otherwise, then cancel the branches.
    const target = cancelTargetKey(cancel);
    const context = target.ok ? this.contexts.get(target.value) : undefined;
    if (context === undefined) {
      this.respond(key, server, 481);
      return;
    }
    this.respond(key, server, 200);
    this.runContext(context, context.responses.handle({ type: 'cancel' }, this.clock.now()));
  }

  /** The parsed next hops of a static route (parsed once; the routes never change). */
  private hopsOfRoute(route: ProxyRoute): readonly SipUri[] {
    let hops = this.routeHops.get(route);
    if (hops === undefined) {
      const texts = typeof route.nextHop === 'string' ? [route.nextHop] : route.nextHop;
      hops = texts.flatMap((text) => {
        const hop = parseSipUri(text);
        return hop.ok ? [hop.value] : [];
      });
      this.routeHops.set(route, hops);
    }
    return hops;
  }

  /** Where a request goes next: the static route's hops for the Request-URI domain, else the URI itself. */
  private nextHopsFor(routed: RoutedRequest, plannedNextHop: SipUri): readonly SipUri[] {
    if (routed.routes.length > 0) return [plannedNextHop];
    const ruri = parseSipUri(routed.requestUri);
    if (!ruri.ok) return [];
    const route = matchStaticRoute(this.options.routes, ruri.value.host);
    if (route !== undefined) return this.hopsOfRoute(route);
    // A request for one of our own domains with no route configured has nowhere to go.
    if (this.identity.isLocalUri({ ...ruri.value, user: undefined })) return [];
    return [plannedNextHop];
  }

  private async locate(uri: SipUri): Promise<readonly LocatedTarget[]> {
    const transport = uri.params.get('transport') ?? undefined;
    const family = isIP(uri.host);
    if (family !== 0 && uri.port !== undefined) {
      // Numeric host and port: no DNS (RFC 3263 §4.1, §4.2).
      const t = (transport ?? (uri.scheme === 'sips' ? 'tls' : 'udp')).toLowerCase();
      const chosen: LocateTransport =
        uri.scheme === 'sips' && t === 'tcp'
          ? 'tls'
          : (ALL_TRANSPORTS.find((x) => x === t) ?? 'udp');
      return [
        { transport: chosen, address: uri.host, port: uri.port, family: family === 6 ? 6 : 4 },
      ];
    }
    const resolver = this.options.resolver;
    if (resolver === undefined) return [];
    const available = ALL_TRANSPORTS.filter((t) => this.listenerFor(t) !== undefined);
    const result = await locateSipServer(
      {
        scheme: uri.scheme,
        host: uri.host,
        ...(uri.port === undefined ? {} : { port: uri.port }),
        ...(transport === undefined ? {} : { transport }),
      },
      { resolver, transports: available },
    );
    return result.ok ? result.value : [];
  }

  /** The listener our Via names for a hop: the private UDP socket when there is one. */
  private viaListener(hop: ResolvedHop): ProxyListener {
    return hop.target.transport === 'udp'
      ? (this.options.udpOutbound ?? hop.outbound)
      : hop.outbound;
  }

  private listenerFor(transport: SipTransport): ProxyListener | undefined {
    return this.options.listeners.find((l) => l.transport === transport);
  }

  private async flowFor(target: LocatedTarget): Promise<string | undefined> {
    if (target.transport === 'udp') return undefined;
    const transport = this.options.transport;
    const existing = transport.findFlow(target.transport, target.address, target.port);
    if (existing !== undefined) return existing.id;
    const flow = await transport.connect({
      transport: target.transport,
      host: target.address,
      port: target.port,
      ...(this.options.tlsCa === undefined ? {} : { ca: this.options.tlsCa }),
      ...(this.options.tlsClient ?? {}),
    });
    return flow.id;
  }

  private sendTo(target: LocatedTarget, flowId: string | undefined, data: Buffer): boolean {
    // A flow named by the service (RFC 5626) is used as is, UDP included.
    if (flowId !== undefined && target.transport === 'udp')
      return this.options.transport.send(flowId, data);
    if (target.transport === 'udp') {
      const listener = this.options.udpOutbound ?? this.listenerFor('udp');
      if (listener === undefined) return false;
      return this.options.transport.sendUdp(listener.listenerId, target.address, target.port, data);
    }
    if (flowId === undefined) return false;
    return this.options.transport.send(flowId, data);
  }

  /** The next hops of a pre-processed request, or why there is none. */
  private hopsOf(routed: RoutedRequest): readonly SipUri[] | HopFailure {
    const planned = nextHopOf(routed);
    if (!planned.ok) {
      return {
        status: planned.error.status,
        reason: planned.error.reason,
        drop: 'rejected-request',
      };
    }
    const hops = this.nextHopsFor(routed, planned.value);
    return hops.length > 0 ? hops : { status: 404, reason: 'Not Found', drop: 'no-route' };
  }

  /**
   * Resolves one next hop (RFC 3263) and opens or reuses a flow to it, trying the located
   * targets in order until one connects (RFC 3263 §4.3 failover).
   */
  private async resolveHop(hop: SipUri): Promise<ResolvedHop | HopFailure> {
    const targets = await this.locate(hop);
    if (targets.length === 0)
      return { status: 503, reason: 'Service Unavailable', drop: 'dns-failure' };
    for (const target of targets) {
      const outbound = this.options.interfaceFor?.(target) ?? this.listenerFor(target.transport);
      if (outbound === undefined) continue;
      try {
        const flowId = await this.flowFor(target);
        return { target, outbound, flowId };
      } catch (error) {
        this.options.logger.warn({ target, error: String(error) }, 'sip next hop unreachable');
      }
    }
    return { status: 503, reason: 'Service Unavailable', drop: 'send-failure' };
  }

  private async forwardStateful(
    context: Context,
    request: SipRequest,
    planned: readonly PlannedHop[] | HopFailure,
    flow: Flow,
  ): Promise<void> {
    const resolved: { plan: PlannedHop | undefined; hop: ResolvedHop | HopFailure }[] =
      'status' in planned
        ? [{ plan: undefined, hop: planned }]
        : await Promise.all(planned.map(async (plan) => ({ plan, hop: await plan.resolve() })));
    if (context.server.state === 'terminated' || context.finished) return;
    const reachable: { plan: PlannedHop; hop: ResolvedHop }[] = [];
    for (const r of resolved)
      if (r.plan !== undefined && !('status' in r.hop))
        reachable.push({ plan: r.plan, hop: r.hop });
    const failure = resolved.map((r) => r.hop).find((hop): hop is HopFailure => 'status' in hop);
    if (reachable.length === 0 && failure !== undefined) {
      this.drop(failure.drop, {
        status: failure.status,
        callId: request.headers.find((h) => h.name === 'call-id')?.value,
      });
      this.contexts.delete(context.serverKey);
      // RFC 3261 §21.5.4: a next hop we cannot reach now; the client may retry shortly.
      this.respond(
        context.serverKey,
        context.server,
        failure.status,
        failure.reason,
        failure.status === 503 ? [['Retry-After', String(RETRY_AFTER_SECONDS)]] : undefined,
      );
      this.schedule();
      return;
    }
    // RFC 3261 §16.6: one copy per target, each with its own branch (parallel forking).
    for (const { plan, hop } of reachable)
      this.forwardBranch(context, request, plan.routed, flow, hop, plan.targetUri);
    this.schedule();
  }

  private forwardBranch(
    context: Context,
    request: SipRequest,
    routed: RoutedRequest,
    flow: Flow,
    hop: ResolvedHop,
    targetUri?: string,
  ): void {
    const inbound = this.inboundListener(flow) ?? hop.outbound;
    const branchValue = newProxyBranch(request);
    const plan = planForward(request, routed, {
      inbound,
      outbound: hop.outbound,
      via: this.viaListener(hop),
      branch: branchValue,
      recordRoute: this.options.recordRoute,
      ...(targetUri === undefined ? {} : { targetUri }),
      ...(context.recordRouteParams === undefined
        ? {}
        : { recordRouteParams: context.recordRouteParams }),
      ...(context.hideTopology === true ? { singleRecordRoute: true } : {}),
    });
    if (!plan.ok) {
      if (context.branches.size === 0) {
        this.contexts.delete(context.serverKey);
        this.respond(context.serverKey, context.server, plan.error.status, plan.error.reason);
      }
      return;
    }
    const data = applyEdits(
      request,
      context.hideTopology === true
        ? withoutVias(request, plan.value.edits)
        : this.withReceivedVia(request, plan.value.edits),
    );
    // Read back only to CANCEL or ACK it: parsed on demand.
    const outgoing = lazyRequest(data, request.method);
    const key = clientTransactionKeyFor(branchValue, request.method);
    const reliable = RELIABLE.has(hop.target.transport);
    const timers = this.options.timers ?? {};
    const client: ClientTransaction =
      outgoing.method === 'INVITE'
        ? new InviteClientTransaction({
            request: outgoing,
            data,
            reliable,
            timers,
            buildAck: buildAckForNon2xx,
          })
        : new NonInviteClientTransaction({ request: outgoing, data, reliable, timers });
    const branch: Branch = {
      id: key,
      context,
      request: outgoing,
      target: hop.target,
      flowId: hop.flowId,
    };
    context.branches.set(branch.id, branch);
    this.branchesByKey.set(key, branch);
    this.clients.set(key, client);
    this.trackFlow(key, hop.flowId);
    this.runContext(
      context,
      context.responses.handle({ type: 'branch-created', branchId: branch.id }, this.clock.now()),
    );
    this.runClient(key, client, { type: 'start' });
  }

  /** RFC 3261 §16.11: stateless forwarding (ACK for 2xx); the branch is derived, not random. */
  private async forwardStateless(request: SipRequest, flow: Flow): Promise<void> {
    const preprocessed = preprocessRoute(request, this.identity);
    if (!preprocessed.ok) return;
    let routed = preprocessed.value;
    let targetUri: string | undefined;
    let hide = false;
    let hop: ResolvedHop | HopFailure | undefined;
    const handler = this.options.handleAck === true ? this.options.handler : undefined;
    if (handler !== undefined) {
      let decision: RequestDecision;
      try {
        decision = await handler({
          request,
          flow,
          requestUri: routed.requestUri,
          routes: routed.routes,
          consumedRoutes: routed.consumed ?? [],
        });
      } catch (error) {
        this.options.logger.error(
          { event: 'sip-handler-error', method: request.method, error: String(error) },
          'sip request handler failed',
        );
        return;
      }
      if (decision.kind === 'respond') {
        this.drop('rejected-request', { method: request.method, status: decision.status });
        return;
      }
      hide = decision.edits?.hideTopology === true;
      routed = { ...routed, edits: [...routed.edits, ...headerEdits(request, decision.edits)] };
      if (decision.kind === 'fork') {
        const target = decision.targets[0];
        if (target === undefined) return;
        const planned = this.planTarget(routed, target);
        routed = planned.routed;
        targetUri = planned.targetUri;
        hop = await planned.resolve();
      }
    }
    if (hop === undefined) {
      const hops = this.hopsOf(routed);
      if ('status' in hops) {
        this.drop(hops.drop, { method: request.method });
        return;
      }
      const first = hops[0];
      if (first === undefined) return;
      hop = await this.resolveHop(first);
    }
    if ('status' in hop) {
      this.drop(hop.drop, { method: request.method });
      return;
    }
    const via = topVia(request);
    const plan = planForward(request, routed, {
      inbound: this.inboundListener(flow) ?? hop.outbound,
      outbound: hop.outbound,
      via: this.viaListener(hop),
      branch: statelessBranch(via.ok ? (via.value.branch ?? '') : ''),
      recordRoute: false,
      ...(targetUri === undefined ? {} : { targetUri }),
    });
    if (!plan.ok) return;
    const data = applyEdits(
      request,
      hide
        ? withoutVias(request, plan.value.edits)
        : this.withReceivedVia(request, plan.value.edits),
    );
    if (!this.sendTo(hop.target, hop.flowId, data))
      this.drop('send-failure', { method: request.method });
    else this.options.observer?.message('out', request.method);
  }

  /** The listener a flow came in on; for a flow we opened, the one facing its peer. */
  private inboundListener(flow: Flow): ProxyListener | undefined {
    const accepted = this.options.listeners.find((l) => l.listenerId === flow.listenerId);
    if (accepted !== undefined) return accepted;
    const facing = this.options.interfaceFor?.({
      transport: flow.transport,
      address: flow.remote.address,
      port: flow.remote.port,
      family: isIP(flow.remote.address) === 6 ? 6 : 4,
    });
    return facing ?? this.listenerFor(flow.transport);
  }

  /**
   * The Via lines of the request as received (top one amended), put back on a response to a
   * request forwarded with ours alone, after ours was removed.
   */
  private restoredVias(context: Context, response: SipResponse): SipEdit[] {
    const request = context.server.request;
    const amended = this.amendedVias.get(request);
    const first = response.headers.find((h) => h.name !== 'via');
    return request.headers
      .filter((h) => h.name === 'via')
      .map((h) => ({
        type: 'insert-header' as const,
        name: 'Via',
        value: amended !== undefined && amended.field === h ? amended.value : h.value,
        ...(first === undefined ? {} : { before: first }),
      }));
  }

  /** The edits plus the amended top Via of the request, if it was amended on receipt. */
  private withReceivedVia(request: SipRequest, edits: readonly SipEdit[]): readonly SipEdit[] {
    const amended = this.amendedVias.get(request);
    if (amended === undefined) return edits;
    return [
      ...edits,
      { type: 'replace-header', field: amended.field, name: 'Via', value: amended.value },
    ];
  }

  // ---- responses ------------------------------------------------------------------------

  private onResponse(response: SipResponse): void {
    const key = clientTransactionKey(response);
    const client = key.ok ? this.clients.get(key.value) : undefined;
    if (!key.ok || client === undefined) {
      // RFC 3261 §16.7 / RFC 6026: a response matching no client transaction is not ours to
      // route by its Via; the INVITE client transactions (Accepted) absorb 2xx retransmissions.
      this.drop('stray-response', { status: response.status });
      return;
    }
    this.runClient(key.value, client, { type: 'response', response });
  }

  private runClient(
    key: string,
    client: ClientTransaction,
    event: Parameters<ClientTransaction['handle']>[0],
  ): void {
    const actions = client.handle(event, this.clock.now());
    this.clients.touch(key);
    for (const action of actions) this.onClientAction(key, action);
    if (client.state === 'terminated') {
      const branch = this.branchesByKey.get(key);
      this.branchesByKey.delete(key);
      if (branch?.flowId !== undefined) {
        const keys = this.branchesByFlow.get(branch.flowId);
        keys?.delete(key);
        if (keys?.size === 0) this.branchesByFlow.delete(branch.flowId);
      }
    }
  }

  private trackFlow(key: string, flowId: string | undefined): void {
    if (flowId === undefined) return;
    let keys = this.branchesByFlow.get(flowId);
    if (keys === undefined) {
      keys = new Set();
      this.branchesByFlow.set(flowId, keys);
    }
    keys.add(key);
  }

  /**
   * A stream flow closed: the requests sent over it will get no response there (RFC 3261
   * §17.1.4: a transport error), so their client transactions fail now, not at Timer F.
   */
  private onFlowClosed(flow: Flow): void {
    const keys = this.branchesByFlow.get(flow.id);
    if (keys === undefined) return;
    this.branchesByFlow.delete(flow.id);
    for (const key of keys) {
      const client = this.clients.get(key);
      if (client !== undefined && client.state !== 'terminated')
        this.runClient(key, client, { type: 'transport-error' });
    }
    this.schedule();
  }

  private onClientAction(key: string, action: ClientTransactionAction): void {
    const branch = this.branchesByKey.get(key);
    switch (action.type) {
      case 'send': {
        if (branch === undefined) return;
        if (this.sendTo(branch.target, branch.flowId, action.data)) {
          this.options.observer?.message('out', branch.request.method);
        } else {
          const client = this.clients.get(key);
          if (client !== undefined) {
            queueMicrotask(() => {
              if (client.state !== 'terminated')
                this.runClient(key, client, { type: 'transport-error' });
              this.schedule();
            });
          }
        }
        break;
      }
      case 'deliver-response':
        if (branch === undefined) break;
        if (branch.done !== undefined) {
          if (action.response.status >= 200)
            branch.done({ kind: 'response', response: action.response });
        } else if (branch.context !== undefined && branch.request.method !== 'CANCEL') {
          this.runContext(
            branch.context,
            branch.context.responses.handle(
              { type: 'response', branchId: branch.id, response: action.response },
              this.clock.now(),
            ),
          );
        }
        break;
      case 'timeout':
      case 'transport-error':
        if (branch === undefined) break;
        if (branch.done !== undefined) {
          branch.done(
            action.type === 'timeout'
              ? { kind: 'timeout' }
              : { kind: 'unreachable', reason: 'transport error' },
          );
        } else if (branch.context !== undefined && branch.request.method !== 'CANCEL') {
          this.runContext(
            branch.context,
            branch.context.responses.handle(
              {
                type: action.type === 'timeout' ? 'branch-timeout' : 'branch-transport-error',
                branchId: branch.id,
              },
              this.clock.now(),
            ),
          );
        }
        break;
      case 'terminated':
        break;
    }
  }

  private runContext(context: Context, actions: readonly ResponseContextAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'forward-response': {
          const edits: SipEdit[] = removeFirstValue(action.response, 'via', 'Via');
          if (action.status !== undefined)
            edits.push({
              type: 'set-status',
              status: action.status,
              reason: 'Server Internal Error',
            });
          for (const [name, value] of action.extraHeaders)
            edits.push({ type: 'append-header', name, value });
          // RFC 3261 §18.3: a response from UDP may lack Content-Length; a stream needs it.
          if (!action.response.headers.some((h) => h.name === 'content-length'))
            edits.push({
              type: 'append-header',
              name: 'Content-Length',
              value: String(action.response.body.length),
            });
          if (context.hideTopology === true)
            edits.push(...this.restoredVias(context, action.response));
          const toward = this.serverFlows.get(context.serverKey);
          if (this.options.rewriteResponse !== undefined && toward !== undefined)
            edits.push(
              ...this.options.rewriteResponse(
                action.response,
                toward,
                context.server.request,
                this.responseFlows.get(action.response),
              ),
            );
          const data = applyEdits(action.response, edits);
          this.runServer(context.serverKey, context.server, {
            type: 'send-response',
            data,
            status: action.status ?? action.response.status,
          });
          break;
        }
        case 'send-response':
          this.respond(context.serverKey, context.server, action.status, action.reason);
          break;
        case 'cancel-branch':
          this.cancelBranch(context, action.branchId);
          break;
        case 'finished':
          context.finished = true;
          this.contexts.delete(context.serverKey);
          this.shedContext(context);
          break;
      }
    }
  }

  /**
   * A finished context only relays 2xx retransmissions (RFC 6026) until its transactions end:
   * its branches keep their target and method, not the forwarded messages.
   */
  private shedContext(context: Context): void {
    for (const branch of context.branches.values()) {
      if (this.branchesByKey.get(branch.id) === branch)
        this.branchesByKey.set(branch.id, { ...branch, request: shedRequest(branch.request) });
    }
    context.branches.clear();
    context.responses.release();
  }

  private cancelBranch(context: Context, branchId: string): void {
    const branch = context.branches.get(branchId);
    if (branch === undefined) return;
    // RFC 3261 §9.1: the CANCEL copies the INVITE's Request-URI, Call-ID, To, From, CSeq
    // number and top Via, and goes where the INVITE went, in its own client transaction.
    const data = buildCancel(branch.request);
    const parsed = parseSipMessage(data);
    if (!parsed.ok || parsed.value.kind !== 'request') return;
    const key = clientTransactionKeyForRequest(parsed.value);
    if (!key.ok) return;
    const client = new NonInviteClientTransaction({
      request: parsed.value,
      data,
      reliable: RELIABLE.has(branch.target.transport),
      timers: this.options.timers ?? {},
    });
    this.branchesByKey.set(key.value, { ...branch, id: key.value, request: parsed.value });
    this.clients.set(key.value, client);
    this.runClient(key.value, client, { type: 'start' });
    // RFC 3261 §9.1: "If no final response is received after 64*T1 seconds, the client
    // transaction SHOULD be destroyed" — a UA that never answers the cancelled INVITE must not
    // keep its transaction (and the response context) alive.
    const t1 = this.options.timers?.t1Ms ?? 500;
    setTimeout(() => {
      const invite = this.clients.get(branch.id);
      if (invite === undefined || invite.state === 'terminated') return;
      this.clients.delete(branch.id);
      this.branchesByKey.delete(branch.id);
      this.runContext(
        context,
        context.responses.handle({ type: 'branch-timeout', branchId: branch.id }, this.clock.now()),
      );
      this.schedule();
    }, 64 * t1).unref();
  }

  // ---- timers ---------------------------------------------------------------------------

  private sweepContexts(): void {
    const now = this.clock.now();
    for (const context of [...this.contexts.values()]) {
      const at = context.responses.nextTimeoutAt;
      if (at !== undefined && at <= now)
        this.runContext(context, context.responses.handle({ type: 'timer' }, now));
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.closedValue) return;
    const next = Math.min(
      this.servers.nextTimeoutAt ?? Infinity,
      this.clients.nextTimeoutAt ?? Infinity,
    );
    if (next === Infinity || next >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.onTimer();
      },
      Math.max(0, next - this.clock.now()),
    );
  }

  private onTimer(): void {
    const now = this.clock.now();
    for (const [key, server] of this.servers.takeDue(now))
      this.runServer(key, server, { type: 'timer' });
    for (const [key, client] of this.clients.takeDue(now))
      this.runClient(key, client, { type: 'timer' });
    this.schedule();
  }

  private drop(reason: ProxyDropReason, fields: Record<string, unknown>): void {
    this.options.observer?.dropped(reason);
    // A banned source is logged once, when banned; a line per message would amplify a flood.
    if (reason === 'not-admitted') return;
    this.options.logger.info(
      { event: 'sip-drop', reason, ...fields },
      'sip message dropped or refused',
    );
  }
}

/** Whether a parsed message is a request (narrowing helper for drivers). */
/** Edits that also remove every Via line the request carried (topology hiding). */
function withoutVias(request: SipRequest, edits: readonly SipEdit[]): SipEdit[] {
  return [
    ...edits,
    ...request.headers
      .filter((h) => h.name === 'via')
      .map((field) => ({ type: 'remove-header' as const, field })),
  ];
}

export function isRequest(msg: SipMessage): msg is SipRequest {
  return msg.kind === 'request';
}

/**
 * The Front End: the registrar, presence, IM routing, roaming contacts and TURN credential
 * service that users are homed on. Internal clients connect to it directly and are challenged
 * here exactly as the Director challenges external ones (one shared authentication module);
 * requests from the Director arrive on the mutual-TLS server listener with a
 * P-Asserted-Identity, which is trusted there and nowhere else.
 */
import type { Registry } from 'prom-client';
import { parseNameAddr, toTag } from '../../codec/sip/headers.ts';
import type { SipRequest } from '../../codec/sip/message.ts';
import { header, headerValues } from '../../codec/sip/parse.ts';
import { isSipUri, parseSipUri } from '../../codec/sip/uri.ts';
import type { RunningService } from '../../lib/endpoint.ts';
import type { Logger } from '../../lib/logger.ts';
import { Registrar, type Binding } from '../../proto/registrar/index.ts';
import type { SipAuthenticator } from '../../proto/sip-auth/index.ts';
import {
  authenticateRequest,
  sipAuthenticator,
  type SipAuthSettings,
} from '../../runtime/sip/authentication.ts';
import type { ForwardTarget, IncomingRequest, RequestDecision } from '../../runtime/sip/handler.ts';
import {
  startSipServer,
  type SipServerPorts,
  type SipServerTls,
} from '../../runtime/sip/server.ts';
import type { Directory } from '../../store/directory.ts';
import type { DurableStore } from '../../store/durable-store.ts';
import type { Flow } from '../../transport/index.ts';
import { FrontEndMetrics } from './metrics.ts';
import { PresenceService, type PresenceSettings } from './presence.ts';
import { TurnCredentialService, type TurnServiceSettings } from './turn-credentials.ts';
import { ContactsService } from './contacts.ts';

/** The part of the configuration the Front End reads (`front-end` in the YAML file). */
export interface FrontEndSettings extends SipServerPorts, SipAuthSettings {
  readonly host: string;
  readonly registrar: {
    readonly minExpiresSeconds: number;
    readonly maxExpiresSeconds: number;
    readonly defaultExpiresSeconds: number;
    readonly maxBindings: number;
  };
  readonly presence: PresenceSettings;
}

export interface StartFrontEndOptions {
  readonly config: FrontEndSettings;
  readonly domains: readonly string[];
  readonly directory: Directory;
  readonly store: DurableStore;
  /** HMAC secret of the Digest nonces (shared with the Director) and of temporary GRUUs. */
  readonly nonceSecret: string;
  /** The TURN credential service, when an A/V Edge serves this deployment. */
  readonly turn?: TurnServiceSettings;
  readonly tls: SipServerTls;
  readonly logger: Logger;
  readonly registry: Registry;
  /** How often subscriptions of disabled users are looked for. Default 30 s. */
  readonly userCheckIntervalMs?: number;
  /**
   * Federation: where requests for other domains go (the Access Edge's internal side, known
   * once it started), and which domains are public IM providers (the user's `publicIm`
   * policy applies to them, `federation` to the others).
   */
  readonly federation?: {
    readonly edgeUri: () => string | undefined;
    readonly providerDomains: readonly string[];
  };
}

/** Methods the Front End answers itself (a UAS: 401); the others it proxies (407). */
const UAS_METHODS = new Set(['REGISTER', 'SUBSCRIBE', 'PUBLISH', 'SERVICE', 'NOTIFY']);
/** Credentials and asserted identities never travel past the first server inside. */
const CONSUMED = [
  'Authorization',
  'Proxy-Authorization',
  'P-Asserted-Identity',
  'P-Preferred-Identity',
  'P-Rampart-Partner',
  'P-Rampart-Origin',
];

/** `sip:alice@example.test` from a name-addr header value, or undefined. */
function identityOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parsed = parseNameAddr(value);
  if (!parsed.ok || !isSipUri(parsed.value.parsedUri) || parsed.value.parsedUri.user === undefined)
    return undefined;
  return `sip:${parsed.value.parsedUri.user}@${parsed.value.parsedUri.host.toLowerCase()}`;
}

/** Binds the Front End's listeners, restores registrations and starts serving. */
export async function startFrontEnd(options: StartFrontEndOptions): Promise<RunningService> {
  const { config, directory, store } = options;
  const log = options.logger.child({ service: 'front-end' });
  const metrics = new FrontEndMetrics(options.registry);
  const domains = new Set(options.domains.map((d) => d.toLowerCase()));
  const authFor = (proxy: boolean): SipAuthenticator =>
    sipAuthenticator(config, {
      realms: options.domains,
      nonceSecret: options.nonceSecret,
      proxy,
      users: directory,
      requireRemoteAccess: false,
    });
  const providerPatterns = (options.federation?.providerDomains ?? []).map((d) => d.toLowerCase());
  /** `publicIm` for a provider's domain, else `federation`: the policy a foreign domain needs. */
  const policyFor = (domain: string): 'publicIm' | 'federation' =>
    providerPatterns.some((p) =>
      p === '*' ? true : p.startsWith('*.') ? domain.endsWith(p.slice(1)) : p === domain,
    )
      ? 'publicIm'
      : 'federation';
  /** Whether our user may talk to a foreign domain (403 otherwise), both directions. */
  const federationAllowed = async (address: string, foreignDomain: string): Promise<boolean> => {
    const user = await directory.getUser(address.replace(/^sips?:/i, ''));
    return user !== undefined && user.enabled && user.policy[policyFor(foreignDomain)];
  };
  const uasAuth = authFor(false);
  const proxyAuth = authFor(true);

  const registrar = new Registrar({
    store: {
      save: (binding) => store.put('binding', binding.id, binding),
      delete: (id) => store.delete('binding', id),
      loadAll: async () => (await store.list('binding')).map((d) => d.value as Binding),
    },
    domains: options.domains,
    minExpiresSeconds: config.registrar.minExpiresSeconds,
    maxExpiresSeconds: config.registrar.maxExpiresSeconds,
    defaultExpiresSeconds: config.registrar.defaultExpiresSeconds,
    maxBindings: config.registrar.maxBindings,
    gruuSecret: options.nonceSecret,
    onStoreError: (error) => {
      log.error({ event: 'store-error', error: String(error) }, 'registration store failed');
    },
  });
  const restored = await registrar.restore(Date.now());
  log.info({ event: 'registrations-restored', ...restored }, 'registrations restored');

  /** Flows clients registered over (RFC 5626): id → flow, while it is open. */
  const flows = new Map<string, Flow>();
  const contacts = new ContactsService({ store, logger: log });
  const turn =
    options.turn === undefined ? undefined : new TurnCredentialService(options.turn, directory);

  const presence = new PresenceService({
    settings: config.presence,
    engine: { sendRequest: (outgoing) => server.engine.sendRequest(outgoing) },
    contactUri: (viaServer) =>
      viaServer ? (server.serverUri ?? server.clientUri) : server.clientUri,
    directory,
    contacts,
    logger: log,
    metrics,
  });

  /** Routes a request for one of our users to their registered endpoints (parallel fork). */
  const toUser = async (
    request: SipRequest,
    aor: string,
    identity: string | undefined,
  ): Promise<RequestDecision> => {
    const address = aor.replace(/^sips?:/i, '');
    const user = await directory.getUser(address);
    if (user === undefined) return { kind: 'respond', status: 404, reason: 'Not Found' };
    if (!user.enabled) return { kind: 'respond', status: 480, reason: 'Temporarily Unavailable' };
    const bindings = registrar.lookup(aor, Date.now());
    if (bindings.length === 0)
      return { kind: 'respond', status: 480, reason: 'Temporarily Unavailable' };
    const targets: ForwardTarget[] = bindings.map((binding) => {
      const flow = binding.flowId === undefined ? undefined : flows.get(binding.flowId);
      return {
        uri: binding.contact,
        ...(flow === undefined ? {} : { flow }),
        ...(binding.path.length === 0 ? {} : { routes: binding.path }),
      };
    });
    metrics.routed(request.method);
    return {
      kind: 'fork',
      targets,
      edits: {
        remove: CONSUMED,
        ...(identity === undefined ? {} : { add: [['P-Asserted-Identity', `<${identity}>`]] }),
      },
    };
  };

  const handle = async (incoming: IncomingRequest): Promise<RequestDecision> => {
    const { request, flow } = incoming;
    const fromServer = server.isServerFlow(flow);
    let identity: string | undefined;
    if (fromServer) {
      // The Director authenticated the user and asserts who it is (RFC 3325).
      identity = identityOf(header(request, 'p-asserted-identity'));
    } else {
      const auth = UAS_METHODS.has(request.method) ? uasAuth : proxyAuth;
      const verdict = await authenticateRequest(auth, incoming, log, (outcome) => {
        metrics.auth(outcome);
      });
      if ('refusal' in verdict) return verdict.refusal;
      identity = verdict.address;
    }
    // In-dialog requests follow their route set; one whose set ended here goes to its
    // Request-URI, the remote target (over the connection that endpoint opened, RFC 5923).
    if (
      incoming.routes.length > 0 ||
      (incoming.consumedRoutes.length > 0 && toTag(request) !== undefined)
    ) {
      return {
        kind: 'proxy',
        edits: {
          remove: CONSUMED,
          ...(identity === undefined ? {} : { add: [['P-Asserted-Identity', `<${identity}>`]] }),
        },
      };
    }
    // A federated partner's user, relayed by the Director from the Access Edge (which
    // checked the partner's certificate): no identity of ours, a foreign From.
    // (Only a server's request without an asserted identity can be one: From is parsed then.)
    const fromIdentity =
      fromServer && identity === undefined ? identityOf(header(request, 'from')) : undefined;
    const fromDomain = fromIdentity?.slice(fromIdentity.indexOf('@') + 1);
    const partnerUser = fromDomain !== undefined && !domains.has(fromDomain);
    // In a dialog the partner's user is who created it (authorised then, per user).
    const local = presence.isOurDialog(request);
    if (local) return presence.inDialog(request, partnerUser ? fromIdentity : identity);
    // An anonymous guest, let through by the Director for a meeting: no conferencing focus
    // is hosted here yet, so there is no such meeting.
    if (fromServer && header(request, 'p-rampart-origin')?.trim().toLowerCase() === 'anonymous')
      return { kind: 'respond', status: 404, reason: 'No Such Meeting' };
    const ruri = parseSipUri(incoming.requestUri);
    if (!ruri.ok) return { kind: 'respond', status: 416, reason: 'Unsupported URI Scheme' };
    const host = ruri.value.host.toLowerCase();
    if (partnerUser && domains.has(host)) {
      if (request.method === 'REGISTER' || request.method === 'PUBLISH')
        return { kind: 'respond', status: 403, reason: 'Not For Partners' };
      if (
        ruri.value.user !== undefined &&
        !(await federationAllowed(`${ruri.value.user}@${host}`, fromDomain))
      ) {
        metrics.auth('federation-denied');
        return { kind: 'respond', status: 403, reason: 'Federation Not Allowed For User' };
      }
      identity = fromIdentity;
    }
    // Our user writing to another domain: through the Access Edge, if policy allows.
    if (!domains.has(host) && request.method !== 'REGISTER' && identity !== undefined) {
      const own = identity.slice(identity.indexOf('@') + 1);
      if (domains.has(own)) {
        if (!(await federationAllowed(identity, host))) {
          metrics.auth('federation-denied');
          return { kind: 'respond', status: 403, reason: 'Federation Not Allowed For User' };
        }
        const edge = options.federation?.edgeUri();
        if (edge === undefined) return { kind: 'respond', status: 404, reason: 'Not Found' };
        metrics.routed(request.method);
        return {
          kind: 'fork',
          targets: [{ uri: incoming.requestUri, routes: [`<${edge};lr>`] }],
          edits: { remove: CONSUMED, add: [['P-Asserted-Identity', `<${identity}>`]] },
        };
      }
    }
    switch (request.method) {
      case 'REGISTER': {
        if (identity === undefined) return { kind: 'respond', status: 403, reason: 'No Identity' };
        if (!domains.has(host))
          return { kind: 'respond', status: 404, reason: 'Domain Not Served' };
        const user = await directory.getUser(identity.replace(/^sip:/, ''));
        // RFC 5626: only an outbound registration (reg-id) is tied to its flow; another one
        // names an address, reached again over the same connection while it is open.
        const outbound =
          !fromServer && headerValues(request, 'contact').some((c) => /;\s*reg-id\s*=/i.test(c));
        if (outbound) flows.set(flow.id, flow);
        const result = await registrar.register({
          request,
          authenticatedAor: identity,
          now: Date.now(),
          ...(outbound ? { flowId: flow.id } : {}),
          ...(user === undefined ? {} : { maxEndpoints: user.policy.maxEndpoints }),
        });
        metrics.register(result.status);
        return {
          kind: 'respond',
          status: result.status,
          reason: result.reason,
          headers: result.headers,
        };
      }
      case 'PUBLISH':
        return presence.handle(request, identity, flow, fromServer);
      case 'SUBSCRIBE': {
        // Presence and watcher information are served here; other event packages (dialog,
        // message-summary, ...) go to the user's endpoints like any request.
        const event = (header(request, 'event') ?? '').split(';')[0]?.trim().toLowerCase();
        if (event === 'presence' || event === 'presence.winfo')
          return presence.handle(request, identity, flow, fromServer);
        break;
      }
      case 'SERVICE': {
        const type = (header(request, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
        if (identity === undefined) return { kind: 'respond', status: 403, reason: 'No Identity' };
        if (type === 'application/vnd.rampart.turn-credentials+json' && turn !== undefined)
          return turn.handle(request, identity, fromServer ? 'external' : 'internal');
        if (type === ContactsService.CONTENT_TYPE) return contacts.handle(request, identity);
        return { kind: 'respond', status: 415, reason: 'Unsupported Media Type' };
      }
      default:
        break;
    }
    // GRUUs (RFC 5627 §6) route to the instance they name.
    const gruu = registrar.resolveGruu(incoming.requestUri, Date.now());
    if (gruu !== undefined) {
      if (gruu.bindings.length === 0)
        return { kind: 'respond', status: 480, reason: 'Temporarily Unavailable' };
      return {
        kind: 'fork',
        targets: gruu.bindings.map((b) => {
          const f = b.flowId === undefined ? undefined : flows.get(b.flowId);
          return {
            uri: b.contact,
            ...(f === undefined ? {} : { flow: f }),
            ...(b.path.length === 0 ? {} : { routes: b.path }),
          };
        }),
        edits: {
          remove: CONSUMED,
          ...(identity === undefined ? {} : { add: [['P-Asserted-Identity', `<${identity}>`]] }),
        },
      };
    }
    if (ruri.value.user !== undefined && domains.has(host))
      return toUser(request, `sip:${ruri.value.user}@${host}`, identity);
    // Other domains (federation) are not reachable from here yet.
    return { kind: 'respond', status: 404, reason: 'Not Found' };
  };

  const server = await startSipServer({
    service: 'front-end',
    host: config.host,
    ports: config,
    tls: options.tls,
    handler: handle,
    logger: log,
    registry: options.registry,
    recordRoute: true,
  });
  contacts.onChange((owner, addresses) => {
    presence.contactsChanged(owner, addresses);
  });
  server.transport.on('flow-closed', (flow) => {
    if (!flows.delete(flow.id)) return;
    registrar.flowFailed(flow.id);
  });
  // Lapsed registrations: swept every second.
  const sweep = setInterval(() => {
    registrar.expire(Date.now());
    presence.tick(Date.now());
  }, 1000);
  sweep.unref();
  let checking = false;
  const userCheck = setInterval(() => {
    if (checking) return;
    checking = true;
    presence
      .checkUsers()
      .catch((error: unknown) => {
        log.error({ event: 'user-check-failed', error: String(error) }, 'user check failed');
      })
      .finally(() => {
        checking = false;
      });
  }, options.userCheckIntervalMs ?? 30_000);
  userCheck.unref();
  let closing: Promise<void> | undefined;
  return {
    name: 'front-end',
    endpoints: server.endpoints,
    status: () => ({
      ...server.engine.stats(),
      connections: server.transport.stats().connections,
      bindings: registrar.size,
      ...presence.stats(),
    }),
    actions: {
      'user-disabled': (address) => {
        if (address !== undefined) presence.userDisabled(address);
        return 1;
      },
    },
    close: (deadlineMs) => {
      closing ??= (async () => {
        clearInterval(sweep);
        clearInterval(userCheck);
        presence.close();
        await server.close(deadlineMs);
        await registrar.flush();
      })();
      return closing;
    },
  };
}

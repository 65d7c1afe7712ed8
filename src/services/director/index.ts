/**
 * The Director: a SIP proxy inside the perimeter that homes no users. Every request that
 * reaches it from outside (the Access Edge, or external clients in a test topology) is
 * authenticated (Digest, RFC 8760 SHA-256 and MD5, lockout with backoff), checked against the
 * user's policy (enabled, remote access allowed), and routed to the user's home Front End with
 * a P-Asserted-Identity the Front End trusts only on its mutual-TLS server listener.
 * Requests from the deployment's servers (mutual TLS) are proxied as routing says.
 */
import { isIP } from 'node:net';
import type { Counter, Registry } from 'prom-client';
import { counterIn } from '../../runtime/metrics.ts';
import type { SipRequest } from '../../codec/sip/message.ts';
import { toTag } from '../../codec/sip/headers.ts';
import { header } from '../../codec/sip/parse.ts';
import { parseSipUri } from '../../codec/sip/uri.ts';
import type { RunningService } from '../../lib/endpoint.ts';
import type { Logger } from '../../lib/logger.ts';
import {
  authenticateRequest,
  sipAuthenticator,
  type SipAuthSettings,
} from '../../runtime/sip/authentication.ts';
import type { IncomingRequest, RequestDecision } from '../../runtime/sip/handler.ts';
import {
  startSipServer,
  type SipServerPorts,
  type SipServerTls,
} from '../../runtime/sip/server.ts';
import type { Directory } from '../../store/directory.ts';

/** The part of the configuration the Director reads (`director` in the YAML file). */
export interface DirectorSettings extends SipServerPorts, SipAuthSettings {
  readonly host: string;
  /** The home Front End pool: the URI of its mutual-TLS server listener. */
  readonly frontEnd: string;
}

export interface StartDirectorOptions {
  readonly config: DirectorSettings;
  readonly domains: readonly string[];
  readonly directory: Directory;
  /** HMAC secret of the Digest nonces (shared with the Front End). */
  readonly nonceSecret: string;
  readonly tls: SipServerTls;
  readonly logger: Logger;
  readonly registry: Registry;
}

/** Header fields a client may not send past the Director: identity is ours to assert. */
const ASSERTED = ['P-Asserted-Identity', 'P-Preferred-Identity'];

/**
 * The Access Edge's mark on what it relays inward: `remote` (a remote user, authenticated
 * here) or `federation` (a federated partner's user, routed by domain without a challenge).
 * Believed only on the mutual-TLS server listener.
 */
export const ORIGIN_HEADER = 'P-Rampart-Origin';

/**
 * The remote client's address as the Access Edge saw it (the edge strips any a client sent);
 * believed only on the mutual-TLS listener, for the per-address lockout.
 */
export const SOURCE_HEADER = 'P-Rampart-Source';

function clientAddressOf(request: SipRequest): string | undefined {
  const value = header(request, SOURCE_HEADER)?.trim();
  return value !== undefined && isIP(value) !== 0 ? value : undefined;
}

function originOf(request: SipRequest): 'remote' | 'federation' | 'anonymous' | undefined {
  const value = header(request, ORIGIN_HEADER)?.trim().toLowerCase();
  return value === 'remote' || value === 'federation' || value === 'anonymous' ? value : undefined;
}

/**
 * Whether a Request-URI names a meeting: a conference focus URI carries
 * `opaque=app:conf:…` (with `gruu`), the only thing an anonymous guest may reach.
 */
export function isConferenceUri(uri: string): boolean {
  const parsed = parseSipUri(uri);
  if (!parsed.ok) return false;
  const opaque = parsed.value.params.get('opaque');
  return opaque !== undefined && opaque !== null && opaque.toLowerCase().startsWith('app:conf:');
}

function domainOf(uri: string): string | undefined {
  const parsed = parseSipUri(uri);
  return parsed.ok ? parsed.value.host.toLowerCase() : undefined;
}

function counter(registry: Registry): Counter<'outcome'> {
  return counterIn(
    registry,
    'rampart_director_auth_total',
    'Requests the Director authenticated, by outcome (ok, challenge, forbidden, bad-request)',
    ['outcome'],
  );
}

/** Binds the Director's listeners and starts authenticating and routing. */
export async function startDirector(options: StartDirectorOptions): Promise<RunningService> {
  const { config, directory } = options;
  const log = options.logger.child({ service: 'director' });
  const outcomes = counter(options.registry);
  const authenticator = sipAuthenticator(config, {
    realms: options.domains,
    nonceSecret: options.nonceSecret,
    proxy: true,
    users: directory,
    requireRemoteAccess: true,
  });
  const frontEndRoute = `<${config.frontEnd};lr>`;
  const domains = new Set(options.domains.map((d) => d.toLowerCase()));

  const handle = async (incoming: IncomingRequest): Promise<RequestDecision> => {
    const { request, flow } = incoming;
    // An OPTIONS for the server itself (no user part): a keep-alive or an Access Edge's health
    // check (RFC 3261 §11), answered here.
    if (request.method === 'OPTIONS' && incoming.routes.length === 0) {
      const target = parseSipUri(incoming.requestUri);
      if (target.ok && target.value.user === undefined)
        return { kind: 'respond', status: 200, reason: 'OK' };
    }
    if (server.isServerFlow(flow)) {
      // The Access Edge marks what it relays (it strips any marker a client sent); the
      // mutual-TLS listener is the only place the mark is read. `federation`: a federated
      // partner's user, vouched for by the partner's edge, is routed by domain without a
      // user challenge. No mark: another server of the deployment (a Front End reaching an
      // external user). `remote`: a remote user, authenticated below.
      const origin = originOf(request);
      // An in-dialog request relayed by the edge follows the route set the edge restored
      // from its sealed Record-Route (only a party to the dialog holds it); its Request-URI
      // was rewritten there, so a digest over it could not verify. Not challenged (as
      // Kamailio's reference configuration does), never given an identity.
      if ((origin === 'remote' || origin === 'anonymous') && toTag(request) !== undefined)
        return { kind: 'proxy', edits: { remove: [...ASSERTED, ORIGIN_HEADER, SOURCE_HEADER] } };
      // An anonymous guest (no account to challenge) reaches meetings and nothing else.
      if (origin === 'anonymous') {
        if (!isConferenceUri(incoming.requestUri)) {
          outcomes.inc({ outcome: 'anonymous-refused' });
          return { kind: 'respond', status: 403, reason: 'Anonymous Users Join Meetings Only' };
        }
        outcomes.inc({ outcome: 'anonymous' });
        return {
          kind: 'fork',
          targets: [{ uri: incoming.requestUri, routes: [frontEndRoute] }],
          edits: { remove: [...ASSERTED, SOURCE_HEADER] },
        };
      }
      if (origin !== 'remote') {
        if (origin === 'federation') outcomes.inc({ outcome: 'federation' });
        const edits = {
          remove:
            origin === 'federation'
              ? [...ASSERTED, ORIGIN_HEADER, SOURCE_HEADER]
              : [ORIGIN_HEADER, SOURCE_HEADER],
        };
        const host = domainOf(incoming.requestUri);
        if (incoming.routes.length > 0 || host === undefined || !domains.has(host))
          return { kind: 'proxy', edits };
        return {
          kind: 'fork',
          targets: [{ uri: incoming.requestUri, routes: [frontEndRoute] }],
          edits,
        };
      }
    }
    const verdict = await authenticateRequest(
      authenticator,
      incoming,
      log,
      (outcome) => {
        outcomes.inc({ outcome });
      },
      server.isServerFlow(flow) ? clientAddressOf(request) : undefined,
    );
    if ('refusal' in verdict) return verdict.refusal;
    const edits = {
      remove: ['Proxy-Authorization', ORIGIN_HEADER, SOURCE_HEADER, ...ASSERTED],
      add: [['P-Asserted-Identity', `<${verdict.address}>`] as const],
      // RFC 3327: requests for this registration come back through us.
      ...(request.method === 'REGISTER' && server.serverUri !== undefined
        ? { insert: [['Path', `<${server.serverUri};lr>`] as const] }
        : {}),
    };
    // In-dialog requests follow their route set; new ones go to the home Front End.
    if (incoming.routes.length > 0) return { kind: 'proxy', edits };
    return {
      kind: 'fork',
      targets: [{ uri: incoming.requestUri, routes: [frontEndRoute] }],
      edits,
    };
  };

  const server = await startSipServer({
    service: 'director',
    host: config.host,
    ports: config,
    tls: options.tls,
    handler: handle,
    logger: log,
    registry: options.registry,
    recordRoute: true,
  });
  return {
    name: 'director',
    endpoints: server.endpoints,
    status: () => ({ ...server.engine.stats(), connections: server.transport.stats().connections }),
    close: (deadlineMs) => server.close(deadlineMs),
  };
}

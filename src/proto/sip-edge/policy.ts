/**
 * The Access Edge's checks on a request from outside, sans-IO: what a remote user may send,
 * and which header fields carry trust that only the inside may assert.
 */
import { parseNameAddr } from '../../codec/sip/headers.ts';
import type { SipRequest } from '../../codec/sip/message.ts';
import { header, SIP_METHODS } from '../../codec/sip/parse.ts';
import { isSipUri, parseSipUri } from '../../codec/sip/uri.ts';

/** Methods a remote user may send through the edge: every method we know. */
export const REMOTE_USER_METHODS: readonly string[] = SIP_METHODS;

/** The From host of an anonymous guest (RFC 3323 §4.1.1.3: `sip:anonymous@anonymous.invalid`). */
export const ANONYMOUS_DOMAIN = 'anonymous.invalid';

/**
 * Methods an anonymous guest may send: joining a meeting (a dialog with its focus, its
 * conference event package, IM in it) and nothing that registers or publishes.
 */
export const ANONYMOUS_METHODS: readonly string[] = [
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'INFO',
  'UPDATE',
  'PRACK',
  'SUBSCRIBE',
  'NOTIFY',
  'MESSAGE',
];

/**
 * Header fields that carry trust inside the perimeter (RFC 3325 identities, our own marks):
 * whatever a client sends in them is removed at the edge.
 */
export const TRUST_HEADERS: readonly string[] = [
  'P-Asserted-Identity',
  'P-Preferred-Identity',
  'P-Rampart-Origin',
];

/** Whether a header name is one of ours (`P-Rampart-*`), which only the inside may set. */
export function isOwnHeader(name: string): boolean {
  return name.toLowerCase().startsWith('p-rampart-');
}

/** A refusal: the response to send. */
export interface EdgeRefusal {
  readonly status: number;
  readonly reason: string;
  readonly headers?: readonly (readonly [string, string])[];
}

export interface RemotePolicy {
  /** The deployment's SIP domains (lower case). */
  readonly domains: ReadonlySet<string>;
  /** Internal names and addresses, and the edge's own interfaces (lower case). */
  readonly hiddenHosts: ReadonlySet<string>;
  readonly methods: ReadonlySet<string>;
  readonly maxHeaders: number;
}

function hostOf(uriText: string): string | undefined {
  const uri = parseSipUri(uriText);
  return uri.ok ? uri.value.host.toLowerCase() : undefined;
}

/** More header lines than the policy allows: 400. */
function checkSize(request: SipRequest, policy: RemotePolicy): EdgeRefusal | undefined {
  return request.headers.length > policy.maxHeaders
    ? { status: 400, reason: 'Too Many Header Fields' }
    : undefined;
}

/** A Route from outside naming an internal host (or not parsing): 403. */
function checkRoutes(routes: readonly string[], policy: RemotePolicy): EdgeRefusal | undefined {
  for (const route of routes) {
    const parsed = parseNameAddr(route);
    const host = parsed.ok ? hostOf(parsed.value.uri) : undefined;
    if (host === undefined || policy.hiddenHosts.has(host))
      return { status: 403, reason: 'Forbidden Route' };
  }
  return undefined;
}

/**
 * Checks a request from a remote user. `requestUriIsOurToken`: the Request-URI names the edge
 * with a Contact token it issued (an in-dialog request), which is allowed to name the edge.
 */
export function checkRemoteRequest(
  request: SipRequest,
  options: {
    readonly policy: RemotePolicy;
    readonly requestUri: string;
    readonly routes: readonly string[];
    readonly requestUriIsOurToken: boolean;
  },
): EdgeRefusal | undefined {
  const { policy } = options;
  if (!policy.methods.has(request.method))
    return {
      status: 405,
      reason: 'Method Not Allowed',
      headers: [['Allow', [...policy.methods].join(', ')]],
    };
  const size = checkSize(request, policy);
  if (size !== undefined) return size;
  // A remote user signs in as a user of one of our domains; anyone else is not a remote user
  // (federation is decided by the partner's identity, not by what a client claims).
  const from = header(request, 'from');
  const fromAddress = from === undefined ? undefined : parseNameAddr(from);
  const fromUri = fromAddress?.ok === true ? fromAddress.value.parsedUri : undefined;
  if (fromUri === undefined || !isSipUri(fromUri) || !policy.domains.has(fromUri.host))
    return { status: 403, reason: 'Domain Not Served Here' };
  if (!options.requestUriIsOurToken) {
    const host = hostOf(options.requestUri);
    if (host !== undefined && policy.hiddenHosts.has(host))
      return { status: 403, reason: 'Forbidden Request-URI' };
  }
  return checkRoutes(options.routes, policy);
}

/**
 * Checks a request from an anonymous guest (From in {@link ANONYMOUS_DOMAIN}): a method of
 * {@link ANONYMOUS_METHODS}, for one of our domains (or a token of ours), no internal host.
 */
export function checkAnonymousRequest(
  request: SipRequest,
  options: {
    readonly policy: RemotePolicy;
    readonly requestUri: string;
    readonly routes: readonly string[];
    readonly requestUriIsOurToken: boolean;
  },
): EdgeRefusal | undefined {
  const { policy } = options;
  if (!ANONYMOUS_METHODS.includes(request.method))
    return {
      status: 405,
      reason: 'Method Not Allowed',
      headers: [['Allow', ANONYMOUS_METHODS.join(', ')]],
    };
  const size = checkSize(request, policy);
  if (size !== undefined) return size;
  if (!options.requestUriIsOurToken) {
    const host = hostOf(options.requestUri);
    if (host === undefined || !policy.domains.has(host))
      return { status: 403, reason: 'Not Our Domain' };
  }
  return checkRoutes(options.routes, policy);
}

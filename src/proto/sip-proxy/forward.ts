/**
 * RFC 3261 §16.3–§16.6 for a stateful proxy, sans-IO: validate a request, pre-process its
 * route information, and compute the edits that forward it to one target. The caller
 * resolves the returned next hop and sends the edited bytes.
 */
import { fnvText64 } from '../../lib/fnv.ts';
import { BRANCH_MAGIC_COOKIE, randomToken } from '../../lib/ids.ts';
import { err, ok, type Result } from '../../lib/result.ts';
import type { SipEdit } from '../../codec/sip/edit.ts';
import {
  cseqOf,
  fromTag,
  parseMaxForwards,
  parseNameAddr,
  parseVias,
  topVia,
  toTag,
  type Via,
} from '../../codec/sip/headers.ts';
import type { HeaderField, SipRequest } from '../../codec/sip/message.ts';
import { checkRequest } from '../../codec/sip/validate.ts';
import { header, headerFields, splitHeaderList } from '../../codec/sip/parse.ts';
import { formatHost, parseSipUri, type SipUri } from '../../codec/sip/uri.ts';

/** A locally generated rejection: the status, reason and extra header lines to answer with. */
export interface ProxyRejection {
  readonly status: number;
  readonly reason: string;
  readonly headers?: readonly (readonly [string, string])[];
}

/** One interface of ours: where a request arrived or leaves. */
export interface ProxyInterface {
  /** 'udp' | 'tcp' | 'tls' | 'ws' | 'wss'. */
  readonly transport: string;
  /** Host we advertise in Via and Record-Route (an address or name). */
  readonly host: string;
  readonly port: number;
}

/** What the proxy knows about itself. */
export interface ProxyIdentity {
  /** Whether a URI names this proxy (one of its addresses/names and ports). */
  isLocalUri(uri: SipUri): boolean;
  /**
   * Whether a Route value names this proxy. Defaults to {@link isLocalUri}; a proxy that puts
   * flow tokens in the user part of its Path and Record-Route URIs (RFC 5626 §5.3) matches
   * on host and port alone.
   */
  isLocalRoute?(uri: SipUri): boolean;
  /** Whether a Via sent-by is one of ours (for loop detection). */
  isLocalSentBy(host: string, port: number | undefined): boolean;
  /** Option tags we support; any other in Proxy-Require → 420 (§16.3 item 6). */
  readonly supportedExtensions: readonly string[];
}

/** Default Max-Forwards inserted when a request has none (§16.6 item 3). */
export const DEFAULT_MAX_FORWARDS = 70;

/** Methods whose requests establish dialogs: the proxy record-routes them. */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY']);

/**
 * RFC 3261 §16.3 request validation. Checks: reasonable syntax (the mandatory headers
 * parse), URI scheme, Max-Forwards, loop detection and Proxy-Require.
 */
export function validateProxyRequest(
  request: SipRequest,
  identity: ProxyIdentity,
): Result<Via[], ProxyRejection> {
  // §16.3 items 1, 2 and 6: reasonable syntax, URI scheme (416), Proxy-Require (420).
  const checked = checkRequest(request, {
    role: 'proxy',
    supportedExtensions: identity.supportedExtensions,
  });
  if (!checked.ok) return err(checked.error);
  const vias = parseVias(request);
  if (!vias.ok) return err({ status: 400, reason: 'Bad Via' });
  // §16.3 item 3: Max-Forwards. "If the header field value is zero (0), the element MUST NOT
  // forward the request" → 483.
  const maxForwards = header(request, 'max-forwards');
  if (maxForwards !== undefined) {
    const parsed = parseMaxForwards(maxForwards);
    if (!parsed.ok) return err({ status: 400, reason: 'Bad Max-Forwards' });
    if (parsed.value === 0) return err({ status: 483, reason: 'Too Many Hops' });
  }
  // §16.3 item 4: optional loop detection. "If the request contains a Via header field with a
  // sent-by value that equals a value placed into previous requests by the proxy", and the
  // branch carries the same loop hash, the request has looped → 482.
  // The hash is computed only when one of the Vias is ours (most requests never passed here).
  if (request.method !== 'CANCEL' && request.method !== 'ACK') {
    let hash: string | undefined;
    for (const via of vias.value) {
      if (!identity.isLocalSentBy(via.host, via.port)) continue;
      hash ??= loopHash(request);
      if (via.branch?.startsWith(`${BRANCH_MAGIC_COOKIE}${hash}.`) === true) {
        return err({ status: 482, reason: 'Loop Detected' });
      }
    }
  }
  return ok(vias.value);
}

/**
 * The loop-detection part of our branch (RFC 3261 §16.6 item 8): a hash of the fields that
 * stay the same when a request loops back to us unchanged — Request-URI, From tag, To tag,
 * Call-ID, CSeq number, Proxy-Require and Proxy-Authorization — so that a looped request
 * produces the same value (§16.3 item 4).
 */
export function loopHash(request: SipRequest): string {
  const cached = request.memo?.loopHash;
  if (cached !== undefined) return cached;
  const cseq = cseqOf(request);
  const fields = [
    request.requestUri,
    fromTag(request) ?? '',
    toTag(request) ?? '',
    header(request, 'call-id') ?? '',
    cseq.ok ? String(cseq.value.seq) : '',
    header(request, 'proxy-require') ?? '',
    header(request, 'proxy-authorization') ?? '',
  ].join('\0');
  const value = fnvText64(fields);
  if (request.memo !== undefined) request.memo.loopHash = value;
  return value;
}

/** A new branch for one forwarded copy: magic cookie, loop hash, unique part (§16.6 item 8). */
export function newProxyBranch(request: SipRequest): string {
  return `${BRANCH_MAGIC_COOKIE}${loopHash(request)}.${randomToken(10)}`;
}

/**
 * A branch for a statelessly forwarded request (the ACK for a 2xx, §16.11): derived from
 * the incoming top branch so a retransmission gets the same value.
 */
export function statelessBranch(incomingTopBranch: string): string {
  return `${BRANCH_MAGIC_COOKIE}sl.${fnvText64(incomingTopBranch)}`;
}

/** Per-process salt of stateless To tags, so they cannot be predicted from the request. */
const STATELESS_TAG_SALT = randomToken(12);

/**
 * The To tag of a response sent as a stateless UAS (RFC 3261 §8.2.7: tags "MUST be generated
 * for responses in a stateless manner - in a manner that will generate the same tag for the
 * same request consistently"): a hash of the request's transaction key under a per-process
 * random salt, so a retransmission gets the same tag.
 */
export function statelessToTag(transactionKey: string): string {
  return `sl${fnvText64(STATELESS_TAG_SALT + transactionKey)}`;
}

/** The outcome of route pre-processing: edits so far, and where the request goes next. */
export interface RoutedRequest {
  readonly edits: SipEdit[];
  /** The Request-URI after pre-processing. */
  readonly requestUri: string;
  /** Route values remaining after pre-processing, top first. */
  readonly routes: readonly string[];
  /** Our own Route values removed in pre-processing, top first (their parameters are ours). */
  readonly consumed?: readonly string[];
}

interface RouteValue {
  readonly field: HeaderField;
  readonly value: string;
  readonly uri: string;
  readonly parsed: SipUri | undefined;
}

function routeValues(request: SipRequest): RouteValue[] | undefined {
  const out: RouteValue[] = [];
  for (const field of headerFields(request, 'route')) {
    for (const value of splitHeaderList(field.value)) {
      const nameAddr = parseNameAddr(value);
      if (!nameAddr.ok) return undefined;
      const parsed = parseSipUri(nameAddr.value.uri);
      out.push({
        field,
        value,
        uri: nameAddr.value.uri,
        parsed: parsed.ok ? parsed.value : undefined,
      });
    }
  }
  return out;
}

/** Rewrites Route lines so that exactly `keep` values remain, reusing the original lines when unchanged. */
function rewriteRoutes(
  request: SipRequest,
  all: readonly RouteValue[],
  keep: readonly string[],
): SipEdit[] {
  const fields = headerFields(request, 'route');
  if (fields.length === 0) return [];
  if (keep.length === all.length && keep.every((v, i) => v === all[i]?.value)) return [];
  const edits: SipEdit[] = fields.slice(1).map((field) => ({ type: 'remove-header', field }));
  const first = fields[0];
  if (first === undefined) return edits;
  if (keep.length === 0) edits.push({ type: 'remove-header', field: first });
  else edits.push({ type: 'replace-header', field: first, name: 'Route', value: keep.join(', ') });
  return edits;
}

/**
 * RFC 3261 §16.4 route information pre-processing: a strict router upstream put our
 * Record-Route URI into the Request-URI → restore the original from the last Route; a top
 * Route naming us is removed.
 */
export function preprocessRoute(
  request: SipRequest,
  identity: ProxyIdentity,
): Result<RoutedRequest, ProxyRejection> {
  const routes = routeValues(request);
  if (routes === undefined) return err({ status: 400, reason: 'Bad Route' });
  let requestUri = request.requestUri;
  let remaining = routes.slice();
  const edits: SipEdit[] = [];
  const ruri = parseSipUri(request.requestUri);
  if (ruri.ok && identity.isLocalUri(ruri.value) && remaining.length > 0) {
    // §16.4: "the proxy MUST replace the Request-URI in the request with the last value from
    // the Route header field, and remove that value from the Route header field."
    const last = remaining[remaining.length - 1];
    if (last !== undefined) {
      requestUri = last.uri;
      remaining = remaining.slice(0, -1);
      edits.push({ type: 'set-request-uri', uri: requestUri });
    }
  }
  // §16.4: "If the first value in the Route header field indicates this proxy, the proxy MUST
  // remove that value from the request."
  const isOurs = (uri: SipUri): boolean =>
    identity.isLocalRoute === undefined ? identity.isLocalUri(uri) : identity.isLocalRoute(uri);
  const consumed: string[] = [];
  while (remaining[0]?.parsed !== undefined && isOurs(remaining[0].parsed)) {
    consumed.push(remaining[0].value);
    remaining = remaining.slice(1);
  }
  const keep = remaining.map((r) => r.value);
  edits.push(...rewriteRoutes(request, routes, keep));
  return ok({ edits, requestUri, routes: keep, consumed });
}

/**
 * RFC 3261 §16.6 item 7: where a pre-processed request goes next — the URI of the first
 * Route value when there is one, else the Request-URI.
 */
export function nextHopOf(routed: RoutedRequest): Result<SipUri, ProxyRejection> {
  let text = routed.requestUri;
  const topRoute = routed.routes[0];
  if (topRoute !== undefined) {
    const nameAddr = parseNameAddr(topRoute);
    if (!nameAddr.ok) return err({ status: 400, reason: 'Bad Route' });
    text = nameAddr.value.uri;
  }
  const uri = parseSipUri(text);
  return uri.ok ? ok(uri.value) : err({ status: 416, reason: 'Unsupported URI Scheme' });
}

/** Options for forwarding one copy of a request (§16.6). */
export interface ForwardOptions {
  /** The interface the request arrived on. */
  readonly inbound: ProxyInterface;
  /** The interface it leaves on (Record-Route). */
  readonly outbound: ProxyInterface;
  /** The interface our Via names, when not `outbound` (a socket private to this process). */
  readonly via?: ProxyInterface;
  /** The branch for our Via (see {@link newProxyBranch}). */
  readonly branch: string;
  /** Whether to add Record-Route (§16.6 item 4). */
  readonly recordRoute: boolean;
  /** A new Request-URI for this target (§16.6 item 2), when the target differs. */
  readonly targetUri?: string;
  /** URI parameters added to the Record-Route value facing the callee (e.g. `;th=…`). */
  readonly recordRouteParams?: string;
  /** Record only the value facing the callee, even when the interface changes (topology hiding). */
  readonly singleRecordRoute?: boolean;
}

/** The edits for one forwarded copy and the URI to resolve for its next hop. */
export interface ForwardPlan {
  readonly edits: readonly SipEdit[];
  /** The next hop: the top Route when there is one, else the Request-URI (§16.6 item 7). */
  readonly nextHop: SipUri;
}

function recordRouteValue(iface: ProxyInterface, params = ''): string {
  const transport = iface.transport === 'udp' ? '' : `;transport=${iface.transport}`;
  return `<sip:${formatHost(iface.host)}:${iface.port}${transport};lr${params}>`;
}

/** Our Via for an interface (§16.6 item 8), with rport requested over UDP (RFC 3581). */
export function viaValue(iface: ProxyInterface, branch: string): string {
  const rport = iface.transport === 'udp' ? ';rport' : '';
  return `SIP/2.0/${iface.transport.toUpperCase()} ${formatHost(iface.host)}:${iface.port};branch=${branch}${rport}`;
}

/**
 * RFC 3261 §16.6: the edits that turn the (pre-processed) request into the copy for one
 * target: Request-URI, Max-Forwards, Record-Route (doubled when the request changes interface
 * or transport), strict-router post-processing, and our Via.
 */
export function planForward(
  request: SipRequest,
  routed: RoutedRequest,
  options: ForwardOptions,
): Result<ForwardPlan, ProxyRejection> {
  const edits: SipEdit[] = [...routed.edits];
  const requestUri = options.targetUri ?? routed.requestUri;
  if (options.targetUri !== undefined && options.targetUri !== routed.requestUri) {
    edits.push({ type: 'set-request-uri', uri: options.targetUri });
  }
  // §16.6 item 3: Max-Forwards decremented by one, or added with 70.
  const mfField = request.headers.find((f) => f.name === 'max-forwards');
  if (mfField === undefined) {
    edits.push({
      type: 'append-header',
      name: 'Max-Forwards',
      value: String(DEFAULT_MAX_FORWARDS),
    });
  } else {
    const current = parseMaxForwards(mfField.value);
    if (!current.ok) return err({ status: 400, reason: 'Bad Max-Forwards' });
    edits.push({
      type: 'replace-header',
      field: mfField,
      name: 'Max-Forwards',
      value: String(current.value - 1),
    });
  }
  // §16.6 item 4: Record-Route. When the request changes interface or transport, record
  // both: the top value faces the callee (outbound), the next one faces the caller (inbound).
  if (options.recordRoute && DIALOG_CREATING.has(request.method) && toTag(request) === undefined) {
    const inbound = recordRouteValue(options.inbound);
    const outbound = recordRouteValue(options.outbound, options.recordRouteParams);
    edits.push({ type: 'insert-header', name: 'Record-Route', value: outbound });
    if (options.singleRecordRoute !== true && recordRouteValue(options.outbound) !== inbound)
      edits.push({ type: 'insert-header', name: 'Record-Route', value: inbound });
  }
  // §16.6 item 6/7: the next hop is the first Route, or the Request-URI. A first Route
  // without `lr` is a strict router: it becomes the Request-URI and the Request-URI goes to
  // the end of the Route set.
  let nextHopText = requestUri;
  const topRoute = routed.routes[0];
  if (topRoute !== undefined) {
    const nameAddr = parseNameAddr(topRoute);
    if (!nameAddr.ok) return err({ status: 400, reason: 'Bad Route' });
    const routeUri = parseSipUri(nameAddr.value.uri);
    if (!routeUri.ok) return err({ status: 400, reason: 'Unsupported Route URI' });
    nextHopText = nameAddr.value.uri;
    if (!routeUri.value.params.has('lr')) {
      const rest = [...routed.routes.slice(1), `<${requestUri}>`];
      edits.push(...strictRouteEdits(request, edits, rest));
      edits.push({ type: 'set-request-uri', uri: nameAddr.value.uri });
    }
  }
  // RFC 3261 §18.3: over UDP the body may run to the end of the datagram without a
  // Content-Length; over a stream the next hop needs one.
  if (!request.headers.some((h) => h.name === 'content-length'))
    edits.push({
      type: 'append-header',
      name: 'Content-Length',
      value: String(request.body.length),
    });
  // §16.6 item 8: our Via on top.
  const firstHeader = request.headers[0];
  edits.push({
    type: 'insert-header',
    name: 'Via',
    value: viaValue(options.via ?? options.outbound, options.branch),
    ...(firstHeader === undefined ? {} : { before: firstHeader }),
  });
  const nextHop = parseSipUri(nextHopText);
  if (!nextHop.ok) return err({ status: 416, reason: 'Unsupported URI Scheme' });
  return ok({ edits: dedupeRequestUri(edits), nextHop: nextHop.value });
}

/** Route edits for strict routing: replace whatever the Route lines became with `routes`. */
function strictRouteEdits(
  request: SipRequest,
  previous: SipEdit[],
  routes: readonly string[],
): SipEdit[] {
  const fields = headerFields(request, 'route');
  // Drop earlier Route edits; rewrite from scratch.
  for (let i = previous.length - 1; i >= 0; i--) {
    const edit = previous[i];
    if (
      edit !== undefined &&
      (edit.type === 'remove-header' || edit.type === 'replace-header') &&
      edit.field.name === 'route'
    ) {
      previous.splice(i, 1);
    }
  }
  const edits: SipEdit[] = fields.slice(1).map((field) => ({ type: 'remove-header', field }));
  const first = fields[0];
  if (first === undefined)
    edits.push({ type: 'append-header', name: 'Route', value: routes.join(', ') });
  else
    edits.push({ type: 'replace-header', field: first, name: 'Route', value: routes.join(', ') });
  return edits;
}

/** Keeps only the last Request-URI edit. */
function dedupeRequestUri(edits: readonly SipEdit[]): SipEdit[] {
  let lastIndex = -1;
  edits.forEach((edit, i) => {
    if (edit.type === 'set-request-uri') lastIndex = i;
  });
  return edits.filter((edit, i) => edit.type !== 'set-request-uri' || i === lastIndex);
}

/** The first Via line of a received request, amended as RFC 3261 §18.2.1 and RFC 3581 §4 say. */
export interface ReceivedVia {
  readonly field: HeaderField;
  readonly value: string;
}

function sameAddress(host: string, address: string): boolean {
  const strip = (text: string): string => text.replace(/^\[|\]$/g, '').toLowerCase();
  return strip(host) === strip(address);
}

/**
 * The top Via of a request received from `source`, with `received` added when the sent-by
 * host is not the packet's source address (RFC 3261 §18.2.1) or `rport` was asked for, and
 * `rport` given the source port when asked for (RFC 3581 §4). Undefined when nothing changes
 * (the common case: no `rport`, sent-by is the source address).
 */
export function receivedVia(
  request: SipRequest,
  source: { readonly address: string; readonly port: number },
): ReceivedVia | undefined {
  // The common case decides on the cached parse of the top Via: nothing to amend.
  const via = topVia(request);
  if (!via.ok) return undefined;
  const askedPort = via.value.rport === true;
  if (!askedPort && sameAddress(via.value.host, source.address)) return undefined;
  const field = request.headers.find((h) => h.name === 'via');
  if (field === undefined) return undefined;
  const values = splitHeaderList(field.value);
  const first = values[0];
  if (first === undefined) return undefined;
  let text = first.replace(/;\s*received\s*=\s*[^;,\s]*/i, '');
  if (askedPort) text = text.replace(/;\s*rport(?=\s*(;|$))/i, '');
  // via-received = "received" EQUAL (IPv4address / IPv6address): no brackets (RFC 3261 §25.1).
  text += `;received=${source.address}`;
  if (askedPort) text += `;rport=${String(source.port)}`;
  return { field, value: [text, ...values.slice(1)].join(', ') };
}

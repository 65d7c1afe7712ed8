/**
 * Header hygiene between the Internet and the web services: hop-by-hop headers (RFC 9110
 * §7.6.1) and those the Connection header names are dropped both ways; the forwarding
 * headers are ours unless the peer is a trusted proxy; the user header is only ever ours.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** The header carrying the signed-in user's SIP URI to `forms` routes. */
export const USER_HEADER = 'x-rampart-user';

/** RFC 9110 §7.6.1 and the pre-standard ones proxies still meet. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  // The proxy answers Expect: 100-continue itself, after its own checks of the request.
  'expect',
]);

const FORWARDING = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
]);

/**
 * Headers a Connection header may not name: dropping them would change the framing or
 * the target of the forwarded request (RFC 9110 §7.6.1: a proxy must not let Connection
 * remove what it needs to forward correctly).
 */
const NOT_NAMEABLE = new Set(['content-length', 'host']);

/** Who the request came from, for the forwarding headers. */
export interface ForwardingContext {
  /** The client's (or trusted proxy's) IP address. */
  readonly clientAddress: string;
  /** The Host the client asked for. */
  readonly host: string;
  /** The peer is a trusted proxy: its forwarding headers are kept and appended to. */
  readonly trusted: boolean;
  /** The signed-in user's SIP URI on `forms` routes; undefined elsewhere. */
  readonly user?: string | undefined;
}

/** Headers for the upstream as a flat name/value list, or why the request is refused. */
export type UpstreamHeaders =
  | { readonly ok: true; readonly headers: string[] }
  | { readonly ok: false; readonly reason: 'connection-names-framing' };

function connectionTokens(rawHeaders: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] ?? '').toLowerCase() !== 'connection') continue;
    tokens ??= new Set();
    for (const token of (rawHeaders[i + 1] ?? '').split(','))
      tokens.add(token.trim().toLowerCase());
  }
  return tokens;
}

function forwardedFor(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address;
}

/**
 * The request headers to send upstream, from the client's raw headers (name, value, ...).
 * Drops Host (the upstream gets its own), hop-by-hop headers, those named in Connection,
 * any client-sent user header, and (from untrusted peers) the forwarding headers; then
 * adds X-Forwarded-For/-Proto/-Host, Forwarded (RFC 7239) and, on `forms` routes, the user.
 */
export function upstreamRequestHeaders(
  rawHeaders: readonly string[],
  context: ForwardingContext,
): UpstreamHeaders {
  const named = connectionTokens(rawHeaders);
  if (named !== undefined) {
    for (const token of named)
      if (NOT_NAMEABLE.has(token)) return { ok: false, reason: 'connection-names-framing' };
  }
  const headers: string[] = [];
  let priorFor = '';
  let priorForwarded = '';
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const value = rawHeaders[i + 1] ?? '';
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === USER_HEADER || HOP_BY_HOP.has(lower)) continue;
    if (named?.has(lower) === true) continue;
    if (FORWARDING.has(lower)) {
      if (!context.trusted) continue;
      if (lower === 'x-forwarded-for') {
        priorFor = priorFor === '' ? value : `${priorFor}, ${value}`;
        continue;
      }
      if (lower === 'forwarded') {
        priorForwarded = priorForwarded === '' ? value : `${priorForwarded}, ${value}`;
        continue;
      }
      if (lower !== 'x-real-ip') continue;
    }
    headers.push(name, value);
  }
  const client = context.clientAddress;
  const own = `for=${forwardedFor(client)};host="${context.host}";proto=https`;
  headers.push(
    'x-forwarded-for',
    priorFor === '' ? client : `${priorFor}, ${client}`,
    'x-forwarded-proto',
    'https',
    'x-forwarded-host',
    context.host,
    'forwarded',
    priorForwarded === '' ? own : `${priorForwarded}, ${own}`,
  );
  if (context.user !== undefined) headers.push(USER_HEADER, context.user);
  return { ok: true, headers };
}

/**
 * The response headers to send the client: the upstream's, without hop-by-hop headers and
 * those its Connection header names. Mutates and returns `headers`.
 */
export function clientResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const connection = headers.connection;
  if (connection !== undefined) {
    for (const token of connection.split(','))
      Reflect.deleteProperty(headers, token.trim().toLowerCase());
  }
  for (const name of HOP_BY_HOP) Reflect.deleteProperty(headers, name);
  return headers;
}

/** The host name of a Host header value (port and IPv6 brackets removed, lower case). */
export function hostName(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) {
    const end = lower.indexOf(']');
    return end === -1 ? lower : lower.slice(1, end);
  }
  const colon = lower.indexOf(':');
  return colon === -1 ? lower : lower.slice(0, colon);
}

/** A matcher of Host names against exact names and `*.suffix` patterns. */
export function hostMatcher(patterns: readonly string[]): (host: string) => boolean {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const pattern of patterns) {
    const lower = pattern.toLowerCase();
    if (lower.startsWith('*.')) suffixes.push(lower.slice(1));
    else exact.add(lower);
  }
  return (host) => {
    const name = hostName(host);
    if (name === '' || name.endsWith('.')) return false;
    return exact.has(name) || suffixes.some((suffix) => name.endsWith(suffix));
  };
}

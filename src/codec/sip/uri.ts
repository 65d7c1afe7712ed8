/**
 * SIP and SIPS URIs (RFC 3261 §19.1), with IPv6 references (RFC 5118) and tel URIs
 * (RFC 3966) recognised; any other scheme is kept as an opaque absolute URI.
 */
import { err, ok, type Result } from '../../lib/result.ts';
import { parseHostPort, parseParams } from './headers.ts';

/** A parsed sip: or sips: URI. */
export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  /** The user part, %-escapes kept as written. */
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** Host without brackets; lower-cased. */
  readonly host: string;
  readonly port: number | undefined;
  /** uri-parameters, names lower-cased. */
  readonly params: ReadonlyMap<string, string | null>;
  /** headers after '?', raw. */
  readonly headers: string | undefined;
}

/** A tel: URI (RFC 3966), kept mostly opaque. */
export interface TelUri {
  readonly scheme: 'tel';
  readonly number: string;
  readonly params: ReadonlyMap<string, string | null>;
}

/** Any other absolute URI. */
export interface AbsoluteUri {
  readonly scheme: string;
  readonly text: string;
}

/** A malformed URI. */
export interface UriParseError {
  readonly code: 'RAMPART_ERR_SIP_PARSE';
  readonly reason: string;
}

function bad(reason: string): { ok: false; error: UriParseError } {
  return err({ code: 'RAMPART_ERR_SIP_PARSE', reason });
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** Parses a sip:/sips: URI. */
export function parseSipUri(text: string): Result<SipUri, UriParseError> {
  const match = SCHEME.exec(text);
  if (!match) return bad('no scheme');
  const scheme = (match[1] ?? '').toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') return bad('not a sip or sips URI');
  let rest = text.slice(match[0].length);
  if (/[\s<>"]/.test(rest)) return bad('invalid character in URI');
  // userinfo ends at the last '@' (the user part may hold '?', ';' and ','); headers start at
  // the first '?' of the host part (RFC 3261 §25.1).
  let user: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    password = colon < 0 ? undefined : userinfo.slice(colon + 1);
    if (user.length === 0) return bad('empty user part');
  }
  let headers: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const semi = rest.indexOf(';');
  const hostPortText = semi < 0 ? rest : rest.slice(0, semi);
  const hostPort = parseHostPort(hostPortText);
  if (!hostPort || hostPort.host.length === 0) return bad('invalid host or port');
  const params = semi < 0 ? new Map<string, string | null>() : parseParams(rest.slice(semi));
  if (!params) return bad('invalid uri-parameters');
  return ok({
    scheme,
    user,
    password,
    host: hostPort.host.toLowerCase(),
    port: hostPort.port,
    params,
    headers,
  });
}

/** Parses any URI the Request-URI or an address may hold. */
export function parseUri(text: string): Result<SipUri | TelUri | AbsoluteUri, UriParseError> {
  const match = SCHEME.exec(text);
  if (!match) return bad('no scheme');
  const scheme = (match[1] ?? '').toLowerCase();
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(text);
  if (scheme === 'tel') {
    const body = text.slice(match[0].length);
    const semi = body.indexOf(';');
    const number = semi < 0 ? body : body.slice(0, semi);
    if (!/^\+?[0-9A-Fa-f*#().-]+$/.test(number)) return bad('invalid tel number');
    const params = semi < 0 ? new Map<string, string | null>() : parseParams(body.slice(semi));
    if (!params) return bad('invalid tel parameters');
    return ok({ scheme: 'tel', number, params });
  }
  return ok({ scheme, text });
}

/** Whether a parsed URI is a sip: or sips: URI. */
export function isSipUri(uri: SipUri | TelUri | AbsoluteUri): uri is SipUri {
  return uri.scheme === 'sip' || uri.scheme === 'sips';
}

/** Formats a host for a URI or Via: IPv6 literals in brackets (RFC 5118). */
export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Serialises a SIP URI. */
export function formatSipUri(uri: SipUri): string {
  let out = `${uri.scheme}:`;
  if (uri.user !== undefined)
    out += uri.password === undefined ? `${uri.user}@` : `${uri.user}:${uri.password}@`;
  out += formatHost(uri.host);
  if (uri.port !== undefined) out += `:${uri.port}`;
  for (const [name, value] of uri.params) out += value === null ? `;${name}` : `;${name}=${value}`;
  if (uri.headers !== undefined) out += `?${uri.headers}`;
  return out;
}

function unescape(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * RFC 3261 §19.1.4 URI comparison: user part case-sensitive after unescaping, host
 * case-insensitive, and the parameters user, ttl, method, maddr and transport must match
 * when present in either; other parameters only when present in both.
 */
export function sipUriEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (unescape(a.user) !== unescape(b.user) || a.password !== b.password) return false;
  if (a.host !== b.host || a.port !== b.port) return false;
  for (const name of ['user', 'ttl', 'method', 'maddr', 'transport']) {
    const va = a.params.get(name)?.toLowerCase();
    const vb = b.params.get(name)?.toLowerCase();
    if (va !== vb) return false;
  }
  for (const [name, value] of a.params) {
    if (!b.params.has(name)) continue;
    if ((value ?? '').toLowerCase() !== (b.params.get(name) ?? '').toLowerCase()) return false;
  }
  return (a.headers ?? '') === (b.headers ?? '');
}

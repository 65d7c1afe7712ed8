/**
 * SIP and SIPS URIs (RFC 3261 §19.1, §25.1), with IPv6 references (RFC 5118) and tel URIs
 * (RFC 3966) recognised; any other scheme is kept as an opaque absolute URI.
 */
import { err, ok, type Result } from '../../lib/result.ts';
import {
  canonicalIPv6,
  hasValidEscapes,
  NO_PARAMS,
  parseHostPort,
  parseParams,
} from './grammar.ts';

/** A parsed sip: or sips: URI. */
export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  /** The user part, %-escapes kept as written. */
  readonly user: string | undefined;
  /** The password part, %-escapes kept as written. */
  readonly password: string | undefined;
  /** Host without brackets; lower-cased. */
  readonly host: string;
  readonly port: number | undefined;
  /** uri-parameters, names lower-cased, values as written. */
  readonly params: ReadonlyMap<string, string | null>;
  /** The headers after '?', as written (`hname=hvalue&...`). */
  readonly headers: string | undefined;
}

/** A tel: URI (RFC 3966). */
export interface TelUri {
  readonly scheme: 'tel';
  /** telephone-subscriber number as written, e.g. '+1-201-555-0123' or '7042'. */
  readonly number: string;
  /** Parameters (`phone-context`, `ext`, `isub`, ...), names lower-cased. */
  readonly params: ReadonlyMap<string, string | null>;
}

/** Any other absolute URI (RFC 3261 §25.1 absoluteURI), kept opaque. */
export interface AbsoluteUri {
  /** Lower-cased scheme. */
  readonly scheme: string;
  /** The whole URI as written. */
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

function table(chars: string): Uint8Array {
  const t = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

const ALPHANUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const UNRESERVED = ALPHANUM + "-_.!~*'()";
/** RFC 3261 §25.1 user = 1*( unreserved / escaped / user-unreserved ). */
const USER_CHARS = table(UNRESERVED + '%&=+$,;?/');
/** RFC 3261 §25.1 password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," ). */
const PASSWORD_CHARS = table(UNRESERVED + '%&=+$,');
/** RFC 3261 §25.1 hname / hvalue characters, plus the `=` and `&` that structure them. */
const HEADERS_CHARS = table(UNRESERVED + '%[]/?:+$=&');
/** RFC 2396 uric (RFC 3261 §25.1 absoluteURI), plus `[ ] #` seen in real URIs. */
const OPAQUE_CHARS = table(UNRESERVED + '%;/?:@&=+$,[]#');
/** RFC 3966 §3 phonedigit-hex and visual separators. */
const TEL_CHARS = table('0123456789ABCDEFabcdef*#-.()');

function allIn(s: string, t: Uint8Array): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || t[c] !== 1) return false;
  }
  return true;
}

/** The scheme of `text` lower-cased and the index after its ':', or undefined. */
function schemeOf(text: string): { scheme: string; rest: number } | undefined {
  // RFC 3261 §25.1 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
  const first = text.charCodeAt(0) | 0x20;
  if (!(first >= 0x61 && first <= 0x7a)) return undefined;
  for (let i = 1; i < text.length && i < 64; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) return { scheme: text.slice(0, i).toLowerCase(), rest: i + 1 };
    const lc = c | 0x20;
    const ok =
      (lc >= 0x61 && lc <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2b ||
      c === 0x2d ||
      c === 0x2e;
    if (!ok) return undefined;
  }
  return undefined;
}

/**
 * Recently parsed SIP URIs by text. One request's Request-URI, Route and Contact URIs are read
 * by several layers (syntax check, route processing, next hop, forwarding), and a busy proxy
 * sees the same few targets again and again. Results are immutable; the cache is bounded
 * (emptied when full) and skips long texts.
 */
const SIP_URI_CACHE = new Map<string, Result<SipUri, UriParseError>>();
const SIP_URI_CACHE_ENTRIES = 1024;
const SIP_URI_CACHE_MAX_LENGTH = 256;

/** Parses a sip: or sips: URI (RFC 3261 §19.1.1, §25.1; IPv6 references per RFC 5118). */
export function parseSipUri(text: string): Result<SipUri, UriParseError> {
  const cached = SIP_URI_CACHE.get(text);
  if (cached !== undefined) return cached;
  const parsed = parseSipUriUncached(text);
  if (text.length <= SIP_URI_CACHE_MAX_LENGTH) {
    if (SIP_URI_CACHE.size >= SIP_URI_CACHE_ENTRIES) SIP_URI_CACHE.clear();
    SIP_URI_CACHE.set(text, parsed);
  }
  return parsed;
}

function parseSipUriUncached(text: string): Result<SipUri, UriParseError> {
  const head = schemeOf(text);
  if (!head) return bad('no scheme');
  const scheme = head.scheme;
  if (scheme !== 'sip' && scheme !== 'sips') return bad('not a sip or sips URI');
  let rest = text.slice(head.rest);
  // userinfo ends at the '@', which appears nowhere else in a SIP URI (the user part may hold
  // '?', ';' and ',', RFC 3261 §25.1 user-unreserved; RFC 4475 §3.1.1.9 semiuri).
  let user: string | undefined;
  let password: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    if (rest.indexOf('@', at + 1) >= 0) return bad("more than one '@'");
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    password = colon < 0 ? undefined : userinfo.slice(colon + 1);
    if (user.length === 0) return bad('empty user part');
    if (!allIn(user, USER_CHARS) || !hasValidEscapes(user)) return bad('invalid user part');
    if (password !== undefined && (!allIn(password, PASSWORD_CHARS) || !hasValidEscapes(password)))
      return bad('invalid password');
  }
  let headers: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
    if (!validHeaders(headers)) return bad('invalid URI headers');
  }
  const semi = rest.indexOf(';');
  const hostPort = parseHostPort(semi < 0 ? rest : rest.slice(0, semi));
  if (!hostPort) return bad('invalid host or port');
  const params = semi < 0 ? NO_PARAMS : parseParams(rest.slice(semi), 'uri');
  if (!params) return bad('invalid uri-parameters');
  for (const [name, value] of params) {
    if (!hasValidEscapes(name) || (value !== null && !hasValidEscapes(value)))
      return bad('invalid escape in uri-parameters');
  }
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

/** headers = "?" header *( "&" header ); header = hname "=" hvalue (RFC 3261 §25.1). */
function validHeaders(headers: string): boolean {
  if (!allIn(headers, HEADERS_CHARS) || !hasValidEscapes(headers)) return false;
  for (const pair of headers.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return false;
  }
  return true;
}

/** Parses a tel: URI (RFC 3966 §3): a global (`+`…) or local number and its parameters. */
export function parseTelUri(text: string): Result<TelUri, UriParseError> {
  const head = schemeOf(text);
  if (!head || head.scheme !== 'tel') return bad('not a tel URI');
  const body = text.slice(head.rest);
  const semi = body.indexOf(';');
  const number = semi < 0 ? body : body.slice(0, semi);
  const digits = number.startsWith('+') ? number.slice(1) : number;
  // global-number-digits = "+" *phonedigit DIGIT *phonedigit; local = *phonedigit-hex ...
  if (!allIn(digits, TEL_CHARS) || !/[0-9A-Fa-f*#]/.test(digits)) return bad('invalid tel number');
  if (number.startsWith('+') && !/[0-9]/.test(digits)) return bad('invalid global number');
  const params = semi < 0 ? NO_PARAMS : parseParams(body.slice(semi), 'uri');
  if (!params) return bad('invalid tel parameters');
  return ok({ scheme: 'tel', number, params });
}

/**
 * Parses any URI a Request-URI or an address may hold: sip/sips and tel are parsed; other
 * schemes (RFC 4475 §3.3.2 unkscm, §3.3.4 unksm2) are checked for URI characters only.
 */
export function parseUri(text: string): Result<SipUri | TelUri | AbsoluteUri, UriParseError> {
  const head = schemeOf(text);
  if (!head) return bad('no scheme');
  if (head.scheme === 'sip' || head.scheme === 'sips') return parseSipUri(text);
  if (head.scheme === 'tel') return parseTelUri(text);
  const rest = text.slice(head.rest);
  if (rest.length === 0 || !allIn(rest, OPAQUE_CHARS) || !hasValidEscapes(rest))
    return bad('invalid absolute URI');
  return ok({ scheme: head.scheme, text });
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

const UNRESERVED_TABLE = table(UNRESERVED);

/**
 * RFC 3261 §19.1.4: "Characters other than those in the 'reserved' set are equivalent to
 * their '%' HEX HEX encoding": decodes escaped unreserved characters and upper-cases the hex
 * of the escapes that remain, so that equivalent texts become equal.
 */
export function normalizeEscapes(s: string): string {
  if (!s.includes('%')) return s;
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) => {
    const code = parseInt(hex, 16);
    return code < 128 && UNRESERVED_TABLE[code] === 1
      ? String.fromCharCode(code)
      : `%${hex.toUpperCase()}`;
  });
}

function sameHost(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.includes(':') && b.includes(':')) {
    const ca = canonicalIPv6(a);
    return ca !== undefined && ca === canonicalIPv6(b);
  }
  return false;
}

function paramValue(value: string | null | undefined): string | undefined {
  return value === undefined ? undefined : normalizeEscapes(value ?? '').toLowerCase();
}

function headerSet(headers: string | undefined): string[] {
  if (headers === undefined || headers === '') return [];
  return headers
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return `${normalizeEscapes(pair.slice(0, eq)).toLowerCase()}=${normalizeEscapes(pair.slice(eq + 1))}`;
    })
    .sort();
}

/** The uri-parameters that, present in one URI only, make two URIs differ (§19.1.4). */
const STRICT_PARAMS = ['user', 'ttl', 'method', 'maddr', 'transport'] as const;

/**
 * RFC 3261 §19.1.4 URI comparison: same scheme; userinfo case-sensitive after escape
 * normalisation; host case-insensitive (IPv6 by address, RFC 5118 §4.3); port only equal to
 * the same explicit port; user, ttl, method, maddr and transport must match when present in
 * either; other parameters only when present in both; headers must all be present in both.
 */
export function sipUriEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  if ((a.user === undefined) !== (b.user === undefined)) return false;
  if (normalizeEscapes(a.user ?? '') !== normalizeEscapes(b.user ?? '')) return false;
  if ((a.password === undefined) !== (b.password === undefined)) return false;
  if (normalizeEscapes(a.password ?? '') !== normalizeEscapes(b.password ?? '')) return false;
  if (!sameHost(a.host, b.host) || a.port !== b.port) return false;
  for (const name of STRICT_PARAMS) {
    if (paramValue(a.params.get(name)) !== paramValue(b.params.get(name))) return false;
  }
  for (const [name, value] of a.params) {
    if (!b.params.has(name)) continue;
    if (paramValue(value) !== paramValue(b.params.get(name))) return false;
  }
  const ha = headerSet(a.headers);
  const hb = headerSet(b.headers);
  return ha.length === hb.length && ha.every((h, i) => h === hb[i]);
}

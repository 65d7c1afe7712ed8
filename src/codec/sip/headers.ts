/**
 * On-demand parsers for the header values a proxy or UAS reads (RFC 3261 §20, §25.1). Each
 * takes one header value (or a message) and returns a Result; none throws.
 */
import { err, ok, type Result } from '../../lib/result.ts';
import { isToken, NO_PARAMS, parseHostPort, parseParams, type Params } from './grammar.ts';
import type { SipMessage } from './message.ts';
import { header, headerFields, headerValues, splitHeaderList } from './parse.ts';
import { parseUri, type AbsoluteUri, type SipUri, type TelUri } from './uri.ts';

export { parseHostPort, parseParams, type Params } from './grammar.ts';
export { splitHeaderList } from './parse.ts';

/** A malformed header value. */
export interface HeaderParseError {
  readonly code: 'RAMPART_ERR_SIP_PARSE';
  /** Canonical name of the header, e.g. 'via'. */
  readonly header: string;
  readonly reason: string;
}

function bad(headerName: string, reason: string): { ok: false; error: HeaderParseError } {
  return err({ code: 'RAMPART_ERR_SIP_PARSE', header: headerName, reason });
}

function isSpaceCode(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Trims SP and HTAB only (RFC 3261 LWS after unfolding), not every Unicode space. */
function trimLws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpaceCode(s.charCodeAt(a))) a++;
  while (b > a && isSpaceCode(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function isDigits(s: string, max: number): boolean {
  if (s.length === 0 || s.length > max) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Via (RFC 3261 §20.42)

/** One via-parm (RFC 3261 §20.42, §25.1). */
export interface Via {
  /** protocol-name "/" protocol-version, e.g. 'SIP/2.0'. */
  readonly protocol: string;
  /** Upper-case transport: 'UDP', 'TCP', 'TLS', 'SCTP', 'WS', 'WSS', or another token. */
  readonly transport: string;
  /** sent-by host, without brackets for IPv6 (RFC 5118). */
  readonly host: string;
  readonly port: number | undefined;
  /** All via-params, names lower-cased. */
  readonly params: Params;
  readonly branch: string | undefined;
  /** `received`, without brackets when an IPv6 reference was written (RFC 5118 §4.5). */
  readonly received: string | undefined;
  /** `true` when `rport` is present without a value (RFC 3581 §3), else the number. */
  readonly rport: number | true | undefined;
  readonly maddr: string | undefined;
  /** via-ttl = "ttl" EQUAL ttl (0-255). */
  readonly ttl: number | undefined;
}

const SIP_2_0 = 'SIP/2.0/';
/** Transports already written in upper case, as nearly every Via has them. */
const UPPER_TRANSPORTS: ReadonlySet<string> = new Set(['UDP', 'TCP', 'TLS', 'SCTP', 'WS', 'WSS']);

/** Parses one via-parm: `SIP/2.0/UDP host:port;branch=...`, LWS allowed around the slashes. */
export function parseViaValue(value: string): Result<Via, HeaderParseError> {
  const semi = value.indexOf(';');
  const head = semi < 0 ? value : value.slice(0, semi);
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport; SLASH = SWS "/" SWS.
  let name: string;
  let version: string;
  let rest: string;
  if (head.startsWith(SIP_2_0)) {
    // Nearly every Via: no split, and the protocol text is the constant below.
    name = 'SIP';
    version = '2.0';
    rest = trimLws(head.slice(SIP_2_0.length));
    if (rest.includes('/')) return bad('via', 'invalid sent-protocol');
  } else {
    const parts = head.split('/');
    if (parts.length !== 3) return bad('via', 'invalid sent-protocol');
    name = trimLws(parts[0] ?? '');
    version = trimLws(parts[1] ?? '');
    rest = trimLws(parts[2] ?? '');
  }
  let t = 0;
  while (t < rest.length && !isSpaceCode(rest.charCodeAt(t))) t++;
  const transport = rest.slice(0, t);
  const sentBy = trimLws(rest.slice(t));
  if (!isToken(name) || !isToken(version) || !isToken(transport)) {
    return bad('via', 'invalid sent-protocol');
  }
  // sent-protocol LWS sent-by: the sent-by holds no whitespace.
  if (sentBy.length === 0 || /[\s]/.test(sentBy)) return bad('via', 'invalid sent-by');
  const hostPort = parseHostPort(sentBy);
  if (!hostPort) return bad('via', 'invalid sent-by');
  const params = semi < 0 ? NO_PARAMS : parseParams(value.slice(semi));
  if (!params) return bad('via', 'invalid via-params');
  const rportRaw = params.get('rport');
  let rport: number | true | undefined;
  if (rportRaw === null) rport = true;
  else if (rportRaw !== undefined) {
    if (!isDigits(rportRaw, 5) || Number(rportRaw) > 65535) return bad('via', 'invalid rport');
    rport = Number(rportRaw);
  }
  const ttlRaw = params.get('ttl');
  let ttl: number | undefined;
  if (ttlRaw !== undefined) {
    // RFC 3261 §25.1 ttl = 1*3DIGIT ; 0 to 255.
    if (ttlRaw === null || !isDigits(ttlRaw, 3) || Number(ttlRaw) > 255)
      return bad('via', 'invalid ttl');
    ttl = Number(ttlRaw);
  }
  let received = params.get('received') ?? undefined;
  if (received?.startsWith('[') === true && received.endsWith(']')) {
    received = received.slice(1, -1);
  }
  return ok({
    protocol: name === 'SIP' && version === '2.0' ? 'SIP/2.0' : `${name}/${version}`,
    transport: UPPER_TRANSPORTS.has(transport) ? transport : transport.toUpperCase(),
    host: hostPort.host,
    port: hostPort.port,
    params,
    branch: params.get('branch') ?? undefined,
    received,
    rport,
    maddr: params.get('maddr') ?? undefined,
    ttl,
  });
}

/** Parses a Via header value, which may hold several comma-separated via-parms. */
export function parseVia(value: string): Result<Via[], HeaderParseError> {
  const out: Via[] = [];
  const parts = splitHeaderList(value);
  if (parts.length === 0) return bad('via', 'empty Via');
  for (const part of parts) {
    const via = parseViaValue(part);
    if (!via.ok) return via;
    out.push(via.value);
  }
  return ok(out);
}

/** Every Via of a message, top first, across all Via lines. */
export function parseVias(msg: SipMessage): Result<Via[], HeaderParseError> {
  const memo = msg.memo;
  if (memo?.vias !== undefined) return memo.vias as Result<Via[], HeaderParseError>;
  const result = parseViasUncached(msg);
  if (memo !== undefined) memo.vias = result;
  return result;
}

// A message is immutable once parsed, and its Vias are read by the transaction keys, the
// proxy checks and the response path: parse them once per message (kept in its memo).

function parseViasUncached(msg: SipMessage): Result<Via[], HeaderParseError> {
  const out: Via[] = [];
  for (const field of headerFields(msg, 'via')) {
    const vias = parseVia(field.value);
    if (!vias.ok) return vias;
    out.push(...vias.value);
  }
  return ok(out);
}

/** The topmost Via of a message (only the first value is parsed). */
export function topVia(msg: SipMessage): Result<Via, HeaderParseError> {
  const memo = msg.memo;
  if (memo?.topVia !== undefined) return memo.topVia as Result<Via, HeaderParseError>;
  // A request's Vias are all read anyway (the syntax check, the forwarded copy): parse them
  // once, the top one with them. A malformed lower Via must not hide a good top one (the
  // request is then still answered, with 400).
  const vias = msg.kind === 'request' ? parseVias(msg) : undefined;
  const top = vias?.ok === true ? vias.value[0] : undefined;
  let result: Result<Via, HeaderParseError>;
  if (top !== undefined) result = ok(top);
  else {
    const first = headerValues(msg, 'via')[0];
    result = first === undefined ? bad('via', 'missing Via') : parseViaValue(first);
  }
  if (memo !== undefined) memo.topVia = result;
  return result;
}

// ---------------------------------------------------------------------------------------------
// CSeq, Call-ID, Max-Forwards, Content-Length, Expires

/** CSeq (RFC 3261 §20.16). */
export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** Parses `1*DIGIT LWS Method`; the number must fit 32 bits (RFC 3261 §8.1.1.5). */
export function parseCSeq(value: string): Result<CSeq, HeaderParseError> {
  const text = trimLws(value);
  let i = 0;
  while (i < text.length && !isSpaceCode(text.charCodeAt(i))) i++;
  const digits = text.slice(0, i);
  const method = trimLws(text.slice(i));
  if (!isDigits(digits, 10)) return bad('cseq', 'invalid CSeq number');
  const seq = Number(digits);
  // RFC 3261 §8.1.1.5: "The sequence number value MUST be expressible as a 32-bit unsigned
  // integer" (RFC 4475 §3.1.2.4 scalar02, §3.1.2.5 scalarlg).
  if (seq > 0xffffffff) return bad('cseq', 'CSeq number out of range');
  if (i === text.length || !isToken(method)) return bad('cseq', 'invalid CSeq method');
  return ok({ seq, method });
}

/** The message's CSeq. */
export function cseqOf(msg: SipMessage): Result<CSeq, HeaderParseError> {
  const value = header(msg, 'cseq');
  if (value === undefined) return bad('cseq', 'missing CSeq');
  return parseCSeq(value);
}

/** The message's Call-ID (RFC 3261 §20.8), or undefined. */
export function callIdOf(msg: SipMessage): string | undefined {
  return header(msg, 'call-id');
}

/** Parses a non-negative decimal integer of at most `max`, for the header `name`. */
function parseBoundedInteger(
  name: string,
  value: string,
  max: number,
): Result<number, HeaderParseError> {
  const text = trimLws(value);
  if (!isDigits(text, 12)) return bad(name, `invalid ${name}`);
  const n = Number(text);
  if (n > max) return bad(name, `${name} out of range`);
  return ok(n);
}

/** Max-Forwards (RFC 3261 §20.22): an integer in the range 0-255. */
export function parseMaxForwards(value: string): Result<number, HeaderParseError> {
  return parseBoundedInteger('max-forwards', value, 255);
}

/** Content-Length (RFC 3261 §20.14): 1*DIGIT. */
export function parseContentLength(value: string): Result<number, HeaderParseError> {
  return parseBoundedInteger('content-length', value, 0xffffffff);
}

/** Expires (RFC 3261 §20.19) and the `expires` Contact parameter: delta-seconds < 2**32. */
export function parseExpires(value: string): Result<number, HeaderParseError> {
  return parseBoundedInteger('expires', value, 0xffffffff);
}

// ---------------------------------------------------------------------------------------------
// name-addr / addr-spec (From, To, Contact, Route, Record-Route, Reply-To, ...)

/** A name-addr or addr-spec with header parameters (RFC 3261 §20.10, §25.1). */
export interface NameAddr {
  /** The display name: unquoted and unescaped when it was a quoted-string. */
  readonly displayName: string | undefined;
  /** The URI text, without angle brackets. */
  readonly uri: string;
  /** Whether the URI was written in angle brackets (name-addr form). */
  readonly angle: boolean;
  /** Header parameters (after the URI), names lower-cased; includes `tag`. */
  readonly params: Params;
  /** The URI, parsed. */
  readonly parsedUri: SipUri | TelUri | AbsoluteUri;
}

/** Parses one name-addr / addr-spec value with its header parameters. */
export function parseNameAddr(value: string): Result<NameAddr, HeaderParseError> {
  const text = trimLws(value);
  let displayName: string | undefined;
  let i = 0;
  if (text.startsWith('"')) {
    // quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE (RFC 3261 §25.1).
    let k = 1;
    let name = '';
    while (k < text.length && text[k] !== '"') {
      if (text[k] === '\\' && k + 1 < text.length) k++;
      name += text[k] ?? '';
      k++;
    }
    // RFC 4475 §3.1.2.6 quotbal: an unterminated quoted string is malformed.
    if (k >= text.length) return bad('address', 'unterminated display name');
    displayName = name;
    i = k + 1;
  }
  const lt = text.indexOf('<', i);
  if (lt >= 0) {
    const between = trimLws(text.slice(i, lt));
    if (displayName !== undefined && between.length > 0)
      return bad('address', 'text after display name');
    if (displayName === undefined && between.length > 0) {
      // RFC 3261 §25.1: display-name = *(token LWS) / quoted-string — an unquoted display name
      // is tokens and whitespace only (RFC 4475 §3.1.2.15 baddn).
      if (!between.split(/[ \t]+/).every(isToken))
        return bad('address', 'display name is neither tokens nor a quoted string');
      displayName = between;
    }
    const gt = text.indexOf('>', lt);
    if (gt < 0) return bad('address', 'unterminated <URI>');
    // LAQUOT addr-spec RAQUOT: no whitespace inside the brackets (RFC 4475 §3.1.2.14 badaspec).
    const uri = text.slice(lt + 1, gt);
    const parsedUri = parseUri(uri);
    if (!parsedUri.ok) return bad('address', `invalid URI: ${parsedUri.error.reason}`);
    const params = parseParams(text.slice(gt + 1));
    if (!params) return bad('address', 'invalid parameters');
    return ok({ displayName, uri, angle: true, params, parsedUri: parsedUri.value });
  }
  if (displayName !== undefined) return bad('address', 'display name without <URI>');
  // RFC 3261 §20.10: in addr-spec form the URI may hold no comma, question mark or semicolon;
  // ';' starts header parameters (RFC 4475 §3.1.2.13 regbadct, §3.3.12 cparam01).
  const semi = text.indexOf(';');
  const uri = trimLws(semi < 0 ? text : text.slice(0, semi));
  if (/[,?\s]/.test(uri)) return bad('address', 'addr-spec with , ? or whitespace');
  const parsedUri = parseUri(uri);
  if (!parsedUri.ok) return bad('address', `invalid URI: ${parsedUri.error.reason}`);
  const params = semi < 0 ? NO_PARAMS : parseParams(text.slice(semi));
  if (!params) return bad('address', 'invalid parameters');
  return ok({ displayName: undefined, uri, angle: false, params, parsedUri: parsedUri.value });
}

/** A list of addresses (Contact, Route, Record-Route, ...), or Contact's `*`. */
export interface AddressList {
  /** Contact: `*` (RFC 3261 §10.2.2: remove all bindings); `addresses` is then empty. */
  readonly star: boolean;
  readonly addresses: readonly NameAddr[];
}

/**
 * Parses a comma-separated list of name-addr / addr-spec values, e.g. one Contact or Route
 * header value. `*` is accepted alone (a Contact wildcard).
 */
export function parseAddressList(value: string): Result<AddressList, HeaderParseError> {
  if (trimLws(value) === '*') return ok({ star: true, addresses: [] });
  const parts = splitHeaderList(value);
  if (parts.length === 0) return bad('address', 'empty address list');
  const addresses: NameAddr[] = [];
  for (const part of parts) {
    const parsed = parseNameAddr(part);
    if (!parsed.ok) return parsed;
    addresses.push(parsed.value);
  }
  return ok({ star: false, addresses });
}

/**
 * The first From or To header of a message, parsed once per message (kept in its memo: the
 * syntax checks, transaction matching and responses all read them); undefined when absent.
 */
export function parseFromTo(
  msg: SipMessage,
  name: 'from' | 'to',
): Result<NameAddr, HeaderParseError> | undefined {
  const memo = msg.memo;
  const cached = memo?.[name];
  if (cached !== undefined) return cached as Result<NameAddr, HeaderParseError>;
  const value = header(msg, name);
  if (value === undefined) return undefined;
  const parsed = parseNameAddr(value);
  if (memo !== undefined) memo[name] = parsed;
  return parsed;
}

function tagOf(msg: SipMessage, name: 'from' | 'to'): string | undefined {
  const parsed = parseFromTo(msg, name);
  if (parsed?.ok !== true) return undefined;
  return parsed.value.params.get('tag') ?? undefined;
}

/** The From tag, or undefined when absent or when From is malformed. */
export function fromTag(msg: SipMessage): string | undefined {
  return tagOf(msg, 'from');
}

/** The To tag, or undefined when absent or when To is malformed. */
export function toTag(msg: SipMessage): string | undefined {
  return tagOf(msg, 'to');
}

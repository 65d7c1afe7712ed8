/**
 * SIP message parsing (RFC 3261 §7, §25): indexes the start line and header lines of a
 * message; values stay as views of the input and are parsed further only on demand.
 */
import { err, ok, type Result } from '../../lib/result.ts';
import { TOKEN_CHARS } from './grammar.ts';
import {
  newMemo,
  type HeaderField,
  type SipMessage,
  type SipParseError,
  type SipRequest,
} from './message.ts';

export { isToken } from './grammar.ts';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/**
 * Compact forms (RFC 3261 §7.3.3, §20) and those registered since: o/u (RFC 6665), r (RFC
 * 3515), b (RFC 3892), x (RFC 4028), a/j/d (RFC 3841), y/n (RFC 4474).
 */
export const COMPACT_HEADER_NAMES: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  y: 'identity',
  n: 'identity-info',
};

/** The canonical lower-case long name of a header: compact forms expanded. */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return lower.length === 1 ? (COMPACT_HEADER_NAMES[lower] ?? lower) : lower;
}

/**
 * Header names seen in nearly every message, matched on the bytes so that parsing creates no
 * string for them and every field of one name shares one string (comparisons are then a
 * pointer check). Any other name is decoded and lower-cased as before.
 */
const COMMON_HEADER_NAMES: readonly string[] = [
  'via',
  'from',
  'to',
  'call-id',
  'cseq',
  'contact',
  'max-forwards',
  'content-length',
  'content-type',
  'record-route',
  'route',
  'subject',
  'user-agent',
  'server',
  'allow',
  'supported',
  'require',
  'proxy-require',
  'expires',
  'min-expires',
  'authorization',
  'proxy-authorization',
  'www-authenticate',
  'proxy-authenticate',
  'event',
  'allow-events',
  'accept',
  'date',
  'timestamp',
  'path',
  'p-asserted-identity',
  'p-preferred-identity',
  'privacy',
  'subscription-state',
  'session-expires',
  'min-se',
  'refer-to',
  'referred-by',
  'sip-etag',
  'sip-if-match',
  'content-disposition',
  'content-encoding',
  'retry-after',
  'unsupported',
  'warning',
  'organization',
];

/** A hash of a header name's lower-cased bytes (FNV-1a, 32 bits), computed while scanning. */
function nameHashStep(hash: number, byte: number): number {
  return Math.imul(hash ^ (byte | 0x20), 0x01000193);
}
const NAME_HASH_SEED = 0x811c9dc5 | 0;

/** Known names by the hash of their bytes (a collision keeps the first; the bytes are checked). */
const NAMES_BY_HASH: ReadonlyMap<number, string> = (() => {
  const table = new Map<number, string>();
  const names = [...COMMON_HEADER_NAMES, ...Object.keys(COMPACT_HEADER_NAMES)];
  for (const name of names) {
    let hash = NAME_HASH_SEED;
    for (let i = 0; i < name.length; i++) hash = nameHashStep(hash, name.charCodeAt(i));
    if (!table.has(hash)) table.set(hash, name);
  }
  return table;
})();

/**
 * The canonical name of the header name in `raw[start, end)` with byte hash `hash`, when it is
 * a compact form or one of {@link COMMON_HEADER_NAMES}; undefined otherwise. The bytes must
 * already be token characters: for those, `byte | 0x20` lower-cases a letter and leaves every
 * other token character that could match a name ('-', digits) unchanged.
 */
function internName(raw: Buffer, start: number, end: number, hash: number): string | undefined {
  const name = NAMES_BY_HASH.get(hash);
  const length = end - start;
  if (name === undefined || name.length !== length) return undefined;
  for (let i = 0; i < length; i++) {
    if (((raw[start + i] ?? 0) | 0x20) !== name.charCodeAt(i)) return undefined;
  }
  return length === 1 ? (COMPACT_HEADER_NAMES[name] ?? name) : name;
}

/**
 * The SIP methods Rampart knows (RFC 3261 and its extensions, plus SERVICE), matched on the bytes
 * when parsing (case-sensitive, RFC 3261 §7.1) and used wherever a bounded method set is needed.
 */
export const SIP_METHODS: readonly string[] = [
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'REGISTER',
  'MESSAGE',
  'SUBSCRIBE',
  'NOTIFY',
  'PUBLISH',
  'INFO',
  'UPDATE',
  'REFER',
  'PRACK',
  'SERVICE',
];

/** `raw[start, end)` as a string, shared with `known` when the bytes spell one of them. */
function bytesToString(raw: Buffer, start: number, end: number, known: readonly string[]): string {
  const length = end - start;
  for (const text of known) {
    if (text.length !== length) continue;
    let i = 0;
    while (i < length && raw[start + i] === text.charCodeAt(i)) i++;
    if (i === length) return text;
  }
  return raw.toString('latin1', start, end);
}

const SIP_2_0 = ['SIP/2.0'];

/**
 * Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1: "Multiple header field
 * rows with the same field-name MAY be present in a message if and only if the entire
 * field-value for that header field is defined as a comma-separated list"). Every other header
 * (WWW-Authenticate, Authorization, Date, unknown extensions, ...) is never split at commas.
 */
const LIST_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'accept-contact',
  'accept-encoding',
  'accept-language',
  'alert-info',
  'allow',
  'allow-events',
  'call-info',
  'contact',
  'content-encoding',
  'content-language',
  'error-info',
  'history-info',
  'in-reply-to',
  'p-asserted-identity',
  'p-associated-uri',
  'p-preferred-identity',
  'path',
  'proxy-require',
  'reason',
  'record-route',
  'reject-contact',
  'request-disposition',
  'require',
  'route',
  'security-client',
  'security-server',
  'security-verify',
  'service-route',
  'supported',
  'unsupported',
  'via',
  'warning',
]);

/** Whether header `name` (canonical) is a comma-separated list (RFC 3261 §7.3.1). */
export function isListHeader(name: string): boolean {
  return LIST_HEADERS.has(name);
}

/** Options of {@link parseSipMessage}. */
export interface ParseOptions {
  /**
   * The message arrived alone in a datagram: bytes past Content-Length are discarded and a
   * missing Content-Length means "the rest of the datagram" (RFC 3261 §18.3).
   */
  readonly datagram?: boolean;
}

function failure(
  reason: string,
  offset: number,
  status: number | undefined,
  request?: SipRequest,
): { ok: false; error: SipParseError } {
  return err({
    code: 'RAMPART_ERR_SIP_PARSE',
    reason,
    offset,
    status,
    ...(request === undefined ? {} : { request }),
  });
}

/** The index of the CR of the CRLF (or of a bare LF) ending the line at `from`, or -1. */
function lineEnd(raw: Buffer, from: number): number {
  const lf = raw.indexOf(LF, from);
  if (lf < 0) return -1;
  return lf > from && raw[lf - 1] === CR ? lf - 1 : lf;
}

function lineBreakLength(raw: Buffer, at: number): number {
  return raw[at] === CR ? 2 : 1;
}

function isLws(byte: number | undefined): boolean {
  return byte === SP || byte === HTAB;
}

/** `SIP/1*DIGIT.1*DIGIT` (RFC 3261 §25.1 SIP-Version; "SIP" is case-insensitive in ABNF). */
const SIP_VERSION = /^SIP\/(\d{1,3})\.(\d{1,3})$/i;

function isSipVersionStart(raw: Buffer, at: number): boolean {
  return (
    ((raw[at] ?? 0) | 0x20) === 0x73 &&
    ((raw[at + 1] ?? 0) | 0x20) === 0x69 &&
    ((raw[at + 2] ?? 0) | 0x20) === 0x70 &&
    raw[at + 3] === 0x2f
  );
}

/** Request-URI bytes: visible US-ASCII only (RFC 3261 §25.1 URIs; no LWS, RFC 4475 §3.1.2.8). */
function isUriBytes(raw: Buffer, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const b = raw[i] ?? 0;
    if (b <= 0x20 || b >= 0x7f) return false;
  }
  return true;
}

/** RFC 3261 §25.1 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ":". */
function hasScheme(uri: string): boolean {
  const first = uri.charCodeAt(0) | 0x20;
  if (first < 0x61 || first > 0x7a) return false;
  for (let i = 1; i < uri.length; i++) {
    const c = uri.charCodeAt(i);
    if (c === COLON) return i + 1 < uri.length;
    const lc = c | 0x20;
    if (!(
      (lc >= 0x61 && lc <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2b ||
      c === 0x2d ||
      c === 0x2e
    ))
      return false;
  }
  return false;
}

function isDigit(value: number): boolean {
  return value >= 0 && value <= 9;
}

function isDigitString(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

type StartLine =
  | {
      readonly kind: 'request';
      readonly method: string;
      readonly requestUri: string;
      readonly version: string;
      readonly versionAt: number;
    }
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly reason: string;
      readonly version: string;
    };

/**
 * Request-Line = Method SP Request-URI SP SIP-Version CRLF (RFC 3261 §7.1, §25.1): exactly
 * one SP between the elements and none at the end (RFC 4475 §3.1.2.9 lwsstart, §3.1.2.10
 * trws). Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF (§7.2).
 */
function parseStartLine(raw: Buffer, start: number, end: number): Result<StartLine, SipParseError> {
  if (isSipVersionStart(raw, start)) {
    const sp1 = raw.indexOf(SP, start);
    if (sp1 < 0 || sp1 >= end) return failure('invalid status line', start, undefined);
    const version = bytesToString(raw, start, sp1, SIP_2_0);
    if (version !== 'SIP/2.0' && !SIP_VERSION.test(version))
      return failure('invalid SIP-Version', start, undefined);
    // Status-Code = 3DIGIT (RFC 4475 §3.1.2.19 bigcode: anything longer is dropped).
    const codeEnd = sp1 + 4;
    const d1 = (raw[sp1 + 1] ?? 0) - 0x30;
    const d2 = (raw[sp1 + 2] ?? 0) - 0x30;
    const d3 = (raw[sp1 + 3] ?? 0) - 0x30;
    if (
      codeEnd > end ||
      !isDigit(d1) ||
      !isDigit(d2) ||
      !isDigit(d3) ||
      (codeEnd < end && raw[codeEnd] !== SP)
    ) {
      return failure('invalid Status-Code', sp1 + 1, undefined);
    }
    const status = d1 * 100 + d2 * 10 + d3;
    if (status < 100 || status > 699)
      return failure('Status-Code out of range', sp1 + 1, undefined);
    // Reason-Phrase is UTF-8 text (RFC 3261 §25.1; RFC 4475 §3.1.1.12 unreason). The SP before
    // an empty phrase is required (§3.1.1.13 noreason); a missing one is tolerated.
    const reason = codeEnd < end ? raw.toString('utf8', codeEnd + 1, end) : '';
    return ok({ kind: 'response', status, reason, version });
  }
  const sp1 = raw.indexOf(SP, start);
  if (sp1 < 0 || sp1 >= end) return failure('invalid Request-Line', start, 400);
  const sp2 = raw.indexOf(SP, sp1 + 1);
  if (sp2 < 0 || sp2 >= end) return failure('invalid Request-Line', start, 400);
  const sp3 = raw.indexOf(SP, sp2 + 1);
  if (sp3 >= 0 && sp3 < end) return failure('extra SP in Request-Line', sp3, 400);
  for (let i = start; i < sp1; i++) {
    if (TOKEN_CHARS[raw[i] ?? 0] !== 1) return failure('invalid Method', start, 400);
  }
  if (sp1 === start) return failure('invalid Method', start, 400);
  if (!isUriBytes(raw, sp1 + 1, sp2)) return failure('invalid Request-URI', sp1 + 1, 400);
  const requestUri = raw.toString('latin1', sp1 + 1, sp2);
  // RFC 4475 §3.1.2.7 ltgtruri: '<' cannot start a scheme, so <sip:...> is refused here.
  if (!hasScheme(requestUri)) return failure('invalid Request-URI', sp1 + 1, 400);
  const version = bytesToString(raw, sp2 + 1, end, SIP_2_0);
  if (version !== 'SIP/2.0' && !SIP_VERSION.test(version))
    return failure('invalid SIP-Version', sp2 + 1, 400);
  return ok({
    kind: 'request',
    method: bytesToString(raw, start, sp1, SIP_METHODS),
    requestUri,
    version,
    versionAt: sp2 + 1,
  });
}

/**
 * Parses one SIP message. Never throws: malformed input comes back as a {@link SipParseError}
 * saying where it failed and, for a recognisable request, which status to answer with (and
 * the request itself when the header section could be indexed).
 *
 * Header values are decoded as UTF-8 (RFC 3261 §25.1 TEXT-UTF8); folded lines are joined by
 * one SP and outer SP/HTAB trimmed (§7.3.1). Bare LF line ends are tolerated.
 */
export function parseSipMessage(
  raw: Buffer,
  options: ParseOptions = {},
): Result<SipMessage, SipParseError> {
  let start = 0;
  // RFC 3261 §7.5: implementations SHOULD ignore any CRLFs appearing before the start-line.
  while (start < raw.length && (raw[start] === CR || raw[start] === LF)) start++;
  const firstEnd = lineEnd(raw, start);
  if (firstEnd < 0) return failure('no end of start line', raw.length, undefined);
  const startLine = parseStartLine(raw, start, firstEnd);
  if (!startLine.ok) return startLine;
  const line = startLine.value;
  const requestStatus = line.kind === 'request' ? 400 : undefined;
  const headersStart = firstEnd + lineBreakLength(raw, firstEnd);

  const headers: HeaderField[] = [];
  let pos = headersStart;
  let bodyStart = -1;
  while (pos < raw.length) {
    const end = lineEnd(raw, pos);
    if (end < 0) return failure('header section not terminated', pos, requestStatus);
    if (end === pos) {
      bodyStart = end + lineBreakLength(raw, end);
      break;
    }
    if (isLws(raw[pos])) return failure('continuation line without a header', pos, requestStatus);
    // header-name HCOLON: HCOLON = *( SP / HTAB ) ":" SWS.
    const colon = raw.indexOf(COLON, pos);
    if (colon < 0 || colon >= end) return failure('header line without colon', pos, requestStatus);
    let nameEnd = colon;
    while (nameEnd > pos && isLws(raw[nameEnd - 1])) nameEnd--;
    if (nameEnd === pos) return failure('empty header name', pos, requestStatus);
    let nameHash = NAME_HASH_SEED;
    for (let i = pos; i < nameEnd; i++) {
      const byte = raw[i] ?? 0;
      // RFC 3261 §7.3.1 / §25.1: header-name = token.
      if (TOKEN_CHARS[byte] !== 1) return failure('invalid header name', pos, requestStatus);
      nameHash = nameHashStep(nameHash, byte);
    }
    let valueStart = colon + 1;
    while (valueStart < end && isLws(raw[valueStart])) valueStart++;
    let valueEnd = end;
    while (valueEnd > valueStart && isLws(raw[valueEnd - 1])) valueEnd--;
    let fieldEnd = end + lineBreakLength(raw, end);
    let value = raw.toString('utf8', valueStart, valueEnd);
    // §7.3.1: a line starting with SP or HTAB continues the field; the folding is one SP.
    while (fieldEnd < raw.length && isLws(raw[fieldEnd])) {
      const nextEnd = lineEnd(raw, fieldEnd);
      if (nextEnd < 0) return failure('header section not terminated', fieldEnd, requestStatus);
      let a = fieldEnd;
      let b = nextEnd;
      while (a < b && isLws(raw[a])) a++;
      while (b > a && isLws(raw[b - 1])) b--;
      if (b > a) {
        const part = raw.toString('utf8', a, b);
        value = value.length === 0 ? part : `${value} ${part}`;
      }
      fieldEnd = nextEnd + lineBreakLength(raw, nextEnd);
    }
    headers.push({
      name:
        internName(raw, pos, nameEnd, nameHash) ??
        canonicalHeaderName(raw.toString('latin1', pos, nameEnd)),
      value,
      start: pos,
      end: fieldEnd,
    });
    pos = fieldEnd;
  }
  if (bodyStart < 0) {
    // RFC 4475 §3.1.2.15 baddn ends without the empty line; a datagram holds one message.
    if (options.datagram !== true)
      return failure('no empty line after headers', raw.length, requestStatus);
    bodyStart = raw.length;
  }

  // Problems found from here on leave an indexed message: a request can still be answered.
  let late: { reason: string; offset: number; status: number } | undefined;
  if (line.kind === 'request') {
    const match = line.version === 'SIP/2.0' ? null : SIP_VERSION.exec(line.version);
    if (match !== null && (Number(match[1]) !== 2 || Number(match[2]) !== 0)) {
      // RFC 3261 §8.2.2 via §21.5.7; RFC 4475 §3.1.2.16 badvers → 505 Version Not Supported.
      late = { reason: 'unsupported SIP-Version', offset: line.versionAt, status: 505 };
    }
  }

  // Content-Length (RFC 3261 §20.14) = 1*DIGIT; several differing values are a framing error
  // (RFC 4475 §3.3.9 mcl01), a negative one is malformed (§3.1.2.3 ncl).
  let contentLength: number | undefined;
  for (const field of headers) {
    if (field.name !== 'content-length' || late !== undefined) continue;
    if (!isDigitString(field.value) || field.value.length > 10) {
      late = { reason: 'invalid Content-Length', offset: field.start, status: 400 };
      break;
    }
    const value = Number(field.value);
    if (contentLength !== undefined && contentLength !== value) {
      late = { reason: 'conflicting Content-Length values', offset: field.start, status: 400 };
      break;
    }
    contentLength = value;
  }
  const available = raw.length - bodyStart;
  let bodyEnd = raw.length;
  if (late === undefined && contentLength !== undefined) {
    if (contentLength > available) {
      // RFC 4475 §3.1.2.2 clerr: a datagram shorter than its Content-Length → 400.
      late = { reason: 'Content-Length larger than the body', offset: bodyStart, status: 400 };
    } else {
      // RFC 3261 §18.3: octets past Content-Length in a datagram are discarded (RFC 4475
      // §3.1.1.8 dblreq).
      bodyEnd = bodyStart + contentLength;
    }
  }
  const body = raw.subarray(bodyStart, bodyEnd);
  // The fields are written out rather than spread from a shared object: this runs per message.
  if (line.kind === 'request') {
    const request: SipRequest = {
      kind: 'request',
      method: line.method,
      requestUri: line.requestUri,
      version: line.version,
      raw,
      headers,
      headersStart,
      bodyStart,
      body,
      memo: newMemo(),
    };
    return late === undefined
      ? ok(request)
      : failure(late.reason, late.offset, late.status, request);
  }
  if (late !== undefined) return failure(late.reason, late.offset, undefined);
  return ok({
    kind: 'response',
    status: line.status,
    reason: line.reason,
    version: line.version,
    raw,
    headers,
    headersStart,
    bodyStart,
    body,
    memo: newMemo(),
  });
}

/** The value of the first `name` header line (any form: 'v', 'Via', 'via'), or undefined. */
export function header(msg: SipMessage, name: string): string | undefined {
  const wanted = canonicalHeaderName(name);
  for (const field of msg.headers) if (field.name === wanted) return field.value;
  return undefined;
}

/** Every header line named `name` (any form), in order. */
export function headerFields(msg: SipMessage, name: string): HeaderField[] {
  const wanted = canonicalHeaderName(name);
  return msg.headers.filter((field) => field.name === wanted);
}

/**
 * Splits a header value at top-level commas (RFC 3261 §7.3.1), honouring quoted strings with
 * their escapes and `<...>` URIs. Empty elements are dropped.
 */
export function splitHeaderList(value: string): string[] {
  const out: string[] = [];
  let inAngle = false;
  let inQuotes = false;
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    if (inQuotes) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inQuotes = false;
    } else if (inAngle) {
      if (ch === 0x3e) inAngle = false;
    } else if (ch === 0x22) inQuotes = true;
    else if (ch === 0x3c) inAngle = true;
    else if (ch === 0x2c) {
      const part = value.slice(from, i).trim();
      if (part.length > 0) out.push(part);
      from = i + 1;
    }
  }
  const last = value.slice(from).trim();
  if (last.length > 0) out.push(last);
  return out;
}

/**
 * Every value of header `name`: all lines in order, list headers (see {@link isListHeader})
 * split at top-level commas; any other header gives one value per line.
 */
export function headerValues(msg: SipMessage, name: string): string[] {
  const wanted = canonicalHeaderName(name);
  const list = LIST_HEADERS.has(wanted);
  const out: string[] = [];
  for (const field of msg.headers) {
    if (field.name !== wanted) continue;
    if (list) out.push(...splitHeaderList(field.value));
    else out.push(field.value);
  }
  return out;
}

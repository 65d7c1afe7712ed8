/**
 * SIP message parsing (RFC 3261 §7, §25): indexes the start line and header lines of a
 * message; values stay as views of the input and are parsed further only on demand.
 */
import { err, ok, type Result } from '../../lib/result.ts';
import type { HeaderField, SipMessage, SipParseError, SipRequest } from './message.ts';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;

/** RFC 3261 §7.3.3 compact forms, plus those registered since (RFC 3265, 3515, 3892, 4028, 3841). */
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
  return COMPACT_HEADER_NAMES[lower] ?? lower;
}

/** Headers whose values may not be split at commas (RFC 3261 §7.3.1: they are not lists). */
const NON_LIST_HEADERS = new Set([
  'www-authenticate',
  'authorization',
  'proxy-authenticate',
  'proxy-authorization',
  'authentication-info',
  'date',
  'call-id',
  'cseq',
  'content-length',
  'content-type',
  'max-forwards',
  'subject',
  'user-agent',
  'server',
  'organization',
  'timestamp',
  'retry-after',
  'expires',
  'min-expires',
  'from',
  'to',
  'reply-to',
  'identity',
  'identity-info',
]);

// RFC 3261 §25.1 token characters.
const TOKEN_CHARS = new Uint8Array(256);
for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~") {
  TOKEN_CHARS[ch.charCodeAt(0)] = 1;
}

/** Whether `s` is a non-empty RFC 3261 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (TOKEN_CHARS[s.charCodeAt(i)] !== 1) return false;
  return true;
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

/** Finds the end of the line that starts at `from`: the index of its CR (CRLF) or LF. */
function lineEnd(raw: Buffer, from: number, limit: number): number {
  const lf = raw.indexOf(LF, from);
  if (lf < 0 || lf >= limit) return -1;
  return lf > from && raw[lf - 1] === CR ? lf - 1 : lf;
}

function lineBreakLength(raw: Buffer, at: number): number {
  return raw[at] === CR ? 2 : 1;
}

const SIP_VERSION = /^SIP\/(\d+)\.(\d+)$/i;

/**
 * Parses one SIP message. Never throws: malformed input comes back as a {@link SipParseError}
 * saying where it failed and, for a recognisable request, which status to answer with.
 */
export function parseSipMessage(
  raw: Buffer,
  options: ParseOptions = {},
): Result<SipMessage, SipParseError> {
  let start = 0;
  // RFC 3261 §7.5: implementations SHOULD ignore CRLFs preceding the start line.
  while (start < raw.length && (raw[start] === CR || raw[start] === LF)) start++;
  const firstEnd = lineEnd(raw, start, raw.length);
  if (firstEnd < 0) return failure('no end of start line', raw.length, undefined);
  const startLine = raw.toString('latin1', start, firstEnd);
  const headersStart = firstEnd + lineBreakLength(raw, firstEnd);

  // Start line: Request-Line = Method SP Request-URI SP SIP-Version (§7.1), single SPs.
  // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2).
  let kind: 'request' | 'response';
  let method = '';
  let requestUri = '';
  let version: string;
  let status = 0;
  let reason = '';
  let late: { reason: string; offset: number; status: number } | undefined;
  if (startLine.startsWith('SIP/') || /^sip\//i.test(startLine)) {
    kind = 'response';
    const sp1 = startLine.indexOf(' ');
    if (sp1 < 0) return failure('invalid status line', start, undefined);
    version = startLine.slice(0, sp1);
    const sp2 = startLine.indexOf(' ', sp1 + 1);
    const code = sp2 < 0 ? startLine.slice(sp1 + 1) : startLine.slice(sp1 + 1, sp2);
    if (!/^\d{3}$/.test(code)) return failure('invalid status code', start + sp1 + 1, undefined);
    status = Number(code);
    if (status < 100 || status > 699)
      return failure('status code out of range', start + sp1 + 1, undefined);
    reason = sp2 < 0 ? '' : startLine.slice(sp2 + 1);
    if (!SIP_VERSION.test(version)) return failure('invalid SIP-Version', start, undefined);
  } else {
    kind = 'request';
    const parts = startLine.split(' ');
    if (parts.length !== 3) return failure('invalid request line', start, 400);
    method = parts[0] ?? '';
    requestUri = parts[1] ?? '';
    version = parts[2] ?? '';
    if (!isToken(method)) return failure('invalid method', start, 400);
    if (requestUri.length === 0 || !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(requestUri)) {
      return failure('invalid Request-URI', start + method.length + 1, 400);
    }
    const match = SIP_VERSION.exec(version);
    if (!match) return failure('invalid SIP-Version', firstEnd - version.length, 400);
    // RFC 3261 §8.2.2 / RFC 4475 §3.1.2.16: another version → 505 Version Not Supported,
    // reported once the headers are indexed so that the request can be answered.
    if (match[1] !== '2' || match[2] !== '0') {
      late = { reason: 'unsupported SIP-Version', offset: firstEnd - version.length, status: 505 };
    }
  }
  const requestStatus = kind === 'request' ? 400 : undefined;

  // Header lines up to the empty line; continuation lines start with SP or HTAB (§7.3.1).
  const headers: HeaderField[] = [];
  let pos = headersStart;
  let bodyStart = -1;
  while (pos < raw.length) {
    const end = lineEnd(raw, pos, raw.length);
    if (end < 0) return failure('header section not terminated', pos, requestStatus);
    if (end === pos) {
      bodyStart = end + lineBreakLength(raw, end);
      break;
    }
    let fieldEnd = end + lineBreakLength(raw, end);
    let valueParts = raw.toString('utf8', pos, end);
    // Fold continuation lines into this field.
    while (fieldEnd < raw.length && (raw[fieldEnd] === SP || raw[fieldEnd] === HTAB)) {
      const nextEnd = lineEnd(raw, fieldEnd, raw.length);
      if (nextEnd < 0) return failure('header section not terminated', fieldEnd, requestStatus);
      valueParts += ' ' + raw.toString('utf8', fieldEnd, nextEnd).trim();
      fieldEnd = nextEnd + lineBreakLength(raw, nextEnd);
    }
    const colon = valueParts.indexOf(':');
    if (colon <= 0) return failure('header line without colon', pos, requestStatus);
    const rawName = valueParts.slice(0, colon).trimEnd();
    if (!isToken(rawName)) return failure('invalid header name', pos, requestStatus);
    headers.push({
      name: canonicalHeaderName(rawName),
      value: valueParts.slice(colon + 1).trim(),
      start: pos,
      end: fieldEnd,
    });
    pos = fieldEnd;
  }
  if (bodyStart < 0) {
    if (options.datagram !== true)
      return failure('no empty line after headers', raw.length, requestStatus);
    bodyStart = raw.length;
  }

  // Body length from Content-Length (§20.14); several differing values are an error.
  let contentLength: number | undefined;
  for (const field of headers) {
    if (field.name !== 'content-length') continue;
    if (!/^\d{1,10}$/.test(field.value))
      return failure('invalid Content-Length', field.start, requestStatus);
    const value = Number(field.value);
    if (contentLength !== undefined && contentLength !== value) {
      return failure('conflicting Content-Length', field.start, requestStatus);
    }
    contentLength = value;
  }
  const available = raw.length - bodyStart;
  let bodyEnd: number;
  if (contentLength === undefined || late !== undefined) {
    bodyEnd = raw.length;
  } else if (contentLength > available) {
    // RFC 3261 §18.3: a datagram shorter than Content-Length is malformed (RFC 4475 §3.1.2.2 clerr).
    late = {
      reason: 'Content-Length larger than the message body',
      offset: bodyStart,
      status: 400,
    };
    bodyEnd = raw.length;
  } else {
    // RFC 3261 §18.3: bytes past Content-Length in a datagram are discarded.
    bodyEnd = bodyStart + contentLength;
  }
  const body = raw.subarray(bodyStart, bodyEnd);
  const common = { raw, headers, headersStart, bodyStart, body };
  if (kind === 'request') {
    const request: SipRequest = { kind, method, requestUri, version, ...common };
    return late === undefined
      ? ok(request)
      : failure(late.reason, late.offset, late.status, request);
  }
  if (late !== undefined) return failure(late.reason, late.offset, undefined);
  return ok({ kind, status, reason, version, ...common });
}

/** The value of the first `name` header line (any form), or undefined. */
export function header(msg: SipMessage, name: string): string | undefined {
  const wanted = canonicalHeaderName(name);
  for (const field of msg.headers) if (field.name === wanted) return field.value;
  return undefined;
}

/** Every header line named `name`, in order. */
export function headerFields(msg: SipMessage, name: string): HeaderField[] {
  const wanted = canonicalHeaderName(name);
  return msg.headers.filter((field) => field.name === wanted);
}

/**
 * Splits a header value at top-level commas (RFC 3261 §7.3.1), honouring quoted strings,
 * escapes and `<...>` URIs.
 */
export function splitHeaderList(value: string): string[] {
  const out: string[] = [];
  let depthAngle = 0;
  let inQuotes = false;
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (inQuotes) {
      if (ch === '\\') i++;
      else if (ch === '"') inQuotes = false;
    } else if (ch === '"') inQuotes = true;
    else if (ch === '<') depthAngle++;
    else if (ch === '>') depthAngle = Math.max(0, depthAngle - 1);
    else if (ch === ',' && depthAngle === 0) {
      const part = value.slice(from, i).trim();
      if (part.length > 0) out.push(part);
      from = i + 1;
    }
  }
  const last = value.slice(from).trim();
  if (last.length > 0) out.push(last);
  return out;
}

/** Every value of header `name`: all lines, list headers split at commas. */
export function headerValues(msg: SipMessage, name: string): string[] {
  const wanted = canonicalHeaderName(name);
  const out: string[] = [];
  for (const field of msg.headers) {
    if (field.name !== wanted) continue;
    if (NON_LIST_HEADERS.has(wanted)) out.push(field.value);
    else out.push(...splitHeaderList(field.value));
  }
  return out;
}

/**
 * On-demand parsers for the header values a proxy reads (RFC 3261 §20, §25.1). Each takes
 * one header value (or a message) and returns a Result; none throws.
 */
import { err, ok, type Result } from '../../lib/result.ts';
import type { SipMessage } from './message.ts';
import { header, headerValues, isToken } from './parse.ts';

/** A malformed header value. */
export interface HeaderParseError {
  readonly code: 'RAMPART_ERR_SIP_PARSE';
  readonly header: string;
  readonly reason: string;
}

function bad(headerName: string, reason: string): { ok: false; error: HeaderParseError } {
  return err({ code: 'RAMPART_ERR_SIP_PARSE', header: headerName, reason });
}

/** Generic `;name[=value]` parameters; names compared case-insensitively, kept lower-case. */
export type Params = ReadonlyMap<string, string | null>;

/**
 * Parses `;a=b;c;d="q"` (leading `;` optional) into a map. Quoted values keep their quotes
 * stripped; returns undefined on a parameter that is not a token.
 */
export function parseParams(text: string): Map<string, string | null> | undefined {
  const params = new Map<string, string | null>();
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ';' || text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n) break;
    let j = i;
    while (j < n && text[j] !== '=' && text[j] !== ';') j++;
    const name = text.slice(i, j).trim().toLowerCase();
    if (!isToken(name)) return undefined;
    if (j < n && text[j] === '=') {
      j++;
      while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
      if (text[j] === '"') {
        let k = j + 1;
        let value = '';
        while (k < n && text[k] !== '"') {
          if (text[k] === '\\' && k + 1 < n) k++;
          value += text[k] ?? '';
          k++;
        }
        if (k >= n) return undefined;
        params.set(name, value);
        i = k + 1;
      } else {
        let k = j;
        while (k < n && text[k] !== ';') k++;
        params.set(name, text.slice(j, k).trim());
        i = k;
      }
    } else {
      params.set(name, null);
      i = j;
    }
  }
  return params;
}

/** One Via value (RFC 3261 §20.42). */
export interface Via {
  /** e.g. 'SIP/2.0'. */
  readonly protocol: string;
  /** Upper-case transport: 'UDP', 'TCP', 'TLS', 'WS', 'WSS', 'SCTP'. */
  readonly transport: string;
  /** sent-by host, without brackets for IPv6. */
  readonly host: string;
  readonly port: number | undefined;
  readonly params: Params;
  readonly branch: string | undefined;
  readonly received: string | undefined;
  /** `true` when `rport` is present without a value (RFC 3581 request), else the number. */
  readonly rport: number | true | undefined;
  readonly maddr: string | undefined;
}

/** Splits `host[:port]`, `[v6]:port`; returns undefined when malformed. */
export function parseHostPort(
  text: string,
): { host: string; port: number | undefined } | undefined {
  const t = text.trim();
  let host: string;
  let rest: string;
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close < 0) return undefined;
    host = t.slice(1, close);
    if (!/^[0-9A-Fa-f:.]+$/.test(host)) return undefined;
    rest = t.slice(close + 1);
  } else {
    const colon = t.indexOf(':');
    host = colon < 0 ? t : t.slice(0, colon);
    rest = colon < 0 ? '' : t.slice(colon);
    if (!/^[A-Za-z0-9.-]+$/.test(host)) return undefined;
  }
  if (rest === '') return { host, port: undefined };
  if (!/^:\d{1,5}$/.test(rest)) return undefined;
  const port = Number(rest.slice(1));
  if (port > 65535) return undefined;
  return { host, port };
}

/** Parses one Via value: `SIP/2.0/UDP host:port;branch=...`. */
export function parseViaValue(value: string): Result<Via, HeaderParseError> {
  const semi = value.indexOf(';');
  const head = semi < 0 ? value : value.slice(0, semi);
  const match =
    /^\s*([A-Za-z0-9.!%*_+`'~-]+)\s*\/\s*([0-9.]+)\s*\/\s*([A-Za-z0-9.!%*_+`'~-]+)\s+(\S+)\s*$/.exec(
      head,
    );
  if (!match) return bad('via', 'invalid sent-protocol or sent-by');
  const hostPort = parseHostPort(match[4] ?? '');
  if (!hostPort) return bad('via', 'invalid sent-by');
  const params = semi < 0 ? new Map<string, string | null>() : parseParams(value.slice(semi));
  if (!params) return bad('via', 'invalid via-params');
  const rportRaw = params.get('rport');
  let rport: number | true | undefined;
  if (rportRaw === null) rport = true;
  else if (rportRaw !== undefined) {
    if (!/^\d{1,5}$/.test(rportRaw)) return bad('via', 'invalid rport');
    rport = Number(rportRaw);
  }
  const str = (name: string): string | undefined => params.get(name) ?? undefined;
  return ok({
    protocol: `${match[1] ?? ''}/${match[2] ?? ''}`,
    transport: (match[3] ?? '').toUpperCase(),
    host: hostPort.host,
    port: hostPort.port,
    params,
    branch: str('branch'),
    received: str('received'),
    rport,
    maddr: str('maddr'),
  });
}

/** Every Via of a message, top first. */
export function parseVias(msg: SipMessage): Result<Via[], HeaderParseError> {
  const out: Via[] = [];
  for (const value of headerValues(msg, 'via')) {
    const via = parseViaValue(value);
    if (!via.ok) return via;
    out.push(via.value);
  }
  return ok(out);
}

/** The topmost Via of a message. */
export function topVia(msg: SipMessage): Result<Via, HeaderParseError> {
  const first = headerValues(msg, 'via')[0];
  if (first === undefined) return bad('via', 'missing Via');
  return parseViaValue(first);
}

/** CSeq (RFC 3261 §20.16). */
export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** Parses a CSeq value: a 32-bit sequence number and a method token. */
export function parseCSeq(value: string): Result<CSeq, HeaderParseError> {
  const match = /^\s*(\d{1,10})\s+(\S+)\s*$/.exec(value);
  if (!match) return bad('cseq', 'invalid CSeq');
  const seq = Number(match[1]);
  // RFC 3261 §8.1.1.5: the sequence number MUST be expressible as a 32-bit unsigned integer.
  if (seq > 0xffffffff) return bad('cseq', 'CSeq number out of range');
  const method = match[2] ?? '';
  if (!isToken(method)) return bad('cseq', 'invalid CSeq method');
  return ok({ seq, method });
}

/** The message's CSeq. */
export function cseqOf(msg: SipMessage): Result<CSeq, HeaderParseError> {
  const value = header(msg, 'cseq');
  if (value === undefined) return bad('cseq', 'missing CSeq');
  return parseCSeq(value);
}

/** The message's Call-ID, or undefined. */
export function callIdOf(msg: SipMessage): string | undefined {
  return header(msg, 'call-id');
}

/** A name-addr or addr-spec with header parameters (From, To, Contact, Route, Record-Route). */
export interface NameAddr {
  readonly displayName: string | undefined;
  /** The URI text, without angle brackets. */
  readonly uri: string;
  /** Whether the URI was written in angle brackets (name-addr form). */
  readonly angle: boolean;
  readonly params: Params;
}

/** Parses one name-addr / addr-spec value (RFC 3261 §20.10, §25.1). */
export function parseNameAddr(value: string): Result<NameAddr, HeaderParseError> {
  const text = value.trim();
  let displayName: string | undefined;
  let i = 0;
  if (text.startsWith('"')) {
    let k = 1;
    let name = '';
    while (k < text.length && text[k] !== '"') {
      if (text[k] === '\\' && k + 1 < text.length) k++;
      name += text[k] ?? '';
      k++;
    }
    if (k >= text.length) return bad('address', 'unterminated display name');
    displayName = name;
    i = k + 1;
  }
  const lt = text.indexOf('<', i);
  if (lt >= 0) {
    const between = text.slice(i, lt).trim();
    // RFC 3261 §25.1: display-name = *(token LWS) / quoted-string — an unquoted display name
    // is tokens and whitespace only (RFC 4475 §3.1.2.15 baddn).
    if (
      displayName === undefined &&
      between.length > 0 &&
      !between.split(/[ \t]+/).every(isToken)
    ) {
      return bad('address', 'display name is neither tokens nor a quoted string');
    }
    if (displayName === undefined && between.length > 0) displayName = between;
    else if (displayName !== undefined && between.length > 0)
      return bad('address', 'text after display name');
    const gt = text.indexOf('>', lt);
    if (gt < 0) return bad('address', 'unterminated <URI>');
    // LAQUOT addr-spec RAQUOT: no whitespace inside the brackets (RFC 4475 §3.1.2.14 badaspec).
    const uri = text.slice(lt + 1, gt);
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(uri)) return bad('address', 'invalid URI');
    const params = parseParams(text.slice(gt + 1));
    if (!params) return bad('address', 'invalid parameters');
    return ok({ displayName, uri, angle: true, params });
  }
  if (displayName !== undefined) return bad('address', 'display name without <URI>');
  // addr-spec: URI parameters would be ambiguous, so ';' starts header parameters (§20.10).
  const semi = text.indexOf(';');
  const uri = (semi < 0 ? text : text.slice(0, semi)).trimEnd();
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:[^\s,?]+$/.test(uri) && uri !== '*')
    return bad('address', 'invalid URI');
  const params = semi < 0 ? new Map<string, string | null>() : parseParams(text.slice(semi));
  if (!params) return bad('address', 'invalid parameters');
  return ok({ displayName: undefined, uri, angle: false, params });
}

function tagOf(msg: SipMessage, name: 'from' | 'to'): string | undefined {
  const value = header(msg, name);
  if (value === undefined) return undefined;
  const parsed = parseNameAddr(value);
  if (!parsed.ok) return undefined;
  return parsed.value.params.get('tag') ?? undefined;
}

/** The From tag, or undefined. */
export function fromTag(msg: SipMessage): string | undefined {
  return tagOf(msg, 'from');
}

/** The To tag, or undefined. */
export function toTag(msg: SipMessage): string | undefined {
  return tagOf(msg, 'to');
}

/** Max-Forwards (RFC 3261 §20.22): 0-255. */
export function parseMaxForwards(value: string): Result<number, HeaderParseError> {
  if (!/^\s*\d{1,10}\s*$/.test(value)) return bad('max-forwards', 'invalid Max-Forwards');
  const n = Number(value);
  if (n > 255) return bad('max-forwards', 'Max-Forwards out of range');
  return ok(n);
}

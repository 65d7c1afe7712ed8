import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import { err, ok, type Result } from '../../lib/result.ts';

/** Why a WWW-Authenticate / Authorization value was refused. Stable literals. */
export type DigestParseReason =
  | 'too-long'
  | 'expected-scheme'
  | 'not-digest'
  | 'expected-parameter'
  | 'expected-equals'
  | 'expected-value'
  | 'expected-comma'
  | 'unterminated-quoted-string'
  | 'invalid-character'
  | 'duplicate-parameter'
  | 'too-many-parameters'
  | 'missing-parameter'
  | 'invalid-parameter'
  | 'unsupported-algorithm';

/** A malformed or unusable authentication header value, and where it failed. */
export interface DigestParseError {
  readonly code: typeof ERROR_CODES.SIP_PARSE;
  readonly reason: DigestParseReason;
  /** Offset in the input (UTF-16 code units) where parsing stopped. */
  readonly offset: number;
  /** The parameter concerned, when there is one. */
  readonly parameter?: string;
}

/** One auth-param (RFC 7235 §2.1, RFC 3261 §25.1), with its value unescaped. */
export interface AuthParam {
  /** Parameter name, lower-cased (names are case-insensitive, RFC 7235 §2.1). */
  readonly name: string;
  /** Value with quoted-pairs resolved. */
  readonly value: string;
  /** Whether the value was a quoted-string on the wire. */
  readonly quoted: boolean;
}

/** A parsed `scheme param=value, ...` header value. */
export interface AuthHeaderValue {
  /** The auth-scheme as written (compare case-insensitively). */
  readonly scheme: string;
  readonly params: readonly AuthParam[];
}

/** Longest header value parsed; longer input is refused before any work. */
export const MAX_AUTH_HEADER_LENGTH = 8192;
/** Most parameters accepted in one challenge or credentials. */
export const MAX_AUTH_PARAMS = 64;

/** Builds a parse error value. */
export function parseError(
  reason: DigestParseReason,
  offset: number,
  parameter?: string,
): DigestParseError {
  return parameter === undefined
    ? { code: ERROR_CODES.SIP_PARSE, reason, offset }
    : { code: ERROR_CODES.SIP_PARSE, reason, offset, parameter };
}

// RFC 7230 §3.2.6 tchar; RFC 3261 §25.1 token is a subset of it.
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;

/** Whether `s` is a non-empty token (RFC 7230 §3.2.6). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (const ch of s) if (!TCHAR.test(ch)) return false;
  return true;
}

function isTchar(ch: string | undefined): boolean {
  return ch !== undefined && TCHAR.test(ch);
}

/** Skips SP / HTAB and obsolete line folding (CRLF followed by SP or HTAB). */
function skipWhitespace(s: string, start: number): number {
  let i = start;
  for (;;) {
    const ch = s[i];
    if (ch === ' ' || ch === '\t') {
      i++;
    } else if (ch === '\r' && s[i + 1] === '\n' && (s[i + 2] === ' ' || s[i + 2] === '\t')) {
      i += 3;
    } else {
      return i;
    }
  }
}

function readToken(s: string, start: number): number {
  let i = start;
  while (isTchar(s[i])) i++;
  return i;
}

/**
 * Reads a quoted-string starting at the opening DQUOTE (RFC 3261 §25.1, RFC 7230 §3.2.6).
 * qdtext excludes DQUOTE, backslash and control characters other than HTAB; a
 * quoted-pair escapes any character except CR and LF.
 */
function readQuoted(
  s: string,
  start: number,
): Result<{ value: string; end: number }, DigestParseError> {
  // The value is built from runs of plain qdtext taken as slices (most quoted-strings are
  // one run: no escape, no folding), never a character at a time.
  let value = '';
  let runStart = start + 1;
  let i = runStart;
  for (;;) {
    const code = s.charCodeAt(i);
    if (Number.isNaN(code)) return err(parseError('unterminated-quoted-string', start));
    if (code === 0x22) {
      value += s.slice(runStart, i);
      return ok({ value, end: i + 1 });
    }
    if (code === 0x5c) {
      if (i + 1 >= s.length) return err(parseError('unterminated-quoted-string', start));
      const next = s.charCodeAt(i + 1);
      if (next === 0x0d || next === 0x0a) return err(parseError('invalid-character', i + 1));
      value += s.slice(runStart, i) + s.charAt(i + 1);
      i += 2;
      runStart = i;
      continue;
    }
    if (code === 0x0d && s[i + 1] === '\n' && (s[i + 2] === ' ' || s[i + 2] === '\t')) {
      value += s.slice(runStart, i) + ' ';
      i += 3;
      runStart = i;
      continue;
    }
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) {
      return err(parseError('invalid-character', i));
    }
    i++;
  }
}

/**
 * Parses `auth-scheme 1*SP #auth-param` (RFC 7235 §2.1; RFC 3261 §25.1 `challenge` and
 * `credentials`). Exactly one challenge or credentials per value; token68 forms are
 * refused. Never throws.
 */
export function parseAuthHeader(input: string): Result<AuthHeaderValue, DigestParseError> {
  if (input.length > MAX_AUTH_HEADER_LENGTH) return err(parseError('too-long', 0));
  let i = skipWhitespace(input, 0);
  const schemeEnd = readToken(input, i);
  if (schemeEnd === i) return err(parseError('expected-scheme', i));
  const scheme = input.slice(i, schemeEnd);
  i = schemeEnd;
  const params: AuthParam[] = [];
  const seen = new Set<string>();
  const afterScheme = skipWhitespace(input, i);
  if (afterScheme === i && i < input.length) return err(parseError('invalid-character', i));
  i = afterScheme;
  while (i < input.length) {
    // RFC 7230 §7: a recipient MUST accept and ignore empty list elements.
    if (input[i] === ',') {
      i = skipWhitespace(input, i + 1);
      continue;
    }
    const nameStart = i;
    const nameEnd = readToken(input, i);
    if (nameEnd === nameStart) return err(parseError('expected-parameter', i));
    const name = input.slice(nameStart, nameEnd).toLowerCase();
    i = skipWhitespace(input, nameEnd);
    if (input[i] !== '=') return err(parseError('expected-equals', i, name));
    i = skipWhitespace(input, i + 1);
    let value: string;
    let quoted: boolean;
    if (input[i] === '"') {
      const q = readQuoted(input, i);
      if (!q.ok) return err({ ...q.error, parameter: name });
      value = q.value.value;
      quoted = true;
      i = q.value.end;
    } else {
      const valueEnd = readToken(input, i);
      if (valueEnd === i) return err(parseError('expected-value', i, name));
      value = input.slice(i, valueEnd);
      quoted = false;
      i = valueEnd;
    }
    // RFC 7235 §2.1: "Each parameter name MUST only occur once per challenge."
    if (seen.has(name)) return err(parseError('duplicate-parameter', nameStart, name));
    seen.add(name);
    if (params.length === MAX_AUTH_PARAMS) return err(parseError('too-many-parameters', nameStart));
    params.push({ name, value, quoted });
    i = skipWhitespace(input, i);
    if (i < input.length) {
      if (input[i] !== ',') return err(parseError('expected-comma', i));
      i = skipWhitespace(input, i + 1);
    }
  }
  return ok({ scheme, params });
}

/**
 * Serialises a quoted-string, escaping DQUOTE and backslash (RFC 3261 §25.1 quoted-pair).
 * Throws on CR, LF or NUL: a value that would split the header is a programmer error.
 */
export function quoteString(value: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new RampartError(
      ERROR_CODES.INVALID_ARGUMENT,
      'auth-param value must not contain CR, LF or NUL',
    );
  }
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

/** Serialises a token value; throws if it is not a token (programmer error). */
export function tokenValue(value: string): string {
  if (!isToken(value)) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, `not a token: ${JSON.stringify(value)}`);
  }
  return value;
}

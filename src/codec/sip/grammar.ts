/**
 * RFC 3261 §25.1 lexical building blocks shared by the message, header and URI parsers:
 * character classes, `host[:port]` (with RFC 5118 IPv6 references) and `;name=value`
 * parameter lists. Pure functions on strings; none throws.
 */

function charTable(chars: string): Uint8Array {
  const table = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
}

const ALPHANUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"). */
export const TOKEN_CHARS: Uint8Array = charTable(ALPHANUM + "-.!%*_+`'~");

/**
 * RFC 3261 §25.1 paramchar = param-unreserved / unreserved / escaped, with
 * param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$" and
 * unreserved = alphanum / "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"; plus "%" for escapes.
 */
const URI_PARAM_CHARS = charTable(ALPHANUM + "[]/:&+$-_.!~*'()%");

/** gen-value = token / host / quoted-string (RFC 3261 §25.1): a token, or a host with `[ ] :`. */
const GEN_VALUE_CHARS = charTable(ALPHANUM + "-.!%*_+`'~[]:");

/** Whether `s` is a non-empty RFC 3261 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (TOKEN_CHARS[s.charCodeAt(i)] !== 1) return false;
  return true;
}

/** Whether `s` is `%` HEX HEX-well-formed: every `%` starts an escape (RFC 3261 §25.1 escaped). */
export function hasValidEscapes(s: string): boolean {
  for (let i = s.indexOf('%'); i >= 0; i = s.indexOf('%', i + 1)) {
    if (!isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return false;
  }
  return true;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function isDigits(s: string, min: number, max: number): boolean {
  if (s.length < min || s.length > max) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** RFC 3261 §25.1 IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT, each ≤ 255. */
export function isIPv4(s: string): boolean {
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  for (const part of parts) if (!isDigits(part, 1, 3) || Number(part) > 255) return false;
  return true;
}

/**
 * Parses an IPv6 address (without brackets) into its eight 16-bit groups, or undefined.
 * RFC 4291 §2.2 text forms, including an embedded IPv4 tail. RFC 5118 §4.10: the RFC 3261 ABNF
 * also admits three colons before an IPv4 tail (`2001:db8:::192.0.2.1`); "an implementation
 * must tolerate both", so that form is read as `2001:db8::192.0.2.1`.
 */
export function ipv6Groups(s: string): number[] | undefined {
  if (s.length < 2 || s.length > 64) return undefined;
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (lastColon < 0) return undefined;
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    if (!isIPv4(last)) return undefined;
    const octets = last.split('.').map(Number);
    tail.push(
      ((octets[0] ?? 0) << 8) | (octets[1] ?? 0),
      ((octets[2] ?? 0) << 8) | (octets[3] ?? 0),
    );
    text = text.slice(0, lastColon + 1);
    // RFC 5118 §4.10 tolerance: ":::" + IPv4 is "::" + IPv4.
    if (text.endsWith(':::')) text = text.slice(0, -1);
    // The IPv4 tail takes the place of a final hex4: "x::" or "x:".
    text = text.endsWith('::') ? text : text.slice(0, -1);
  }
  const gap = text.indexOf('::');
  if (gap >= 0 && text.indexOf('::', gap + 1) >= 0) return undefined;
  const parseSeq = (seq: string): number[] | undefined => {
    if (seq === '') return [];
    const out: number[] = [];
    for (const group of seq.split(':')) {
      if (group.length < 1 || group.length > 4) return undefined;
      for (let i = 0; i < group.length; i++) if (!isHex(group.charCodeAt(i))) return undefined;
      out.push(parseInt(group, 16));
    }
    return out;
  };
  if (gap < 0) {
    const groups = parseSeq(text);
    if (groups === undefined || groups.length + tail.length !== 8) return undefined;
    return [...groups, ...tail];
  }
  const head = parseSeq(text.slice(0, gap));
  const rest = parseSeq(text.slice(gap + 2));
  if (head === undefined || rest === undefined) return undefined;
  const missing = 8 - head.length - rest.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...rest, ...tail];
}

/** Whether `s` (without brackets) is an IPv6 address (RFC 4291 §2.2, RFC 5118 §4.10). */
export function isIPv6(s: string): boolean {
  return ipv6Groups(s) !== undefined;
}

/** A canonical text for comparing IPv6 addresses: eight lower-case, unpadded hex groups. */
export function canonicalIPv6(s: string): string | undefined {
  return ipv6Groups(s)
    ?.map((g) => g.toString(16))
    .join(':');
}

/**
 * RFC 3261 §25.1 hostname = *( domainlabel "." ) toplabel [ "." ], labels of alphanum and
 * inner "-". The top label is not required to start with a letter: names like `t1.example.com`
 * and IPv4 literals both pass, as every deployed parser allows; so does '_'.
 */
export function isHostname(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 255) return false;
  // One trailing dot (a fully qualified name) is allowed; labels end at dots or at `end`.
  const end = s.charCodeAt(n - 1) === 0x2e ? n - 1 : n;
  let labelStart = 0;
  for (let i = 0; i <= end; i++) {
    const c = i === end ? 0x2e : s.charCodeAt(i);
    if (c === 0x2e) {
      const length = i - labelStart;
      if (length === 0 || length > 63) return false;
      labelStart = i + 1;
      continue;
    }
    if ((c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a)) continue;
    // '-' inside a label; '_' is outside RFC 3261 host grammar but sent by deployed
    // elements (container and service names), and accepting it is harmless.
    if (c === 0x5f) continue;
    if (c === 0x2d && i > labelStart && i + 1 < end && s.charCodeAt(i + 1) !== 0x2e) continue;
    return false;
  }
  return true;
}

/** A host and optional port, split from `host[:port]` text. */
export interface HostPort {
  /** The host without IPv6 brackets. */
  readonly host: string;
  readonly port: number | undefined;
}

/**
 * Splits `host[:port]` (RFC 3261 §25.1 hostport). An IPv6 address must be written as a
 * reference in brackets (RFC 5118 §4.2: `sip:2001:db8::10` is invalid); returns undefined
 * when malformed.
 */
export function parseHostPort(text: string): HostPort | undefined {
  let host: string;
  let rest: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    host = text.slice(1, close);
    if (!isIPv6(host)) return undefined;
    rest = text.slice(close + 1);
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    rest = colon < 0 ? '' : text.slice(colon);
    if (!isHostname(host)) return undefined;
  }
  if (rest === '') return { host, port: undefined };
  // RFC 3261 §25.1 port = 1*DIGIT; a port outside 0-65535 cannot be used.
  if (rest.charCodeAt(0) !== 0x3a || !isDigits(rest.slice(1), 1, 5)) return undefined;
  const port = Number(rest.slice(1));
  if (port > 65535) return undefined;
  return { host, port };
}

/** Parameters: names lower-cased (they compare case-insensitively), `null` for a name alone. */
export type Params = ReadonlyMap<string, string | null>;

/** Which grammar a parameter list follows. */
export type ParamSyntax = 'header' | 'uri';

const SEMI = 0x3b;
const EQUAL = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpaceCode(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && isSpaceCode(text.charCodeAt(i))) i++;
  return i;
}

/** The parameters of a value that has none: one shared, empty, read-only map. */
export const NO_PARAMS: ReadonlyMap<string, string | null> = new Map();

/**
 * Parses `;a=b;c;d="q"` (the leading `;` optional) into a map; returns undefined when a
 * parameter is empty or malformed. `header` syntax is RFC 3261 §25.1 generic-param
 * (`token [EQUAL gen-value]`, quoted values unquoted and unescaped, LWS allowed around `;`
 * and `=`); `uri` syntax is uri-parameter (`pname [= pvalue]` of paramchar, no whitespace,
 * no quotes, %-escapes kept as written). The first occurrence of a repeated name wins.
 */
export function parseParams(
  text: string,
  syntax: ParamSyntax = 'header',
): ReadonlyMap<string, string | null> | undefined {
  const header = syntax === 'header';
  const nameChars = header ? TOKEN_CHARS : URI_PARAM_CHARS;
  const valueChars = header ? GEN_VALUE_CHARS : URI_PARAM_CHARS;
  const n = text.length;
  let i = header ? skipSpace(text, 0) : 0;
  if (i >= n) return NO_PARAMS;
  const params = new Map<string, string | null>();
  if (text.charCodeAt(i) !== SEMI) return undefined;
  i++;
  for (;;) {
    if (header) i = skipSpace(text, i);
    // name: up to '=', ';' or (header syntax) whitespace; every character from its class.
    let j = i;
    let upper = false;
    for (; j < n; j++) {
      const c = text.charCodeAt(j);
      if (c === EQUAL || c === SEMI || (header && isSpaceCode(c))) break;
      if (c > 0xff || nameChars[c] !== 1) return undefined;
      if (c >= 0x41 && c <= 0x5a) upper = true;
    }
    if (j === i) return undefined;
    const name = upper ? text.slice(i, j).toLowerCase() : text.slice(i, j);
    if (header) j = skipSpace(text, j);
    let value: string | null = null;
    if (j < n && text.charCodeAt(j) === EQUAL) {
      j++;
      if (header) j = skipSpace(text, j);
      if (header && text.charCodeAt(j) === DQUOTE) {
        let k = j + 1;
        let quoted = '';
        while (k < n && text.charCodeAt(k) !== DQUOTE) {
          if (text.charCodeAt(k) === BACKSLASH && k + 1 < n) k++;
          quoted += text[k] ?? '';
          k++;
        }
        if (k >= n) return undefined;
        value = quoted;
        j = k + 1;
      } else {
        let k = j;
        for (; k < n; k++) {
          const c = text.charCodeAt(k);
          if (c === SEMI || (header && isSpaceCode(c))) break;
          if (c > 0xff || valueChars[c] !== 1) return undefined;
        }
        if (k === j) return undefined;
        value = text.slice(j, k);
        j = k;
      }
      if (header) j = skipSpace(text, j);
    }
    if (!params.has(name)) params.set(name, value);
    if (j >= n) return params;
    if (text.charCodeAt(j) !== SEMI) return undefined;
    i = j + 1;
  }
}

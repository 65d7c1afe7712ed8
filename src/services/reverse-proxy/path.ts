/**
 * Request-target hygiene for the reverse proxy: one normalisation of the path, done before
 * route matching, and the same normalised path is what the upstream receives. Anything
 * that could mean a different path to a different parser is refused, not repaired.
 */

/** Why a request target was refused (a log field and a metric label). */
export type TargetRefusal =
  | 'not-origin-form'
  | 'backslash'
  | 'bad-character'
  | 'bad-encoding'
  | 'encoded-separator'
  | 'double-encoding'
  | 'dot-segment'
  | 'fragment';

/** A normalised origin-form target, or the reason it was refused. */
export type NormalisedTarget =
  | { readonly ok: true; readonly path: string; readonly query: string }
  | { readonly ok: false; readonly reason: TargetRefusal };

const HEX = '0123456789ABCDEF';

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** RFC 3986 §2.3 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  );
}

function refuse(reason: TargetRefusal): NormalisedTarget {
  return { ok: false, reason };
}

/**
 * Normalises an origin-form request target (RFC 9112 §3.2.1): percent-encoded unreserved
 * characters are decoded (RFC 3986 §6.2.2.2), other encodings upper-cased, empty segments
 * collapsed. Refused: absolute-form and asterisk-form targets, backslashes (raw or `%5C`),
 * encoded `/`, `%25` (double encoding), control characters, `.` and `..` segments in any
 * spelling (`%2e%2e`, `..;x`), and fragments. The query is kept as sent.
 */
export function normaliseTarget(target: string): NormalisedTarget {
  if (target.charCodeAt(0) !== 0x2f) return refuse('not-origin-form');
  const queryAt = target.indexOf('?');
  const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
  const query = queryAt === -1 ? '' : target.slice(queryAt);
  if (target.includes('#')) return refuse('fragment');
  if (query.includes('\\')) return refuse('backslash');
  let decoded = '';
  for (let i = 0; i < rawPath.length; i++) {
    const code = rawPath.charCodeAt(i);
    if (code === 0x5c) return refuse('backslash');
    if (code <= 0x20 || code >= 0x7f) return refuse('bad-character');
    if (code !== 0x25) {
      decoded += rawPath.charAt(i);
      continue;
    }
    const high = hexValue(rawPath.charCodeAt(i + 1));
    const low = hexValue(rawPath.charCodeAt(i + 2));
    if (high < 0 || low < 0) return refuse('bad-encoding');
    const byte = high * 16 + low;
    i += 2;
    if (byte === 0x2f || byte === 0x5c) return refuse('encoded-separator');
    if (byte === 0x25) return refuse('double-encoding');
    if (byte < 0x20 || byte === 0x7f) return refuse('bad-character');
    if (isUnreserved(byte)) decoded += String.fromCharCode(byte);
    else decoded += '%' + (HEX[high] ?? '') + (HEX[low] ?? '');
  }
  const segments = decoded.split('/');
  const kept: string[] = [];
  for (const segment of segments) {
    if (segment === '') continue;
    // `..;jsessionid` is `..` to servlet containers: any dot segment before `;` is one.
    const semicolon = segment.indexOf(';');
    const name = semicolon === -1 ? segment : segment.slice(0, semicolon);
    if (name === '.' || name === '..') return refuse('dot-segment');
    kept.push(segment);
  }
  const trailingSlash = kept.length > 0 && decoded.endsWith('/');
  const path = '/' + kept.join('/') + (trailingSlash ? '/' : '');
  return { ok: true, path, query };
}

/** A published route, reduced to what matching needs. */
export interface PrefixRoute {
  readonly prefix: string;
}

/**
 * Sorts routes so that the first match is the longest prefix; returns a matcher. A prefix
 * ending in `/` matches paths under it; another matches itself and paths under it
 * (`/abs` matches `/abs` and `/abs/x`, not `/absx`).
 */
export function prefixMatcher<R extends PrefixRoute>(
  routes: readonly R[],
): (path: string) => R | undefined {
  const sorted = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  return (path) => {
    for (const route of sorted) {
      const prefix = route.prefix;
      if (!path.startsWith(prefix)) continue;
      if (
        prefix.endsWith('/') ||
        path.length === prefix.length ||
        path.charCodeAt(prefix.length) === 0x2f
      )
        return route;
    }
    return undefined;
  };
}

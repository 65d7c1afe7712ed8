/**
 * The pure parts of serving a file: byte ranges (RFC 9110 §14) and conditional requests
 * (RFC 9110 §13). No I/O: the sender hands in the headers and the file's validators.
 */

/** What a Range header asks of a representation of `size` bytes. */
export type RangeRequest =
  /** No Range header, a unit other than bytes, or several ranges: answer 200 with it all. */
  | { readonly kind: 'whole' }
  /** One satisfiable range, inclusive bounds: answer 206. */
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  /** RFC 9110 §15.5.17: no range overlaps the representation: answer 416. */
  | { readonly kind: 'unsatisfiable' };

const WHOLE: RangeRequest = { kind: 'whole' };
const UNSATISFIABLE: RangeRequest = { kind: 'unsatisfiable' };
const RANGE_SPEC = /^(\d*)-(\d*)$/;

/**
 * Reads a Range header against a representation of `size` bytes. A single range is served
 * as 206; several ranges are answered with the whole representation (RFC 9110 §14.2: a
 * server MAY ignore the Range header field). A malformed header is ignored likewise.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return WHOLE;
  const equals = header.indexOf('=');
  if (equals < 0 || header.slice(0, equals).trim().toLowerCase() !== 'bytes') return WHOLE;
  const specs = header.slice(equals + 1).split(',');
  if (specs.length !== 1) return WHOLE;
  const match = RANGE_SPEC.exec((specs[0] ?? '').trim());
  if (match === null) return WHOLE;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return WHOLE;
  if (first === '') {
    // RFC 9110 §14.1.3: a suffix range selects the last N bytes; a suffix of 0 is unsatisfiable.
    const suffix = Number(last);
    if (!Number.isSafeInteger(suffix)) return WHOLE;
    if (suffix === 0 || size === 0) return UNSATISFIABLE;
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return WHOLE;
  // RFC 9110 §14.1.1: a last-pos below the first-pos makes the range invalid (ignored).
  if (end < start) return WHOLE;
  // RFC 9110 §14.1.1: a first-pos at or past the length is unsatisfiable.
  if (start >= size) return UNSATISFIABLE;
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}

/** The validators of one representation. */
export interface Validators {
  /** A strong entity tag, quoted: `"1a2b-3c"`. */
  readonly etag: string;
  /** Last modification, milliseconds since the epoch. */
  readonly lastModifiedMs: number;
}

/** The request headers that make a request conditional. */
export interface ConditionalHeaders {
  readonly ifNoneMatch?: string | undefined;
  readonly ifModifiedSince?: string | undefined;
  readonly ifMatch?: string | undefined;
  readonly ifUnmodifiedSince?: string | undefined;
  readonly ifRange?: string | undefined;
}

/** What the preconditions decided: send (honouring Range or not), 304, or 412. */
export type PreconditionOutcome =
  | { readonly kind: 'send'; readonly honourRange: boolean }
  | { readonly kind: 'not-modified' }
  | { readonly kind: 'failed' };

/** `W/"x"` and `"x"` → `"x"`: the weak comparison of RFC 9110 §8.8.3.2. */
function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** The entity tags of an If-Match / If-None-Match list; `*` as itself. */
function tagList(header: string): string[] {
  return header
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
}

/** Whole seconds: HTTP dates carry no milliseconds. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function parseHttpDate(text: string): number | undefined {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Evaluates the preconditions of a GET or HEAD in the order of RFC 9110 §13.2.2 against the
 * representation's validators.
 */
export function evaluatePreconditions(
  headers: ConditionalHeaders,
  validators: Validators,
): PreconditionOutcome {
  const { etag } = validators;
  const modified = seconds(validators.lastModifiedMs);
  // §13.2.2 step 1: If-Match uses the strong comparison.
  if (headers.ifMatch !== undefined) {
    const tags = tagList(headers.ifMatch);
    if (!tags.includes('*') && !tags.includes(etag)) return { kind: 'failed' };
  } else if (headers.ifUnmodifiedSince !== undefined) {
    // Step 2: only without If-Match.
    const since = parseHttpDate(headers.ifUnmodifiedSince);
    if (since !== undefined && modified > seconds(since)) return { kind: 'failed' };
  }
  // Step 3: If-None-Match uses the weak comparison; for GET/HEAD a match answers 304.
  if (headers.ifNoneMatch !== undefined) {
    const tags = tagList(headers.ifNoneMatch);
    if (tags.includes('*') || tags.some((tag) => opaque(tag) === opaque(etag)))
      return { kind: 'not-modified' };
  } else if (headers.ifModifiedSince !== undefined) {
    // Step 4: only without If-None-Match.
    const since = parseHttpDate(headers.ifModifiedSince);
    if (since !== undefined && modified <= seconds(since)) return { kind: 'not-modified' };
  }
  // Step 5 and §13.1.5: If-Range holds when the strong tag or the exact date still matches.
  if (headers.ifRange === undefined) return { kind: 'send', honourRange: true };
  const ifRange = headers.ifRange.trim();
  if (ifRange.startsWith('"') || ifRange.startsWith('W/')) {
    return { kind: 'send', honourRange: ifRange === etag };
  }
  const date = parseHttpDate(ifRange);
  return { kind: 'send', honourRange: date !== undefined && seconds(date) === modified };
}

/** Whether an Accept-Encoding value accepts gzip (RFC 9110 §12.5.3; `q=0` refuses). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let star: boolean | undefined;
  for (const part of header.split(',')) {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const accepted = q === undefined || Number(q.slice(2)) > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return accepted;
    if (coding === '*') star = accepted;
  }
  return star ?? false;
}

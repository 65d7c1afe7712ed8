/**
 * Forwarding by edits (the Kamailio way): a proxy describes what changes — Request-URI,
 * header lines removed, replaced or inserted, body — and the new message is the original
 * bytes with those spans changed. Untouched bytes are copied, never re-serialised.
 */
import type { HeaderField, SipMessage } from './message.ts';
import { canonicalHeaderName, splitHeaderList } from './parse.ts';

/** One change to a message. */
export type SipEdit =
  /** Replaces the Request-URI of a request. */
  | { readonly type: 'set-request-uri'; readonly uri: string }
  /** Removes one header line (with its folded continuation lines). */
  | { readonly type: 'remove-header'; readonly field: HeaderField }
  /** Rewrites one header line as `Name: value`; the name defaults to the line's own spelling. */
  | {
      readonly type: 'replace-header';
      readonly field: HeaderField;
      readonly name?: string;
      readonly value: string;
    }
  /** Inserts a header line before `before`, by default before the first header line. */
  | {
      readonly type: 'insert-header';
      readonly name: string;
      readonly value: string;
      readonly before?: HeaderField;
    }
  /** Inserts a header line after the last one. */
  | { readonly type: 'append-header'; readonly name: string; readonly value: string }
  /** Rewrites a response's Status-Line (e.g. a 503 forwarded as 500, RFC 3261 §16.7 step 6). */
  | { readonly type: 'set-status'; readonly status: number; readonly reason: string }
  /**
   * Replaces the body; every Content-Length line is rewritten (or one appended) to match, and
   * Content-Type set when given (removed when the new body is empty and none is given).
   */
  | { readonly type: 'set-body'; readonly body: Buffer; readonly contentType?: string };

interface Splice {
  readonly start: number;
  readonly end: number;
  readonly text: string | Buffer;
  /** Orders insertions at the same offset: lower first. */
  readonly order: number;
}

const CR = 0x0d;
const LF = 0x0a;

function checkText(text: string): void {
  // Programmer error: a line break would let a value inject header lines.
  if (/[\r\n]/.test(text))
    throw new TypeError(`line break in SIP edit text: ${JSON.stringify(text)}`);
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9.!%*_+`'~-]+$/.test(name))
    throw new TypeError(`invalid SIP header name: ${JSON.stringify(name)}`);
}

/** Where the start line begins (leading CRLFs skipped, RFC 3261 §7.5). */
function startLineStart(raw: Buffer): number {
  let i = 0;
  while (i < raw.length && (raw[i] === CR || raw[i] === LF)) i++;
  return i;
}

/** Where the start line's content ends (before its CRLF or bare LF). */
function startLineEnd(msg: SipMessage): number {
  const end = msg.headersStart - 1;
  return end > 0 && msg.raw[end - 1] === CR ? end - 1 : end;
}

/** The name as written on a header line (before the colon, without trailing LWS). */
function writtenName(msg: SipMessage, field: HeaderField): string {
  const colon = msg.raw.indexOf(0x3a, field.start);
  return msg.raw.toString('latin1', field.start, colon).trimEnd();
}

/**
 * Applies `edits` to the original bytes of `msg`, copying only the untouched spans into one
 * buffer of the exact final size. Edits at the same place keep their order. Lines to remove or
 * replace must come from `msg.headers`. The output starts at the start line and ends with the
 * body: bytes past Content-Length in a datagram (RFC 3261 §18.3) are never forwarded. With no
 * edits, the result is a view of `msg.raw`. Throws only on programmer errors (a line break in
 * a value, an invalid header name, overlapping edits, an edit for the other message kind).
 */
export function applyEdits(msg: SipMessage, edits: readonly SipEdit[]): Buffer {
  const raw = msg.raw;
  const first = startLineStart(raw);
  const last = msg.bodyStart + msg.body.length;
  if (edits.length === 0)
    return first === 0 && last === raw.length ? raw : raw.subarray(first, last);
  const splices: Splice[] = [];
  let order = 0;
  const lastHeader = msg.headers[msg.headers.length - 1];
  const appendAt = lastHeader === undefined ? msg.headersStart : lastHeader.end;
  const line = (name: string, value: string): string => {
    checkName(name);
    checkText(value);
    return `${name}: ${value}\r\n`;
  };
  for (const edit of edits) {
    switch (edit.type) {
      case 'set-request-uri': {
        if (msg.kind !== 'request') throw new TypeError('set-request-uri on a response');
        checkText(edit.uri);
        if (/\s/.test(edit.uri) || edit.uri.length === 0)
          throw new TypeError('invalid Request-URI');
        // Request-Line = Method SP Request-URI SP SIP-Version CRLF (RFC 3261 §7.1).
        const uriStart = first + msg.method.length + 1;
        splices.push({
          start: uriStart,
          end: uriStart + msg.requestUri.length,
          text: edit.uri,
          order: order++,
        });
        break;
      }
      case 'set-status': {
        if (msg.kind !== 'response') throw new TypeError('set-status on a request');
        checkText(edit.reason);
        if (!Number.isInteger(edit.status) || edit.status < 100 || edit.status > 699)
          throw new TypeError(`invalid status ${edit.status}`);
        splices.push({
          start: first,
          end: startLineEnd(msg),
          text: `SIP/2.0 ${edit.status} ${edit.reason}`,
          order: order++,
        });
        break;
      }
      case 'remove-header':
        splices.push({ start: edit.field.start, end: edit.field.end, text: '', order: order++ });
        break;
      case 'replace-header':
        splices.push({
          start: edit.field.start,
          end: edit.field.end,
          text: line(edit.name ?? writtenName(msg, edit.field), edit.value),
          order: order++,
        });
        break;
      case 'insert-header': {
        const at = edit.before?.start ?? msg.headersStart;
        splices.push({ start: at, end: at, text: line(edit.name, edit.value), order: order++ });
        break;
      }
      case 'append-header':
        splices.push({
          start: appendAt,
          end: appendAt,
          text: line(edit.name, edit.value),
          order: order++,
        });
        break;
      case 'set-body': {
        const length = String(edit.body.length);
        let wroteLength = false;
        for (const field of msg.headers) {
          if (field.name === 'content-length') {
            splices.push({
              start: field.start,
              end: field.end,
              text: wroteLength ? '' : line(writtenName(msg, field), length),
              order: order++,
            });
            wroteLength = true;
          } else if (
            field.name === 'content-type' &&
            (edit.contentType !== undefined || edit.body.length === 0)
          ) {
            splices.push({
              start: field.start,
              end: field.end,
              text:
                edit.contentType === undefined
                  ? ''
                  : line(writtenName(msg, field), edit.contentType),
              order: order++,
            });
          }
        }
        const hasType = msg.headers.some((f) => f.name === 'content-type');
        if (edit.contentType !== undefined && !hasType)
          splices.push({
            start: appendAt,
            end: appendAt,
            text: line('Content-Type', edit.contentType),
            order: order++,
          });
        if (!wroteLength)
          splices.push({
            start: appendAt,
            end: appendAt,
            text: line('Content-Length', length),
            order: order++,
          });
        // The body follows the empty line; a datagram without one (RFC 3261 §18.3) gets it.
        const bodyAt = msg.bodyStart;
        const needsEmptyLine =
          msg.bodyStart === raw.length && !endsWithEmptyLine(raw, msg.bodyStart);
        splices.push({
          start: bodyAt,
          end: last,
          text: needsEmptyLine ? Buffer.concat([Buffer.from('\r\n'), edit.body]) : edit.body,
          order: order++,
        });
        break;
      }
    }
  }
  splices.sort((a, b) => a.start - b.start || a.end - b.end || a.order - b.order);
  let size = last - first;
  let previousEnd = first;
  for (const splice of splices) {
    if (splice.start < previousEnd) throw new TypeError('overlapping SIP edits');
    if (splice.start < first || splice.end > last)
      throw new TypeError('SIP edit outside the message');
    size += byteLength(splice.text) - (splice.end - splice.start);
    previousEnd = splice.end;
  }
  const out = Buffer.allocUnsafe(size);
  let read = first;
  let write = 0;
  for (const splice of splices) {
    write += raw.copy(out, write, read, splice.start);
    write +=
      typeof splice.text === 'string'
        ? out.write(splice.text, write, 'utf8')
        : splice.text.copy(out, write);
    read = splice.end;
  }
  raw.copy(out, write, read, last);
  return out;
}

function byteLength(text: string | Buffer): number {
  return typeof text === 'string' ? Buffer.byteLength(text) : text.length;
}

function endsWithEmptyLine(raw: Buffer, at: number): boolean {
  return (
    (at >= 4 && raw[at - 1] === LF && raw[at - 2] === CR && raw[at - 3] === LF) ||
    (at >= 2 && raw[at - 1] === LF && raw[at - 2] === LF)
  );
}

/**
 * Edits that remove the first value of header `name` (any form, e.g. 'via' or 'v'), such as
 * a proxy's own top Via (RFC 3261 §16.7 step 3): the whole line when it holds one value, else
 * the line rewritten without its first value. Returns no edits when the header is absent.
 */
export function removeFirstValue(msg: SipMessage, name: string, displayName?: string): SipEdit[] {
  const wanted = canonicalHeaderName(name);
  const field = msg.headers.find((f) => f.name === wanted);
  if (field === undefined) return [];
  const values = splitHeaderList(field.value);
  if (values.length <= 1) return [{ type: 'remove-header', field }];
  return [
    {
      type: 'replace-header',
      field,
      ...(displayName === undefined ? {} : { name: displayName }),
      value: values.slice(1).join(', '),
    },
  ];
}

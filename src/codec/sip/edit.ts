/**
 * Forwarding by edits (the Kamailio way): a proxy describes what changes — Request-URI,
 * header lines removed, replaced or inserted, body — and the new message is the original
 * bytes with those spans changed. Untouched bytes are copied, never re-serialised.
 */
import type { HeaderField, SipMessage } from './message.ts';
import { splitHeaderList } from './parse.ts';

/** One change to a message. */
export type SipEdit =
  | { readonly type: 'set-request-uri'; readonly uri: string }
  | { readonly type: 'remove-header'; readonly field: HeaderField }
  | {
      readonly type: 'replace-header';
      readonly field: HeaderField;
      readonly name: string;
      readonly value: string;
    }
  | {
      readonly type: 'insert-header';
      readonly name: string;
      readonly value: string;
      /** Insert before this line; default: before the first header line. */
      readonly before?: HeaderField;
    }
  | { readonly type: 'append-header'; readonly name: string; readonly value: string }
  /** Rewrites a response's Status-Line (e.g. a 503 forwarded as 500, RFC 3261 §16.7 step 6). */
  | { readonly type: 'set-status'; readonly status: number; readonly reason: string };

interface Splice {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  /** Orders insertions at the same offset: lower first. */
  readonly order: number;
}

function checkText(text: string): void {
  if (/[\r\n]/.test(text))
    throw new TypeError(`line break in SIP edit text: ${JSON.stringify(text)}`);
}

/**
 * Applies `edits` to the original bytes of `msg`. Edits of one kind at the same place keep
 * their order. A removed or replaced line must come from `msg.headers`. Throws only on
 * programmer errors (a line break in an inserted value, overlapping edits).
 */
export function applyEdits(msg: SipMessage, edits: readonly SipEdit[]): Buffer {
  if (edits.length === 0) return msg.raw;
  const splices: Splice[] = [];
  let order = 0;
  // Header lines end at `msg.bodyStart - 2` (before the empty line's CRLF), or earlier when
  // the message used bare LF; appended headers go just before the empty line.
  const lastHeader = msg.headers[msg.headers.length - 1];
  const appendAt = lastHeader === undefined ? msg.headersStart : lastHeader.end;
  for (const edit of edits) {
    switch (edit.type) {
      case 'set-request-uri': {
        if (msg.kind !== 'request') throw new TypeError('set-request-uri on a response');
        checkText(edit.uri);
        // Request-Line = Method SP Request-URI SP SIP-Version CRLF; find the URI span.
        const lineStart = msg.raw.indexOf(msg.method, 0, 'latin1');
        const uriStart = lineStart + msg.method.length + 1;
        splices.push({
          start: uriStart,
          end: uriStart + Buffer.byteLength(msg.requestUri),
          text: edit.uri,
          order: order++,
        });
        break;
      }
      case 'set-status': {
        if (msg.kind !== 'response') throw new TypeError('set-status on a request');
        checkText(edit.reason);
        const lineStart = Math.max(0, msg.raw.indexOf('SIP/', 0, 'latin1'));
        const lineEnd = msg.raw.indexOf('\r\n', lineStart, 'latin1');
        splices.push({
          start: lineStart,
          end: lineEnd,
          text: `SIP/2.0 ${edit.status} ${edit.reason}`,
          order: order++,
        });
        break;
      }
      case 'remove-header':
        splices.push({ start: edit.field.start, end: edit.field.end, text: '', order: order++ });
        break;
      case 'replace-header':
        checkText(edit.name);
        checkText(edit.value);
        splices.push({
          start: edit.field.start,
          end: edit.field.end,
          text: `${edit.name}: ${edit.value}\r\n`,
          order: order++,
        });
        break;
      case 'insert-header': {
        checkText(edit.name);
        checkText(edit.value);
        const at = edit.before?.start ?? msg.headersStart;
        splices.push({
          start: at,
          end: at,
          text: `${edit.name}: ${edit.value}\r\n`,
          order: order++,
        });
        break;
      }
      case 'append-header':
        checkText(edit.name);
        checkText(edit.value);
        splices.push({
          start: appendAt,
          end: appendAt,
          text: `${edit.name}: ${edit.value}\r\n`,
          order: order++,
        });
        break;
    }
  }
  splices.sort((a, b) => a.start - b.start || a.end - b.end || a.order - b.order);
  let size = msg.raw.length;
  for (let i = 0; i < splices.length; i++) {
    const splice = splices[i];
    if (splice === undefined) continue;
    const previous = splices[i - 1];
    if (previous !== undefined && splice.start < previous.end)
      throw new TypeError('overlapping SIP edits');
    size += Buffer.byteLength(splice.text) - (splice.end - splice.start);
  }
  const out = Buffer.allocUnsafe(size);
  let read = 0;
  let write = 0;
  for (const splice of splices) {
    write += msg.raw.copy(out, write, read, splice.start);
    write += out.write(splice.text, write, 'utf8');
    read = splice.end;
  }
  msg.raw.copy(out, write, read);
  return out;
}

/**
 * Edits that remove the first value of header `name` (e.g. our own top Via): the whole
 * line when it holds one value, else the line rewritten without its first value.
 */
export function removeFirstValue(msg: SipMessage, name: string, displayName = name): SipEdit[] {
  const field = msg.headers.find((f) => f.name === name);
  if (field === undefined) return [];
  const values = splitHeaderList(field.value);
  if (values.length <= 1) return [{ type: 'remove-header', field }];
  return [{ type: 'replace-header', field, name: displayName, value: values.slice(1).join(', ') }];
}

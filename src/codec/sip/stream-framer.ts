/**
 * SIP message framing over stream transports (TCP, TLS): RFC 3261 §18.3.
 *
 * The framer finds where each message ends from the header section's Content-Length; it
 * does not parse the message. It owns no socket and no timer: the transport pushes the
 * bytes it read and acts on what comes back.
 */

/** Why a stream can no longer be framed. After an error the stream must be closed. */
export type StreamFramerErrorReason = 'too-large' | 'bad-content-length' | 'missing-content-length';

/** One unit found in the stream. */
export type StreamFramerOutput =
  /** Exactly one SIP message, start line to last body byte. */
  | { readonly type: 'message'; readonly data: Buffer }
  /** RFC 5626 §4.4.1 keep-alive ping (CRLFCRLF); answer with {@link CRLF_PONG}. */
  | { readonly type: 'ping' }
  /** The stream is broken; the caller must close it. */
  | { readonly type: 'error'; readonly reason: StreamFramerErrorReason };

/** Options of {@link SipStreamFramer}. */
export interface SipStreamFramerOptions {
  /** Largest message (header section plus body) accepted, in bytes. Default 65536. */
  readonly maxMessageBytes?: number;
}

/** Default largest SIP message accepted on a stream, in bytes. */
export const DEFAULT_MAX_MESSAGE_BYTES = 65536;

/** RFC 5626 §4.4.1: the pong answering a CRLFCRLF ping is a single CRLF. */
export const CRLF_PONG: Buffer = Buffer.from('\r\n', 'latin1');

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const CONTENT_LENGTH = Buffer.from('content-length', 'latin1');
/** RFC 3261 §7.3.3: compact form of Content-Length. */
const CONTENT_LENGTH_COMPACT = 0x6c; // 'l'
/** More digits than this cannot be a length under any sane maximum. */
const MAX_CONTENT_LENGTH_DIGITS = 10;
const INITIAL_CAPACITY = 4096;
/** A drained buffer larger than this is released rather than kept per connection. */
const RETAINED_CAPACITY = 16384;

type Step =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'skip'; readonly length: number }
  | { readonly kind: 'ping' }
  | { readonly kind: 'message'; readonly length: number }
  | { readonly kind: 'error'; readonly reason: StreamFramerErrorReason };

const NEED_MORE: Step = { kind: 'need-more' };
const SKIP_CRLF: Step = { kind: 'skip', length: 2 };
const PING: Step = { kind: 'ping' };
const PING_OUTPUT: StreamFramerOutput = { type: 'ping' };

/**
 * Splits a byte stream into SIP messages by Content-Length (RFC 3261 §18.3), answers
 * RFC 5626 keep-alives, and bounds memory to about one maximum-size message.
 *
 * Messages returned from a chunk that holds them whole are subarrays of that chunk;
 * messages assembled from several chunks are copies. Either way a returned Buffer is
 * never written to again by the framer.
 */
export class SipStreamFramer {
  /** Largest message accepted, in bytes. */
  readonly maxMessageBytes: number;
  private buffer: Buffer = Buffer.alloc(0);
  private readOffset = 0;
  private writeOffset = 0;
  /** Bytes of the current message already searched for the end of the header section. */
  private scannedLength = 0;
  /** Length of the current message once its header section is complete, else -1. */
  private messageLength = -1;
  private failure: StreamFramerErrorReason | undefined;

  constructor(options: SipStreamFramerOptions = {}) {
    const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(max) || max < 16) {
      throw new RangeError(`maxMessageBytes must be an integer >= 16, got ${max}`);
    }
    this.maxMessageBytes = max;
  }

  /** Bytes held that do not yet form a complete unit. */
  get bufferedBytes(): number {
    return this.writeOffset - this.readOffset;
  }

  /** The error that broke the stream, if any. */
  get error(): StreamFramerErrorReason | undefined {
    return this.failure;
  }

  /**
   * Feeds bytes read from the stream; returns the units they complete, in order. After an
   * `error` output every later call returns nothing: the caller must close the stream.
   */
  push(chunk: Buffer): StreamFramerOutput[] {
    const out: StreamFramerOutput[] = [];
    if (this.failure !== undefined || chunk.length === 0) return out;
    if (this.readOffset === this.writeOffset) {
      // Nothing buffered: frame straight out of the chunk and keep only its tail.
      const consumed = this.drain(chunk, 0, chunk.length, out, false);
      if (consumed >= 0 && consumed < chunk.length) this.append(chunk, consumed);
      return out;
    }
    this.append(chunk, 0);
    const next = this.drain(this.buffer, this.readOffset, this.writeOffset, out, true);
    if (next < 0) return out;
    this.readOffset = next;
    if (this.readOffset === this.writeOffset) {
      this.readOffset = 0;
      this.writeOffset = 0;
      if (this.buffer.length > RETAINED_CAPACITY) this.buffer = Buffer.alloc(0);
    }
    return out;
  }

  /** Frames `source[start, end)`; returns the offset consumed up to, or -1 after an error. */
  private drain(
    source: Buffer,
    start: number,
    end: number,
    out: StreamFramerOutput[],
    copy: boolean,
  ): number {
    let offset = start;
    for (;;) {
      if (offset === end) return offset;
      const step = this.step(source, offset, end);
      switch (step.kind) {
        case 'need-more':
          return offset;
        case 'skip':
          offset += step.length;
          break;
        case 'ping':
          out.push(PING_OUTPUT);
          offset += 4;
          break;
        case 'message': {
          const view = source.subarray(offset, offset + step.length);
          out.push({ type: 'message', data: copy ? Buffer.from(view) : view });
          offset += step.length;
          this.scannedLength = 0;
          this.messageLength = -1;
          break;
        }
        case 'error':
          this.failure = step.reason;
          this.buffer = Buffer.alloc(0);
          this.readOffset = 0;
          this.writeOffset = 0;
          out.push({ type: 'error', reason: step.reason });
          return -1;
      }
    }
  }

  private step(source: Buffer, start: number, end: number): Step {
    const available = end - start;
    if (this.messageLength < 0) {
      if (this.scannedLength === 0 && source[start] === CR) {
        // RFC 3261 §18.3: implementations processing SIP messages over stream-oriented
        // transports MUST ignore any CRLF appearing before the start-line.
        // RFC 5626 §4.4.1: a double CRLF is a ping; a single CRLF a pong (ignored here).
        if (available < 2) return NEED_MORE;
        if (source[start + 1] === LF) {
          if (available < 3) return NEED_MORE;
          if (source[start + 2] !== CR) return SKIP_CRLF;
          if (available < 4) return NEED_MORE;
          return source[start + 3] === LF ? PING : SKIP_CRLF;
        }
      }
      const headerEnd = this.findHeaderEnd(source, start, end);
      if (headerEnd < 0) {
        if (available > this.maxMessageBytes) return { kind: 'error', reason: 'too-large' };
        return NEED_MORE;
      }
      const headerLength = headerEnd - start;
      if (headerLength > this.maxMessageBytes) return { kind: 'error', reason: 'too-large' };
      const contentLength = findContentLength(source, start, headerEnd);
      if (typeof contentLength === 'string') return { kind: 'error', reason: contentLength };
      if (headerLength + contentLength > this.maxMessageBytes) {
        return { kind: 'error', reason: 'too-large' };
      }
      this.messageLength = headerLength + contentLength;
    }
    return available < this.messageLength
      ? NEED_MORE
      : { kind: 'message', length: this.messageLength };
  }

  /** Offset just past the CRLFCRLF ending the header section, or -1; resumes where it stopped. */
  private findHeaderEnd(source: Buffer, start: number, end: number): number {
    // Never search further than a maximum-size header section could reach.
    const limit = Math.min(end, start + this.maxMessageBytes + 4);
    let index = start + Math.max(0, this.scannedLength - 3);
    while (index + 3 < limit) {
      const cr = source.indexOf(CR, index);
      if (cr < 0 || cr + 3 >= limit) break;
      if (source[cr + 1] === LF && source[cr + 2] === CR && source[cr + 3] === LF) return cr + 4;
      index = cr + 1;
    }
    this.scannedLength = limit - start;
    return -1;
  }

  private append(chunk: Buffer, from: number): void {
    const length = chunk.length - from;
    if (this.writeOffset + length > this.buffer.length) {
      const held = this.writeOffset - this.readOffset;
      if (held + length <= this.buffer.length) {
        this.buffer.copyWithin(0, this.readOffset, this.writeOffset);
      } else {
        let capacity = Math.max(this.buffer.length * 2, INITIAL_CAPACITY);
        while (capacity < held + length) capacity *= 2;
        const grown = Buffer.allocUnsafe(capacity);
        this.buffer.copy(grown, 0, this.readOffset, this.writeOffset);
        this.buffer = grown;
      }
      this.readOffset = 0;
      this.writeOffset = held;
    }
    chunk.copy(this.buffer, this.writeOffset, from);
    this.writeOffset += length;
  }
}

/**
 * The Content-Length (or compact `l`) value of the header section `[start, end)`, which
 * includes the start line and ends with CRLFCRLF. RFC 3261 §20.14: on a stream-based
 * transport the header field MUST be used, so a missing one is an error.
 */
function findContentLength(
  source: Buffer,
  start: number,
  end: number,
): number | 'bad-content-length' | 'missing-content-length' {
  let found = -1;
  // Skip the start line.
  let line = source.indexOf(LF, start) + 1;
  while (line > 0 && line < end) {
    const nameStart = line;
    let cursor = line;
    while (cursor < end && isTokenByte(source[cursor])) cursor++;
    const nameEnd = cursor;
    // RFC 3261 §25.1: HCOLON = *( SP / HTAB ) ":" SWS
    while (cursor < end && isBlank(source[cursor])) cursor++;
    const isHeaderLine = nameEnd > nameStart && source[cursor] === COLON;
    // The field value runs to the end of the line plus any folded continuation lines.
    let valueEnd = source.indexOf(LF, cursor);
    while (valueEnd >= 0 && valueEnd + 1 < end && isBlank(source[valueEnd + 1])) {
      valueEnd = source.indexOf(LF, valueEnd + 1);
    }
    if (valueEnd < 0 || valueEnd >= end) valueEnd = end - 1;
    if (isHeaderLine && isContentLengthName(source, nameStart, nameEnd)) {
      const value = parseLength(source, cursor + 1, valueEnd);
      if (value < 0) return 'bad-content-length';
      // Two different lengths would let two parsers disagree about where a message ends.
      if (found >= 0 && found !== value) return 'bad-content-length';
      found = value;
    }
    line = valueEnd + 1;
  }
  return found < 0 ? 'missing-content-length' : found;
}

function isContentLengthName(source: Buffer, start: number, end: number): boolean {
  const length = end - start;
  if (length === 1) return ((source[start] ?? 0) | 0x20) === CONTENT_LENGTH_COMPACT;
  if (length !== CONTENT_LENGTH.length) return false;
  for (let i = 0; i < length; i++) {
    if (((source[start + i] ?? 0) | 0x20) !== CONTENT_LENGTH[i]) return false;
  }
  return true;
}

/** Decimal digits surrounded by optional linear whitespace, or -1. */
function parseLength(source: Buffer, start: number, end: number): number {
  let cursor = start;
  while (cursor < end && isLinearWhitespace(source[cursor])) cursor++;
  let value = 0;
  let digits = 0;
  while (cursor < end) {
    const byte = source[cursor] ?? 0;
    if (byte < DIGIT_0 || byte > DIGIT_9) break;
    if (++digits > MAX_CONTENT_LENGTH_DIGITS) return -1;
    value = value * 10 + (byte - DIGIT_0);
    cursor++;
  }
  while (cursor < end && isLinearWhitespace(source[cursor])) cursor++;
  return digits === 0 || cursor !== end ? -1 : value;
}

function isBlank(byte: number | undefined): boolean {
  return byte === SP || byte === HTAB;
}

function isLinearWhitespace(byte: number | undefined): boolean {
  return byte === SP || byte === HTAB || byte === CR || byte === LF;
}

/** RFC 3261 §25.1 token characters. */
function isTokenByte(byte: number | undefined): boolean {
  if (byte === undefined) return false;
  if (byte >= 0x30 && byte <= 0x39) return true;
  if ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7a) return true;
  // - . ! % * _ + ` ' ~
  return (
    byte === 0x2d ||
    byte === 0x2e ||
    byte === 0x21 ||
    byte === 0x25 ||
    byte === 0x2a ||
    byte === 0x5f ||
    byte === 0x2b ||
    byte === 0x60 ||
    byte === 0x27 ||
    byte === 0x7e
  );
}

/**
 * STUN/TURN framing over stream transports (TCP, TLS): RFC 8489 §6.2.2 and RFC 8656 §12.5.
 * A stream carries STUN messages (20 + Message Length bytes) and ChannelData messages
 * (4 + Length, rounded up to a multiple of 4) back to back; the first two bits tell them
 * apart (00 STUN, 01 ChannelData). The framer does not decode messages: it finds where each
 * ends. It owns no socket and no timer.
 */
import { RampartError } from '../../lib/errors.ts';
import {
  CHANNEL_NUMBER_MAX,
  MAGIC_COOKIE,
  MAX_STUN_BODY_LENGTH,
  STUN_HEADER_LENGTH,
} from './constants.ts';

/** Why a stream can no longer be framed. After an error the stream must be closed. */
export type StunFramerErrorReason =
  | 'not-stun-or-channel-data'
  | 'bad-magic-cookie'
  | 'bad-stun-length'
  | 'reserved-channel'
  | 'too-large';

/** One unit found in the stream. */
export type StunFramerOutput =
  /** Exactly one STUN message: pass to `decodeStun`. */
  | { readonly type: 'stun'; readonly data: Buffer }
  /** Exactly one ChannelData message with its padding: pass to `decodeChannelData`. */
  | { readonly type: 'channel-data'; readonly data: Buffer }
  /** The stream is broken; the caller must close it. `offset` counts bytes from its start. */
  | { readonly type: 'error'; readonly reason: StunFramerErrorReason; readonly offset: number };

/** Options of {@link StunStreamFramer}. */
export interface StunStreamFramerOptions {
  /** Largest frame accepted, in bytes. Default {@link DEFAULT_MAX_FRAME_BYTES}. */
  readonly maxFrameBytes?: number;
}

/** The largest frame the wire format allows: a STUN message of length 0xFFFC. */
export const DEFAULT_MAX_FRAME_BYTES = STUN_HEADER_LENGTH + MAX_STUN_BODY_LENGTH;

const INITIAL_CAPACITY = 2048;
/** A drained buffer larger than this is released rather than kept per connection. */
const RETAINED_CAPACITY = 16384;

type Step =
  | { readonly kind: 'need'; readonly bytes: number }
  | { readonly kind: 'frame'; readonly type: 'stun' | 'channel-data'; readonly length: number }
  | { readonly kind: 'error'; readonly reason: StunFramerErrorReason };

/** Looks at the bytes of `b[start, end)` that begin a frame and says how long it is. */
function inspect(b: Buffer, start: number, end: number, max: number): Step {
  const available = end - start;
  if (available < 1) return { kind: 'need', bytes: 4 };
  const b0 = b[start] as number;
  if ((b0 & 0x80) !== 0) return { kind: 'error', reason: 'not-stun-or-channel-data' };
  if (available < 4) return { kind: 'need', bytes: 4 };
  const length = b.readUInt16BE(start + 2);
  if ((b0 & 0xc0) === 0x40) {
    // Top bits 01: a channel number of RFC 8656 (0x4000–0x4FFF) or RFC 5766 (to 0x7FFF).
    if (b.readUInt16BE(start) > CHANNEL_NUMBER_MAX)
      return { kind: 'error', reason: 'reserved-channel' };
    // RFC 8656 §12.5: "the actual size of a ChannelData message (including padding) is
    // (4 + Length) rounded up to the nearest multiple of 4".
    const total = (4 + length + 3) & ~3;
    if (total > max) return { kind: 'error', reason: 'too-large' };
    return { kind: 'frame', type: 'channel-data', length: total };
  }
  if (available < 8) return { kind: 'need', bytes: 8 };
  if (b.readUInt32BE(start + 4) !== MAGIC_COOKIE)
    return { kind: 'error', reason: 'bad-magic-cookie' };
  if ((length & 3) !== 0) return { kind: 'error', reason: 'bad-stun-length' };
  const total = STUN_HEADER_LENGTH + length;
  if (total > max) return { kind: 'error', reason: 'too-large' };
  return { kind: 'frame', type: 'stun', length: total };
}

/**
 * Splits a TCP/TLS byte stream into STUN and ChannelData frames, holding at most one partial
 * frame in one growable buffer.
 *
 * Frames a chunk holds whole are subarrays of that chunk (the chunk must not be reused);
 * a frame assembled from several chunks is a copy. The framer never writes to a returned
 * Buffer again.
 */
export class StunStreamFramer {
  /** Largest frame accepted, in bytes. */
  readonly maxFrameBytes: number;
  private buffer: Buffer = Buffer.alloc(0);
  /** Bytes of the current partial frame held in `buffer` (it always starts at index 0). */
  private held = 0;
  /** Stream offset of the first byte not yet returned in a frame. */
  private streamOffset = 0;
  private failure: StunFramerErrorReason | undefined;

  constructor(options: StunStreamFramerOptions = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(max) || max < STUN_HEADER_LENGTH) {
      throw new RampartError(
        'RAMPART_ERR_INVALID_ARGUMENT',
        `maxFrameBytes must be an integer >= 20, got ${max}`,
      );
    }
    this.maxFrameBytes = max;
  }

  /** Bytes held that do not yet form a complete frame. */
  get bufferedBytes(): number {
    return this.held;
  }

  /** The error that broke the stream, if any. */
  get error(): StunFramerErrorReason | undefined {
    return this.failure;
  }

  /**
   * Feeds bytes read from the stream; returns the frames they complete, in order. After an
   * `error` output every later call returns nothing: the caller must close the stream.
   */
  push(chunk: Buffer): StunFramerOutput[] {
    const out: StunFramerOutput[] = [];
    if (this.failure !== undefined) return out;
    let position = 0;
    // First complete the frame already begun, copying only the bytes it still needs.
    while (this.held > 0) {
      const step = inspect(this.buffer, 0, this.held, this.maxFrameBytes);
      if (step.kind === 'error') return this.fail(step.reason, out);
      if (step.kind === 'frame' && this.held === step.length) {
        out.push({ type: step.type, data: Buffer.from(this.buffer.subarray(0, step.length)) });
        this.streamOffset += step.length;
        this.held = 0;
        if (this.buffer.length > RETAINED_CAPACITY) this.buffer = Buffer.alloc(0);
        break;
      }
      if (position === chunk.length) return out;
      const wanted = step.kind === 'need' ? step.bytes : step.length;
      const take = Math.min(wanted - this.held, chunk.length - position);
      this.reserve(this.held + take);
      chunk.copy(this.buffer, this.held, position, position + take);
      this.held += take;
      position += take;
    }
    // Then frame straight out of the chunk and keep only its tail.
    while (position < chunk.length) {
      const step = inspect(chunk, position, chunk.length, this.maxFrameBytes);
      if (step.kind === 'error') return this.fail(step.reason, out);
      if (step.kind === 'need' || position + step.length > chunk.length) break;
      out.push({ type: step.type, data: chunk.subarray(position, position + step.length) });
      position += step.length;
      this.streamOffset += step.length;
    }
    const rest = chunk.length - position;
    if (rest > 0) {
      this.reserve(rest);
      chunk.copy(this.buffer, 0, position);
      this.held = rest;
    }
    return out;
  }

  private reserve(size: number): void {
    if (this.buffer.length >= size) return;
    let capacity = Math.max(this.buffer.length * 2, INITIAL_CAPACITY);
    while (capacity < size) capacity *= 2;
    const grown = Buffer.allocUnsafe(Math.min(capacity, Math.max(size, this.maxFrameBytes)));
    this.buffer.copy(grown, 0, 0, this.held);
    this.buffer = grown;
  }

  private fail(reason: StunFramerErrorReason, out: StunFramerOutput[]): StunFramerOutput[] {
    this.failure = reason;
    this.held = 0;
    this.buffer = Buffer.alloc(0);
    out.push({ type: 'error', reason, offset: this.streamOffset });
    return out;
  }
}

/**
 * TURN ChannelData messages (RFC 8656 §12.4): a 16-bit channel number, a 16-bit length and
 * the application data, padded to 4 bytes over TCP and TLS (§12.5).
 */
import { RampartError } from '../../lib/errors.ts';
import { err, ok, type Result } from '../../lib/result.ts';
import { CHANNEL_NUMBER_MAX, CHANNEL_NUMBER_MIN } from './constants.ts';
import type { StunFraming } from './routing.ts';

/** RFC 8656 §12.4: the ChannelData header is 4 bytes. */
export const CHANNEL_DATA_HEADER_LENGTH = 4;

/** A decoded ChannelData message. */
export interface ChannelData {
  readonly channel: number;
  /** The application data: a subarray of the input, without padding. */
  readonly data: Buffer;
}

/** Why a buffer is not a ChannelData message. */
export type ChannelDataDecodeErrorReason =
  'too-short' | 'not-channel-data' | 'reserved-channel' | 'truncated' | 'trailing-bytes';

/** Where and why ChannelData decoding failed. */
export interface ChannelDataDecodeError {
  readonly code: 'RAMPART_ERR_STUN_PARSE';
  readonly reason: ChannelDataDecodeErrorReason;
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;
}

function failure(
  reason: ChannelDataDecodeErrorReason,
  offset: number,
): { readonly ok: false; readonly error: ChannelDataDecodeError } {
  return err({ code: 'RAMPART_ERR_STUN_PARSE', reason, offset });
}

/**
 * The size of a ChannelData message carrying `dataLength` bytes. RFC 8656 §12.5: "Over TCP
 * and TLS-over-TCP, the ChannelData message MUST be padded to a multiple of four bytes [...]
 * Over UDP, the padding is not required but MAY be included." Rampart sends none over UDP.
 */
export function channelDataLength(dataLength: number, framing: StunFraming): number {
  const length = CHANNEL_DATA_HEADER_LENGTH + dataLength;
  return framing === 'stream' ? (length + 3) & ~3 : length;
}

/**
 * Decodes a ChannelData message: one UDP datagram, or one frame from `StunStreamFramer`. Up to
 * the 4-byte boundary, padding after the data is accepted; more bytes are an error.
 *
 * `data` is a subarray of `b`; valid until `b` is reused.
 */
export function decodeChannelData(b: Buffer): Result<ChannelData, ChannelDataDecodeError> {
  if (b.length < CHANNEL_DATA_HEADER_LENGTH) return failure('too-short', b.length);
  const channel = b.readUInt16BE(0);
  if ((channel & 0xc000) !== 0x4000) return failure('not-channel-data', 0);
  // RFC 8656 §12.6: "If the message uses a value in the reserved range (0x5000 through
  // 0xFFFF), then the message is silently discarded."
  if (channel > CHANNEL_NUMBER_MAX) return failure('reserved-channel', 0);
  const end = CHANNEL_DATA_HEADER_LENGTH + b.readUInt16BE(2);
  // RFC 8656 §12.6: a datagram "too short to contain the claimed length of the ChannelData
  // message [...] is silently discarded."
  if (b.length < end) return failure('truncated', b.length);
  if (b.length > ((end + 3) & ~3)) return failure('trailing-bytes', end);
  return ok({ channel, data: b.subarray(CHANNEL_DATA_HEADER_LENGTH, end) });
}

/**
 * Writes a ChannelData header at `offset` and returns the offset of the data, so the relay path
 * can receive or copy the data straight after it and send `target` with no further copy.
 * Throws on programmer errors (a channel outside 0x4000–0x4FFF, a length over 65535, no room).
 */
export function writeChannelDataHeader(
  target: Buffer,
  offset: number,
  channel: number,
  length: number,
): number {
  if (!Number.isInteger(channel) || channel < CHANNEL_NUMBER_MIN || channel > CHANNEL_NUMBER_MAX) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `bad channel number: ${channel}`);
  }
  if (!Number.isInteger(length) || length < 0 || length > 0xffff) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `bad ChannelData length: ${length}`);
  }
  if (
    !Number.isInteger(offset) ||
    offset < 0 ||
    offset + CHANNEL_DATA_HEADER_LENGTH > target.length
  ) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', 'no room for the ChannelData header');
  }
  target.writeUInt16BE(channel, offset);
  target.writeUInt16BE(length, offset + 2);
  return offset + CHANNEL_DATA_HEADER_LENGTH;
}

/**
 * A whole ChannelData message in a new Buffer (one copy of `data`), padded with zeros to 4
 * bytes for a stream (RFC 8656 §12.5).
 */
export function encodeChannelData(channel: number, data: Uint8Array, framing: StunFraming): Buffer {
  const out = Buffer.alloc(channelDataLength(data.length, framing));
  const at = writeChannelDataHeader(out, 0, channel, data.length);
  out.set(data, at);
  return out;
}

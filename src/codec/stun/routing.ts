/**
 * Cheap routing checks (STYLE rule 2): a few byte comparisons, no allocation, so a listener
 * can demultiplex STUN, ChannelData and other protocols before decoding anything.
 * RFC 8656 §12 / RFC 7983: a first byte of 0–3 is STUN, 64–79 is a TURN channel.
 */
import { CHANNEL_NUMBER_MAX, MAGIC_COOKIE, STUN_HEADER_LENGTH } from './constants.ts';

/** How the bytes arrived: one UDP datagram, or a frame cut from a TCP/TLS stream. */
export type StunFraming = 'datagram' | 'stream';

/**
 * Whether `b` looks like a STUN message (RFC 8489 §5): the top two bits are 0, the magic
 * cookie is present and the length is a multiple of 4. For a datagram the message must also
 * fill it exactly (20 + length === b.length); for a stream frame it must fit within `b`.
 */
export function isStun(b: Uint8Array, framing: StunFraming = 'datagram'): boolean {
  if (b.length < STUN_HEADER_LENGTH) return false;
  const b0 = b[0] as number;
  if ((b0 & 0xc0) !== 0) return false;
  const cookie =
    (((b[4] as number) << 24) |
      ((b[5] as number) << 16) |
      ((b[6] as number) << 8) |
      (b[7] as number)) >>>
    0;
  if (cookie !== MAGIC_COOKIE) return false;
  const length = ((b[2] as number) << 8) | (b[3] as number);
  if ((length & 3) !== 0) return false;
  const total = STUN_HEADER_LENGTH + length;
  return framing === 'datagram' ? total === b.length : total <= b.length;
}

/**
 * Whether `b` looks like a ChannelData message (RFC 8656 §12.4): the first two bits are 01, the
 * channel number is in 0x4000–0x4FFF (RFC 8656 §12: 0x5000–0xFFFF are reserved), and the
 * declared length fits in `b` (padding, if any, may follow).
 */
export function isChannelData(b: Uint8Array): boolean {
  if (b.length < 4) return false;
  const channel = ((b[0] as number) << 8) | (b[1] as number);
  if ((channel & 0xc000) !== 0x4000 || channel > CHANNEL_NUMBER_MAX) return false;
  const length = ((b[2] as number) << 8) | (b[3] as number);
  return 4 + length <= b.length;
}

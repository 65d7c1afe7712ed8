/**
 * The Binding success response (RFC 8489 §7.3.1: "the server MUST include a
 * XOR-MAPPED-ADDRESS attribute") built in one buffer without the general encoder: the
 * answer to every ICE keepalive and connectivity check that reaches a TURN server, so the
 * busiest request a server sees. Same bytes as `encodeStun` would produce.
 */
import { STUN_ATTR, STUN_HEADER_LENGTH } from './constants.ts';
import { encodeAddress, writeAddress, type TransportAddress } from './address.ts';

/** Binding success class and method in the message type field (RFC 8489 §5). */
const BINDING_SUCCESS = 0x0101;

/**
 * A Binding success response to `request` (its transaction ID is bytes 8–20) carrying only
 * XOR-MAPPED-ADDRESS `mapped`. Throws on a programmer error (an invalid address).
 */
export function encodeBindingSuccess(request: Uint8Array, mapped: TransportAddress): Buffer {
  const address = encodeAddress(mapped);
  const valueLength = 4 + address.bytes.length;
  const out = Buffer.allocUnsafe(STUN_HEADER_LENGTH + 4 + valueLength);
  out.writeUInt16BE(BINDING_SUCCESS, 0);
  out.writeUInt16BE(4 + valueLength, 2);
  // Magic cookie and transaction ID: the request's bytes 4–20, copied as they are.
  out.set(request.subarray(4, STUN_HEADER_LENGTH), 4);
  out.writeUInt16BE(STUN_ATTR.XOR_MAPPED_ADDRESS, STUN_HEADER_LENGTH);
  out.writeUInt16BE(valueLength, STUN_HEADER_LENGTH + 2);
  writeAddress(out, STUN_HEADER_LENGTH + 4, address, out.subarray(8, STUN_HEADER_LENGTH));
  return out;
}

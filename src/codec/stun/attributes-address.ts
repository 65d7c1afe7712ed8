/**
 * Address attributes: MAPPED-ADDRESS (RFC 8489 §14.1), XOR-MAPPED-ADDRESS (§14.2),
 * ALTERNATE-SERVER (§14.15), XOR-PEER-ADDRESS (RFC 8656 §18.3) and XOR-RELAYED-ADDRESS
 * (RFC 8656 §18.5).
 */
import {
  readAll,
  readFirst,
  writer,
  type RepeatableAttributeCodec,
  type ValueParser,
} from './attribute-codec.ts';
import { encodeAddress, readAddress, writeAddress, type TransportAddress } from './address.ts';
import { STUN_ATTR } from './constants.ts';

function addressCodec(type: number, xor: boolean): RepeatableAttributeCodec<TransportAddress> {
  const parse: ValueParser<TransportAddress> = (value, msg) =>
    readAddress(value, xor ? msg.transactionId : undefined);
  return {
    type,
    get: (msg) => readFirst(msg, type, parse),
    getAll: (msg) => readAll(msg, type, parse),
    of: (addr) => {
      const encoded = encodeAddress(addr);
      return writer(type, 4 + encoded.bytes.length, (target, offset, transactionId) => {
        writeAddress(target, offset, encoded, xor ? transactionId : undefined);
      });
    },
  };
}

/** MAPPED-ADDRESS (RFC 8489 §14.1): the reflexive address, in the clear (RFC 3489 clients). */
export const MappedAddress = addressCodec(STUN_ATTR.MAPPED_ADDRESS, false);

/** XOR-MAPPED-ADDRESS (RFC 8489 §14.2): the reflexive address, XOR'ed. */
export const XorMappedAddress = addressCodec(STUN_ATTR.XOR_MAPPED_ADDRESS, true);

/**
 * ALTERNATE-SERVER (RFC 8489 §14.15): "encoded in the same way as MAPPED-ADDRESS and thus
 * refers to a single server by IP address."
 */
export const AlternateServer = addressCodec(STUN_ATTR.ALTERNATE_SERVER, false);

/**
 * XOR-PEER-ADDRESS (RFC 8656 §18.3). A CreatePermission request may carry several
 * (RFC 8656 §9.1): use `getAll`.
 */
export const XorPeerAddress = addressCodec(STUN_ATTR.XOR_PEER_ADDRESS, true);

/**
 * XOR-RELAYED-ADDRESS (RFC 8656 §18.5). A dual-stack Allocate response carries two, one per
 * family (RFC 8656 §7.3): use `getAll`.
 */
export const XorRelayedAddress = addressCodec(STUN_ATTR.XOR_RELAYED_ADDRESS, true);

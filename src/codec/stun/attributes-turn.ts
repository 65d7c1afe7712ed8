/**
 * TURN attributes: RFC 8656 §18 (CHANNEL-NUMBER, LIFETIME, DATA, REQUESTED-ADDRESS-FAMILY,
 * EVEN-PORT, REQUESTED-TRANSPORT, DONT-FRAGMENT, RESERVATION-TOKEN, ADDITIONAL-ADDRESS-FAMILY,
 * ICMP) and RFC 6062 §6.2 (CONNECTION-ID). The address attributes are in
 * `attributes-address.ts`.
 */
import { RampartError } from '../../lib/errors.ts';
import { err, ok } from '../../lib/result.ts';
import {
  fixedLength,
  readFirst,
  writer,
  type AttributeCodec,
  type ValueParser,
} from './attribute-codec.ts';
import { ADDRESS_FAMILY, STUN_ATTR } from './constants.ts';
import { checkUint16, rawAttribute } from './encode.ts';

function checkUint32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `${what} out of range: ${value}`);
  }
}

function uint32Codec(type: number, what: string): AttributeCodec<number> {
  return {
    type,
    get: (msg) =>
      readFirst(
        msg,
        type,
        fixedLength(4, (value) => value.readUInt32BE(0)),
      ),
    of: (n) => {
      checkUint32(n, what);
      return writer(type, 4, (target, offset) => target.writeUInt32BE(n, offset));
    },
  };
}

/**
 * LIFETIME (RFC 8656 §18.2): "a 32-bit unsigned integral value representing the number of
 * seconds remaining until expiration."
 */
export const Lifetime = uint32Codec(STUN_ATTR.LIFETIME, 'LIFETIME');

/** CONNECTION-ID (RFC 6062 §6.2.1): "a 32-bit unsigned integral value". */
export const ConnectionId = uint32Codec(STUN_ATTR.CONNECTION_ID, 'CONNECTION-ID');

/**
 * CHANNEL-NUMBER (RFC 8656 §18.1): a 16-bit channel number and a 16-bit RFFU field that "MUST
 * be set to 0 on transmission and MUST be ignored on reception". Whether the number is in
 * 0x4000–0x4FFF is for the ChannelBind handler to judge (RFC 8656 §12.2: else 400).
 */
export const ChannelNumber: AttributeCodec<number> = {
  type: STUN_ATTR.CHANNEL_NUMBER,
  get: (msg) =>
    readFirst(
      msg,
      STUN_ATTR.CHANNEL_NUMBER,
      fixedLength(4, (value) => value.readUInt16BE(0)),
    ),
  of: (channel) => {
    checkUint16(channel, 'channel number');
    return writer(STUN_ATTR.CHANNEL_NUMBER, 4, (target, offset) => {
      target.writeUInt32BE(channel * 0x10000, offset);
    });
  },
};

/** DATA (RFC 8656 §18.4): the application data; `get` returns a view of the message. */
export const Data: AttributeCodec<Buffer, Uint8Array> = {
  type: STUN_ATTR.DATA,
  get: (msg) => readFirst(msg, STUN_ATTR.DATA, (value) => ok(value)),
  of: (data) => rawAttribute(STUN_ATTR.DATA, data),
};

/**
 * REQUESTED-TRANSPORT (RFC 8656 §18.8): an 8-bit protocol number and 24 RFFU bits; see
 * `TRANSPORT_PROTOCOL` (17 UDP, RFC 8656; 6 TCP, RFC 6062).
 */
export const RequestedTransport: AttributeCodec<number> = {
  type: STUN_ATTR.REQUESTED_TRANSPORT,
  get: (msg) =>
    readFirst(
      msg,
      STUN_ATTR.REQUESTED_TRANSPORT,
      fixedLength(4, (value) => value[0] as number),
    ),
  of: (protocol) => {
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 0xff) {
      throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `bad protocol: ${protocol}`);
    }
    return writer(STUN_ATTR.REQUESTED_TRANSPORT, 4, (target, offset) => {
      target.writeUInt32BE(protocol * 0x1000000, offset);
    });
  },
};

/**
 * An address family: 8-bit family code and 24 reserved bits (RFC 8656 §18.6). An unknown
 * family is 'unknown-address-family' so a server can tell it from a malformed value (440 vs
 * 400, RFC 8656 §7.2).
 */
const parseFamily: ValueParser<4 | 6> = (value) => {
  if (value.length !== 4) return err('bad-length');
  if (value[0] === ADDRESS_FAMILY.IPv4) return ok(4);
  if (value[0] === ADDRESS_FAMILY.IPv6) return ok(6);
  return err('unknown-address-family');
};

function familyCodec(type: number): AttributeCodec<4 | 6> {
  return {
    type,
    get: (msg) => readFirst(msg, type, parseFamily),
    of: (family) => {
      const code = family === 4 ? ADDRESS_FAMILY.IPv4 : ADDRESS_FAMILY.IPv6;
      return writer(type, 4, (target, offset) => target.writeUInt32BE(code * 0x1000000, offset));
    },
  };
}

/** REQUESTED-ADDRESS-FAMILY (RFC 8656 §18.6). */
export const RequestedAddressFamily = familyCodec(STUN_ATTR.REQUESTED_ADDRESS_FAMILY);

/**
 * ADDITIONAL-ADDRESS-FAMILY (RFC 8656 §18.11): "The attribute value of 0x02 (IPv6 address) is
 * the only valid value in Allocate request"; the request handler checks that.
 */
export const AdditionalAddressFamily = familyCodec(STUN_ATTR.ADDITIONAL_ADDRESS_FAMILY);

/**
 * EVEN-PORT (RFC 8656 §18.7): one byte; the R bit asks the server to reserve the next-higher
 * port. The other 7 bits are ignored on reception.
 */
export const EvenPort: AttributeCodec<{ readonly reserveNext: boolean }> = {
  type: STUN_ATTR.EVEN_PORT,
  get: (msg) =>
    readFirst(
      msg,
      STUN_ATTR.EVEN_PORT,
      fixedLength(1, (value) => ({ reserveNext: ((value[0] as number) & 0x80) !== 0 })),
    ),
  of: ({ reserveNext }) =>
    writer(STUN_ATTR.EVEN_PORT, 1, (target, offset) => {
      target[offset] = reserveNext ? 0x80 : 0;
    }),
};

/** RESERVATION-TOKEN (RFC 8656 §18.10): "The attribute value is 8 bytes". */
export const ReservationToken: AttributeCodec<Buffer, Uint8Array> = {
  type: STUN_ATTR.RESERVATION_TOKEN,
  get: (msg) =>
    readFirst(
      msg,
      STUN_ATTR.RESERVATION_TOKEN,
      fixedLength(8, (value) => value),
    ),
  of: (token) => {
    if (token.length !== 8) {
      throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', 'RESERVATION-TOKEN must be 8 bytes');
    }
    return rawAttribute(STUN_ATTR.RESERVATION_TOKEN, token);
  },
};

/**
 * DONT-FRAGMENT (RFC 8656 §18.9): "This attribute has no value part, and thus, the attribute
 * length field is 0." `get` gives `true` when present; `of()` takes no value.
 */
export const DontFragment: AttributeCodec<true, void> = {
  type: STUN_ATTR.DONT_FRAGMENT,
  get: (msg) =>
    readFirst(
      msg,
      STUN_ATTR.DONT_FRAGMENT,
      fixedLength(0, () => true as const),
    ),
  of: () => writer(STUN_ATTR.DONT_FRAGMENT, 0, () => undefined),
};

/** An ICMP attribute value (RFC 8656 §18.13). */
export interface IcmpValue {
  readonly icmpType: number;
  readonly icmpCode: number;
  /** The next-hop MTU for "packet too big" / "fragmentation needed", else 0. */
  readonly errorData: number;
}

/**
 * ICMP (RFC 8656 §18.13): 16 reserved bits, ICMP Type (8), ICMP Code (8), Error Data (32).
 */
export const Icmp: AttributeCodec<IcmpValue> = {
  type: STUN_ATTR.ICMP,
  get: (msg) =>
    readFirst(
      msg,
      STUN_ATTR.ICMP,
      fixedLength(8, (value) => ({
        icmpType: value[2] as number,
        icmpCode: value[3] as number,
        errorData: value.readUInt32BE(4),
      })),
    ),
  of: ({ icmpType, icmpCode, errorData }) => {
    if (
      !Number.isInteger(icmpType) ||
      icmpType < 0 ||
      icmpType > 0xff ||
      !Number.isInteger(icmpCode) ||
      icmpCode < 0 ||
      icmpCode > 0xff
    ) {
      throw new RampartError(
        'RAMPART_ERR_INVALID_ARGUMENT',
        `bad ICMP type/code: ${icmpType}/${icmpCode}`,
      );
    }
    checkUint32(errorData, 'ICMP error data');
    return writer(STUN_ATTR.ICMP, 8, (target, offset) => {
      target.writeUInt16BE(0, offset);
      target[offset + 2] = icmpType;
      target[offset + 3] = icmpCode;
      target.writeUInt32BE(errorData, offset + 4);
    });
  },
};

/**
 * Transport addresses in STUN attributes: MAPPED-ADDRESS layout (RFC 8489 §14.1) and its XOR
 * form (§14.2), plus the IP text ↔ bytes conversions they need.
 */
import { isIPv6 } from 'node:net';
import { RampartError } from '../../lib/errors.ts';
import { ipv4Value } from '../../lib/ipv4.ts';
import { err, ok, type Result } from '../../lib/result.ts';
import { ADDRESS_FAMILY, MAGIC_COOKIE } from './constants.ts';
import type { StunAttributeErrorReason } from './message.ts';

/** An IP address and port, as sockets report them ('192.0.2.1', '2001:db8::1'). */
export interface TransportAddress {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
}

function hextets(part: string): number[] {
  return part === '' ? [] : part.split(':').map((h) => parseInt(h, 16));
}

/** The IP address bytes of an IPv4 or IPv6 text address, or undefined if it is neither. */
export function ipToBytes(address: string): Buffer | undefined {
  const v4 = ipv4Value(address);
  if (v4 >= 0) {
    // Not from the shared pool: a caller may keep these 4 bytes for an allocation's life.
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(v4, 0);
    return bytes;
  }
  if (!isIPv6(address) || address.includes('%')) return undefined;
  let text = address;
  const tail: number[] = [];
  if (text.includes('.')) {
    // RFC 4291 §2.2 form 3: the low 32 bits written as dotted IPv4.
    const lastColon = text.lastIndexOf(':');
    const v4 = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    tail.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  let groups = hextets(halves[0] ?? '');
  if (halves.length > 1) {
    const rest = hextets(halves[1] ?? '');
    const zeros = new Array<number>(8 - groups.length - rest.length - tail.length).fill(0);
    groups = [...groups, ...zeros, ...rest];
  }
  groups.push(...tail);
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(group, i * 2));
  return bytes;
}

/**
 * Text form of 4 or 16 address bytes. IPv6 follows RFC 5952 §4 (lower case, no leading zeros,
 * the longest run of two or more zero groups as '::') and §5 (IPv4-mapped as ::ffff:a.b.c.d).
 */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${Array.from(bytes.subarray(12, 16)).join('.')}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const before = hex.slice(0, bestStart).join(':');
  const after = hex.slice(bestStart + bestLength).join(':');
  return `${before}::${after}`;
}

/** The 16 bytes IPv6 addresses are XOR'ed with: magic cookie, then transaction ID. */
function xorPad(transactionId: Uint8Array, index: number): number {
  if (index < 4) return (MAGIC_COOKIE >>> (24 - index * 8)) & 0xff;
  return transactionId[index - 4] as number;
}

/**
 * Reads a MAPPED-ADDRESS-shaped value (RFC 8489 §14.1), or its XOR form (§14.2) when
 * `transactionId` is given.
 */
export function readAddress(
  value: Buffer,
  transactionId: Uint8Array | undefined,
): Result<TransportAddress, StunAttributeErrorReason> {
  if (value.length < 4) return err('bad-length');
  // RFC 8489 §14.1: "The first 8 bits of the MAPPED-ADDRESS MUST be set to 0 and MUST be
  // ignored by receivers."
  const familyCode = value[1];
  const size = familyCode === ADDRESS_FAMILY.IPv4 ? 4 : familyCode === ADDRESS_FAMILY.IPv6 ? 16 : 0;
  if (size === 0) return err('unknown-address-family');
  if (value.length !== 4 + size) return err('bad-length');
  let port = value.readUInt16BE(2);
  const bytes = Buffer.from(value.subarray(4, 4 + size));
  if (transactionId !== undefined) {
    // RFC 8489 §14.2: "X-Port is computed by XOR'ing the mapped port with the most
    // significant 16 bits of the magic cookie. If the IP address family is IPv4, X-Address
    // is computed by XOR'ing the mapped IP address with the magic cookie. If the IP address
    // family is IPv6, X-Address is computed by XOR'ing the mapped IP address with the
    // concatenation of the magic cookie and the 96-bit transaction ID."
    port ^= MAGIC_COOKIE >>> 16;
    for (let i = 0; i < size; i++) bytes[i] = (bytes[i] as number) ^ xorPad(transactionId, i);
  }
  return ok({ family: size === 4 ? 4 : 6, address: bytesToIp(bytes), port });
}

/** Address bytes and port checked once, ready to be written into any number of messages. */
export interface EncodedAddress {
  readonly bytes: Buffer;
  readonly port: number;
}

/** Validates an address for encoding; throws on a programmer error (bad IP, port, family). */
export function encodeAddress(addr: TransportAddress): EncodedAddress {
  const bytes = ipToBytes(addr.address);
  if (bytes === undefined || (bytes.length === 4 ? 4 : 6) !== addr.family) {
    throw new RampartError(
      'RAMPART_ERR_INVALID_ARGUMENT',
      `not an IPv${addr.family} address: ${addr.address}`,
    );
  }
  if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > 0xffff) {
    throw new RampartError('RAMPART_ERR_INVALID_ARGUMENT', `bad port: ${addr.port}`);
  }
  return { bytes, port: addr.port };
}

/** Writes a MAPPED-ADDRESS-shaped value, XOR'ed when `transactionId` is given. */
export function writeAddress(
  target: Buffer,
  offset: number,
  addr: EncodedAddress,
  transactionId: Uint8Array | undefined,
): void {
  const size = addr.bytes.length;
  target[offset] = 0;
  target[offset + 1] = size === 4 ? ADDRESS_FAMILY.IPv4 : ADDRESS_FAMILY.IPv6;
  const xor = transactionId !== undefined;
  target.writeUInt16BE(xor ? addr.port ^ (MAGIC_COOKIE >>> 16) : addr.port, offset + 2);
  for (let i = 0; i < size; i++) {
    const byte = addr.bytes[i] as number;
    target[offset + 4 + i] = xor ? byte ^ xorPad(transactionId, i) : byte;
  }
}

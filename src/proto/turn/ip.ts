import { ipv4Value } from '../../lib/ipv4.ts';
import { err, ok, type Result } from '../../lib/result.ts';

/**
 * IP literals as numbers: IPv4 as an unsigned 32-bit `number`, IPv6 as a 128-bit `bigint`.
 * Parsing is strict and never guesses: an IPv4 literal is exactly four decimal octets without
 * leading zeros (inet_aton's '0127.0.0.1', '127.1', '0x7f.1' and '2130706433' are refused as
 * `non-canonical-ipv4`, because different stacks read them differently — the root of several
 * SSRF filter bypasses). IPv6 follows RFC 4291 §2.2 (any case, leading zeros, `::`, a dotted
 * IPv4 tail) and formats as RFC 5952.
 */
export type IpAddress =
  { readonly family: 4; readonly value: number } | { readonly family: 6; readonly value: bigint };

/** Why a text is not an IP literal. */
export type IpParseFailure = 'invalid-address' | 'non-canonical-ipv4';

const MAX_LITERAL_LENGTH = 64;
const IPV4_LIKE = /^[0-9a-fA-FxX.]+$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const ZONE_ID = /^[0-9A-Za-z._~-]{1,32}$/;

/** The first address of the IPv4-mapped prefix ::ffff:0:0/96 (RFC 4291 §2.5.5.2). */
export const IPV4_MAPPED_PREFIX = 0xffffn << 32n;

/** Whether a 128-bit value is IPv4-mapped (::ffff:0:0/96). */
export function isIpv4Mapped(value: bigint): boolean {
  return value >> 32n === 0xffffn;
}

/** Parses a strict dotted-quad IPv4 literal into its 32-bit value. */
export function parseIpv4(text: string): Result<number, IpParseFailure> {
  const value = ipv4Value(text);
  if (value >= 0) return ok(value);
  // Digits, hex letters, 'x' and dots only: some resolver would read it as an address.
  if (text.length > 0 && IPV4_LIKE.test(text) && /[0-9]/.test(text)) {
    return err('non-canonical-ipv4');
  }
  return err('invalid-address');
}

/** Parses an RFC 4291 §2.2 IPv6 literal (zone identifier dropped) into its 128-bit value. */
export function parseIpv6(literal: string): Result<bigint, IpParseFailure> {
  let text = literal;
  const zoneAt = text.indexOf('%');
  if (zoneAt !== -1) {
    if (!ZONE_ID.test(text.slice(zoneAt + 1))) return err('invalid-address');
    text = text.slice(0, zoneAt);
  }
  const groups: number[] = [];
  let tail = text;
  let ipv4Tail: number | undefined;
  const lastColon = text.lastIndexOf(':');
  if (lastColon !== -1 && text.includes('.', lastColon)) {
    const ipv4 = parseIpv4(text.slice(lastColon + 1));
    if (!ipv4.ok) return ipv4;
    ipv4Tail = ipv4.value;
    tail = text.slice(0, lastColon);
    // '::1.2.3.4' keeps its '::'.
    if (tail.endsWith(':')) tail = text.slice(0, lastColon + 1);
  }
  const doubleColon = tail.indexOf('::');
  if (doubleColon !== -1 && tail.indexOf('::', doubleColon + 1) !== -1) {
    return err('invalid-address');
  }
  const wanted = ipv4Tail === undefined ? 8 : 6;
  const parseGroups = (part: string, into: number[]): boolean => {
    if (part === '') return true;
    for (const group of part.split(':')) {
      if (!HEX_GROUP.test(group)) return false;
      into.push(Number.parseInt(group, 16));
    }
    return true;
  };
  if (doubleColon === -1) {
    if (!parseGroups(tail, groups) || groups.length !== wanted) return err('invalid-address');
  } else {
    const head: number[] = [];
    const rest: number[] = [];
    const after = tail.slice(doubleColon + 2);
    if (!parseGroups(tail.slice(0, doubleColon), head) || !parseGroups(after, rest)) {
      return err('invalid-address');
    }
    // RFC 4291 §2.2: "::" indicates one or more groups of 16 bits of zeros.
    if (head.length + rest.length >= wanted) return err('invalid-address');
    groups.push(...head, ...new Array<number>(wanted - head.length - rest.length).fill(0), ...rest);
  }
  if (ipv4Tail !== undefined) groups.push(ipv4Tail >>> 16, ipv4Tail & 0xffff);
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  return ok(value);
}

/** Parses an IPv4 or IPv6 literal (no brackets, no port). */
export function parseIp(text: string): Result<IpAddress, IpParseFailure> {
  if (text.length === 0 || text.length > MAX_LITERAL_LENGTH) return err('invalid-address');
  if (text.includes(':')) {
    const v6 = parseIpv6(text);
    return v6.ok ? ok({ family: 6, value: v6.value }) : v6;
  }
  const v4 = parseIpv4(text);
  return v4.ok ? ok({ family: 4, value: v4.value }) : v4;
}

/** An address from its network-order bytes (4 or 16, as STUN address attributes carry them). */
export function ipFromBytes(bytes: Uint8Array): Result<IpAddress, 'invalid-address'> {
  if (bytes.length === 4) {
    const [a = 0, b = 0, c = 0, d = 0] = bytes;
    return ok({ family: 4, value: ((a << 24) >>> 0) + (b << 16) + (c << 8) + d });
  }
  if (bytes.length !== 16) return err('invalid-address');
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return ok({ family: 6, value });
}

/** Dotted-quad text of a 32-bit value. */
export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** RFC 5952 text of a 128-bit value (IPv4-mapped addresses in mixed notation, §5). */
export function formatIpv6(value: bigint): string {
  if (isIpv4Mapped(value)) return `::ffff:${formatIpv4(Number(value & 0xffffffffn))}`;
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  // RFC 5952 §4.2.1-3: compress the longest run of two or more zero groups, the first on a tie.
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
  // RFC 5952 §4.3: lowercase hexadecimal, §4.1: no leading zeros.
  const hex = (from: number, to: number): string =>
    groups
      .slice(from, to)
      .map((group) => group.toString(16))
      .join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** Canonical text of an address: dotted quad or RFC 5952. */
export function formatIp(address: IpAddress): string {
  return address.family === 4 ? formatIpv4(address.value) : formatIpv6(address.value);
}

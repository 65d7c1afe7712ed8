import { err, ok, type Result } from '../../lib/result.ts';
import {
  formatIp,
  formatIpv4,
  ipFromBytes,
  isIpv4Mapped,
  parseIp,
  type IpAddress,
  type IpParseFailure,
} from './ip.ts';

/** How an IPv6 address carries an IPv4 address that policy must judge instead. */
export type PeerEmbedding = 'ipv4-mapped' | 'ipv4-compatible' | '6to4' | 'nat64';

/**
 * A peer address in canonical form. `address` is what a datagram is sent to (an IPv4-mapped
 * address is its IPv4: on a dual-stack socket both reach the same host); `embeddedIpv4` lists
 * the IPv4 addresses that translation or tunnelling would actually reach, which policy judges
 * in place of the IPv6 literal.
 */
export interface CanonicalPeerAddress {
  /** Dotted quad, or RFC 5952 text. Use it as the permission key. */
  readonly address: string;
  /** `address` as a number. */
  readonly ip: IpAddress;
  /** The one address policy reasons about: the (first) embedded IPv4, else `address`. */
  readonly policyAddress: string;
  /** The embedding that put an IPv4 address inside an IPv6 literal; undefined for none. */
  readonly embedding: PeerEmbedding | undefined;
  /**
   * Every IPv4 value the literal may stand for (more than one only inside 64:ff9b:1::/48, whose
   * RFC 6052 prefix length is the operator's choice). Empty when there is no embedding.
   */
  readonly embeddedIpv4: readonly number[];
}

/** RFC 6052 §2.1: the Well-Known Prefix 64:ff9b::/96. */
const NAT64_WELL_KNOWN = 0x0064ff9bn << 96n;
/** RFC 8215: the local-use prefix 64:ff9b:1::/48. */
const NAT64_LOCAL_USE = (0x0064ff9bn << 96n) | (1n << 80n);
/** RFC 3056 §2: the 6to4 prefix 2002::/16. */
const SIX_TO_FOUR = 0x2002n << 112n;

/** `count` bits of a 128-bit value starting at bit `from` (bit 0 is the most significant). */
function bitsOf(value: bigint, from: number, count: number): number {
  return Number((value >> BigInt(128 - from - count)) & ((1n << BigInt(count)) - 1n));
}

/** RFC 6052 §2.2: the prefix lengths an IPv4-embedded IPv6 address may use. */
export const RFC6052_PREFIX_LENGTHS = [32, 40, 48, 56, 64, 96] as const;

/** One of the RFC 6052 prefix lengths. */
export type Rfc6052PrefixLength = (typeof RFC6052_PREFIX_LENGTHS)[number];

/**
 * The IPv4 address embedded after a prefix of `prefixLength` bits (RFC 6052 §2.2 Figure 1):
 * 32 bits from bit `prefixLength` on, skipping bits 64–71 (the "u" octet).
 */
export function rfc6052Embedded(value: bigint, prefixLength: Rfc6052PrefixLength): number {
  if (prefixLength >= 64) return bitsOf(value, prefixLength === 64 ? 72 : 96, 32);
  const before = 64 - prefixLength;
  const high = bitsOf(value, prefixLength, before);
  const low = bitsOf(value, 72, 32 - before);
  return (high * 2 ** (32 - before) + low) >>> 0;
}

/**
 * Whether `value` is a well-formed RFC 6052 address for `prefixLength`: RFC 6052 §2.2 "Bits 64
 * to 71 of the address are reserved ... MUST be set to zero" and the suffix after the IPv4
 * bits is zero.
 */
function isRfc6052Form(value: bigint, prefixLength: Rfc6052PrefixLength): boolean {
  if (prefixLength === 96) return true;
  if (bitsOf(value, 64, 8) !== 0) return false;
  const v4End = prefixLength === 64 ? 104 : 72 + (32 - (64 - prefixLength));
  return (value & ((1n << BigInt(128 - v4End)) - 1n)) === 0n;
}

function embeddingOf(value: bigint): { kind: PeerEmbedding; ipv4: number[] } | undefined {
  const low32 = Number(value & 0xffffffffn);
  // RFC 4291 §2.5.5.2: ::ffff:0:0/96 is an IPv4 host reached over IPv4.
  if (isIpv4Mapped(value)) return { kind: 'ipv4-mapped', ipv4: [low32] };
  // RFC 4291 §2.5.5.1: ::/96 ("IPv4-compatible", deprecated) minus :: and ::1, which are
  // the unspecified and loopback addresses in their own right.
  if (value >> 32n === 0n && value > 1n) return { kind: 'ipv4-compatible', ipv4: [low32] };
  // RFC 3056 §2: 2002:V4ADDR::/48 — a 6to4 stack encapsulates to V4ADDR.
  if (value >> 112n === SIX_TO_FOUR >> 112n) {
    return { kind: '6to4', ipv4: [bitsOf(value, 16, 32)] };
  }
  // RFC 6052 §2.1: "The Well-Known Prefix MUST NOT be used" with lengths other than /96.
  if (value >> 32n === NAT64_WELL_KNOWN >> 32n) return { kind: 'nat64', ipv4: [low32] };
  if (value >> 80n === NAT64_LOCAL_USE >> 80n) {
    // RFC 8215: the operator picks any RFC 6052 length of /48 or longer inside the /48; every
    // well-formed reading is a destination the translator might use.
    const ipv4 = [rfc6052Embedded(value, 96)];
    for (const length of [48, 56, 64] as const) {
      if (isRfc6052Form(value, length)) ipv4.push(rfc6052Embedded(value, length));
    }
    return { kind: 'nat64', ipv4 };
  }
  return undefined;
}

/** The canonical form of a parsed address. */
export function canonicalPeerFromIp(parsed: IpAddress): CanonicalPeerAddress {
  if (parsed.family === 4) {
    const address = formatIpv4(parsed.value);
    return { address, ip: parsed, policyAddress: address, embedding: undefined, embeddedIpv4: [] };
  }
  const embedding = embeddingOf(parsed.value);
  if (embedding === undefined) {
    const address = formatIp(parsed);
    return { address, ip: parsed, policyAddress: address, embedding: undefined, embeddedIpv4: [] };
  }
  const first = embedding.ipv4[0] ?? 0;
  const policyAddress = formatIpv4(first);
  if (embedding.kind === 'ipv4-mapped') {
    const ip: IpAddress = { family: 4, value: first };
    return {
      address: policyAddress,
      ip,
      policyAddress,
      embedding: 'ipv4-mapped',
      embeddedIpv4: [],
    };
  }
  return {
    address: formatIp(parsed),
    ip: parsed,
    policyAddress,
    embedding: embedding.kind,
    embeddedIpv4: embedding.ipv4,
  };
}

/**
 * Canonicalises a peer address text for policy. IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
 * (::a.b.c.d), 6to4 (2002:AABB:CCDD::/48, RFC 3056) and NAT64 (64:ff9b::/96 RFC 6052,
 * 64:ff9b:1::/48 RFC 8215) addresses are judged by their embedded IPv4. IPv6 text in any case,
 * with leading zeros or `::`, comes out in RFC 5952 form; IPv4 text that is not a strict dotted
 * quad ('0127.0.0.1', '127.1') is refused, never guessed. Never throws (network input).
 */
export function canonicalPeerAddress(
  address: string,
): Result<CanonicalPeerAddress, IpParseFailure> {
  const parsed = parseIp(address);
  return parsed.ok ? ok(canonicalPeerFromIp(parsed.value)) : parsed;
}

/** Canonicalises an address given as its 4 or 16 network-order bytes (STUN attributes). */
export function canonicalPeerFromBytes(
  bytes: Uint8Array,
): Result<CanonicalPeerAddress, 'invalid-address'> {
  const parsed = ipFromBytes(bytes);
  return parsed.ok ? ok(canonicalPeerFromIp(parsed.value)) : err(parsed.error);
}

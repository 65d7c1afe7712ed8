import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import { parseIpRange } from './ip-range.ts';

/**
 * Special-purpose address blocks a relay refuses by default (RFC 6890 and the IANA registries
 * it founded). Relaying to them is how a TURN server becomes an SSRF proxy into its own host
 * or network (coturn CVE-2020-26262: 0.0.0.0 and [::] reached the loopback).
 *
 * - `unspecified` and `broadcast` are never relayable, whatever the allow list says: sending to
 *   0.0.0.0/8 or [::] reaches the host itself on common stacks, 255.255.255.255 reaches the
 *   whole link.
 * - `loopback`, `private` (RFC 1918, RFC 6598 CGNAT 100.64/10, RFC 4193 ULA fc00::/7, the
 *   deprecated site-local fec0::/10), `link-local` (169.254/16 — cloud metadata services —
 *   and fe80::/10) and `multicast` are refused unless a flag or the allow list enables them.
 * - `documentation` (RFC 5737, RFC 3849, RFC 9637) and `reserved` (IETF protocol assignments
 *   192.0.0.0/24, benchmarking 198.18/15 and 2001:2::/48, the 6to4 relay anycast 192.88.99/24,
 *   240/4, discard-only 100::/64, Teredo 2001::/32 whose embedded IPv4 is obfuscated, ORCHID,
 *   SRv6 SIDs 5f00::/16, and all IPv6 outside 2000::/3) carry no media peers: refusing them
 *   costs nothing and closes tunnels we cannot police.
 */
export type PeerCategory =
  | 'unspecified'
  | 'broadcast'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'multicast'
  | 'documentation'
  | 'reserved';

/** Categories no configuration can enable. */
export const NEVER_RELAYABLE: ReadonlySet<PeerCategory> = new Set(['unspecified', 'broadcast']);

const CATEGORY_TEXT: readonly (readonly [PeerCategory, string])[] = [
  // First match names the reason, so specific blocks precede the blocks that contain them.
  ['unspecified', '0.0.0.0/8'], // RFC 6890 "This host on this network"
  ['broadcast', '255.255.255.255/32'], // RFC 919 limited broadcast
  ['loopback', '127.0.0.0/8'], // RFC 1122 §3.2.1.3
  ['private', '10.0.0.0/8'], // RFC 1918
  ['private', '172.16.0.0/12'], // RFC 1918
  ['private', '192.168.0.0/16'], // RFC 1918
  ['private', '100.64.0.0/10'], // RFC 6598 shared address space (CGNAT)
  ['link-local', '169.254.0.0/16'], // RFC 3927
  ['multicast', '224.0.0.0/4'], // RFC 5771
  ['documentation', '192.0.2.0/24'], // RFC 5737 TEST-NET-1
  ['documentation', '198.51.100.0/24'], // RFC 5737 TEST-NET-2
  ['documentation', '203.0.113.0/24'], // RFC 5737 TEST-NET-3
  ['reserved', '192.0.0.0/24'], // RFC 6890 IETF protocol assignments
  ['reserved', '192.88.99.0/24'], // RFC 7526 deprecated 6to4 relay anycast
  ['reserved', '198.18.0.0/15'], // RFC 2544 benchmarking
  ['reserved', '240.0.0.0/4'], // RFC 1112 class E
  ['unspecified', '::/128'], // RFC 4291 §2.5.2
  ['loopback', '::1/128'], // RFC 4291 §2.5.3
  ['link-local', 'fe80::/10'], // RFC 4291 §2.5.6
  ['multicast', 'ff00::/8'], // RFC 4291 §2.7
  ['private', 'fc00::/7'], // RFC 4193 unique local
  ['private', 'fec0::/10'], // RFC 3879 deprecated site-local
  ['documentation', '2001:db8::/32'], // RFC 3849
  ['documentation', '3fff::/20'], // RFC 9637
  ['reserved', '2001::/32'], // RFC 4380 Teredo
  ['reserved', '2001:2::/48'], // RFC 5180 benchmarking
  ['reserved', '2001:10::/28'], // RFC 4843 ORCHID (deprecated)
  ['reserved', '2001:20::/28'], // RFC 7343 ORCHIDv2
  ['reserved', '100::/64'], // RFC 6666 discard-only
  ['reserved', '5f00::/16'], // RFC 9602 SRv6 SIDs
  ['reserved', '::/3'], // outside global unicast 2000::/3 (RFC 4291 §2.4)
  ['reserved', '4000::/2'],
  ['reserved', '8000::/1'],
];

interface CategoryRange<T> {
  readonly category: PeerCategory;
  readonly start: T;
  readonly end: T;
}

function build(): { v4: CategoryRange<number>[]; v6: CategoryRange<bigint>[] } {
  const v4: CategoryRange<number>[] = [];
  const v6: CategoryRange<bigint>[] = [];
  for (const [category, text] of CATEGORY_TEXT) {
    const range = parseIpRange(text);
    if (!range.ok) {
      throw new RampartError(
        ERROR_CODES.INVALID_ARGUMENT,
        `category table: ${range.error.message}`,
      );
    }
    if (range.value.family === 4) v4.push({ category, ...range.value });
    else v6.push({ category, ...range.value });
  }
  return { v4, v6 };
}

const TABLE = build();

/** The special-purpose category of an IPv4 value; undefined for ordinary unicast. */
export function ipv4Category(value: number): PeerCategory | undefined {
  for (const range of TABLE.v4) {
    if (value >= range.start && value <= range.end) return range.category;
  }
  return undefined;
}

/** The special-purpose category of an IPv6 value; undefined for ordinary global unicast. */
export function ipv6Category(value: bigint): PeerCategory | undefined {
  for (const range of TABLE.v6) {
    if (value >= range.start && value <= range.end) return range.category;
  }
  return undefined;
}

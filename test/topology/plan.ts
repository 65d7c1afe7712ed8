// The topology's plan: namespaces, addresses (RFC 5737 documentation ranges only),
// interface names, links and firewall rules. netns.ts builds it.
//
//   Internet segment 192.0.2.0/24, a bridge in namespace `internet`:
//     client eth0 192.0.2.10 | nat wan0 192.0.2.20 | dmz ext0 192.0.2.1
//   Home segment 198.51.100.0/24, one veth pair:
//     nat lan0 198.51.100.1 (masquerades out of wan0) | home eth0 198.51.100.10
//   Corporate segment 203.0.113.0/24, a bridge in namespace `corpnet`:
//     dmz int0 203.0.113.1 | corp eth0 203.0.113.10 | corp2 eth0 203.0.113.20
//
// Nothing routes between the two sides: the DMZ keeps ip_forward=0 and hosts have on-link
// routes only (home also a default route to its NAT), so whatever crosses was carried by a
// process in the DMZ.

/** Every namespace of a topology, by role. `internet` and `corpnet` only hold a bridge. */
export const ROLES = [
  'internet',
  'client',
  'nat',
  'home',
  'dmz',
  'corpnet',
  'corp',
  'corp2',
] as const;
/** A namespace's role in the topology. */
export type Role = (typeof ROLES)[number];

/** The three segments (RFC 5737 TEST-NET-1, -2 and -3). */
export const SUBNETS = {
  internet: '192.0.2.0/24',
  home: '198.51.100.0/24',
  corp: '203.0.113.0/24',
} as const;

/** Every host address of the topology. */
export const ADDRESSES = {
  client: '192.0.2.10',
  natWan: '192.0.2.20',
  natLan: '198.51.100.1',
  home: '198.51.100.10',
  dmzExternal: '192.0.2.1',
  dmzInternal: '203.0.113.1',
  corp: '203.0.113.10',
  corp2: '203.0.113.20',
} as const;

/** Interface names inside the namespaces, keyed like {@link ADDRESSES}. */
export const INTERFACES = {
  client: 'eth0',
  natWan: 'wan0',
  natLan: 'lan0',
  home: 'eth0',
  dmzExternal: 'ext0',
  dmzInternal: 'int0',
  corp: 'eth0',
  corp2: 'eth0',
  /** The bridge in `internet` and in `corpnet`; its ports are named after the peer role. */
  bridge: 'br0',
} as const;

/** One veth pair: `hostIf` in `host`, `peerIf` in `peer`. */
export interface Link<R extends string = Role> {
  readonly host: R;
  readonly hostIf: string;
  readonly peer: R;
  readonly peerIf: string;
}

export const LINKS: readonly Link[] = [
  { host: 'client', hostIf: INTERFACES.client, peer: 'internet', peerIf: 'client' },
  { host: 'nat', hostIf: INTERFACES.natWan, peer: 'internet', peerIf: 'nat' },
  { host: 'dmz', hostIf: INTERFACES.dmzExternal, peer: 'internet', peerIf: 'dmz' },
  { host: 'home', hostIf: INTERFACES.home, peer: 'nat', peerIf: INTERFACES.natLan },
  { host: 'dmz', hostIf: INTERFACES.dmzInternal, peer: 'corpnet', peerIf: 'dmz' },
  { host: 'corp', hostIf: INTERFACES.corp, peer: 'corpnet', peerIf: 'corp' },
  { host: 'corp2', hostIf: INTERFACES.corp2, peer: 'corpnet', peerIf: 'corp2' },
];

/** Address (with the segment's prefix length) of each host interface. */
export const HOST_ADDRESSES: readonly (readonly [Role, string, string])[] = [
  ['client', INTERFACES.client, `${ADDRESSES.client}/24`],
  ['nat', INTERFACES.natWan, `${ADDRESSES.natWan}/24`],
  ['nat', INTERFACES.natLan, `${ADDRESSES.natLan}/24`],
  ['home', INTERFACES.home, `${ADDRESSES.home}/24`],
  ['dmz', INTERFACES.dmzExternal, `${ADDRESSES.dmzExternal}/24`],
  ['dmz', INTERFACES.dmzInternal, `${ADDRESSES.dmzInternal}/24`],
  ['corp', INTERFACES.corp, `${ADDRESSES.corp}/24`],
  ['corp2', INTERFACES.corp2, `${ADDRESSES.corp2}/24`],
];

/** The home router's NAT: everything leaving the WAN takes the WAN address. */
export const NAT_RULESET = `
table ip rampart_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${INTERFACES.natWan}" ip saddr ${SUBNETS.home} masquerade
  }
}
`;

/** nftables table (family `ip`) of {@link DMZ_STRICT_HOST_RULESET}. */
export const DMZ_STRICT_HOST_TABLE = 'rampart_dmz';

/**
 * The DMZ host's input filter: a packet is only delivered to the address of the interface
 * it arrived on. Linux otherwise accepts a packet for any local address on any interface
 * (the weak host model), so an Internet host that routes 203.0.113.0/24 via 192.0.2.1
 * would reach listeners bound to the internal address. In a real perimeter the external
 * firewall drops such packets; this rule stands in for it.
 */
export const DMZ_STRICT_HOST_RULESET = `
table ip ${DMZ_STRICT_HOST_TABLE} {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${INTERFACES.dmzExternal}" ip daddr != ${ADDRESSES.dmzExternal} drop
    iifname "${INTERFACES.dmzInternal}" ip daddr != ${ADDRESSES.dmzInternal} drop
  }
}
`;

/** Whether IPv4 `address` is inside `cidr` (e.g. `inSubnet(src, SUBNETS.home)`). */
export function inSubnet(address: string, cidr: string): boolean {
  const [network = '', bits = '32'] = cidr.split('/');
  const toNumber = (text: string): number | undefined => {
    const parts = text.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
      return undefined;
    }
    return parts.reduce((value, part) => value * 256 + part, 0);
  };
  const value = toNumber(address);
  const base = toNumber(network);
  if (value === undefined || base === undefined) return false;
  const size = 2 ** (32 - Number(bits));
  return Math.floor(value / size) === Math.floor(base / size);
}

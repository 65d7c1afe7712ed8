// The federation topology (issue 6): two complete deployments, a.example and b.example, each
// behind its own Access Edge, meeting only on an Internet segment that also holds a DNS
// server. RFC 5737 documentation ranges only. network.ts builds it.
//
//   Internet 192.0.2.0/24, a bridge in namespace `internet`:
//     dmzA ext0 192.0.2.1 | dmzB ext0 192.0.2.2 | dns eth0 192.0.2.53 (dnsmasq)
//   corp A 203.0.113.0/25, a bridge in namespace `corpnetA`:
//     dmzA int0 203.0.113.1 | corpA eth0 203.0.113.10 (Director + Front End) |
//     clientA eth0 203.0.113.20 (alice)
//   corp B 198.51.100.0/24, a bridge in namespace `corpnetB`:
//     dmzB int0 198.51.100.1 | corpB eth0 198.51.100.10 (Director + Front End) |
//     clientB eth0 198.51.100.20 (bob)
//
// No namespace forwards (ip_forward=0 everywhere) and every route is on-link, so whatever
// crosses from one corporate network to the Internet or to the other was carried by a process
// in a DMZ. Each DMZ delivers a packet only to the address of the interface it came in on.
import { buildNetwork } from './network.ts';
import type { Network, NetworkPlan } from './network.ts';
import type { Link } from './plan.ts';

/** Every namespace of the federation topology, by role. */
export const FEDERATION_ROLES = [
  'internet',
  'dns',
  'dmzA',
  'corpnetA',
  'corpA',
  'clientA',
  'dmzB',
  'corpnetB',
  'corpB',
  'clientB',
] as const;
/** A namespace's role in the federation topology. */
export type FederationRole = (typeof FEDERATION_ROLES)[number];

/** The three segments. */
export const FEDERATION_SUBNETS = {
  internet: '192.0.2.0/24',
  corpA: '203.0.113.0/25',
  corpB: '198.51.100.0/24',
} as const;

/** Every host address. */
export const FEDERATION_ADDRESSES = {
  dns: '192.0.2.53',
  dmzAExternal: '192.0.2.1',
  dmzAInternal: '203.0.113.1',
  corpA: '203.0.113.10',
  clientA: '203.0.113.20',
  dmzBExternal: '192.0.2.2',
  dmzBInternal: '198.51.100.1',
  corpB: '198.51.100.10',
  clientB: '198.51.100.20',
} as const;

/** Interface names inside the namespaces. */
export const FEDERATION_INTERFACES = {
  /** A DMZ's Internet side. */
  external: 'ext0',
  /** A DMZ's corporate side. */
  internal: 'int0',
  /** A host's only interface. */
  host: 'eth0',
  /** The bridge of `internet`, `corpnetA` and `corpnetB`; its ports are named after the peer. */
  bridge: 'br0',
} as const;

const { external, internal, host } = FEDERATION_INTERFACES;

const LINKS: readonly Link<FederationRole>[] = [
  { host: 'dns', hostIf: host, peer: 'internet', peerIf: 'dns' },
  { host: 'dmzA', hostIf: external, peer: 'internet', peerIf: 'dmzA' },
  { host: 'dmzB', hostIf: external, peer: 'internet', peerIf: 'dmzB' },
  { host: 'dmzA', hostIf: internal, peer: 'corpnetA', peerIf: 'dmzA' },
  { host: 'corpA', hostIf: host, peer: 'corpnetA', peerIf: 'corpA' },
  { host: 'clientA', hostIf: host, peer: 'corpnetA', peerIf: 'clientA' },
  { host: 'dmzB', hostIf: internal, peer: 'corpnetB', peerIf: 'dmzB' },
  { host: 'corpB', hostIf: host, peer: 'corpnetB', peerIf: 'corpB' },
  { host: 'clientB', hostIf: host, peer: 'corpnetB', peerIf: 'clientB' },
];

const A = FEDERATION_ADDRESSES;
const HOST_ADDRESSES: readonly (readonly [FederationRole, string, string])[] = [
  ['dns', host, `${A.dns}/24`],
  ['dmzA', external, `${A.dmzAExternal}/24`],
  ['dmzA', internal, `${A.dmzAInternal}/25`],
  ['corpA', host, `${A.corpA}/25`],
  ['clientA', host, `${A.clientA}/25`],
  ['dmzB', external, `${A.dmzBExternal}/24`],
  ['dmzB', internal, `${A.dmzBInternal}/24`],
  ['corpB', host, `${A.corpB}/24`],
  ['clientB', host, `${A.clientB}/24`],
];

/**
 * A DMZ's input filter (the strict host model, as plan.ts's DMZ_STRICT_HOST_RULESET): a
 * packet is delivered only to the address of the interface it arrived on.
 */
export function strictHostRuleset(externalAddress: string, internalAddress: string): string {
  return `
table ip rampart_dmz {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${external}" ip daddr != ${externalAddress} drop
    iifname "${internal}" ip daddr != ${internalAddress} drop
  }
}
`;
}

/** The plan {@link buildFederationTopology} builds. */
export const FEDERATION_PLAN: NetworkPlan<FederationRole> = {
  roles: FEDERATION_ROLES,
  bridges: ['internet', 'corpnetA', 'corpnetB'],
  bridge: FEDERATION_INTERFACES.bridge,
  links: LINKS,
  hostAddresses: HOST_ADDRESSES,
  forwarding: [],
  routes: [],
  nftables: [
    ['dmzA', strictHostRuleset(A.dmzAExternal, A.dmzAInternal)],
    ['dmzB', strictHostRuleset(A.dmzBExternal, A.dmzBInternal)],
  ],
};

/** The built federation topology. */
export interface FederationTopology extends Network<FederationRole> {
  readonly addr: typeof FEDERATION_ADDRESSES;
  readonly iface: typeof FEDERATION_INTERFACES;
}

/** Builds {@link FEDERATION_PLAN}. Call `after(() => topo.destroy())`. */
export function buildFederationTopology(): Promise<FederationTopology> {
  return buildNetwork(FEDERATION_PLAN, {
    addr: FEDERATION_ADDRESSES,
    iface: FEDERATION_INTERFACES,
  });
}

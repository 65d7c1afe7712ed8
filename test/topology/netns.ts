// Builds the topology of plan.ts out of Linux network namespaces, one per test file, named
// `rt-<pid>-<role>`; runs commands inside them; and deletes them all afterwards, also when
// the test process exits early or is interrupted. The machinery is network.ts's.
import {
  ADDRESSES,
  DMZ_STRICT_HOST_RULESET,
  HOST_ADDRESSES,
  INTERFACES,
  LINKS,
  NAT_RULESET,
  ROLES,
} from './plan.ts';
import type { Role } from './plan.ts';
import { buildNetwork } from './network.ts';
import type { Network, NetworkPlan } from './network.ts';

export * from './plan.ts';
export {
  listNamespaces,
  NODE_BINARY,
  REPO_ROOT,
  requireRoot,
  sweepStaleNamespaces,
} from './network.ts';
export type { ExecOptions, Network, RunOptions, RunResult } from './network.ts';

/** A built topology of plan.ts. Every method names a namespace by its role. */
export interface Topology extends Network<Role> {
  readonly addr: typeof ADDRESSES;
  readonly iface: typeof INTERFACES;
}

/** Options of {@link buildTopology}. */
export interface TopologyOptions {
  /**
   * Install the DMZ's strict-host input filter (default true). Turn it off to test what
   * Rampart itself does with packets for its internal address arriving from the Internet.
   */
  readonly dmzStrictHost?: boolean;
}

/**
 * Builds the topology of plan.ts, in about a second (mostly waiting for carriers). Throws (after
 * deleting whatever it created) when a step fails. Call `after(() => topo.destroy())`.
 */
export async function buildTopology(options: TopologyOptions = {}): Promise<Topology> {
  const plan: NetworkPlan<Role> = {
    roles: ROLES,
    bridges: ['internet', 'corpnet'],
    bridge: INTERFACES.bridge,
    links: LINKS,
    hostAddresses: HOST_ADDRESSES,
    forwarding: ['nat'],
    routes: [['home', ['default', 'via', ADDRESSES.natLan]]],
    nftables: [
      ['nat', NAT_RULESET],
      ...((options.dmzStrictHost ?? true) ? [['dmz', DMZ_STRICT_HOST_RULESET] as const] : []),
    ],
  };
  return buildNetwork(plan, { addr: ADDRESSES, iface: INTERFACES });
}

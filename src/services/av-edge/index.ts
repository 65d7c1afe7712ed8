/**
 * The A/V Edge: a STUN/TURN server (RFC 8489, RFC 8656) through which media crosses the
 * perimeter. An external side (UDP 3478, TCP 3478, TLS 5349/443) and an internal side, each
 * relaying from the port range on its own address; every user authenticated with REST
 * credentials (a shared secret) or static long-term users; peers checked by the SSRF policy.
 * With only this service enabled, `rampart start` is a drop-in for coturn with the TURN REST
 * API.
 */
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import type { Registry } from 'prom-client';
import type { Endpoint, RunningService } from '../../lib/endpoint.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import {
  BandwidthLimiter,
  createPeerPolicy,
  generateRestCredential,
  RelayPortAllocator,
  SourceRateLimiter,
  TurnAuthenticator,
  TurnCredentials,
  TurnNonces,
  type PeerPolicy,
  type RestCredential,
} from '../../proto/turn/index.ts';
import { registerHeapReclaimMetric, registerTurnMetrics } from '../../runtime/turn/metrics.ts';
import { HeapReclaimer } from '../../runtime/heap-reclaim.ts';
import { TurnServer, type AllocationSummary } from '../../runtime/turn/turn-server.ts';

/** The part of the configuration the A/V Edge reads (`av-edge` in the YAML file). */
export interface AvEdgeSettings {
  readonly realm: string | null;
  readonly external: {
    readonly host: string;
    readonly advertisedHost: string | null;
    readonly relayHostV6: string | null;
    readonly udp: number | null;
    readonly tcp: number | null;
    readonly tls: number | readonly number[] | null;
  };
  readonly internal: {
    readonly host: string;
    readonly advertisedHost: string | null;
    readonly relayHostV6: string | null;
    readonly udp: number | null;
    readonly tcp: number | null;
  };
  readonly relay: { readonly minPort: number; readonly maxPort: number };
  readonly auth: {
    readonly secrets: readonly string[];
    readonly users: readonly { readonly username: string; readonly password: string }[];
    readonly nonceLifetimeSeconds: number;
    readonly strictExpiry: boolean;
  };
  readonly allocations: {
    readonly defaultLifetimeSeconds: number;
    readonly maxLifetimeSeconds: number;
    readonly perUser: number;
    readonly total: number;
  };
  readonly bandwidth: {
    readonly perAllocationBytesPerSecond: number;
    readonly totalBytesPerSecond: number;
  };
  readonly peers: {
    readonly allow: readonly string[];
    readonly deny: readonly string[];
    readonly allowLoopback: boolean;
    readonly allowPrivate: boolean;
  };
  readonly alternateServers: readonly string[];
  readonly redirectAbove: number;
  readonly limits: {
    readonly challengesPerSecondPerSource: number;
    readonly maxConnectionsPerIp: number;
    readonly maxConnections: number;
    readonly handshakeTimeoutMs: number;
    readonly allocateTimeoutMs: number;
  };
  readonly memory: {
    readonly reclaimAfterClosed: number;
    readonly reclaimQuietMs: number;
    readonly reclaimMinIntervalMs: number;
  };
}

/** Options of {@link startAvEdge}. */
export interface StartAvEdgeOptions {
  readonly config: AvEdgeSettings;
  readonly domains: readonly string[];
  readonly tls: {
    readonly key: string;
    readonly cert: string;
    onChange(listener: () => void): () => void;
  };
  readonly logger: Logger;
  readonly registry: Registry;
  /** In a worker process: ports the first worker bound, and this worker's share of relays. */
  readonly worker?: {
    readonly index: number;
    readonly count: number;
    readonly ports: Readonly<Record<string, number>>;
  };
}

/** A running A/V Edge: a service plus the TURN administration the CLI and admin use. */
export interface RunningAvEdge extends RunningService {
  /** Live allocations (of one user, when given). */
  allocations(user?: string): AllocationSummary[];
  /** Ends every allocation of `user`; returns how many. */
  disconnect(user: string): number;
  /**
   * Applies a new configuration without restart: credentials, peer policy, bandwidth caps,
   * strict expiry, redirection. Returns the changed keys it cannot apply live (listeners,
   * relay range, quotas: those need a restart). Throws RAMPART_ERR_CONFIG and keeps the old
   * settings when the new ones are invalid.
   */
  reload(next: AvEdgeSettings): string[];
}

/** The realm the A/V Edge uses: `av-edge.realm`, else the first SIP domain. */
export function turnRealm(config: AvEdgeSettings, domains: readonly string[]): string {
  return config.realm ?? domains[0] ?? 'example.test';
}

/**
 * A REST credential valid on this deployment's A/V Edge (what `rampart turn credentials`
 * prints), signed with the first configured secret.
 */
export function issueTurnCredential(
  config: AvEdgeSettings,
  user: string,
  ttlSeconds: number,
): RestCredential {
  const secret = config.auth.secrets[0];
  if (secret === undefined) {
    throw new RampartError(
      ERROR_CODES.CONFIG,
      'av-edge.auth.secrets is empty: set a shared secret to issue TURN credentials',
    );
  }
  return generateRestCredential(secret, user, ttlSeconds, Date.now());
}

/** Every address of this host, for a wildcard bind (own-address rule of the peer policy). */
function ownAddresses(hosts: readonly string[]): string[] {
  const all = new Set<string>();
  for (const host of hosts) {
    if (host === '0.0.0.0' || host === '::') {
      for (const list of Object.values(networkInterfaces())) {
        for (const entry of list ?? []) all.add(entry.address.split('%')[0] ?? entry.address);
      }
    } else {
      all.add(host);
    }
  }
  return [...all];
}

/** This worker's slice of the relay range (workers never contend for a port). */
function relaySlice(
  relay: AvEdgeSettings['relay'],
  worker: StartAvEdgeOptions['worker'],
): { min: number; max: number } {
  if (worker === undefined || worker.count <= 1) return { min: relay.minPort, max: relay.maxPort };
  const size = Math.floor((relay.maxPort - relay.minPort + 1) / worker.count);
  const min = relay.minPort + worker.index * size;
  return { min, max: worker.index === worker.count - 1 ? relay.maxPort : min + size - 1 };
}

function parseHostPort(text: string): { address: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  return { address: match?.[1] ?? match?.[2] ?? '', port: Number(match?.[3] ?? 0) };
}

/**
 * The peer policy. `listenerPorts`: the ports the listeners are bound to, refused as peers on
 * our own addresses even inside the relay range (see `ownListenerPorts`).
 */
function buildPeerPolicy(config: AvEdgeSettings, listenerPorts: readonly number[]): PeerPolicy {
  const policy = createPeerPolicy({
    allow: config.peers.allow,
    deny: config.peers.deny,
    allowLoopback: config.peers.allowLoopback,
    allowPrivate: config.peers.allowPrivate,
    ownAddresses: ownAddresses(
      [
        config.external.host,
        config.internal.host,
        config.external.relayHostV6,
        config.internal.relayHostV6,
      ].filter((host) => host !== null),
    ),
    relayPorts: { min: config.relay.minPort, max: config.relay.maxPort },
    ownListenerPorts: listenerPorts,
  });
  if (!policy.ok) {
    throw new RampartError(ERROR_CODES.CONFIG, `av-edge.peers: ${policy.error.message}`);
  }
  return policy.value;
}

/** The parts of the A/V Edge a configuration reload replaces. */
function buildPolicies(
  config: AvEdgeSettings,
  realm: string,
  listenerPorts: readonly number[] = [],
) {
  const credentials = new TurnCredentials({
    realm,
    restSecrets: config.auth.secrets,
    users: config.auth.users,
  });
  const authenticator = new TurnAuthenticator({
    credentials,
    nonces: new TurnNonces({
      secrets: [randomBytes(32)],
      lifetimeMs: config.auth.nonceLifetimeSeconds * 1000,
      features: { passwordAlgorithms: true, usernameAnonymity: config.auth.users.length > 0 },
    }),
    challenges: new SourceRateLimiter({
      ratePerSecond: config.limits.challengesPerSecondPerSource,
      burst: config.limits.challengesPerSecondPerSource,
    }),
    staticUsernames: config.auth.users.map((u) => u.username),
  });
  const bytesPerSecond = (rate: number): { ratePerSecond: number; burst: number } | undefined =>
    rate > 0 ? { ratePerSecond: rate, burst: rate } : undefined;
  const perAllocation = bytesPerSecond(config.bandwidth.perAllocationBytesPerSecond);
  const total = bytesPerSecond(config.bandwidth.totalBytesPerSecond);
  return {
    authenticator,
    peerPolicy: buildPeerPolicy(config, listenerPorts),
    bandwidth: new BandwidthLimiter(
      { ...(perAllocation ? { perAllocation } : {}), ...(total ? { total } : {}) },
      Date.now(),
    ),
    strictExpiry: config.auth.strictExpiry,
    alternateServers: config.alternateServers.map(parseHostPort),
    redirectAbove: config.redirectAbove,
  };
}

/** Binds the A/V Edge listeners on both sides. */
export async function startAvEdge(options: StartAvEdgeOptions): Promise<RunningAvEdge> {
  const { config, logger } = options;
  const log = logger.child({ service: 'av-edge' });
  const realm = turnRealm(config, options.domains);
  let policies = buildPolicies(config, realm);
  const slice = relaySlice(config.relay, options.worker);
  // One port pool per relay address: both sides on one address share it.
  const pools = new Map<string, RelayPortAllocator>();
  const poolFor = (host: string): RelayPortAllocator => {
    let pool = pools.get(host);
    if (pool === undefined) {
      pool = new RelayPortAllocator({ min: slice.min, max: slice.max });
      pools.set(host, pool);
    }
    return pool;
  };
  const port = (key: string, configured: number): number =>
    options.worker?.ports[key] ?? configured;
  const tlsPorts = (() => {
    const tls = config.external.tls;
    const list = tls === null ? [] : Array.isArray(tls) ? tls : [tls];
    return list.map((p: number, i: number) => port(`external/tls/${String(i)}`, p));
  })();
  const common = {
    ...policies,
    quotas: { perUser: config.allocations.perUser, total: config.allocations.total },
    allocationLimits: {
      defaultLifetimeSeconds: config.allocations.defaultLifetimeSeconds,
      maxLifetimeSeconds: config.allocations.maxLifetimeSeconds,
    },
    streamLimits: {
      maxConnectionsPerIp: config.limits.maxConnectionsPerIp,
      maxConnections: config.limits.maxConnections,
      handshakeTimeoutMs: config.limits.handshakeTimeoutMs,
      allocateTimeoutMs: config.limits.allocateTimeoutMs,
      // ChannelData of 65535 bytes, padded to 4 over streams (RFC 8656 §12.5).
      maxFrameBytes: 4 + 65536,
    },
    reusePort: options.worker !== undefined,
    onAllocationClosed: () => {
      reclaimer.noteReleased();
    },
  };
  const observeReclaim = registerHeapReclaimMetric(options.registry);
  const reclaimer = new HeapReclaimer({
    afterReleased: config.memory.reclaimAfterClosed,
    quietMs: config.memory.reclaimQuietMs,
    minIntervalMs: config.memory.reclaimMinIntervalMs,
    onReclaim: (pauseSeconds) => {
      observeReclaim(pauseSeconds);
      log.info(
        { event: 'heap-reclaim', pauseMs: Math.round(pauseSeconds * 1000) },
        'heap reclaimed after a burst of ended allocations',
      );
    },
  });
  const sides: TurnServer[] = [];
  const external = new TurnServer({
    ...common,
    side: 'external',
    host: config.external.host,
    relayAdvertisedHost: config.external.advertisedHost ?? config.external.host,
    udp: config.external.udp === null ? null : port('external/udp/0', config.external.udp),
    tcp: config.external.tcp === null ? null : port('external/tcp/0', config.external.tcp),
    tls: tlsPorts,
    tlsCredentials: { key: options.tls.key, cert: options.tls.cert },
    ports: poolFor(config.external.host),
    ...(config.external.relayHostV6 === null ? {} : { relayHostV6: config.external.relayHostV6 }),
    logger: log.child({ side: 'external' }),
  });
  const internal = new TurnServer({
    ...common,
    side: 'internal',
    host: config.internal.host,
    relayAdvertisedHost: config.internal.advertisedHost ?? config.internal.host,
    udp: config.internal.udp === null ? null : port('internal/udp/0', config.internal.udp),
    tcp: config.internal.tcp === null ? null : port('internal/tcp/0', config.internal.tcp),
    tls: [],
    ports: poolFor(config.internal.host),
    ...(config.internal.relayHostV6 === null ? {} : { relayHostV6: config.internal.relayHostV6 }),
    logger: log.child({ side: 'internal' }),
  });
  try {
    for (const server of [external, internal]) {
      await server.start();
      sides.push(server);
    }
  } catch (error) {
    await Promise.all(sides.map((server) => server.close()));
    throw error;
  }
  // Ports are known once bound (ephemeral ones too): no relayed datagram may reach them, even
  // when they lie inside the relay range.
  const listenerPorts = sides.flatMap((server) => server.bound.map((b) => b.address.port));
  policies = { ...policies, peerPolicy: buildPeerPolicy(config, listenerPorts) };
  for (const server of sides) server.reconfigure({ peerPolicy: policies.peerPolicy });
  const stopWatching = options.tls.onChange(() => {
    external.setSecureContext({ key: options.tls.key, cert: options.tls.cert });
    log.info({ event: 'tls-reload' }, 'certificates reloaded');
  });
  registerTurnMetrics(options.registry, () =>
    sides.map((server) => ({ side: server.options.side, stats: server.stats() })),
  );
  const endpoints: Endpoint[] = sides.flatMap((server) =>
    server.bound.map(({ transport, address }) => ({
      service: 'av-edge' as const,
      side: server.options.side,
      transport,
      host: address.address,
      port: address.port,
    })),
  );
  log.info({ event: 'started', realm, relay: slice }, 'a/v edge started');
  let closing: Promise<void> | undefined;
  return {
    name: 'av-edge',
    endpoints,
    status: () => {
      const stats = sides.map((server) => server.stats());
      return {
        allocations: stats.reduce((sum, s) => sum + s.allocations, 0),
        permissions: stats.reduce((sum, s) => sum + s.permissions, 0),
        channels: stats.reduce((sum, s) => sum + s.channels, 0),
        packetsRelayed: stats.reduce(
          (sum, s) => sum + s.relayed.packetsToPeer + s.relayed.packetsToClient,
          0,
        ),
      };
    },
    reload: (next) => {
      policies = buildPolicies(next, turnRealm(next, options.domains), listenerPorts);
      for (const server of sides) server.reconfigure(policies);
      const restartNeeded: string[] = [];
      const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
      if (!same(next.external, config.external)) restartNeeded.push('av-edge.external');
      if (!same(next.internal, config.internal)) restartNeeded.push('av-edge.internal');
      if (!same(next.relay, config.relay)) restartNeeded.push('av-edge.relay');
      if (!same(next.allocations, config.allocations)) restartNeeded.push('av-edge.allocations');
      if (!same(next.memory, config.memory)) restartNeeded.push('av-edge.memory');
      if (next.realm !== config.realm) restartNeeded.push('av-edge.realm (new allocations only)');
      log.info({ event: 'reload', restartNeeded }, 'a/v edge configuration reloaded');
      return restartNeeded;
    },
    allocations: (user) => sides.flatMap((server) => server.allocations(user)),
    disconnect: (user) => sides.reduce((sum, server) => sum + server.disconnect(user), 0),
    actions: {
      'turn-sessions': (user) => sides.flatMap((server) => server.allocations(user)),
      'turn-disconnect': (user) =>
        user === undefined ? 0 : sides.reduce((sum, server) => sum + server.disconnect(user), 0),
    },
    close: () => {
      closing ??= (async () => {
        stopWatching();
        reclaimer.stop();
        await Promise.all(sides.map((server) => server.close()));
      })();
      return closing;
    },
  };
}

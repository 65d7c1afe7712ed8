/**
 * Prometheus metrics of the A/V Edge. The relay path counts into plain numbers; these
 * metrics read them at scrape time, so no per-packet work reaches prom-client. Labels carry
 * sides and reasons, never usernames.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { TurnServerStats } from './turn-server.ts';

/** Every metric name of the A/V Edge. */
export const TURN_METRIC_NAMES = {
  allocations: 'rampart_turn_allocations',
  permissions: 'rampart_turn_permissions',
  channels: 'rampart_turn_channels',
  relayedBytes: 'rampart_turn_relayed_bytes_total',
  relayedPackets: 'rampart_turn_relayed_packets_total',
  relayDrops: 'rampart_turn_relay_dropped_total',
  authFailures: 'rampart_turn_auth_failures_total',
  deniedPeers: 'rampart_turn_denied_peers_total',
  drops: 'rampart_turn_dropped_total',
  requests: 'rampart_turn_requests_total',
  heapReclaim: 'rampart_heap_reclaim_seconds',
} as const;

/** The histogram of heap-reclaim pauses (runtime/heap-reclaim.ts); returns its observer. */
export function registerHeapReclaimMetric(registry: Registry): (seconds: number) => void {
  const histogram = new Histogram({
    name: TURN_METRIC_NAMES.heapReclaim,
    help: 'Pause of each full collection run after a burst of ended TURN allocations',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  return (seconds) => {
    histogram.observe(seconds);
  };
}

type Source = () => readonly { side: string; stats: TurnServerStats }[];

/** Registers the A/V Edge metrics on `registry`, read from `source` at each scrape. */
export function registerTurnMetrics(registry: Registry, source: Source): void {
  const gauge = (name: string, help: string, pick: (s: TurnServerStats) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['side'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { side, stats } of source()) this.set({ side }, pick(stats));
      },
    });
  };
  gauge(TURN_METRIC_NAMES.allocations, 'Live TURN allocations', (s) => s.allocations);
  gauge(TURN_METRIC_NAMES.permissions, 'Installed TURN permissions', (s) => s.permissions);
  gauge(TURN_METRIC_NAMES.channels, 'TURN channel numbers in use', (s) => s.channels);
  new Counter({
    name: TURN_METRIC_NAMES.relayedBytes,
    help: 'Bytes relayed, by direction (to-peer, to-client)',
    labelNames: ['side', 'direction'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { side, stats } of source()) {
        this.inc({ side, direction: 'to-peer' }, stats.relayed.bytesToPeer);
        this.inc({ side, direction: 'to-client' }, stats.relayed.bytesToClient);
      }
    },
  });
  new Counter({
    name: TURN_METRIC_NAMES.relayedPackets,
    help: 'Packets relayed, by direction (to-peer, to-client)',
    labelNames: ['side', 'direction'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { side, stats } of source()) {
        this.inc({ side, direction: 'to-peer' }, stats.relayed.packetsToPeer);
        this.inc({ side, direction: 'to-client' }, stats.relayed.packetsToClient);
      }
    },
  });
  new Counter({
    name: TURN_METRIC_NAMES.relayDrops,
    help: 'Relayed packets dropped: no permission, or over a bandwidth cap',
    labelNames: ['side', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { side, stats } of source()) {
        this.inc({ side, reason: 'no-permission' }, stats.relayed.droppedNoPermission);
        this.inc({ side, reason: 'bandwidth' }, stats.relayed.droppedBandwidth);
      }
    },
  });
  const byReason = (
    name: string,
    help: string,
    label: string,
    pick: (s: TurnServerStats) => Readonly<Record<string, number>>,
  ): void => {
    new Counter({
      name,
      help,
      labelNames: ['side', label],
      registers: [registry],
      collect() {
        this.reset();
        for (const { side, stats } of source()) {
          for (const [key, value] of Object.entries(pick(stats))) {
            this.inc({ side, [label]: key }, value);
          }
        }
      },
    });
  };
  byReason(
    TURN_METRIC_NAMES.authFailures,
    'Failed TURN authentications',
    'reason',
    (s) => s.authFailures,
  );
  byReason(
    TURN_METRIC_NAMES.deniedPeers,
    'Peers refused by the peer policy',
    'reason',
    (s) => s.deniedPeers,
  );
  byReason(
    TURN_METRIC_NAMES.drops,
    'Input dropped before any allocation',
    'reason',
    (s) => s.drops,
  );
  byReason(
    TURN_METRIC_NAMES.requests,
    'STUN/TURN requests, by method',
    'method',
    (s) => s.requests,
  );
}

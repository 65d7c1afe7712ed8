/**
 * Prometheus metrics of a SIP service: messages in and out, drops and refusals by reason,
 * transport rejections, and live transaction and connection gauges.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { SIP_METHODS } from '../../codec/sip/parse.ts';
import { onSipMessagesScrape, sipMessagesTotal } from '../metrics.ts';
import type { ProxyDropReason, ProxyObserver } from './proxy-engine.ts';

/** The metrics one SIP service reports, with the observer the proxy engine calls. */
export interface SipMetrics extends ProxyObserver {
  rejected(transport: string, reason: string): void;
  /** Registers the source of the gauges, read at scrape time. */
  collect(
    read: () => { serverTransactions: number; clientTransactions: number; connections: number },
  ): void;
}

function metric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/** Creates (or reuses, per registry) the SIP metrics and binds them to `service`. */
export function sipMetrics(registry: Registry, service: string): SipMetrics {
  const messages = sipMessagesTotal(registry);
  const drops = metric(
    registry,
    'rampart_sip_drops_total',
    () =>
      new Counter({
        name: 'rampart_sip_drops_total',
        help: 'SIP messages dropped or refused, by reason',
        labelNames: ['service', 'reason'],
        registers: [registry],
      }),
  );
  const rejections = metric(
    registry,
    'rampart_transport_rejections_total',
    () =>
      new Counter({
        name: 'rampart_transport_rejections_total',
        help: 'Inputs or connections refused by the transport layer',
        labelNames: ['service', 'transport', 'reason'],
        registers: [registry],
      }),
  );
  let read:
    | (() => { serverTransactions: number; clientTransactions: number; connections: number })
    | undefined;
  metric(
    registry,
    'rampart_sip_transactions',
    () =>
      new Gauge({
        name: 'rampart_sip_transactions',
        help: 'Live SIP transactions',
        labelNames: ['service', 'kind'],
        registers: [registry],
        collect() {
          const stats = read?.();
          if (stats === undefined) return;
          this.set({ service, kind: 'server' }, stats.serverTransactions);
          this.set({ service, kind: 'client' }, stats.clientTransactions);
        },
      }),
  );
  metric(
    registry,
    'rampart_sip_connections',
    () =>
      new Gauge({
        name: 'rampart_sip_connections',
        help: 'Open SIP stream connections',
        labelNames: ['service'],
        registers: [registry],
        collect() {
          const stats = read?.();
          if (stats !== undefined) this.set({ service }, stats.connections);
        },
      }),
  );
  // Method and status labels are bounded: unknown methods are counted as 'other'.
  const KNOWN = new Set([...SIP_METHODS, 'response']);
  // Every message is counted, so the hot path only bumps a plain number; the totals go to the
  // prom-client counter when it is scraped (prom-client hashes the label set on every inc).
  interface Slot {
    readonly labels: { service: string; direction: 'in' | 'out'; kind: string };
    pending: number;
  }
  const byLabel = new Map<string, Slot>();
  const cache = { in: new Map<string, Slot>(), out: new Map<string, Slot>() };
  const slotFor = (direction: 'in' | 'out', kind: string): Slot => {
    const label = KNOWN.has(kind) ? kind : /^\d{3}$/.test(kind) ? `${kind[0] ?? ''}xx` : 'other';
    const key = `${direction} ${label}`;
    let slot = byLabel.get(key);
    if (slot === undefined) {
      slot = { labels: { service, direction, kind: label }, pending: 0 };
      byLabel.set(key, slot);
    }
    return slot;
  };
  onSipMessagesScrape(registry, () => {
    for (const slot of byLabel.values()) {
      if (slot.pending === 0) continue;
      messages.inc(slot.labels, slot.pending);
      slot.pending = 0;
    }
  });
  return {
    message(direction, kind) {
      const kinds = cache[direction];
      let slot = kinds.get(kind);
      if (slot === undefined) {
        slot = slotFor(direction, kind);
        // Bounded: labels are (KNOWN, Nxx, other); the kinds cached per direction are capped.
        if (kinds.size < 1024) kinds.set(kind, slot);
      }
      slot.pending++;
    },
    dropped(reason: ProxyDropReason) {
      drops.inc({ service, reason });
    },
    rejected(transport, reason) {
      rejections.inc({ service, transport, reason });
    },
    collect(source) {
      read = source;
    },
  };
}

/**
 * Prometheus metrics of a SIP service: messages in and out, drops and refusals by reason,
 * transport rejections, and live transaction and connection gauges.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
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
  const messages = metric(
    registry,
    'rampart_sip_messages_total',
    () =>
      new Counter({
        name: 'rampart_sip_messages_total',
        help: 'SIP messages received and sent',
        labelNames: ['service', 'direction', 'kind'],
        registers: [registry],
      }),
  );
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
  const KNOWN = new Set([
    'INVITE',
    'ACK',
    'BYE',
    'CANCEL',
    'OPTIONS',
    'REGISTER',
    'MESSAGE',
    'SUBSCRIBE',
    'NOTIFY',
    'PUBLISH',
    'INFO',
    'UPDATE',
    'REFER',
    'PRACK',
    'response',
  ]);
  // Every message is counted: keep one labelled child per (direction, kind) instead of
  // hashing a label object per message.
  const children = new Map<string, { inc(): void }>();
  return {
    message(direction, kind) {
      const key = `${direction} ${kind}`;
      let child = children.get(key);
      if (child === undefined) {
        const label = KNOWN.has(kind)
          ? kind
          : /^\d{3}$/.test(kind)
            ? `${kind[0] ?? ''}xx`
            : 'other';
        child = messages.labels({ service, direction, kind: label });
        // Bounded: statuses are 3 digits and unknown methods map to one cached "other" key.
        if (children.size < 2048) children.set(key, child);
      }
      child.inc();
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

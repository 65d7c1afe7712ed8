/**
 * The Prometheus registry every service of one process reports to, and the shared metrics.
 *
 * Each helper is get-or-create per registry: the first caller creates the metric, later
 * callers (another service, a restarted service, a test) get the same instance, so two
 * services never fight over a metric name. Label names and values use the project
 * vocabulary (`service: 'access-edge'`, `transport: 'tls'`, ...).
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** Every metric name Rampart defines, so dashboards and tests can refer to them. */
export const METRIC_NAMES = {
  sipMessagesTotal: 'rampart_sip_messages_total',
  sipDropsTotal: 'rampart_sip_drops_total',
  transportRejectionsTotal: 'rampart_transport_rejections_total',
  connections: 'rampart_sip_connections',
  transactions: 'rampart_sip_transactions',
} as const;

/** Prefix of the default process metrics (CPU, memory, event-loop lag, GC). */
export const DEFAULT_METRICS_PREFIX = 'rampart_';

/** A new registry with the process's default metrics (CPU, memory, event loop lag, GC). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: DEFAULT_METRICS_PREFIX });
  return registry;
}

function getOrCreate<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/** A service's own counter, get-or-create in `registry` like the shared ones. */
export function counterIn<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** Flushes of the tallies counting into each counter made by {@link tallyIn}. */
const tallyFlushes = new WeakMap<Counter, Set<() => void>>();

/**
 * A counter with one label that a hot path bumps in plain numbers: the counts go to
 * prom-client (which hashes the label object on every `inc`) only when the registry is
 * scraped. Get-or-create per registry like {@link counterIn}; each caller gets its own tally.
 */
export function tallyIn(
  registry: Registry,
  name: string,
  help: string,
  labelName: string,
): (value: string) => void {
  const existing = registry.getSingleMetric(name);
  const counter =
    existing instanceof Counter
      ? existing
      : new Counter({
          name,
          help,
          labelNames: [labelName],
          registers: [registry],
          collect() {
            for (const flush of tallyFlushes.get(this) ?? []) flush();
          },
        });
  const pending = new Map<string, number>();
  let flushes = tallyFlushes.get(counter);
  if (flushes === undefined) {
    flushes = new Set();
    tallyFlushes.set(counter, flushes);
  }
  flushes.add(() => {
    for (const [value, count] of pending) {
      counter.inc({ [labelName]: value }, count);
    }
    pending.clear();
  });
  return (value) => {
    pending.set(value, (pending.get(value) ?? 0) + 1);
  };
}

/** Functions that add counts kept on the hot path to their counters, run at scrape time. */
const scrapeHooks = new WeakMap<Registry, Set<() => void>>();

/**
 * Runs `flush` whenever `registry`'s {@link sipMessagesTotal} is scraped, so a hot path can
 * count in plain numbers and hand prom-client the totals only when someone reads them.
 */
export function onSipMessagesScrape(registry: Registry, flush: () => void): void {
  let hooks = scrapeHooks.get(registry);
  if (hooks === undefined) {
    hooks = new Set();
    scrapeHooks.set(registry, hooks);
  }
  hooks.add(flush);
}

/** SIP messages received and sent, by `direction` (`in`/`out`) and `kind` (method or status class). */
export function sipMessagesTotal(registry: Registry): Counter<'service' | 'direction' | 'kind'> {
  return getOrCreate(
    registry,
    METRIC_NAMES.sipMessagesTotal,
    () =>
      new Counter({
        name: METRIC_NAMES.sipMessagesTotal,
        help: 'SIP messages received and sent',
        labelNames: ['service', 'direction', 'kind'] as const,
        registers: [registry],
        collect() {
          for (const flush of scrapeHooks.get(registry) ?? []) flush();
        },
      }),
  );
}

/** SIP messages dropped or refused, by `reason`. */
export function sipDropsTotal(registry: Registry): Counter<'service' | 'reason'> {
  return getOrCreate(
    registry,
    METRIC_NAMES.sipDropsTotal,
    () =>
      new Counter({
        name: METRIC_NAMES.sipDropsTotal,
        help: 'SIP messages dropped or refused, by reason',
        labelNames: ['service', 'reason'] as const,
        registers: [registry],
      }),
  );
}

/** Inputs or connections the transport layer refused (limits, handshake timeouts, ...). */
export function transportRejectionsTotal(
  registry: Registry,
): Counter<'service' | 'transport' | 'reason'> {
  return getOrCreate(
    registry,
    METRIC_NAMES.transportRejectionsTotal,
    () =>
      new Counter({
        name: METRIC_NAMES.transportRejectionsTotal,
        help: 'Inputs or connections refused by the transport layer',
        labelNames: ['service', 'transport', 'reason'] as const,
        registers: [registry],
      }),
  );
}

/** Open stream connections (TCP, TLS, WS, WSS) per service. */
export function connectionsGauge(registry: Registry): Gauge<'service'> {
  return getOrCreate(
    registry,
    METRIC_NAMES.connections,
    () =>
      new Gauge({
        name: METRIC_NAMES.connections,
        help: 'Open SIP stream connections',
        labelNames: ['service'] as const,
        registers: [registry],
      }),
  );
}

/** Live transactions per service, by `kind` (`server`/`client`). */
export function transactionsGauge(registry: Registry): Gauge<'service' | 'kind'> {
  return getOrCreate(
    registry,
    METRIC_NAMES.transactions,
    () =>
      new Gauge({
        name: METRIC_NAMES.transactions,
        help: 'Live SIP transactions',
        labelNames: ['service', 'kind'] as const,
        registers: [registry],
      }),
  );
}

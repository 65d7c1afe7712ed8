/** The metrics registries the CLI creates and hands to every service (runtime is below services). */
import { AggregatorRegistry, Registry } from 'prom-client';
import { createRegistry } from '../../runtime/metrics.ts';

/** A Prometheus registry with the default process metrics. */
export function createServicesRegistry(): Registry {
  return createRegistry();
}

/** One process's metrics as plain data (`registry.getMetricsAsJSON()`), for IPC. */
export type MetricsSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** One process's metrics as plain data, to send to the primary over IPC. */
export function metricsSnapshot(registry: Registry): Promise<MetricsSnapshot> {
  return registry.getMetricsAsJSON();
}

/**
 * The Prometheus text of several processes' snapshots: counters and gauges summed, as
 * prom-client's cluster aggregation does (its own IPC is not used: the primary asks each
 * worker through Rampart's bounded request/answer messages).
 */
export async function aggregateMetrics(snapshots: readonly MetricsSnapshot[]): Promise<string> {
  if (snapshots.length === 0) return new Registry().metrics();
  return AggregatorRegistry.aggregate([...snapshots]).metrics();
}

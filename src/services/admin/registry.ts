/** The metrics registries the CLI creates and hands to every service (runtime is below services). */
import { AggregatorRegistry, type Registry } from 'prom-client';
import { createRegistry } from '../../runtime/metrics.ts';

/**
 * A Prometheus registry with the default process metrics. In a node:cluster worker
 * (`clusterWorker`), it also answers the primary's requests for its metrics.
 */
export function createServicesRegistry(
  options: { readonly clusterWorker?: boolean } = {},
): Registry {
  const registry = createRegistry();
  if (options.clusterWorker === true) {
    // Constructing an AggregatorRegistry in a worker installs prom-client's IPC listener.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([registry]);
  }
  return registry;
}

/** The primary's registry: `clusterMetrics()` sums every worker's metrics. */
export function createPrimaryRegistry(): AggregatorRegistry<'text/plain; version=0.0.4; charset=utf-8'> {
  return new AggregatorRegistry();
}

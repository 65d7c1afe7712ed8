/** The Prometheus registry every service of one process reports to. */
import { collectDefaultMetrics, Registry } from 'prom-client';

/** A new registry with the process's default metrics (CPU, memory, event loop lag, GC). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'rampart_' });
  return registry;
}

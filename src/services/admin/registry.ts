/** The metrics registry the CLI creates and hands to every service (runtime is below services). */
import type { Registry } from 'prom-client';
import { createRegistry } from '../../runtime/metrics.ts';

/** A Prometheus registry with the default process metrics. */
export function createServicesRegistry(): Registry {
  return createRegistry();
}

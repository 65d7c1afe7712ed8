/**
 * Reverse proxy metrics, per route (`route` is the published prefix; `-` for requests that
 * matched none or were refused before matching): requests by status class, a latency
 * histogram, upstream errors, and refusals of the request hygiene by reason.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** Metric names of the reverse proxy. */
export const HTTP_METRIC_NAMES = {
  requests: 'rampart_http_requests_total',
  duration: 'rampart_http_request_duration_seconds',
  upstreamErrors: 'rampart_http_upstream_errors_total',
  refusals: 'rampart_http_refusals_total',
} as const;

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

function getOrCreate<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/** The label children of one route, resolved once (the hot path does no label hashing). */
interface RouteSeries {
  readonly byClass: readonly { inc(): void }[];
  readonly duration: { observe(value: number): void };
}

/** What the proxy records. */
export class ReverseProxyMetrics {
  private readonly requests: Counter<'service' | 'route' | 'status_class'>;
  private readonly duration: Histogram<'service' | 'route'>;
  private readonly upstreamErrors: Counter<'service' | 'route' | 'reason'>;
  private readonly refusals: Counter<'service' | 'reason'>;
  private readonly series = new Map<string, RouteSeries>();

  constructor(registry: Registry) {
    this.requests = getOrCreate(
      registry,
      HTTP_METRIC_NAMES.requests,
      () =>
        new Counter({
          name: HTTP_METRIC_NAMES.requests,
          help: 'HTTP requests answered, by route and status class',
          labelNames: ['service', 'route', 'status_class'] as const,
          registers: [registry],
        }),
    );
    this.duration = getOrCreate(
      registry,
      HTTP_METRIC_NAMES.duration,
      () =>
        new Histogram({
          name: HTTP_METRIC_NAMES.duration,
          help: 'Time from request head to the end of the response, by route',
          labelNames: ['service', 'route'] as const,
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
          registers: [registry],
        }),
    );
    this.upstreamErrors = getOrCreate(
      registry,
      HTTP_METRIC_NAMES.upstreamErrors,
      () =>
        new Counter({
          name: HTTP_METRIC_NAMES.upstreamErrors,
          help: 'Upstream failures (connect, TLS, timeout, reset), by route and reason',
          labelNames: ['service', 'route', 'reason'] as const,
          registers: [registry],
        }),
    );
    this.refusals = getOrCreate(
      registry,
      HTTP_METRIC_NAMES.refusals,
      () =>
        new Counter({
          name: HTTP_METRIC_NAMES.refusals,
          help: 'Requests refused by the request hygiene, by reason',
          labelNames: ['service', 'reason'] as const,
          registers: [registry],
        }),
    );
  }

  private routeSeries(route: string): RouteSeries {
    let series = this.series.get(route);
    if (series === undefined) {
      series = {
        byClass: STATUS_CLASSES.map((statusClass) =>
          this.requests.labels({ service: 'reverse-proxy', route, status_class: statusClass }),
        ),
        duration: this.duration.labels({ service: 'reverse-proxy', route }),
      };
      this.series.set(route, series);
    }
    return series;
  }

  /** One answered request. */
  answered(route: string, status: number, seconds: number): void {
    const series = this.routeSeries(route);
    const index = Math.min(Math.max(Math.floor(status / 100) - 1, 0), 4);
    series.byClass[index]?.inc();
    series.duration.observe(seconds);
  }

  /** An upstream failure. */
  upstreamError(route: string, reason: string): void {
    this.upstreamErrors.inc({ service: 'reverse-proxy', route, reason });
  }

  /** A request refused by the hygiene checks. */
  refused(reason: string): void {
    this.refusals.inc({ service: 'reverse-proxy', reason });
  }
}

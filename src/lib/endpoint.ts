/** Server roles, as named everywhere (folders, config keys, endpoints.json, metric labels). */
export const SERVICE_NAMES = [
  'access-edge',
  'av-edge',
  'webconf-edge',
  'reverse-proxy',
  'director',
  'front-end',
  'webconf-server',
  'web-services',
  'admin',
] as const;

/** One server role. */
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Which network a listener faces. */
export type Side = 'external' | 'internal';

/** Transport names used in endpoints, config and metrics. */
export type EndpointTransport = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss' | 'http' | 'https';

/** One bound listener, as printed at start and written to `<data-dir>/endpoints.json`. */
export interface Endpoint {
  readonly service: ServiceName;
  readonly side: Side;
  readonly transport: EndpointTransport;
  readonly host: string;
  readonly port: number;
}

/** A started service: what the CLI holds and stops. */
export interface RunningService {
  readonly name: ServiceName;
  /** Every listener this service has bound. */
  readonly endpoints: readonly Endpoint[];
  /** Counters for `/api/status` (connections, transactions, ...). */
  status(): Readonly<Record<string, number | string>>;
  /**
   * Administrative actions by name (`turn-sessions`, `turn-disconnect`), for the admin API:
   * each returns a JSON-able value; lists from several services or workers are concatenated
   * and numbers summed.
   */
  readonly actions?: Readonly<Record<string, (argument: string | undefined) => unknown>>;
  /** Stops accepting, lets in-flight work finish until `deadlineMs` (epoch ms), then closes. Idempotent. */
  close(deadlineMs: number): Promise<void>;
}

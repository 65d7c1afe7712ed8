/** The Access Edge's settings, shared by its modules. */

/** The part of the configuration the Access Edge reads (`access-edge` in the YAML file). */
export interface AccessEdgeSettings {
  readonly external: {
    readonly host: string;
    readonly advertisedHost?: string | null | undefined;
    readonly udp: number | null;
    readonly tcp: number | null;
    /** One TLS listener, or several (e.g. 5061 and 443). */
    readonly tls: number | readonly number[] | null;
    readonly ws: number | null;
    readonly wss: number | null;
    /** Certificates chosen by SNI (files read by the caller into {@link SniCertificate}). */
    readonly certificates?: readonly {
      readonly names: readonly string[];
      readonly certFile: string;
      readonly keyFile: string;
    }[];
  };
  readonly internal: {
    readonly host: string;
    readonly tls: number | null;
    readonly tcp: number | null;
    readonly nextHop: string | readonly string[] | null;
    readonly hiddenHosts: readonly string[];
    readonly healthCheckIntervalMs: number;
  };
  readonly remoteAccess: boolean;
  readonly federation: FederationSettings;
  readonly routes: readonly {
    readonly domain: string;
    readonly nextHop: string | readonly string[];
  }[];
  readonly dns: { readonly servers: readonly string[] };
  readonly recordRoute: boolean;
  readonly limits: {
    readonly maxMessageBytes: number;
    readonly maxConnectionsPerIp: number;
    readonly maxConnections: number;
    readonly handshakeTimeoutMs: number;
    readonly idleTimeoutMs: number;
    readonly maxHeaders: number;
    readonly messagesPerSecondPerIp: number;
    readonly messagesPerSecondPerUser: number;
    readonly banSeconds: number;
  };
  readonly timers: { readonly t1Ms: number; readonly t2Ms: number; readonly t4Ms: number };
}

/** The `access-edge.federation` section. */
export interface FederationSettings {
  readonly enabled: boolean;
  readonly discovery: boolean;
  readonly caFiles: readonly string[];
  readonly systemCas: boolean;
  readonly connectionsPerPartner: number;
  readonly maxPendingPerPartner: number;
  readonly allow: readonly {
    readonly domain: string;
    readonly edge: string | null;
    readonly port: number;
    readonly verification: 'verified' | 'throttled';
  }[];
  readonly block: readonly string[];
  readonly providers: readonly {
    readonly name: string;
    readonly domains: readonly string[];
    readonly edge: string;
    readonly port: number;
    readonly enabled: boolean;
    readonly allowMedia: boolean;
  }[];
  readonly discovered: {
    readonly maxLocalUsers: number;
    readonly windowSeconds: number;
    readonly messagesPerSecond: number;
  };
}

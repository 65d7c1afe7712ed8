/**
 * What every SIP server role inside the perimeter shares (the Director, the Front End): its
 * listeners on one host — UDP, TCP and TLS for clients and, for the other servers of the
 * deployment, a TLS listener that requires a client certificate from the deployment's CA —
 * and a proxy engine whose request handler is the role's logic.
 */
import type { Registry } from 'prom-client';
import type { Endpoint, ServiceName } from '../../lib/endpoint.ts';
import type { Logger } from '../../lib/logger.ts';
import { SipTransportLayer, type Flow, type SipListener } from '../../transport/index.ts';
import type { RequestHandler } from './handler.ts';
import { sipMetrics } from './metrics.ts';
import { SipProxyEngine, type ProxyListener } from './proxy-engine.ts';

/** The listeners of a SIP server role; null disables one, 0 binds an ephemeral port. */
export interface SipServerPorts {
  readonly udp: number | null;
  readonly tcp: number | null;
  readonly tls: number | null;
  /** Mutual TLS for the deployment's other servers. */
  readonly serverTls: number | null;
}

/** Certificates of the deployment: ours (server and client use) and the CA. */
export interface SipServerTls {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
}

export interface StartSipServerOptions {
  readonly service: ServiceName;
  readonly host: string;
  readonly ports: SipServerPorts;
  readonly tls: SipServerTls;
  readonly handler: RequestHandler;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly recordRoute: boolean;
  readonly timers?: { readonly t1Ms: number; readonly t2Ms: number; readonly t4Ms: number };
  readonly limits?: {
    readonly maxMessageBytes: number;
    readonly maxConnectionsPerIp: number;
    readonly maxConnections: number;
  };
  /** Ports the first worker bound (SO_REUSEPORT), when several processes share them. */
  readonly localNames?: readonly string[];
}

/** A started SIP server role. */
export interface SipServer {
  readonly engine: SipProxyEngine;
  readonly transport: SipTransportLayer;
  readonly endpoints: readonly Endpoint[];
  /** Whether a flow arrived on the mutual-TLS listener (a server of this deployment). */
  isServerFlow(flow: Flow): boolean;
  /** Our URI on the mutual-TLS listener (for Path and Record-Route toward other servers). */
  readonly serverUri: string | undefined;
  /** Our URI for clients, preferring TCP. */
  readonly clientUri: string | undefined;
  close(deadlineMs: number): Promise<void>;
}

/** Binds the listeners and starts the engine. Closes what it opened when a bind fails. */
export async function startSipServer(options: StartSipServerOptions): Promise<SipServer> {
  const { host, ports, logger } = options;
  const metrics = sipMetrics(options.registry, options.service);
  const transport = new SipTransportLayer({
    logger,
    ...(options.limits === undefined
      ? {}
      : {
          limits: {
            maxMessageBytes: options.limits.maxMessageBytes,
            maxConnectionsPerIp: options.limits.maxConnectionsPerIp,
            maxInboundConnections: options.limits.maxConnections,
          },
        }),
  });
  transport.on('rejected', (rejection) => {
    metrics.rejected(rejection.transport, rejection.reason);
    logger.warn(
      {
        event: 'rejected',
        reason: rejection.reason,
        transport: rejection.transport,
        remote: rejection.remote.address,
      },
      'sip input rejected',
    );
  });
  const listeners: ProxyListener[] = [];
  const endpoints: Endpoint[] = [];
  let serverListener: SipListener | undefined;
  const add = (listener: SipListener, transport: 'udp' | 'tcp' | 'tls'): void => {
    listeners.push({ listenerId: listener.id, transport, host, port: listener.local.port });
    endpoints.push({
      service: options.service,
      side: 'internal',
      transport,
      host: listener.local.address,
      port: listener.local.port,
    });
  };
  try {
    // The server listener goes first: outgoing TLS toward other servers names it in Via and
    // Record-Route, so their requests come back to it.
    if (ports.serverTls !== null) {
      serverListener = await transport.listenTls({
        host,
        port: ports.serverTls,
        key: options.tls.key,
        cert: options.tls.cert,
        ca: options.tls.ca,
        requestCert: true,
        rejectUnauthorized: true,
      });
      add(serverListener, 'tls');
    }
    if (ports.udp !== null) add(await transport.listenUdp({ host, port: ports.udp }), 'udp');
    if (ports.tcp !== null) add(await transport.listenTcp({ host, port: ports.tcp }), 'tcp');
    if (ports.tls !== null) {
      add(
        await transport.listenTls({
          host,
          port: ports.tls,
          key: options.tls.key,
          cert: options.tls.cert,
        }),
        'tls',
      );
    }
  } catch (error) {
    await transport.close();
    throw error;
  }
  const engine = new SipProxyEngine({
    transport,
    listeners,
    localNames: [host, ...(options.localNames ?? [])],
    routes: [],
    recordRoute: options.recordRoute,
    ...(options.timers === undefined ? {} : { timers: options.timers }),
    tlsCa: options.tls.ca,
    tlsClient: { cert: options.tls.cert, key: options.tls.key },
    logger,
    observer: metrics,
    handler: options.handler,
  });
  metrics.collect(() => ({ ...engine.stats(), connections: transport.stats().connections }));
  const uriOf = (listener: ProxyListener | undefined): string | undefined => {
    if (listener === undefined) return undefined;
    const h = listener.host.includes(':') ? `[${listener.host}]` : listener.host;
    const param = listener.transport === 'udp' ? '' : `;transport=${listener.transport}`;
    return `sip:${h}:${String(listener.port)}${param}`;
  };
  const serverId = serverListener?.id;
  let closing: Promise<void> | undefined;
  return {
    engine,
    transport,
    endpoints,
    isServerFlow: (flow) => serverId !== undefined && flow.listenerId === serverId,
    serverUri: uriOf(listeners.find((l) => l.listenerId === serverId)),
    clientUri: uriOf(
      listeners.find((l) => l.transport === 'tcp') ??
        listeners.find((l) => l.listenerId !== serverId),
    ),
    close: (deadlineMs) => {
      closing ??= (async () => {
        engine.drain();
        await engine.idle(deadlineMs);
        engine.close();
        await transport.close();
      })();
      return closing;
    },
  };
}

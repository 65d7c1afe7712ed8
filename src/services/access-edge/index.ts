/**
 * The Access Edge: all SIP across the firewall. External listeners (UDP, TCP, TLS, WS, WSS)
 * face the Internet; with an internal next hop (the Director, or another SIP server) it runs
 * the remote-user policy of ./remote.ts. Without one it is a plain stateful proxy with static
 * routes and RFC 3263 resolution (the SIP stack of issue 2).
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type { Registry } from 'prom-client';
import type { Endpoint, RunningService } from '../../lib/endpoint.ts';
import type { Logger } from '../../lib/logger.ts';
import { CachingDnsResolver } from '../../runtime/dns/resolver.ts';
import { sipMetrics } from '../../runtime/sip/metrics.ts';
import { SipProxyEngine, type ProxyListener } from '../../runtime/sip/proxy-engine.ts';
import {
  SipTransportLayer,
  type SecureSipListener,
  type SipListener,
  type SipTransport,
} from '../../transport/index.ts';
import { FederationStore } from '../../store/federation-store.ts';
import { PartnerFederation } from './federation.ts';
import { RemoteUserPolicy } from './remote.ts';
import type { AccessEdgeSettings } from './settings.ts';

export type { AccessEdgeSettings } from './settings.ts';

/** Certificates for the TLS and WSS listeners; `onChange` fires when they are replaced. */
export interface AccessEdgeTls {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
  onChange(listener: () => void): () => void;
}

/** A certificate for the names a client may ask for by SNI (`*.suffix` allowed). */
export interface SniCertificate {
  readonly names: readonly string[];
  readonly cert: string;
  readonly key: string;
}

/** The SNI callback: the certificate for the name asked for, else the default one. */
function sniCallback(
  certificates: readonly SniCertificate[],
):
  | ((servername: string, done: (error: Error | null, context?: SecureContext) => void) => void)
  | undefined {
  if (certificates.length === 0) return undefined;
  const exact = new Map<string, SecureContext>();
  const wildcard: [string, SecureContext][] = [];
  for (const entry of certificates) {
    const context = createSecureContext({
      cert: entry.cert,
      key: entry.key,
      minVersion: 'TLSv1.2',
    });
    for (const name of entry.names) {
      const lower = name.toLowerCase();
      if (lower.startsWith('*.')) wildcard.push([lower.slice(1), context]);
      else exact.set(lower, context);
    }
  }
  return (servername, done) => {
    const name = servername.toLowerCase();
    // Undefined: Node uses the listener's own (default) certificate.
    done(null, exact.get(name) ?? wildcard.find(([suffix]) => name.endsWith(suffix))?.[1]);
  };
}

/** Options of {@link startAccessEdge}. */
export interface StartAccessEdgeOptions {
  readonly config: AccessEdgeSettings;
  readonly domains: readonly string[];
  readonly tls: AccessEdgeTls;
  /** Certificates for other names, chosen by SNI on the external TLS and WSS listeners. */
  readonly sni?: readonly SniCertificate[];
  /**
   * The internal next hops when `internal.nextHop` is null (this deployment's Director);
   * none: no remote-user policy, a plain proxy.
   */
  readonly defaultNextHops?: readonly string[];
  /** The deployment's SIP secret: topology-hiding tokens are sealed with a key derived from it. */
  readonly secret: string;
  /** The SQLite file of the administrator's federation lists (`rampart federation allow|block`). */
  readonly federationStorePath?: string;
  readonly logger: Logger;
  readonly registry: Registry;
  /**
   * Set when this process is one of several workers sharing the listening ports
   * (SO_REUSEPORT): `ports` are the ports the first worker bound (they replace ephemeral
   * zeroes), and requests forwarded over UDP leave from a socket of this worker alone.
   */
  readonly worker?: {
    /** This worker's index (0 for the first). */
    readonly index: number;
    /** By transport; the second and later TLS listeners as `tls/1`, `tls/2`, ... */
    readonly ports: Readonly<Partial<Record<string, number>>>;
  };
}

const TRANSPORTS: readonly SipTransport[] = ['udp', 'tcp', 'tls', 'ws', 'wss'];

/** Binds the Access Edge listeners and starts the proxy. */
export async function startAccessEdge(options: StartAccessEdgeOptions): Promise<RunningService> {
  const { config, logger } = options;
  const log = logger.child({ service: 'access-edge' });
  const metrics = sipMetrics(options.registry, 'access-edge');
  const transport = new SipTransportLayer({
    logger: log,
    limits: {
      maxMessageBytes: config.limits.maxMessageBytes,
      maxConnectionsPerIp: config.limits.maxConnectionsPerIp,
      maxInboundConnections: config.limits.maxConnections,
      handshakeTimeoutMs: config.limits.handshakeTimeoutMs,
      idleTimeoutMs: config.limits.idleTimeoutMs,
    },
  });
  transport.on('rejected', (rejection) => {
    metrics.rejected(rejection.transport, rejection.reason);
    log.warn(
      {
        event: 'rejected',
        reason: rejection.reason,
        transport: rejection.transport,
        remote: rejection.remote.address,
        port: rejection.remote.port,
      },
      'sip input rejected',
    );
  });
  const nextHops =
    config.internal.nextHop === null
      ? [...(options.defaultNextHops ?? [])]
      : typeof config.internal.nextHop === 'string'
        ? [config.internal.nextHop]
        : [...config.internal.nextHop];
  const edgeMode = nextHops.length > 0;
  const federating = edgeMode && config.federation.enabled;
  // Partners present certificates from their own CAs (or public ones).
  const partnerCaFiles = config.federation.caFiles.map((file) => readFileSync(file, 'utf8'));
  const partnerCasNow = (): string[] =>
    federating
      ? [
          options.tls.ca,
          ...partnerCaFiles,
          ...(config.federation.systemCas ? rootCertificates : []),
        ].filter((ca) => ca !== '')
      : [];
  const partnerCas = partnerCasNow();
  const host = config.external.host;
  const advertised = config.external.advertisedHost ?? host;
  const listeners: ProxyListener[] = [];
  const internalListeners: ProxyListener[] = [];
  const endpoints: Endpoint[] = [];
  /** TLS and WSS listeners, and the CA each verifies client certificates with, if any. */
  const secure: { listener: SecureSipListener; ca: (() => string | string[]) | undefined }[] = [];
  let udpOutbound: ProxyListener | undefined;
  try {
    const reusePort = options.worker !== undefined;
    const wanted: { name: SipTransport; key: string; port: number }[] = [];
    for (const name of TRANSPORTS) {
      const configured = config.external[name];
      if (configured === null) continue;
      const ports = typeof configured === 'number' ? [configured] : configured;
      ports.forEach((port, i) => {
        wanted.push({ name, key: i === 0 ? name : `${name}/${String(i)}`, port });
      });
    }
    for (const { name, key, port: configured } of wanted) {
      const port = options.worker?.ports[key] ?? configured;
      const SNICallback = sniCallback(options.sni ?? []);
      const tlsOptions = {
        host,
        port,
        reusePort,
        key: options.tls.key,
        cert: options.tls.cert,
        ...(SNICallback === undefined ? {} : { SNICallback }),
      };
      // A partner's edge proves its domain with a certificate; remote users present none.
      const partnerOptions =
        federating && name === 'tls'
          ? { requestCert: true, rejectUnauthorized: false, ca: partnerCas }
          : {};
      let listener: SipListener;
      if (name === 'tls' || name === 'wss') {
        const secureListener =
          name === 'tls'
            ? await transport.listenTls({ ...tlsOptions, ...partnerOptions })
            : await transport.listenWss(tlsOptions);
        secure.push({
          listener: secureListener,
          ca: federating && name === 'tls' ? partnerCasNow : undefined,
        });
        listener = secureListener;
      } else {
        listener =
          name === 'udp'
            ? await transport.listenUdp({ host, port, reusePort })
            : name === 'tcp'
              ? await transport.listenTcp({ host, port, reusePort })
              : await transport.listenWs({ host, port, reusePort });
      }
      listeners.push({
        listenerId: listener.id,
        transport: name,
        host: advertised,
        port: listener.local.port,
      });
      endpoints.push({
        service: 'access-edge',
        side: 'external',
        transport: name,
        host: listener.local.address,
        port: listener.local.port,
      });
    }
    if (edgeMode) {
      const inside = config.internal.host;
      for (const name of ['tls', 'tcp'] as const) {
        const configured = config.internal[name];
        if (configured === null) continue;
        // Each worker has its own internal port (the configured one plus its index): the Path
        // and Record-Route it gives name it, so the Director's requests for a remote user reach
        // the worker holding that user's connection (flows are per process).
        const index = options.worker?.index ?? 0;
        const port = configured === 0 ? 0 : configured + index;
        // The Director is one of ours: its certificate must chain to the deployment's CA.
        const secureInside =
          name === 'tls'
            ? await transport.listenTls({
                host: inside,
                port,
                key: options.tls.key,
                cert: options.tls.cert,
                ca: options.tls.ca,
                requestCert: true,
                rejectUnauthorized: true,
              })
            : undefined;
        if (secureInside !== undefined)
          secure.push({ listener: secureInside, ca: () => options.tls.ca });
        const listener = secureInside ?? (await transport.listenTcp({ host: inside, port }));
        const proxyListener = {
          listenerId: listener.id,
          transport: name,
          host: inside,
          port: listener.local.port,
        };
        internalListeners.push(proxyListener);
        endpoints.push({
          service: 'access-edge',
          side: 'internal',
          transport: name,
          host: listener.local.address,
          port: listener.local.port,
        });
      }
      if (internalListeners.length === 0)
        throw new Error('access-edge.internal: an internal next hop needs the tls or tcp listener');
    }
    if (options.worker !== undefined && config.external.udp !== null) {
      const own = await transport.listenUdp({ host, port: 0 });
      udpOutbound = {
        listenerId: own.id,
        transport: 'udp',
        host: advertised,
        port: own.local.port,
      };
    }
  } catch (error) {
    await transport.close();
    throw error;
  }
  // Certificates replaced on disk reach new handshakes; live connections stay up.
  const stopWatching = options.tls.onChange(() => {
    for (const { listener, ca } of secure)
      listener.setSecureContext({
        key: options.tls.key,
        cert: options.tls.cert,
        ...(ca === undefined ? {} : { ca: ca() }),
      });
    log.info({ event: 'tls-reload' }, 'certificates reloaded');
  });
  const resolver = new CachingDnsResolver(
    config.dns.servers.length > 0 ? { servers: [...config.dns.servers] } : {},
  );
  const federationStore =
    federating && options.federationStorePath !== undefined
      ? new FederationStore(options.federationStorePath)
      : undefined;
  const federation = federating
    ? new PartnerFederation({
        settings: config.federation,
        domains: options.domains,
        transport,
        resolver,
        // Read at each connection: a certificate reloaded from disk is used from then on.
        tls: options.tls,
        ca: partnerCas,
        store: federationStore,
        registry: options.registry,
        logger: log,
      })
    : undefined;
  const policy = edgeMode
    ? new RemoteUserPolicy({
        federation,
        config,
        domains: options.domains,
        nextHops,
        secret: options.secret,
        externalListeners: listeners,
        internalListeners,
        transport,
        registry: options.registry,
        logger: log,
      })
    : undefined;
  const engine = new SipProxyEngine({
    transport,
    listeners: [...listeners, ...internalListeners],
    localNames: [host, advertised, config.internal.host],
    routes: config.routes,
    resolver,
    recordRoute: config.recordRoute,
    timers: { t1Ms: config.timers.t1Ms, t2Ms: config.timers.t2Ms, t4Ms: config.timers.t4Ms },
    tlsCa: options.tls.ca,
    // Mutual TLS toward the Director: our certificate is the deployment's.
    tlsClient: { cert: options.tls.cert, key: options.tls.key },
    logger: log,
    observer: metrics,
    ...(udpOutbound === undefined ? {} : { udpOutbound }),
    ...(policy === undefined ? {} : policy.engineHooks()),
  });
  policy?.start(engine);
  metrics.collect(() => ({ ...engine.stats(), connections: transport.stats().connections }));
  let closing: Promise<void> | undefined;
  return {
    name: 'access-edge',
    endpoints,
    status: () => ({
      ...engine.stats(),
      connections: transport.stats().connections,
      ...(policy === undefined ? {} : policy.status()),
      ...(federation === undefined ? {} : federation.status()),
    }),
    ...(federation === undefined
      ? {}
      : { actions: { 'federation-watchlist': () => federation.watchList() } }),
    close: (deadlineMs: number) => {
      closing ??= (async () => {
        policy?.stop();
        federation?.close();
        federationStore?.close();
        engine.drain();
        await engine.idle(deadlineMs);
        engine.close();
        stopWatching();
        resolver.close();
        await transport.close();
      })();
      return closing;
    },
  };
}

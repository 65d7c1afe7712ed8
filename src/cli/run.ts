/**
 * The steps every `rampart start` process shares, whether it runs alone, as a supervising
 * primary or as a worker: TLS material, the services, the start banner and endpoints.json,
 * crash and signal handling.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { RampartConfig } from '../config/index.ts';
import type { Endpoint, RunningService } from '../lib/endpoint.ts';
import { ERROR_CODES, RampartError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { startAccessEdge } from '../services/access-edge/index.ts';
import { startAvEdge } from '../services/av-edge/index.ts';
import { startDirector } from '../services/director/index.ts';
import { startFrontEnd } from '../services/front-end/index.ts';
import { startReverseProxy } from '../services/reverse-proxy/index.ts';
import { startWebServices } from '../services/web-services/index.ts';
import type { Directory } from '../store/directory.ts';
import { SqliteDurableStore, type DurableStore } from '../store/durable-store.ts';
import { openDirectory } from '../store/open-directory.ts';
import { loadTlsMaterial, type TlsMaterial } from '../store/tls-material.ts';
import { FEDERATION_STORE_FILE } from '../store/federation-store.ts';
import { loadOrCreateSipSecret, loadOrCreateTurnSecret } from '../store/turn-secret.ts';
import { EXIT_CODES, type ExitCode } from './exit-codes.ts';

/** Extra time after the drain deadline before a stuck shutdown is abandoned. */
export const SHUTDOWN_GRACE_MS = 2000;

/** Formats endpoints as an aligned table (IPv6 hosts in brackets). */
export function endpointTable(endpoints: readonly Endpoint[]): string {
  const rows = endpoints.map((e) => [
    e.service,
    e.side,
    e.transport,
    e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`,
  ]);
  const header = ['SERVICE', 'SIDE', 'TRANSPORT', 'ADDRESS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Writes `endpoints.json` atomically, so a reader never sees half a file. */
function writeEndpoints(dataDir: string, endpoints: readonly Endpoint[]): string {
  const path = join(dataDir, 'endpoints.json');
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(endpoints, null, 2) + '\n');
  renameSync(temporary, path);
  return path;
}

/** Writes endpoints.json and prints the start banner with the endpoint table. */
export function announceStarted(
  config: RampartConfig,
  version: string,
  endpoints: readonly Endpoint[],
  tls: TlsMaterial,
): void {
  const endpointsPath = writeEndpoints(config.dataDir, endpoints);
  process.stdout.write(
    `Rampart ${version} started\n${endpointTable(endpoints)}\n` +
      (tls.caPath === ''
        ? 'CA certificate: none configured (tls.caFile)\n'
        : `CA certificate (trust it in clients): ${tls.caPath}\n`) +
      `Endpoints: ${endpointsPath}\n`,
  );
}

/** Error text for a log line. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Flushes the log and exits: the one way a `rampart start` process ends. */
export type Exit = (code: ExitCode) => never;

/** Logs uncaught errors and exits 70, as every `rampart start` process does. */
export function exitOnCrash(logger: Logger, exit: Exit): void {
  process.on('uncaughtException', (error) => {
    logger.error({ error: describe(error), stack: error.stack }, 'internal error');
    exit(EXIT_CODES.INTERNAL);
  });
  process.on('unhandledRejection', (reason) => {
    logger.error({ error: describe(reason) }, 'internal error (unhandled rejection)');
    exit(EXIT_CODES.INTERNAL);
  });
}

/** Creates the data directory and loads (or generates) the TLS material; exits on failure. */
export async function prepareTls(config: RampartConfig, exit: Exit): Promise<TlsMaterial> {
  try {
    mkdirSync(config.dataDir, { recursive: true });
    return await loadTlsMaterial({
      dataDir: config.dataDir,
      certFile: config.tls.certFile,
      keyFile: config.tls.keyFile,
      caFile: config.tls.caFile,
      names: [...config.tls.names, ...config.domains],
    });
  } catch (error) {
    const configured = config.tls.certFile !== null && error instanceof RampartError;
    process.stderr.write(`rampart: ${describe(error)}\n`);
    return exit(configured ? EXIT_CODES.CONFIG : EXIT_CODES.FAILURE);
  }
}

/** How each service that supports it applies a new configuration (SIGHUP). */
const reloaders = new WeakMap<RunningService, (config: RampartConfig) => string[]>();

/**
 * Configuration reload without restart (SIGHUP): reads the configuration again and hands it
 * to every service that can apply it. An invalid file changes nothing and is logged.
 */
export function reloadServices(
  services: readonly RunningService[],
  loadAgain: () => RampartConfig | string,
  logger: Logger,
): void {
  const next = loadAgain();
  if (typeof next === 'string') {
    logger.error({ event: 'reload-failed', error: next }, 'configuration not reloaded');
    return;
  }
  for (const service of services) {
    const reload = reloaders.get(service);
    if (reload === undefined) continue;
    try {
      const restartNeeded = reload(next);
      if (restartNeeded.length > 0) {
        logger.warn(
          { event: 'reload-partial', service: service.name, restartNeeded },
          'some changes need a restart',
        );
      }
    } catch (error) {
      logger.error(
        { event: 'reload-failed', service: service.name, error: describe(error) },
        'configuration not reloaded',
      );
    }
  }
}

/** Options of {@link startServices}. */
export interface StartServicesOptions {
  readonly config: RampartConfig;
  readonly tls: TlsMaterial;
  readonly logger: Logger;
  readonly registry: Registry;
  /**
   * Set in a worker process: its index, the number of workers, and the ports the first
   * worker bound, by {@link endpointKeys} (`service/side/transport/n`).
   */
  readonly worker?: {
    readonly index: number;
    readonly count: number;
    readonly ports: Readonly<Record<string, number>>;
  };
}

/**
 * Starts every enabled service except admin, in order; on failure stops those already
 * started and rethrows.
 */
export async function startServices(options: StartServicesOptions): Promise<RunningService[]> {
  const { config, tls, logger, registry, worker } = options;
  const services: RunningService[] = [];
  const portsOf = (prefix: string): Record<string, number> =>
    Object.fromEntries(
      Object.entries(worker?.ports ?? {})
        .filter(([key]) => key.startsWith(prefix))
        .map(([key, port]) => [key.slice(prefix.length), port]),
    );
  let directory: Directory | undefined;
  let store: DurableStore | undefined;
  try {
    let avEndpoints: readonly Endpoint[] = [];
    if (config['av-edge'].enabled) {
      const avEdge = await startAvEdge({
        config: avEdgeSettings(config),
        domains: config.domains,
        tls,
        logger,
        registry,
        ...(worker === undefined
          ? {}
          : { worker: { index: worker.index, count: worker.count, ports: portsOf('av-edge/') } }),
      });
      reloaders.set(avEdge, (next) => avEdge.reload(avEdgeSettings(next)));
      services.push(avEdge);
      avEndpoints = avEdge.endpoints;
    }
    // The internal servers keep their state in one process: the first worker runs them.
    const internal: RunningService[] = [];
    const runInternal =
      (worker === undefined || worker.index === 0) &&
      (config.director.enabled || config['front-end'].enabled || config['web-services'].enabled);
    let directorUri: string | undefined;
    // The Access Edge's internal side, where the Front End sends requests for other domains
    // (federation); known once the edge has started, after the Front End.
    let federationEdgeUri: string | undefined;
    // The web services' port, which the reverse proxy publishes by default.
    let webServicesPort: number | undefined;
    if (runInternal) {
      directory = await openDirectory(config.directory, config.dataDir);
      const sipSecret = loadOrCreateSipSecret(config.dataDir);
      const serverTls = { key: tls.key, cert: tls.cert, ca: tls.ca };
      let frontEndUri: string | undefined;
      if (config['front-end'].enabled) {
        store = new SqliteDurableStore(join(config.dataDir, 'state.sqlite'));
        const frontEnd = await startFrontEnd({
          config: config['front-end'],
          domains: config.domains,
          directory,
          store,
          nonceSecret: sipSecret,
          ...(config['av-edge'].enabled
            ? {
                turn: {
                  secret: avEdgeSettings(config).auth.secrets[0] ?? '',
                  lifetimeSeconds: config['front-end'].turnCredentialLifetimeSeconds,
                  avEdge: turnServers(config, avEndpoints),
                },
              }
            : {}),
          tls: serverTls,
          logger,
          registry,
          federation: {
            edgeUri: () => config['front-end'].federationNextHop ?? federationEdgeUri,
            providerDomains: config['access-edge'].federation.providers.flatMap((p) =>
              p.enabled ? p.domains : [],
            ),
          },
        });
        internal.push(frontEnd);
        const server = frontEnd.endpoints.find(
          (e) => e.transport === 'tls' && e.port === serverPortOf(frontEnd, config['front-end']),
        );
        if (server !== undefined) frontEndUri = `sip:${hostPort(server)};transport=tls`;
      }
      if (config.director.enabled) {
        const frontEnd = config.director.frontEnd ?? frontEndUri;
        if (frontEnd === undefined)
          throw new RampartError(ERROR_CODES.CONFIG, 'director.frontEnd: no Front End to route to');
        const director = await startDirector({
          config: { ...config.director, frontEnd },
          domains: config.domains,
          directory,
          nonceSecret: sipSecret,
          tls: serverTls,
          logger,
          registry,
        });
        internal.push(director);
        // The Access Edge reaches the Director over mutual TLS, where its mark is believed.
        const edgeFacing = director.endpoints.find(
          (e) => e.transport === 'tls' && e.port === serverPortOf(director, config.director),
        );
        if (edgeFacing !== undefined) directorUri = `sip:${hostPort(edgeFacing)};transport=tls`;
      }
      if (config['web-services'].enabled) {
        const web = config['web-services'];
        const webServices = await startWebServices({
          config: web,
          dataDir: config.dataDir,
          directory,
          tls,
          logger,
          registry,
          ...(frontEndUri === undefined ? {} : { frontEnd: frontEndUri }),
        });
        internal.push(webServices);
        webServicesPort = webServices.endpoints.find((e) => e.transport === 'https')?.port;
      }
      services.push(...closingTogether(internal, directory, store));
    }
    if (config['access-edge'].enabled) {
      const edge = config['access-edge'];
      // Workers other than the first run no Director: they learn its port from the first.
      const directorPort = portsOf('director/internal/tls/')['0'];
      if (
        directorUri === undefined &&
        config.director.enabled &&
        config.director.serverTls !== null &&
        directorPort !== undefined
      )
        directorUri = `sip:${hostPort({ host: config.director.host, port: directorPort })};transport=tls`;
      const byTransport = (prefix: string): Record<string, number> =>
        Object.fromEntries(
          Object.entries(portsOf(prefix)).map(([key, port]) => [key.replace(/\/0$/, ''), port]),
        );
      const accessEdge = await startAccessEdge({
        config: edge,
        domains: config.domains,
        tls,
        sni: edge.external.certificates.map((c, i) => {
          try {
            return {
              names: c.names,
              cert: readFileSync(c.certFile, 'utf8'),
              key: readFileSync(c.keyFile, 'utf8'),
            };
          } catch (error) {
            throw new RampartError(
              ERROR_CODES.CONFIG,
              `access-edge.external.certificates.${String(i)}: ${String(error)}`,
            );
          }
        }),
        // The remote-user policy sends everything from outside to this deployment's Director.
        ...(directorUri === undefined ? {} : { defaultNextHops: [directorUri] }),
        secret: loadOrCreateSipSecret(config.dataDir),
        federationStorePath: join(config.dataDir, FEDERATION_STORE_FILE),
        logger,
        registry,
        ...(worker === undefined
          ? {}
          : {
              worker: { index: worker.index, ports: byTransport('access-edge/external/') },
            }),
      });
      services.push(accessEdge);
      const internalTls = accessEdge.endpoints.find(
        (e) => e.side === 'internal' && e.transport === 'tls',
      );
      if (edge.federation.enabled && internalTls !== undefined)
        federationEdgeUri = `sip:${hostPort(internalTls)};transport=tls`;
    }
    if (config['reverse-proxy'].enabled) {
      const webPort = webServicesPort ?? portsOf('web-services/internal/https/')['0'] ?? undefined;
      // Every worker runs the proxy on the shared port (SO_REUSEPORT).
      services.push(
        await startReverseProxy({
          config: proxySettings(config, webPort),
          tls,
          dataDir: config.dataDir,
          defaultHosts: [...config.tls.names, ...config.domains],
          logger,
          registry,
          ...(worker === undefined
            ? {}
            : { worker: { port: portsOf('reverse-proxy/external/https/')['0'] } }),
        }),
      );
    }
  } catch (error) {
    await Promise.all(services.map((service) => service.close(Date.now()))).catch(() => undefined);
    await directory?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    throw error;
  }
  return services;
}

/** The web services this deployment publishes through the reverse proxy by default. */
const WEB_SERVICE_PREFIXES = ['/abs', '/dl', '/meetings', '/updates', '/webaccess'] as const;

/**
 * The reverse proxy's settings with this deployment's web services published (unless the
 * configuration publishes the same prefix or turned that off) and their password check as
 * the sign-in's verifier when none is configured.
 */
function proxySettings(
  config: RampartConfig,
  webPort: number | undefined,
): RampartConfig['reverse-proxy'] {
  const proxy = config['reverse-proxy'];
  const web = config['web-services'];
  if (!proxy.publishWebServices || !web.enabled || webPort === undefined) return proxy;
  const origin = `https://${hostPort({ host: web.host, port: webPort })}`;
  const configured = new Set(proxy.routes.map((r) => r.prefix));
  const defaults = WEB_SERVICE_PREFIXES.filter((prefix) => !configured.has(prefix)).map(
    (prefix) => ({
      prefix,
      upstream: origin,
      auth: prefix === '/webaccess' ? ('forms' as const) : ('none' as const),
      maxBodyBytes: prefix === '/meetings' ? web.meetings.maxFileBytes + 65536 : 1024 * 1024,
      websocket: prefix === '/webaccess',
      connections: 64,
      timeouts: { upstreamHeadersMs: 30_000, upstreamBodyMs: 60_000 },
    }),
  );
  return {
    ...proxy,
    routes: [...proxy.routes, ...defaults],
    signIn: { ...proxy.signIn, verifyUrl: proxy.signIn.verifyUrl ?? `${origin}/auth/verify` },
  };
}

function hostPort(endpoint: { readonly host: string; readonly port: number }): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${host}:${String(endpoint.port)}`;
}

/** The port of a server's mutual-TLS listener: the configured one, or its first TLS endpoint. */
function serverPortOf(
  service: RunningService,
  settings: { readonly tls: number | null; readonly serverTls: number | null },
): number | undefined {
  // The server listener is bound first, so it is the first TLS endpoint.
  if (settings.serverTls === null) return undefined;
  return service.endpoints.find((e) => e.transport === 'tls')?.port;
}

/** The A/V Edge listeners the TURN credential service hands out, per side. */
function turnServers(
  config: RampartConfig,
  endpoints: readonly Endpoint[],
): {
  external: { host: string; port: number; transport: 'udp' | 'tcp' | 'tls' }[];
  internal: { host: string; port: number; transport: 'udp' | 'tcp' | 'tls' }[];
} {
  const av = config['av-edge'];
  const of = (side: 'external' | 'internal', advertised: string | null) =>
    endpoints
      .filter(
        (e) =>
          e.side === side &&
          (e.transport === 'udp' || e.transport === 'tcp' || e.transport === 'tls'),
      )
      .map((e) => ({
        host: advertised ?? e.host,
        port: e.port,
        transport: e.transport as 'udp' | 'tcp' | 'tls',
      }));
  return {
    external: of('external', av.external.advertisedHost),
    internal: of('internal', av.internal.advertisedHost),
  };
}

/** The internal servers share the directory and the durable store: closed after both. */
function closingTogether(
  services: readonly RunningService[],
  directory: Directory,
  store: DurableStore | undefined,
): RunningService[] {
  let open = services.length;
  const closeShared = async (): Promise<void> => {
    await directory.close();
    await store?.close();
  };
  let shared: Promise<void> | undefined;
  return services.map((service) => {
    let closing: Promise<void> | undefined;
    return {
      ...service,
      close: (deadlineMs: number) => {
        closing ??= (async () => {
          await service.close(deadlineMs);
          open -= 1;
          if (open === 0) shared ??= closeShared();
          await shared;
        })();
        return closing;
      },
    };
  });
}

/** Concatenates lists and sums numbers: how answers of several services or workers merge. */
export function mergeActionResults(results: readonly unknown[]): unknown {
  const defined = results.filter((r) => r !== undefined);
  if (defined.length === 0) return undefined;
  if (defined.every((r) => typeof r === 'number')) return defined.reduce((a, b) => a + b, 0);
  return defined.flatMap((r) => (Array.isArray(r) ? (r as unknown[]) : [r]));
}

/** Runs a named action on every service that has it. */
export function runServiceAction(
  services: readonly RunningService[],
  name: string,
  argument: string | undefined,
): unknown {
  return mergeActionResults(services.map((service) => service.actions?.[name]?.(argument)));
}

/**
 * The A/V Edge settings, with the generated `<data-dir>/turn-secret` as REST secret when
 * none is configured.
 */
export function avEdgeSettings(config: RampartConfig): RampartConfig['av-edge'] {
  const av = config['av-edge'];
  if (av.auth.secrets.length > 0) return av;
  return { ...av, auth: { ...av.auth, secrets: [loadOrCreateTurnSecret(config.dataDir)] } };
}

/**
 * The keys under which the first worker's bound ports are handed to the next workers:
 * `service/side/transport/n`, n counting listeners of the same kind (two TLS ports: 0, 1).
 */
export function endpointKeys(endpoints: readonly Endpoint[]): Record<string, number> {
  const keys: Record<string, number> = {};
  const seen = new Map<string, number>();
  for (const endpoint of endpoints) {
    const base = `${endpoint.service}/${endpoint.side}/${endpoint.transport}`;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    keys[`${base}/${String(n)}`] = endpoint.port;
  }
  return keys;
}

/**
 * On the first SIGTERM/SIGINT: `stop(deadline)`, then exit 0 (1 if it failed or overran
 * the deadline by more than the grace). A second signal exits 1 at once.
 */
export function onStopSignal(
  logger: Logger,
  exit: Exit,
  drainTimeoutMs: number,
  stop: (deadlineMs: number) => Promise<void>,
): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ event: 'stop-forced', signal }, 'second signal: stopping now');
      exit(EXIT_CODES.FAILURE);
    }
    stopping = true;
    const deadline = Date.now() + drainTimeoutMs;
    logger.info({ event: 'stopping', signal }, 'stopping: draining in-flight transactions');
    setTimeout(() => {
      logger.error({ event: 'stop-timeout' }, 'shutdown did not finish in time');
      exit(EXIT_CODES.FAILURE);
    }, drainTimeoutMs + SHUTDOWN_GRACE_MS).unref();
    stop(deadline).then(
      () => {
        logger.info({ event: 'stopped' }, 'stopped');
        exit(EXIT_CODES.OK);
      },
      (error: unknown) => {
        logger.error({ error: describe(error) }, 'shutdown failed');
        exit(EXIT_CODES.FAILURE);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * The HTTP reverse proxy (perimeter): one HTTPS listener facing the Internet that publishes
 * only the configured path prefixes, each to its internal web service over HTTPS with its
 * own keep-alive pool (undici), presenting the deployment certificate as client certificate.
 * Everything else is 404. Optional forms sign-in guards `forms` routes.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  readFileSync,
  unwatchFile,
  watchFile,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Registry } from 'prom-client';
import { Pool, type Dispatcher } from 'undici';
import type { ReverseProxySection } from '../../config/reverse-proxy-schema.ts';
import type { DeepReadonly } from '../../config/schema.ts';
import type { Endpoint, RunningService } from '../../lib/endpoint.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { ReverseProxyMetrics } from './metrics.ts';
import { prefixMatcher } from './path.ts';
import { ReverseProxyHandler, type LiveRoute } from './proxy.ts';
import { SessionCodec } from './session.ts';
import { FormsSignIn } from './signin.ts';

/** The deployment's certificate, key and CA; `onChange` fires when they are replaced. */
export interface ReverseProxyTls {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
  onChange(listener: () => void): () => void;
}

/** Options of {@link startReverseProxy}. */
export interface StartReverseProxyOptions {
  readonly config: DeepReadonly<ReverseProxySection>;
  readonly tls: ReverseProxyTls;
  /** Where a generated session secret is kept (`<dataDir>`). */
  readonly dataDir: string;
  /** Host names served when `external.hosts` is empty (tls.names, the SIP domains). */
  readonly defaultHosts: readonly string[];
  readonly logger: Logger;
  readonly registry: Registry;
  /** Set in a worker: the port the first worker bound (replaces an ephemeral 0). */
  readonly worker?: { readonly port: number | undefined };
}

/** The session secret: the configured file, or one generated into the data directory. */
export function loadOrCreateSessionSecret(file: string | null, dataDir: string): Buffer {
  if (file !== null) {
    const text = readFileSync(file, 'utf8').trim();
    if (text.length < 32)
      throw new RampartError(
        ERROR_CODES.CONFIG,
        `reverse-proxy.sessionSecretFile: ${file} holds fewer than 32 characters`,
      );
    return Buffer.from(text, 'utf8');
  }
  const path = join(dataDir, 'reverse-proxy-session-secret');
  if (!existsSync(path)) {
    writeFileSync(path, randomBytes(32).toString('base64url') + '\n', { flag: 'wx', mode: 0o600 });
    chmodSync(path, 0o600);
  }
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'utf8');
}

interface SniEntry {
  readonly names: readonly string[];
  readonly certFile: string;
  readonly keyFile: string;
}

/** SNI contexts from files, re-read when a file changes. */
function sniContexts(
  entries: readonly SniEntry[],
  log: Logger,
): { lookup: (name: string) => SecureContext | undefined; close: () => void } {
  let exact = new Map<string, SecureContext>();
  let wildcard: [string, SecureContext][] = [];
  const load = (): void => {
    const nextExact = new Map<string, SecureContext>();
    const nextWildcard: [string, SecureContext][] = [];
    entries.forEach((entry, i) => {
      let context: SecureContext;
      try {
        context = createSecureContext({
          cert: readFileSync(entry.certFile, 'utf8'),
          key: readFileSync(entry.keyFile, 'utf8'),
          minVersion: 'TLSv1.2',
        });
      } catch (error) {
        throw new RampartError(
          ERROR_CODES.CONFIG,
          `reverse-proxy.external.certificates.${String(i)}: ${String(error)}`,
        );
      }
      for (const name of entry.names) {
        if (name.startsWith('*.')) nextWildcard.push([name.slice(1), context]);
        else nextExact.set(name, context);
      }
    });
    exact = nextExact;
    wildcard = nextWildcard;
  };
  load();
  const files = entries.flatMap((entry) => [entry.certFile, entry.keyFile]);
  const onFileChange = (): void => {
    try {
      load();
      log.info({ event: 'tls-reload', sni: true }, 'SNI certificates reloaded');
    } catch (error) {
      log.error({ event: 'tls-reload-failed', error: String(error) }, 'SNI certificates kept');
    }
  };
  for (const file of files) watchFile(file, { interval: 2000 }, onFileChange);
  return {
    lookup: (servername) => {
      const name = servername.toLowerCase();
      return exact.get(name) ?? wildcard.find(([suffix]) => name.endsWith(suffix))?.[1];
    },
    close: () => {
      for (const file of files) unwatchFile(file, onFileChange);
    },
  };
}

function upstreamOrigin(url: string): string {
  return new URL(url).origin;
}

/** Starts the reverse proxy's HTTPS listener. */
export async function startReverseProxy(
  options: StartReverseProxyOptions,
): Promise<RunningService> {
  const { config, tls } = options;
  const log = options.logger.child({ service: 'reverse-proxy' });
  const metrics = new ReverseProxyMetrics(options.registry);
  const routes: LiveRoute[] = config.routes.map((route) => ({
    prefix: route.prefix,
    origin: upstreamOrigin(route.upstream),
    auth: route.auth,
    maxBodyBytes: route.maxBodyBytes,
    websocket: route.websocket,
    headersTimeoutMs: route.timeouts.upstreamHeadersMs,
    bodyTimeoutMs: route.timeouts.upstreamBodyMs,
  }));
  // One keep-alive pool per upstream origin, sized by the largest route on it.
  const poolSizes = new Map<string, number>();
  for (const route of config.routes) {
    const origin = upstreamOrigin(route.upstream);
    poolSizes.set(origin, Math.max(poolSizes.get(origin) ?? 0, route.connections));
  }
  const verifyUrl = config.signIn.verifyUrl === null ? undefined : new URL(config.signIn.verifyUrl);
  if (verifyUrl !== undefined && !poolSizes.has(verifyUrl.origin))
    poolSizes.set(verifyUrl.origin, 8);
  const makePools = (): Map<string, Pool> =>
    new Map(
      [...poolSizes].map(([origin, connections]) => [
        origin,
        new Pool(origin, {
          connections,
          pipelining: 1,
          allowH2: false,
          keepAliveTimeout: 30_000,
          connect: {
            ca: tls.ca,
            // Mutual TLS: the upstream trusts X-Rampart-User only from our certificate.
            cert: tls.cert,
            key: tls.key,
            rejectUnauthorized: true,
          },
        }),
      ]),
    );
  let pools = makePools();
  const dispatcher = (origin: string): Dispatcher => {
    const pool = pools.get(origin);
    if (pool === undefined)
      throw new RampartError(ERROR_CODES.INVALID_STATE, `no pool for ${origin}`);
    return pool;
  };
  const published = prefixMatcher(routes);
  const signIn =
    verifyUrl === undefined
      ? undefined
      : new FormsSignIn({
          path: config.signIn.path,
          signOutPath: config.signIn.signOutPath,
          codec: new SessionCodec(
            loadOrCreateSessionSecret(config.sessionSecretFile, options.dataDir),
            {
              idleMs: config.signIn.idleMinutes * 60_000,
              maxMs: config.signIn.maxHours * 3_600_000,
            },
          ),
          verify: () => ({
            dispatcher: dispatcher(verifyUrl.origin),
            path: verifyUrl.pathname + verifyUrl.search,
          }),
          lockout: {
            maxFailures: config.signIn.lockout.maxFailures,
            windowMs: config.signIn.lockout.windowSeconds * 1000,
            baseLockMs: config.signIn.lockout.baseLockSeconds * 1000,
            maxLockMs: config.signIn.lockout.maxLockSeconds * 1000,
            addressFactor: config.signIn.lockout.addressFactor,
          },
          idleMs: config.signIn.idleMinutes * 60_000,
          maxMs: config.signIn.maxHours * 3_600_000,
          isOurs: (path) => path === '/' || published(path) !== undefined,
          logger: log,
        });
  const host = config.external.host;
  const hosts =
    config.external.hosts.length > 0
      ? [...config.external.hosts]
      : [...new Set(['localhost', '127.0.0.1', '::1', host, ...options.defaultHosts])];
  const handler = new ReverseProxyHandler({
    routes,
    dispatcher,
    hosts,
    trustedProxies: config.trustedProxies,
    maxUrlBytes: config.limits.maxUrlBytes,
    maxHeaderCount: config.limits.maxHeaderCount,
    signIn,
    accessLog: config.accessLog,
    metrics,
    logger: log,
  });
  const sni = sniContexts(config.external.certificates, log);
  const server: Server = createServer({
    key: tls.key,
    cert: tls.cert,
    minVersion: 'TLSv1.2',
    ALPNProtocols: ['http/1.1'],
    SNICallback: (servername, done) => {
      done(null, sni.lookup(servername));
    },
    maxHeaderSize: config.limits.maxHeaderBytes,
    requestTimeout: config.timeouts.requestMs,
    headersTimeout: config.timeouts.headersMs,
    keepAliveTimeout: config.timeouts.idleMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(100, config.timeouts.headersMs / 4)),
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    insecureHTTPParser: false,
  });
  // Header lines beyond the limit are counted (431), not silently dropped.
  server.maxHeadersCount = config.limits.maxHeaderCount + 1;
  server.maxRequestsPerSocket = config.limits.maxRequestsPerConnection;
  server.setTimeout(config.timeouts.idleMs);
  server.on('request', (req, res) => {
    handler.onRequest(req, res);
  });
  server.on('checkContinue', (req, res) => {
    handler.onRequest(req, res, true);
  });
  server.on('upgrade', (req, socket, head: Buffer) => {
    handler.onUpgrade(req, socket, head);
  });
  server.on('connect', (req, socket) => {
    handler.onUpgrade(req, socket, Buffer.alloc(0));
  });
  server.on('clientError', (error: Error & { code?: string }, socket) => {
    handler.onClientError(error, socket);
  });
  server.on('tlsClientError', () => {
    // Handshake failures (scanners, wrong SNI) need no answer.
  });
  const port = options.worker?.port ?? config.external.port;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, reusePort: options.worker !== undefined }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    sni.close();
    await Promise.all([...pools.values()].map((pool) => pool.destroy()));
    throw new RampartError(
      ERROR_CODES.TRANSPORT,
      `reverse-proxy: cannot listen on ${host}:${String(port)}: ${String(error)}`,
      { cause: error },
    );
  }
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const endpoints: Endpoint[] = [
    { service: 'reverse-proxy', side: 'external', transport: 'https', host, port: boundPort },
  ];
  // New certificates reach new handshakes and new upstream connections; live ones stay.
  const stopWatching = tls.onChange(() => {
    server.setSecureContext({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' });
    const old = pools;
    pools = makePools();
    for (const pool of old.values()) void pool.close();
    log.info({ event: 'tls-reload' }, 'certificates reloaded');
  });
  log.info({ event: 'listening', host, port: boundPort, routes: routes.length }, 'reverse proxy');
  let closing: Promise<void> | undefined;
  return {
    name: 'reverse-proxy',
    endpoints,
    status: () => ({ routes: routes.length, connections: pools.size }),
    close: (deadlineMs: number) => {
      closing ??= (async () => {
        stopWatching();
        sni.close();
        const closed = new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        });
        server.closeIdleConnections();
        const timer = setTimeout(
          () => {
            server.closeAllConnections();
          },
          Math.max(0, deadlineMs - Date.now()),
        );
        await closed;
        clearTimeout(timer);
        await Promise.all([...pools.values()].map((pool) => pool.destroy()));
      })();
      return closing;
    },
  };
}

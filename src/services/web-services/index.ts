/**
 * The internal web services: one HTTPS server (fastify) that the reverse proxy publishes.
 * Route groups: the address book (`/abs/`), distribution list expansion (`/dl/`), meeting
 * content (`/meetings/`), device updates (`/updates/`) and the proxy's `/auth/verify`; web
 * access will be one more group. The server asks for a client certificate but does not
 * require one: a certificate from the deployment CA marks the reverse proxy, whose
 * `X-Rampart-User` is then believed (see auth.ts).
 */
import { mkdir } from 'node:fs/promises';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Endpoint, RunningService } from '../../lib/endpoint.ts';
import type { Logger } from '../../lib/logger.ts';
import { counterIn } from '../../runtime/metrics.ts';
import type { Directory } from '../../store/directory.ts';
import type { TlsMaterial } from '../../store/tls-material.ts';
import { generateAddressBook, readAbsIndex } from './abs/generate.ts';
import { absRoutes } from './abs/routes.ts';
import { nextGenerationAt } from './abs/schedule.ts';
import { WebAuthenticator } from './auth.ts';
import { authRoutes } from './auth-routes.ts';
import type { WebContext, WebServicesSettings } from './context.ts';
import { dlRoutes } from './dl/routes.ts';
import { webServicesPaths } from './files.ts';
import { meetingsRoutes } from './meetings/routes.ts';
import { updatesRoutes } from './updates/routes.ts';
import { webAccessRoutes } from './web-access/routes.ts';
import { WebAccessSipAgent } from './web-access/sip-agent.ts';

export type { WebServicesSettings } from './context.ts';

/** Options of {@link startWebServices}. */
export interface StartWebServicesOptions {
  readonly config: WebServicesSettings;
  readonly dataDir: string;
  readonly directory: Directory;
  /** The deployment's certificate (served) and CA (client certificates are checked against it). */
  readonly tls: Pick<TlsMaterial, 'key' | 'cert' | 'ca' | 'onChange'>;
  readonly logger: Logger;
  readonly registry: Registry;
  /**
   * The Front End's mutual-TLS listener (`sip:host:port;transport=tls`): with it, web
   * access (the browser IM client) runs, one SIP user agent per signed-in session.
   */
  readonly frontEnd?: string;
}

/** The feature a path belongs to, for metric labels. */
function featureOf(url: string): string {
  const match = /^\/(abs|dl|meetings|updates|auth|webaccess)(?:\/|$)/.exec(url);
  return match?.[1] ?? 'other';
}

/** Builds the fastify instance with every route group (not listening yet). */
export function buildWebServices(
  options: StartWebServicesOptions,
  context: WebContext,
): FastifyInstance {
  const { tls } = options;
  const app = Fastify({
    https: {
      key: tls.key,
      cert: tls.cert,
      ca: tls.ca,
      requestCert: true,
      // The handshake succeeds without a certificate; `socket.authorized` says if one chained.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    logger: false,
    exposeHeadRoutes: false,
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
  });
  const requests = counterIn(
    options.registry,
    'rampart_web_requests_total',
    'Web services requests answered, by feature and status',
    ['feature', 'status'],
  );
  app.addHook('onResponse', (request, reply, done) => {
    requests.inc({ feature: featureOf(request.url), status: String(reply.statusCode) });
    done();
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      context.logger.error(
        { event: 'web-error', url: request.url, error: error.message },
        'web services request failed',
      );
      return reply.code(500).send({ error: 'internal' });
    }
    return reply.code(status).send({ error: error.code });
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not-found' }));
  absRoutes(app, context);
  dlRoutes(app, context);
  updatesRoutes(app, context);
  meetingsRoutes(app, context);
  authRoutes(app, context);
  return app;
}

/** Starts the web services: the HTTPS listener and the address book schedule. */
export async function startWebServices(options: StartWebServicesOptions): Promise<RunningService> {
  const { config, directory } = options;
  const logger = options.logger.child({ service: 'web-services' });
  const paths = webServicesPaths(options.dataDir);
  for (const dir of [paths.abs, paths.updates, paths.meetings])
    await mkdir(dir, { recursive: true, mode: 0o750 });
  const context: WebContext = {
    settings: config,
    directory,
    auth: new WebAuthenticator(directory, config.auth),
    paths,
    logger,
  };
  const app = buildWebServices(options, context);
  const agent =
    options.frontEnd === undefined
      ? undefined
      : await WebAccessSipAgent.start({
          host: config.host,
          frontEnd: options.frontEnd,
          tls: options.tls,
          logger,
          registry: options.registry,
        });
  const webAccess =
    agent === undefined
      ? undefined
      : webAccessRoutes(app, { agent, directory, logger, registry: options.registry });

  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let generating: Promise<unknown> = Promise.resolve();
  const generate = (reason: string): void => {
    generating = generateAddressBook(directory, { dir: paths.abs, keepDays: config.abs.keepDays })
      .then((report) => {
        logger.info(
          { event: 'abs-generated', reason, ...report, pruned: report.pruned.length },
          'address book generated',
        );
      })
      .catch((error: unknown) => {
        logger.error(
          {
            event: 'abs-failed',
            reason,
            error: error instanceof Error ? error.message : String(error),
          },
          'address book generation failed',
        );
      });
  };
  const schedule = (): void => {
    if (closed) return;
    const at = nextGenerationAt(Date.now(), config.abs);
    if (at === undefined) return;
    timer = setTimeout(() => {
      generate('schedule');
      void generating.then(schedule);
    }, at - Date.now());
    timer.unref();
  };
  // A deployment serves an address book from its first minute.
  if ((await readAbsIndex(paths.abs)) === undefined) generate('first-start');
  schedule();

  const endpoints: Endpoint[] = [];
  if (config.port !== null) {
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (error) {
      closed = true;
      clearTimeout(timer);
      await generating;
      await webAccess?.close();
      await agent?.close(Date.now());
      await app.close();
      throw error;
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    endpoints.push({
      service: 'web-services',
      side: 'internal',
      transport: 'https',
      host: config.host,
      port,
    });
  }
  const stopWatching = options.tls.onChange(() => {
    (app.server as unknown as { setSecureContext(options: object): void }).setSecureContext({
      key: options.tls.key,
      cert: options.tls.cert,
      ca: options.tls.ca,
    });
  });
  logger.info({ event: 'started', endpoints }, 'web services started');

  let closing: Promise<void> | undefined;
  return {
    name: 'web-services',
    endpoints,
    status: () => ({
      listening: endpoints.length,
      webAccessSessions: webAccess?.sessions() ?? 0,
    }),
    close: (deadlineMs: number) => {
      closing ??= (async () => {
        closed = true;
        clearTimeout(timer);
        stopWatching();
        const force = setTimeout(
          () => {
            app.server.closeAllConnections();
          },
          Math.max(0, deadlineMs - Date.now()),
        );
        try {
          await webAccess?.close();
          await agent?.close(deadlineMs);
          await app.close();
          await generating;
        } finally {
          clearTimeout(force);
        }
      })();
      return closing;
    },
  };
}

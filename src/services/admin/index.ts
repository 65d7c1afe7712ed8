/**
 * The admin listener: liveness, readiness, Prometheus metrics and a status API, on the
 * internal side (loopback by default). Read-only; GET and HEAD only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Endpoint, RunningService } from '../../lib/endpoint.ts';
import type { Logger } from '../../lib/logger.ts';

/** Options of {@link startAdmin}. */
export interface StartAdminOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly version: string;
  /** Every endpoint of the process, this one included. */
  readonly getEndpoints: () => readonly Endpoint[];
  /** Per-service counters (gathered from the workers when there are several). */
  readonly getStatus: () => AdminStatus | Promise<AdminStatus>;
  /** The Prometheus text; default: `registry.metrics()` (a primary aggregates its workers). */
  readonly metrics?: () => Promise<string>;
  /** Runs a named service action (see `RunningService.actions`); undefined when unknown. */
  readonly runAction?: (name: string, argument: string | undefined) => Promise<unknown>;
  /** With several worker processes: one entry per worker (pid, restarts, its counters). */
  readonly getWorkers?: () => Promise<readonly unknown[]>;
  /** False while starting or draining: /readyz answers 503. */
  readonly isReady: () => boolean;
  readonly logger: Logger;
}

/** What `/api/status` lists under `services` (and `workers`, with several processes). */
export type AdminStatus = Readonly<Record<string, unknown>>;

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  head: boolean,
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(head ? undefined : body);
}

/** Starts the admin HTTP listener. */
export async function startAdmin(options: StartAdminOptions): Promise<RunningService> {
  const started = Date.now();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const head = req.method === 'HEAD';
    const url = new URL(req.url ?? '/', 'http://admin');
    // The one write: ending a user's TURN allocations (`rampart turn disconnect USER`).
    if (req.method === 'POST' && url.pathname === '/api/turn/disconnect') {
      const user = url.searchParams.get('user');
      if (user === null || user === '' || options.runAction === undefined) {
        send(res, 400, 'text/plain', 'user required\n', false);
        return;
      }
      const ended = await options.runAction('turn-disconnect', user);
      send(res, 200, 'application/json', JSON.stringify({ user, ended }), false);
      return;
    }
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'text/plain', 'method not allowed\n', head);
      return;
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    switch (path) {
      case '/healthz':
        send(res, 200, 'text/plain', 'ok\n', head);
        return;
      case '/readyz':
        if (options.isReady()) send(res, 200, 'text/plain', 'ready\n', head);
        else send(res, 503, 'text/plain', 'not ready\n', head);
        return;
      case '/metrics':
        send(
          res,
          200,
          options.registry.contentType,
          await (options.metrics ?? (() => options.registry.metrics()))(),
          head,
        );
        return;
      case '/api/turn/sessions': {
        const user = new URL(req.url ?? '/', 'http://admin').searchParams.get('user');
        const sessions = (await options.runAction?.('turn-sessions', user ?? undefined)) ?? [];
        send(res, 200, 'application/json', JSON.stringify({ sessions }), head);
        return;
      }
      case '/api/federation/watchlist': {
        const partners = (await options.runAction?.('federation-watchlist', undefined)) ?? [];
        send(res, 200, 'application/json', JSON.stringify({ partners }), head);
        return;
      }
      case '/api/status':
        send(
          res,
          200,
          'application/json',
          JSON.stringify({
            version: options.version,
            uptimeSeconds: Math.round((Date.now() - started) / 1000),
            ready: options.isReady(),
            endpoints: options.getEndpoints(),
            services: await options.getStatus(),
            ...(options.runAction === undefined
              ? {}
              : { turnAllocations: await options.runAction('turn-sessions', undefined) }),
            ...(options.getWorkers === undefined ? {} : { workers: await options.getWorkers() }),
          }),
          head,
        );
        return;
      default:
        send(res, 404, 'text/plain', 'not found\n', head);
    }
  };
  const server = createServer(
    { requestTimeout: 10_000, headersTimeout: 5_000, maxHeaderSize: 8192 },
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        options.logger.error({ error: String(error) }, 'admin request failed');
        if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n', false);
      });
    },
  );
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const endpoints: Endpoint[] = [
    {
      service: 'admin',
      side: 'internal',
      transport: 'http',
      host: address.address,
      port: address.port,
    },
  ];
  let closing: Promise<void> | undefined;
  return {
    name: 'admin',
    endpoints,
    status: () => ({ uptimeSeconds: Math.round((Date.now() - started) / 1000) }),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

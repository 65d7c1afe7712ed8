/**
 * Web access, the browser IM client: `/webaccess/` serves the page (web/webaccess: HTML,
 * CSS, and TypeScript served with its types stripped), `/webaccess/ws` is the WebSocket of
 * a signed-in session. Only the reverse proxy's forms sign-in lets a browser in: the
 * WebSocket needs `X-Rampart-User` from a peer holding the deployment's certificate.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { stripTypeScriptTypes } from 'node:module';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Registry } from 'prom-client';
import type { Logger } from '../../../lib/logger.ts';
import { counterIn } from '../../../runtime/metrics.ts';
import { canonicalAddress, type Directory } from '../../../store/directory.ts';
import { USER_HEADER } from '../auth.ts';
import { WebAccessSession, type BrowserEvent } from './session.ts';
import type { WebAccessSipAgent } from './sip-agent.ts';

const WEB_DIR = new URL('../../../../web/webaccess/', import.meta.url);
const WS_PATH = '/webaccess/ws';
/** Sessions at once, all users together; more are refused (503). */
const MAX_SESSIONS = 1000;
const MAX_FRAME_BYTES = 16 * 1024;

/** The page's script: TypeScript with its types stripped (no build step). */
function loadScript(): string {
  const source = readFileSync(new URL('app.ts', WEB_DIR), 'utf8');
  // Node marks the stripper experimental; its one warning says nothing an operator can act on.
  const emitWarning = process.emitWarning.bind(process);
  process.emitWarning = () => undefined;
  try {
    return stripTypeScriptTypes(source);
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** Registers the page routes and the WebSocket upgrade on `app`'s server. */
export function webAccessRoutes(
  app: FastifyInstance,
  options: {
    readonly agent: WebAccessSipAgent;
    readonly directory: Directory;
    readonly logger: Logger;
    readonly registry: Registry;
  },
): { readonly sessions: () => number; close(): Promise<void> } {
  const files = {
    html: readFileSync(new URL('index.html', WEB_DIR), 'utf8'),
    css: readFileSync(new URL('style.css', WEB_DIR), 'utf8'),
    js: loadScript(),
  };
  const security = {
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy':
      "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    'referrer-policy': 'same-origin',
  };
  app.get('/webaccess', (_request, reply) => reply.redirect('/webaccess/', 301));
  app.get('/webaccess/', (_request, reply) =>
    reply.headers(security).type('text/html; charset=utf-8').send(files.html),
  );
  app.get('/webaccess/style.css', (_request, reply) =>
    reply.headers(security).type('text/css; charset=utf-8').send(files.css),
  );
  app.get('/webaccess/app.js', (_request, reply) =>
    reply.headers(security).type('text/javascript; charset=utf-8').send(files.js),
  );

  const sessions = new Set<WebAccessSession>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const refused = counterIn(
    options.registry,
    'rampart_web_access_refused_total',
    'Web access WebSocket upgrades and browser commands refused, by reason',
    ['reason'],
  );
  const refuse = (socket: Duplex, status: number, text: string): void => {
    refused.inc({ reason: `upgrade-${String(status)}` });
    options.logger.warn(
      {
        event: 'web-access-refused',
        status,
        remote: socket instanceof TLSSocket ? socket.remoteAddress : undefined,
      },
      'web access upgrade refused',
    );
    socket.end(
      `HTTP/1.1 ${String(status)} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
    );
  };
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== WS_PATH) {
      refuse(socket, 404, 'Not Found');
      return;
    }
    // Believed only from the reverse proxy (the deployment's client certificate).
    const asserted = request.headers[USER_HEADER];
    const trusted = request.socket instanceof TLSSocket && request.socket.authorized;
    const address =
      typeof asserted === 'string' && trusted ? canonicalAddress(asserted) : undefined;
    if (address === undefined) {
      refuse(socket, 403, 'Forbidden');
      return;
    }
    if (sessions.size >= MAX_SESSIONS) {
      refuse(socket, 503, 'Service Unavailable');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      serve(ws, `sip:${address}`);
    });
  };
  const serve = (ws: WebSocket, user: string): void => {
    const send = (event: BrowserEvent): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(event));
    };
    const session = new WebAccessSession({
      agent: options.agent,
      user,
      directory: options.directory,
      send: (event) => {
        if (event.type === 'error') refused.inc({ reason: 'command' });
        send(event);
      },
      logger: options.logger,
    });
    sessions.add(session);
    options.logger.info({ event: 'web-access-open', user }, 'web access session opened');
    let queue: Promise<void> = session.start().catch((error: unknown) => {
      options.logger.warn(
        { event: 'web-access-start', user, error: String(error) },
        'start failed',
      );
      send({ type: 'error', message: 'the IM service is unavailable' });
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        refused.inc({ reason: 'binary-frame' });
        ws.close(1003, 'text frames only');
        return;
      }
      let parsed: unknown;
      try {
        const bytes = Buffer.isBuffer(data)
          ? data
          : Array.isArray(data)
            ? Buffer.concat(data)
            : Buffer.from(data);
        parsed = JSON.parse(bytes.toString('utf8'));
      } catch {
        send({ type: 'error', message: 'malformed command' });
        return;
      }
      // One command at a time, in order.
      queue = queue
        .then(() => session.command(parsed))
        .catch((error: unknown) => {
          options.logger.warn(
            { event: 'web-access-command', user, error: String(error) },
            'failed',
          );
        });
    });
    ws.on('close', () => {
      sessions.delete(session);
      options.logger.info({ event: 'web-access-close', user }, 'web access session closed');
      void queue.then(() => session.close());
    });
    ws.on('error', () => undefined);
  };
  app.server.on('upgrade', onUpgrade);
  return {
    sessions: () => sessions.size,
    close: async () => {
      app.server.off('upgrade', onUpgrade);
      for (const client of wss.clients) client.terminate();
      await Promise.all([...sessions].map((s) => s.close()));
      sessions.clear();
      wss.close();
    },
  };
}

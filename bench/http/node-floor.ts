/**
 * `node-floor`: the least work a Node.js reverse proxy built the way issue 7 asks (node:https
 * in front, an undici keep-alive Pool with mutual TLS behind) does per request — the floor
 * under Rampart's reverse proxy on this runtime, not a proxy to deploy. Every request goes
 * to the origin with the path as it came, Host and X-Forwarded-For set, through undici's
 * lowest-level API (`dispatch`, no promise, no body stream), and the response is written
 * back with backpressure; no routing, no path normalisation, no header hygiene, no limits,
 * no access log, no metrics.
 *
 * Run by `run.ts --floor`: `node bench/http/node-floor.ts --port P --origin URL --cert F
 * --key F --ca F`. Listens on 127.0.0.1 only.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    origin: { type: 'string', default: 'https://127.0.0.1:8444' },
    cert: { type: 'string', default: '' },
    key: { type: 'string', default: '' },
    ca: { type: 'string', default: '' },
    connections: { type: 'string', default: '64' },
  },
});

const cert = readFileSync(args.cert);
const key = readFileSync(args.key);
const ca = readFileSync(args.ca);
const pool = new Pool(args.origin, {
  connections: Number(args.connections),
  connect: { cert, key, ca, servername: 'localhost', rejectUnauthorized: true },
});

class FloorHandler implements Dispatcher.DispatchHandler {
  private readonly res: ServerResponse;
  private controller: Dispatcher.DispatchController | undefined;

  constructor(res: ServerResponse) {
    this.res = res;
  }

  private readonly resume = (): void => {
    this.controller?.resume();
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.res.writeHead(statusCode, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', this.resume);
    }
  }

  onResponseEnd(): void {
    this.res.end();
  }

  onResponseError(): void {
    if (this.res.headersSent) this.res.destroy();
    else this.res.writeHead(502, { 'content-length': '0' }).end();
  }
}

const server = createServer({ cert, key }, (req: IncomingMessage, res: ServerResponse) => {
  pool.dispatch(
    {
      path: req.url ?? '/',
      method: 'GET',
      headers: { host: 'localhost', 'x-forwarded-for': req.socket.remoteAddress ?? '' },
    },
    new FloorHandler(res),
  );
});
server.keepAliveTimeout = 60_000;
server.listen(Number(args.port), '127.0.0.1', () => {
  const address = server.address();
  console.log(`node-floor listening on ${typeof address === 'object' ? address?.port : ''}`);
});
process.on('SIGTERM', () => {
  process.exit(0);
});

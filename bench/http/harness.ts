/**
 * Shared by the reverse proxy's integration tests, its hostile-input suite and bench:http:
 * a small HTTPS origin (mutual TLS, the test CA) that records what reached it, and the
 * proxy started in-process on 127.0.0.1 port 0 with a capturing logger.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import { reverseProxySchema } from '../../src/config/reverse-proxy-schema.ts';
import type { RunningService } from '../../src/lib/endpoint.ts';
import type { LogFields, Logger } from '../../src/lib/logger.ts';
import { startReverseProxy } from '../../src/services/reverse-proxy/index.ts';
import { createTestPki, type TestPki } from '../../test/helpers/tls.ts';

/** PEM contents of the test PKI. */
export interface Pem {
  readonly dir: string;
  readonly files: TestPki;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** A throwaway CA and a 127.0.0.1/localhost certificate (server and client use). */
export async function testPem(): Promise<Pem> {
  const dir = await mkdtemp(join(tmpdir(), 'rampart-http-pki-'));
  const files = await createTestPki(dir);
  return {
    dir,
    files,
    ca: await readFile(files.caCertFile, 'utf8'),
    cert: await readFile(files.serverCertFile, 'utf8'),
    key: await readFile(files.serverKeyFile, 'utf8'),
  };
}

/** Removes the PKI directory. */
export async function removePem(pem: Pem): Promise<void> {
  await rm(pem.dir, { recursive: true, force: true });
}

/** One request as the origin saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly rawHeaders: readonly string[];
  readonly bodyBytes: number;
  readonly bodySha256: string;
  /** Subject CN of the client certificate the proxy presented ('' if none). */
  readonly clientCertificate: string;
  /** Whether the body arrived complete (false: the connection broke mid-body). */
  readonly complete: boolean;
}

/** A running test origin. */
export interface Origin {
  readonly url: string;
  readonly port: number;
  readonly seen: SeenRequest[];
  /** Number of TLS connections the origin accepted. */
  connections(): number;
  close(): Promise<void>;
}

/** A handler answering after the body was read; return true when it answered itself. */
export type OriginRoute = (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean;

/** A file served with Range support (RFC 9110 §14), for resume tests. */
export function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  content: Buffer,
  type = 'application/octet-stream',
): void {
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const etag = `"${createHash('sha256').update(content).digest('hex').slice(0, 16)}"`;
  if (range === null) {
    res.writeHead(200, {
      'content-type': type,
      'content-length': content.length,
      'accept-ranges': 'bytes',
      etag,
    });
    res.end(req.method === 'HEAD' ? undefined : content);
    return;
  }
  const start = Number(range[1]);
  const end = range[2] === '' ? content.length - 1 : Math.min(Number(range[2]), content.length - 1);
  if (start > end) {
    res.writeHead(416, { 'content-range': `bytes */${String(content.length)}` });
    res.end();
    return;
  }
  res.writeHead(206, {
    'content-type': type,
    'content-length': end - start + 1,
    'content-range': `bytes ${String(start)}-${String(end)}/${String(content.length)}`,
    'accept-ranges': 'bytes',
    etag,
  });
  res.end(content.subarray(start, end + 1));
}

/** Echoes what arrived as JSON (method, url, headers, body size and hash). */
export function echo(res: ServerResponse, seen: SeenRequest): void {
  const body = JSON.stringify(seen);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * Starts an HTTPS origin on 127.0.0.1:0 requiring a client certificate from the test CA.
 * `route` answers first; unanswered requests get the echo. `/ws/` accepts WebSockets
 * (echo). Every request is recorded in `seen`.
 */
export async function startOrigin(
  pem: Pem,
  route: OriginRoute = () => false,
  options: { readonly requireClientCert?: boolean } = {},
): Promise<Origin> {
  const seen: SeenRequest[] = [];
  let connections = 0;
  const requireClientCert = options.requireClientCert ?? true;
  const server: Server = createServer(
    {
      key: pem.key,
      cert: pem.cert,
      ca: pem.ca,
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
      keepAliveTimeout: 60_000,
    },
    (req, res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      let complete = false;
      const record = (): SeenRequest => {
        // The https server's sockets are TLS sockets; the certificate is null once the
        // socket is gone (a body broken off mid-way).
        const getPeer: unknown = Reflect.get(req.socket, 'getPeerCertificate');
        const peer =
          typeof getPeer === 'function'
            ? (getPeer.call(req.socket) as PeerCertificate | null)
            : null;
        const entry: SeenRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          bodyBytes: bytes,
          bodySha256: hash.copy().digest('hex'),
          clientCertificate: typeof peer?.subject.CN === 'string' ? peer.subject.CN : '',
          complete,
        };
        return entry;
      };
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
        if (bytes <= 1024 * 1024) chunks.push(chunk);
      });
      req.on('error', () => {
        seen.push(record());
      });
      req.on('end', () => {
        complete = true;
        const entry = record();
        seen.push(entry);
        if (!route(req, res, Buffer.concat(chunks))) echo(res, entry);
      });
    },
  );
  server.on('secureConnection', () => {
    connections++;
  });
  const wss = new WebSocketServer({ server, path: '/ws/echo' });
  wss.on('connection', (socket, req) => {
    seen.push({
      method: 'GET',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyBytes: 0,
      bodySha256: '',
      clientCertificate: '',
      complete: true,
    });
    socket.on('message', (data, isBinary) => {
      socket.send(data, { binary: isBinary });
    });
  });
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `https://127.0.0.1:${String(port)}`,
    port,
    seen,
    connections: () => connections,
    close: async () => {
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

/** A logger that keeps every line (fields and message). */
export interface CapturingLogger extends Logger {
  readonly lines: (LogFields & { readonly level: string; readonly msg: string })[];
}

/** A logger keeping its lines in memory, for assertions on the access log. */
export function capturingLogger(base: LogFields = {}): CapturingLogger {
  const lines: (LogFields & { level: string; msg: string })[] = [];
  const make = (fields: LogFields): CapturingLogger => {
    const at =
      (level: string) =>
      (more: LogFields, msg: string): void => {
        lines.push({ ...fields, ...more, level, msg });
      };
    return {
      lines,
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (more) => make({ ...fields, ...more }),
    };
  };
  return make(base);
}

/** A proxy started in-process. */
export interface ProxyUnderTest {
  readonly port: number;
  readonly url: string;
  readonly service: RunningService;
  readonly registry: Registry;
  readonly logger: CapturingLogger;
  readonly dataDir: string;
  close(): Promise<void>;
}

/**
 * Starts the reverse proxy on 127.0.0.1:0 with the test PKI as deployment certificate;
 * `section` is the YAML `reverse-proxy` section (enabled and port 0 are set here).
 */
export async function startProxy(
  pem: Pem,
  section: Record<string, unknown>,
): Promise<ProxyUnderTest> {
  const external = (section['external'] ?? {}) as Record<string, unknown>;
  const config = reverseProxySchema.parse({
    ...section,
    enabled: true,
    external: { ...external, port: 0 },
  });
  const dataDir = await mkdtemp(join(tmpdir(), 'rampart-proxy-data-'));
  const registry = new Registry();
  const logger = capturingLogger();
  const service = await startReverseProxy({
    config,
    tls: { key: pem.key, cert: pem.cert, ca: pem.ca, onChange: () => () => undefined },
    dataDir,
    defaultHosts: ['localhost', 'web.example.test'],
    logger,
    registry,
  });
  const port = service.endpoints[0]?.port ?? 0;
  return {
    port,
    url: `https://127.0.0.1:${String(port)}`,
    service,
    registry,
    logger,
    dataDir,
    close: async () => {
      await service.close(Date.now() + 1000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

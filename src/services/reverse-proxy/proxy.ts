/**
 * The request path of the reverse proxy: limits, Host, target normalisation, route, session,
 * header hygiene, then forwarding (./forward.ts) or a WebSocket relay. Every request ends
 * with one access-log line and its metrics.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { BlockList, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../../lib/logger.ts';
import { BodyLimit, classifyFailure, ForwardHandler, type ExchangeOutcome } from './forward.ts';
import { hostMatcher, upstreamRequestHeaders } from './headers.ts';
import type { ReverseProxyMetrics } from './metrics.ts';
import { normaliseTarget, prefixMatcher } from './path.ts';
import type { FormsSignIn } from './signin.ts';

/** A published route as the proxy runs it. */
export interface LiveRoute {
  readonly prefix: string;
  /** The upstream origin (`https://host:port`), key of its pool. */
  readonly origin: string;
  readonly auth: 'none' | 'forms';
  readonly maxBodyBytes: number;
  readonly websocket: boolean;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

/** Settings of {@link ReverseProxyHandler}. */
export interface ReverseProxyHandlerOptions {
  readonly routes: readonly LiveRoute[];
  /** The keep-alive pool of an upstream origin (replaced when certificates change). */
  readonly dispatcher: (origin: string) => Dispatcher;
  readonly hosts: readonly string[];
  /** CIDRs (or addresses) of proxies in front of us whose forwarding headers are kept. */
  readonly trustedProxies: readonly string[];
  readonly maxUrlBytes: number;
  readonly maxHeaderCount: number;
  readonly signIn?: FormsSignIn | undefined;
  readonly accessLog: boolean;
  readonly metrics: ReverseProxyMetrics;
  readonly logger: Logger;
}

/** What one access-log line says. */
interface AccessEntry {
  remote: string;
  method: string;
  host: string;
  path: string;
  route: string;
  status: number;
  bytes: number;
  user?: string | undefined;
  reason?: string | undefined;
}

function trustedList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of cidrs) {
    const [address = '', bits] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

/** The client's address, IPv4-mapped IPv6 written as IPv4. */
function remoteOf(socket: Socket | Duplex): string {
  const found: unknown = Reflect.get(socket, 'remoteAddress');
  const address = typeof found === 'string' ? found : '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Connections closing after a refusal; a later parse error on them is not answered. */
const answeredAndClosing = new WeakSet<object>();

function plain(res: ServerResponse, status: number, close: boolean, extra = {}): number {
  const body = `${STATUS_CODES[status] ?? 'Error'}\n`;
  // Bytes after a refused request are not parsed as another one: the connection is done.
  if (close) answeredAndClosing.add(res.socket ?? res);
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': body.length,
    ...(close ? { connection: 'close' } : {}),
    ...extra,
  });
  res.end(body);
  return body.length;
}

/** Writes a bare HTTP/1.1 response on a socket the HTTP server no longer manages. */
export function rawResponse(socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${STATUS_CODES[status] ?? 'Error'}\n`;
  socket.end(
    `HTTP/1.1 ${String(status)} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${String(body.length)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/** The parser errors of node:http, answered by status. */
export function clientErrorStatus(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

type Checked =
  | {
      readonly ok: true;
      readonly route: LiveRoute;
      readonly path: string;
      readonly target: string;
      readonly headers: string[];
      readonly user: string | undefined;
      readonly cookie: string | undefined;
    }
  | {
      readonly ok: false;
      readonly status: number;
      readonly reason: string;
      readonly path: string;
      readonly route?: LiveRoute;
      readonly location?: string;
      readonly signIn?: { readonly path: string; readonly query: string };
    };

/** Handles requests, upgrades and parser errors of the proxy's HTTPS server. */
export class ReverseProxyHandler {
  private readonly options: ReverseProxyHandlerOptions;
  private readonly match: (path: string) => LiveRoute | undefined;
  private readonly hostAllowed: (host: string) => boolean;
  private readonly trusted: BlockList;
  private readonly anyTrusted: boolean;
  private readonly log: Logger;

  constructor(options: ReverseProxyHandlerOptions) {
    this.options = options;
    this.match = prefixMatcher(options.routes);
    this.hostAllowed = hostMatcher(options.hosts);
    this.trusted = trustedList(options.trustedProxies);
    this.anyTrusted = options.trustedProxies.length > 0;
    this.log = options.logger;
  }

  private finish(entry: AccessEntry, started: number): void {
    const seconds = (performance.now() - started) / 1000;
    this.options.metrics.answered(entry.route, entry.status, seconds);
    if (this.options.accessLog)
      this.log.info({ event: 'access', ...entry, ms: Math.round(seconds * 1e4) / 10 }, 'access');
  }

  /** Every check before a request may go upstream. */
  private check(req: IncomingMessage, remote: string): Checked {
    const url = req.url ?? '';
    const short = url.length > 256 ? url.slice(0, 256) : url;
    if (url.length > this.options.maxUrlBytes)
      return { ok: false, status: 414, reason: 'url-too-long', path: short };
    if (req.rawHeaders.length / 2 > this.options.maxHeaderCount)
      return { ok: false, status: 431, reason: 'too-many-headers', path: short };
    const transferEncoding = req.headers['transfer-encoding'];
    // RFC 9112 §6.1: an unknown transfer coding → 501; only plain `chunked` is forwarded.
    if (transferEncoding !== undefined && transferEncoding.trim().toLowerCase() !== 'chunked')
      return { ok: false, status: 501, reason: 'transfer-coding', path: short };
    // RFC 9112 §3.2: more than one Host field → 400 (node:http would keep the first).
    let hostFields = 0;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2)
      if (raw[i]?.length === 4 && raw[i]?.toLowerCase() === 'host') hostFields++;
    if (hostFields > 1) return { ok: false, status: 400, reason: 'duplicate-host', path: short };
    const host = req.headers.host;
    if (host === undefined || host === '')
      return { ok: false, status: 400, reason: 'no-host', path: short };
    // RFC 9110 §15.5.20: a request for a host we do not serve is misdirected.
    if (!this.hostAllowed(host))
      return { ok: false, status: 421, reason: 'unknown-host', path: short };
    const target = normaliseTarget(url);
    if (!target.ok) return { ok: false, status: 400, reason: target.reason, path: short };
    const path = target.path;
    if (req.method === 'TRACE' || req.method === 'CONNECT')
      return { ok: false, status: 405, reason: 'method', path };
    const signIn = this.options.signIn;
    if (signIn?.handles(path) === true)
      return {
        ok: false,
        status: 0,
        reason: 'sign-in',
        path,
        signIn: { path, query: target.query },
      };
    const route = this.match(path);
    if (route === undefined) return { ok: false, status: 404, reason: 'not-published', path };
    let user: string | undefined;
    let cookie: string | undefined;
    if (route.auth === 'forms') {
      const session = signIn?.sessionOf(req);
      if (session === undefined) {
        const navigable = req.method === 'GET' || req.method === 'HEAD';
        return navigable && signIn !== undefined
          ? {
              ok: false,
              status: 303,
              reason: 'no-session',
              path,
              route,
              location: signIn.signInLocation(path + target.query),
            }
          : { ok: false, status: 401, reason: 'no-session', path, route };
      }
      user = session.user;
      cookie = signIn?.refreshCookie(session);
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > route.maxBodyBytes)
      return { ok: false, status: 413, reason: 'body-too-large', path, route };
    const headers = upstreamRequestHeaders(req.rawHeaders, {
      clientAddress: remote,
      host,
      trusted: this.anyTrusted && this.trusted.check(remote, isIP(remote) === 6 ? 'ipv6' : 'ipv4'),
      user,
    });
    if (!headers.ok) return { ok: false, status: 400, reason: headers.reason, path, route };
    return {
      ok: true,
      route,
      path,
      target: path + target.query,
      headers: headers.headers,
      user,
      cookie,
    };
  }

  /** The 'request' (and, with `expectsContinue`, 'checkContinue') handler. */
  onRequest(req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
    const started = performance.now();
    const remote = remoteOf(req.socket);
    const method = req.method ?? 'GET';
    const host = req.headers.host ?? '';
    const checked = this.check(req, remote);
    if (!checked.ok) {
      const entry: AccessEntry = {
        remote,
        method,
        host,
        path: checked.path,
        route: checked.route?.prefix ?? '-',
        status: checked.status,
        bytes: 0,
        reason: checked.reason,
      };
      if (checked.signIn !== undefined && this.options.signIn !== undefined) {
        if (expectsContinue) res.writeContinue();
        this.options.signIn
          .handle(req, res, checked.signIn.path, checked.signIn.query, remote)
          .then(
            (outcome) => {
              this.finish(
                { ...entry, status: outcome.status, user: outcome.user, reason: outcome.reason },
                started,
              );
            },
            (error: unknown) => {
              this.log.error({ event: 'sign-in-error', error: String(error) }, 'sign-in failed');
              if (!res.headersSent) plain(res, 500, true);
              else res.destroy();
              this.finish({ ...entry, status: 500, reason: 'sign-in-error' }, started);
            },
          );
        return;
      }
      if (checked.status !== 404 && checked.status !== 303 && checked.status !== 401)
        this.options.metrics.refused(checked.reason);
      // A refused request's body is never read: close rather than drain it.
      const close = checked.status !== 404 && checked.status !== 303 && checked.status !== 401;
      entry.bytes = plain(
        res,
        checked.status,
        close ||
          (req.headers['content-length'] ?? '0') !== '0' ||
          req.headers['transfer-encoding'] !== undefined,
        checked.location === undefined ? {} : { location: checked.location },
      );
      this.finish(entry, started);
      return;
    }
    const { route } = checked;
    if (expectsContinue) res.writeContinue();
    const chunked = req.headers['transfer-encoding'] !== undefined;
    const hasBody = chunked || (req.headers['content-length'] ?? '0') !== '0';
    // A chunked body stays chunked: BodyLimit's readable side is in object mode, so undici
    // never takes its length (an ended byte stream would be sent with a Content-Length).
    const body = !hasBody ? null : chunked ? req.pipe(new BodyLimit(route.maxBodyBytes)) : req;
    const handler = new ForwardHandler(req, res, checked.cookie, (outcome: ExchangeOutcome) => {
      if (outcome.failure !== undefined && outcome.failure !== 'body-too-large') {
        this.options.metrics.upstreamError(route.prefix, outcome.failure);
      }
      this.finish(
        {
          remote,
          method,
          host,
          path: checked.path,
          route: route.prefix,
          status: outcome.status,
          bytes: outcome.bytes,
          user: checked.user,
          reason: outcome.failure,
        },
        started,
      );
    });
    this.options.dispatcher(route.origin).dispatch(
      {
        path: checked.target,
        method,
        headers: checked.headers,
        body,
        headersTimeout: route.headersTimeoutMs,
        bodyTimeout: route.bodyTimeoutMs,
      },
      handler,
    );
  }

  /** The 'upgrade' handler: WebSocket relay on routes that allow it. */
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const started = performance.now();
    const remote = remoteOf(req.socket);
    const checked = this.check(req, remote);
    const entry: AccessEntry = {
      remote,
      method: req.method ?? 'GET',
      host: req.headers.host ?? '',
      path: checked.path,
      route: checked.ok ? checked.route.prefix : (checked.route?.prefix ?? '-'),
      status: 101,
      bytes: 0,
    };
    const refuse = (status: number, reason: string): void => {
      rawResponse(socket, status);
      this.finish({ ...entry, status, reason }, started);
    };
    if (!checked.ok) {
      refuse(checked.status === 0 || checked.status === 303 ? 401 : checked.status, checked.reason);
      return;
    }
    if (!checked.route.websocket || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      refuse(404, 'upgrade-not-published');
      return;
    }
    socket.on('error', () => socket.destroy());
    this.options
      .dispatcher(checked.route.origin)
      .upgrade({
        path: checked.target,
        method: 'GET',
        headers: checked.headers,
        protocol: 'websocket',
      })
      .then(
        ({ headers, socket: upstream }) => {
          let response = 'HTTP/1.1 101 Switching Protocols\r\n';
          for (const [name, value] of Object.entries(headers)) {
            if (value === undefined) continue;
            for (const one of Array.isArray(value) ? value : [value])
              response += `${name}: ${one}\r\n`;
          }
          socket.write(response + '\r\n');
          if (head.length > 0) upstream.write(head);
          upstream.on('error', () => socket.destroy());
          socket.on('close', () => upstream.destroy());
          upstream.on('close', () => socket.destroy());
          socket.pipe(upstream).pipe(socket);
          this.finish({ ...entry, user: checked.user }, started);
        },
        (error: unknown) => {
          const failure = error instanceof Error ? classifyFailure(error) : 'other';
          this.options.metrics.upstreamError(checked.route.prefix, failure);
          refuse(failure.endsWith('timeout') ? 504 : 502, failure);
        },
      );
  }

  /** The 'clientError' handler: malformed or oversized requests and slow clients. */
  onClientError(error: Error & { code?: string }, socket: Duplex): void {
    const started = performance.now();
    if (error.code === 'ECONNRESET' || !socket.writable || answeredAndClosing.has(socket)) {
      socket.destroy();
      return;
    }
    const status = clientErrorStatus(error.code);
    this.options.metrics.refused(error.code ?? 'parse');
    rawResponse(socket, status);
    const remote = remoteOf(socket);
    this.finish(
      {
        remote,
        method: '-',
        host: '-',
        path: '-',
        route: '-',
        status,
        bytes: 0,
        reason: error.code ?? 'parse',
      },
      started,
    );
  }
}

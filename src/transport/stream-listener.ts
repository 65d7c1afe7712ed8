import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, Socket, type Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  createServer as createTlsServer,
  type SecureContextOptions,
  type Server as TlsServer,
  type TlsOptions,
  TLSSocket,
} from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import { ERROR_CODES, RampartError } from '../lib/errors.ts';
import {
  normalizeAddress,
  toPeerCertificateInfo,
  type FlowAddress,
  type PeerCertificateInfo,
  type RejectReason,
  type Rejection,
  type StreamTransport,
  type TransportLimits,
} from './flow.ts';
import { SIP_WS_SUBPROTOCOL } from './ws-connection.ts';

/** Where to bind a listener. Port 0 picks a free port. */
export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  /**
   * SO_REUSEPORT: several worker processes bind the same port and the kernel spreads
   * clients (by their address and port) across them. The socket is always the process's
   * own, never a handle shared through node:cluster's primary.
   */
  readonly reusePort?: boolean;
}

/** Certificate material a TLS or WSS listener presents and checks. */
export interface TlsCredentials {
  readonly key: SecureContextOptions['key'];
  readonly cert: SecureContextOptions['cert'];
  /** CAs that client certificates must chain to (mutual TLS). */
  readonly ca?: SecureContextOptions['ca'];
}

/** Options of a TLS or WSS listener. */
export interface TlsListenOptions extends ListenOptions, TlsCredentials {
  /** Ask clients for a certificate (mutual TLS). Default false. */
  readonly requestCert?: boolean;
  /** With `requestCert`: refuse clients whose certificate does not verify. Default true. */
  readonly rejectUnauthorized?: boolean;
  readonly SNICallback?: TlsOptions['SNICallback'];
}

/** A bound listener. */
export interface SipListener {
  readonly id: string;
  readonly transport: 'udp' | StreamTransport;
  /** The bound address (the real port when 0 was asked). */
  readonly local: FlowAddress;
  readonly closed: boolean;
  /** Stops listening and closes every flow it accepted; idempotent. */
  close(): Promise<void>;
}

/** A TLS or WSS listener, whose certificate can be replaced while it runs. */
export interface SecureSipListener extends SipListener {
  /** New handshakes use `credentials`; established connections keep theirs. */
  setSecureContext(credentials: TlsCredentials): void;
}

/** What a stream listener needs from the layer that owns it. */
export interface AcceptHost {
  readonly limits: TransportLimits;
  /** Counts an inbound connection from `address`, or says why it must be refused. */
  admit(address: string): RejectReason | undefined;
  /** Uncounts an inbound connection admitted earlier. */
  release(address: string): void;
  rejected(rejection: Rejection): void;
  adoptStream(socket: Socket, listener: StreamListener, peer?: PeerCertificateInfo): void;
  adoptWs(
    ws: WebSocket,
    socket: Socket,
    listener: StreamListener,
    peer?: PeerCertificateInfo,
  ): void;
  /** Closes the flows this listener accepted. */
  listenerClosed(listener: StreamListener): void;
}

interface PendingHandshake {
  readonly raw: Socket;
  readonly remote: FlowAddress;
  readonly timer: NodeJS.Timeout;
}

const TLS_MIN_VERSION = 'TLSv1.2';

/**
 * Accepts TCP connections and walks them through admission (per-IP and total caps),
 * the TLS handshake and the WebSocket upgrade, each under one handshake deadline, before
 * handing them to the layer. TLS and HTTP servers never listen themselves: accepted
 * sockets are injected into them, so that nothing reaches OpenSSL or the HTTP parser
 * before it has been counted.
 */
export class StreamListener implements SecureSipListener {
  readonly id: string;
  readonly transport: StreamTransport;
  private bound: FlowAddress = { address: '', port: 0 };
  private readonly host: AcceptHost;
  private readonly server: NetServer;
  private readonly tlsServer: TlsServer | undefined;
  private readonly httpServer: HttpServer | undefined;
  private readonly wsServer: WebSocketServer | undefined;
  private readonly pending = new Map<string, PendingHandshake>();
  private closing: Promise<void> | undefined;

  constructor(
    id: string,
    transport: StreamTransport,
    host: AcceptHost,
    tlsOptions: TlsListenOptions | undefined,
  ) {
    this.id = id;
    this.transport = transport;
    this.host = host;
    this.server = createNetServer({ noDelay: true });
    this.server.on('connection', (raw) => {
      this.onConnection(raw);
    });
    const secure = secureServerOptions(tlsOptions, host.limits);
    if (transport === 'tls') {
      this.tlsServer = createTlsServer(secure);
      this.watchTls(this.tlsServer, true);
    } else if (transport === 'ws' || transport === 'wss') {
      let httpServer: HttpServer;
      if (transport === 'wss') {
        const httpsServer = createHttpsServer(secure);
        this.watchTls(httpsServer, false);
        httpServer = httpsServer;
      } else {
        httpServer = createHttpServer();
      }
      this.wsServer = new WebSocketServer({
        noServer: true,
        maxPayload: host.limits.maxMessageBytes,
        perMessageDeflate: false,
        clientTracking: false,
        handleProtocols: (protocols) =>
          protocols.has(SIP_WS_SUBPROTOCOL) ? SIP_WS_SUBPROTOCOL : false,
      });
      httpServer.on('request', (request, response) => {
        this.rejectSocket(request.socket, 'ws-not-upgrade');
        response.writeHead(426, { Connection: 'close', Upgrade: 'websocket' }).end();
      });
      httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (socket instanceof Socket) this.onUpgrade(request, socket, head);
        else socket.destroy();
      });
      this.httpServer = httpServer;
    }
  }

  get local(): FlowAddress {
    return this.bound;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Binds; resolves with the bound address. */
  listen(options: ListenOptions): Promise<FlowAddress> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(
          new RampartError(ERROR_CODES.TRANSPORT, `cannot listen: ${error.message}`, {
            cause: error,
          }),
        );
      };
      this.server.once('error', onError);
      const listenOptions = {
        host: options.host,
        port: options.port,
        exclusive: true,
        ...(options.reusePort === true ? { reusePort: true } : {}),
      };
      this.server.listen(listenOptions, () => {
        this.server.off('error', onError);
        const address = this.server.address();
        if (address === null || typeof address === 'string') {
          reject(new RampartError(ERROR_CODES.TRANSPORT, 'listener has no address'));
          return;
        }
        this.bound = { address: normalizeAddress(address.address), port: address.port };
        resolve(this.bound);
      });
    });
  }

  setSecureContext(credentials: TlsCredentials): void {
    const server = this.tlsServer ?? (this.transport === 'wss' ? this.httpServer : undefined);
    if (server === undefined) {
      throw new RampartError(ERROR_CODES.INVALID_STATE, `${this.transport} listener has no TLS`);
    }
    (server as TlsServer).setSecureContext({
      key: credentials.key,
      cert: credentials.cert,
      ...(credentials.ca === undefined ? {} : { ca: credentials.ca }),
      minVersion: TLS_MIN_VERSION,
    });
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
    for (const handshake of this.pending.values()) {
      clearTimeout(handshake.timer);
      handshake.raw.destroy();
    }
    this.pending.clear();
    this.host.listenerClosed(this);
    this.wsServer?.close();
    return this.closing;
  }

  private onConnection(raw: Socket): void {
    const remote = { address: normalizeAddress(raw.remoteAddress), port: raw.remotePort ?? 0 };
    if (this.closing !== undefined) {
      raw.destroy();
      return;
    }
    const refusal = this.host.admit(remote.address);
    if (refusal !== undefined) {
      raw.destroy();
      this.reject(refusal, remote);
      return;
    }
    raw.once('close', () => {
      this.host.release(remote.address);
    });
    // Errors of a socket being handshaken surface as its close.
    raw.on('error', () => undefined);
    if (this.transport === 'tcp') {
      this.host.adoptStream(raw, this);
      return;
    }
    const key = socketKey(raw);
    const timer = setTimeout(() => {
      this.pending.delete(key);
      raw.destroy();
      this.reject('handshake-timeout', remote);
    }, this.host.limits.handshakeTimeoutMs);
    this.pending.set(key, { raw, remote, timer });
    raw.once('close', () => {
      const handshake = this.pending.get(key);
      if (handshake?.raw === raw) {
        clearTimeout(handshake.timer);
        this.pending.delete(key);
      }
    });
    (this.tlsServer ?? this.httpServer)?.emit('connection', raw);
  }

  /** Ends the handshake phase of the connection `socket` belongs to; false if unknown. */
  private settle(socket: Socket): PendingHandshake | undefined {
    const key = socketKey(socket);
    const handshake = this.pending.get(key);
    if (handshake === undefined) return undefined;
    clearTimeout(handshake.timer);
    this.pending.delete(key);
    return handshake;
  }

  private watchTls(server: TlsServer, adoptOnSecure: boolean): void {
    server.on('tlsClientError', (error: Error & { code?: string }, tlsSocket: TLSSocket) => {
      const handshake = this.settle(tlsSocket);
      tlsSocket.destroy();
      if (handshake === undefined) return;
      handshake.raw.destroy();
      this.reject(
        error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake-timeout' : 'tls-handshake-failed',
        handshake.remote,
      );
    });
    if (!adoptOnSecure) return;
    server.on('secureConnection', (tlsSocket: TLSSocket) => {
      if (this.settle(tlsSocket) === undefined) {
        tlsSocket.destroy();
        return;
      }
      this.host.adoptStream(tlsSocket, this, peerOf(tlsSocket));
    });
  }

  private onUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const wsServer = this.wsServer;
    if (this.settle(socket) === undefined || wsServer === undefined) {
      socket.destroy();
      return;
    }
    // RFC 7118 §4.1: the client MUST include "sip" in Sec-WebSocket-Protocol; a
    // handshake without it is refused rather than completed without a subprotocol.
    const offered = (request.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((token) => token.trim());
    if (!offered.includes(SIP_WS_SUBPROTOCOL)) {
      this.rejectSocket(socket, 'ws-protocol');
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const peer = socket instanceof TLSSocket ? peerOf(socket) : undefined;
    wsServer.handleUpgrade(request, socket, head, (ws) => {
      this.host.adoptWs(ws, socket, this, peer);
    });
  }

  private rejectSocket(socket: Socket, reason: RejectReason): void {
    this.settle(socket);
    this.reject(reason, {
      address: normalizeAddress(socket.remoteAddress),
      port: socket.remotePort ?? 0,
    });
  }

  private reject(reason: RejectReason, remote: FlowAddress): void {
    this.host.rejected({ reason, transport: this.transport, remote, listenerId: this.id });
  }
}

function socketKey(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? 0}`;
}

function peerOf(socket: TLSSocket): PeerCertificateInfo | undefined {
  return toPeerCertificateInfo(
    socket.getPeerCertificate(false),
    socket.authorized,
    socket.authorizationError,
  );
}

function secureServerOptions(
  options: TlsListenOptions | undefined,
  limits: TransportLimits,
): TlsOptions {
  if (options === undefined) return {};
  return {
    key: options.key,
    cert: options.cert,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    requestCert: options.requestCert ?? false,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    ...(options.SNICallback === undefined ? {} : { SNICallback: options.SNICallback }),
    minVersion: TLS_MIN_VERSION,
    // The listener's own deadline covers the handshake; this is only a backstop.
    handshakeTimeout: limits.handshakeTimeoutMs * 2,
  };
}

import type { IncomingMessage } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket, type SecureContextOptions } from 'node:tls';
import { WebSocket } from 'ws';
import { ERROR_CODES, RampartError } from '../lib/errors.ts';
import { randomToken } from '../lib/ids.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import {
  DEFAULT_TRANSPORT_LIMITS,
  formatHostPort,
  normalizeAddress,
  toPeerCertificateInfo,
  type Flow,
  type FlowCloseReason,
  type PeerCertificateInfo,
  type RejectReason,
  type Rejection,
  type SipTransport,
  type StreamTransport,
  type TransportLimits,
} from './flow.ts';
import { StreamConnection, type ConnectionHooks, type SipConnection } from './stream-connection.ts';
import {
  StreamListener,
  type AcceptHost,
  type ListenOptions,
  type SecureSipListener,
  type SipListener,
  type TlsListenOptions,
} from './stream-listener.ts';
import { TypedEvents } from './typed-events.ts';
import { parseUdpFlowId, UdpListener, type UdpListenOptions } from './udp-listener.ts';
import { SIP_WS_SUBPROTOCOL, WsConnection } from './ws-connection.ts';

/** Events of {@link SipTransportLayer}. */
export interface SipTransportEvents {
  /** One complete SIP message (not parsed) and the flow it arrived on. */
  message: [data: Buffer, flow: Flow];
  /** A stream flow was established (accepted or connected). */
  'flow-opened': [flow: Flow];
  /** A stream flow is gone; `send` to it now returns false. */
  'flow-closed': [flow: Flow, reason: FlowCloseReason];
  /** Input or a connection was refused; for a log line and a counter. */
  rejected: [rejection: Rejection];
}

/** Options of {@link SipTransportLayer}. */
export interface SipTransportLayerOptions {
  readonly limits?: Partial<TransportLimits>;
  /** Receives exceptions thrown by event listeners. */
  readonly logger?: Logger;
}

/** Where and how `connect` dials. */
export interface ConnectOptions {
  readonly transport: StreamTransport;
  readonly host: string;
  readonly port: number;
  /** TLS SNI and certificate name check; defaults to `host` when it is a name. */
  readonly servername?: string;
  /** Trust anchors for the server certificate (default: node's bundled CAs). */
  readonly ca?: SecureContextOptions['ca'];
  /** Client certificate and key for mutual TLS. */
  readonly cert?: SecureContextOptions['cert'];
  readonly key?: SecureContextOptions['key'];
}

/** Counters for status pages and metrics. */
export interface SipTransportStats {
  /** Established stream flows, both directions. */
  readonly connections: number;
  readonly connectionsByTransport: Readonly<Record<StreamTransport, number>>;
  /** Accepted sockets (established or still handshaking), counted against the caps. */
  readonly inboundSockets: number;
  readonly udpListeners: number;
  readonly streamListeners: number;
}

const TLS_MIN_VERSION = 'TLSv1.2';

/**
 * Owns the SIP listeners and connections of one service side: receives complete SIP
 * messages as raw Buffers with the flow they came on, and sends on flows.
 *
 * It never sends anywhere the upper layer did not name: responses go back on the flow a
 * request came on (RFC 3581 for UDP: the packet's source address and port), never to an
 * address a Via header claims.
 */
export class SipTransportLayer {
  /** The limits in force. */
  readonly limits: TransportLimits;
  private readonly events: TypedEvents<SipTransportEvents>;
  private readonly instanceTag = randomToken(6);
  private sequence = 0;
  private readonly udpListeners = new Map<string, UdpListener>();
  private readonly streamListeners = new Map<string, StreamListener>();
  private readonly connections = new Map<string, SipConnection>();
  /** `transport|address|port` of the remote end (and of the dialled target) → flow ids. */
  private readonly byRemote = new Map<string, Set<string>>();
  /** flow id → its keys in `byRemote`. */
  private readonly remoteKeys = new Map<string, string[]>();
  private readonly dialling = new Map<string, Promise<Flow>>();
  private readonly outgoingSockets = new Set<{ destroy(): void }>();
  private readonly perIp = new Map<string, number>();
  private inboundSockets = 0;
  private closing: Promise<void> | undefined;
  private readonly hooks: ConnectionHooks;
  private readonly acceptHost: AcceptHost;

  constructor(options: SipTransportLayerOptions = {}) {
    this.limits = Object.freeze({ ...DEFAULT_TRANSPORT_LIMITS, ...options.limits });
    this.events = new TypedEvents(options.logger ?? silentLogger);
    this.hooks = {
      message: (data, flow) => {
        this.events.emit('message', data, flow);
      },
      rejected: (reason, flow) => {
        this.emitRejected(reason, flow);
      },
      closed: (flow, reason) => {
        this.forget(flow);
        this.events.emit('flow-closed', flow, reason);
      },
    };
    this.acceptHost = {
      limits: this.limits,
      admit: (address) => this.admit(address),
      release: (address) => {
        this.release(address);
      },
      rejected: (rejection) => {
        this.events.emit('rejected', rejection);
      },
      adoptStream: (socket, listener, peer) => {
        this.adopt(
          new StreamConnection(
            socket,
            this.inboundFlow(socket, listener, peer),
            this.limits,
            this.hooks,
          ),
        );
      },
      adoptWs: (ws, socket, listener, peer) => {
        this.adopt(
          new WsConnection(ws, this.inboundFlow(socket, listener, peer), this.limits, this.hooks),
        );
      },
      listenerClosed: (listener) => {
        this.streamListeners.delete(listener.id);
        for (const connection of [...this.connections.values()]) {
          if (connection.flow.listenerId === listener.id) connection.close('listener-closed');
        }
      },
    };
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Adds an event listener; returns a function that removes it. */
  on<K extends keyof SipTransportEvents>(
    event: K,
    listener: (...args: SipTransportEvents[K]) => void,
  ): () => void {
    return this.events.on(event, listener);
  }

  /** Removes an event listener. */
  off<K extends keyof SipTransportEvents>(
    event: K,
    listener: (...args: SipTransportEvents[K]) => void,
  ): void {
    this.events.off(event, listener);
  }

  /** Binds a UDP listener (RFC 3261 §18.1.2, §18.2.1). */
  async listenUdp(options: UdpListenOptions): Promise<SipListener> {
    this.assertOpen();
    const listener = new UdpListener(this.nextId('udp'), options, {
      maxMessageBytes: this.limits.maxMessageBytes,
      message: (data, flow) => {
        this.events.emit('message', data, flow);
      },
      rejected: (rejection) => {
        this.events.emit('rejected', rejection);
      },
    });
    this.udpListeners.set(listener.id, listener);
    try {
      await listener.bind(options);
    } catch (error) {
      this.udpListeners.delete(listener.id);
      await listener.close();
      throw error;
    }
    return {
      get id() {
        return listener.id;
      },
      transport: 'udp',
      get local() {
        return listener.local;
      },
      get closed() {
        return listener.closed;
      },
      close: () => {
        this.udpListeners.delete(listener.id);
        return listener.close();
      },
    };
  }

  /** Binds a TCP listener. */
  listenTcp(options: ListenOptions): Promise<SipListener> {
    return this.listenStream('tcp', options, undefined);
  }

  /** Binds a TLS listener (TLS 1.2 minimum; mutual TLS with `requestCert`). */
  listenTls(options: TlsListenOptions): Promise<SecureSipListener> {
    return this.listenStream('tls', options, options);
  }

  /** Binds a WebSocket listener for the `sip` subprotocol (RFC 7118). */
  listenWs(options: ListenOptions): Promise<SipListener> {
    return this.listenStream('ws', options, undefined);
  }

  /** Binds a secure WebSocket listener for the `sip` subprotocol (RFC 7118). */
  listenWss(options: TlsListenOptions): Promise<SecureSipListener> {
    return this.listenStream('wss', options, options);
  }

  /**
   * Sends `data` on a flow. False when the flow is gone (the upper layer then falls back,
   * e.g. RFC 3261 §18.2.2: open a new connection to the Via's address for a response).
   */
  send(flowId: string, data: Buffer): boolean {
    const connection = this.connections.get(flowId);
    if (connection !== undefined) return connection.send(data);
    const udp = parseUdpFlowId(flowId);
    if (udp === undefined) return false;
    return this.udpListeners.get(udp.listenerId)?.send(data, udp.remote) ?? false;
  }

  /** Sends a datagram from a UDP listener's socket to an explicit target. */
  sendUdp(listenerId: string, address: string, port: number, data: Buffer): boolean {
    return this.udpListeners.get(listenerId)?.send(data, { address, port }) ?? false;
  }

  /** The flow with this id, if it is an open stream flow. */
  getFlow(flowId: string): Flow | undefined {
    return this.connections.get(flowId)?.flow;
  }

  /** An open stream flow to (or from) `host:port` over `transport`, newest first. */
  findFlow(transport: StreamTransport, host: string, port: number): Flow | undefined {
    const ids = this.byRemote.get(remoteKey(transport, normalizeAddress(host), port));
    if (ids === undefined) return undefined;
    let found: Flow | undefined;
    for (const id of ids) {
      const connection = this.connections.get(id);
      if (connection !== undefined && !connection.closed) found = connection.flow;
    }
    return found;
  }

  /** Closes one stream flow; false if there was none. */
  closeFlow(flowId: string): boolean {
    const connection = this.connections.get(flowId);
    connection?.close('local-close');
    return connection !== undefined;
  }

  /** Closes every stream a peer at `address` opened to us (a banned source); how many. */
  closeFlowsFrom(address: string): number {
    const wanted = normalizeAddress(address);
    let closed = 0;
    for (const connection of [...this.connections.values()]) {
      const flow = connection.flow;
      if (flow.direction !== 'inbound' || normalizeAddress(flow.remote.address) !== wanted)
        continue;
      connection.close('local-close');
      closed++;
    }
    return closed;
  }

  /**
   * Opens (or reuses, RFC 3261 §18.1.1 / RFC 5923 style) a connection to `host:port`.
   * Concurrent calls for one target share one attempt.
   */
  connect(options: ConnectOptions): Promise<Flow> {
    this.assertOpen();
    const existing = this.findFlow(options.transport, options.host, options.port);
    if (existing !== undefined) return Promise.resolve(existing);
    const key = remoteKey(options.transport, normalizeAddress(options.host), options.port);
    const inFlight = this.dialling.get(key);
    if (inFlight !== undefined) return inFlight;
    const attempt = this.dial(options).finally(() => {
      this.dialling.delete(key);
    });
    this.dialling.set(key, attempt);
    return attempt;
  }

  /** Counters for status and metrics. */
  stats(): SipTransportStats {
    const connectionsByTransport: Record<StreamTransport, number> = {
      tcp: 0,
      tls: 0,
      ws: 0,
      wss: 0,
    };
    for (const connection of this.connections.values()) {
      const transport = connection.flow.transport;
      if (transport !== 'udp') connectionsByTransport[transport]++;
    }
    return {
      connections: this.connections.size,
      connectionsByTransport,
      inboundSockets: this.inboundSockets,
      udpListeners: this.udpListeners.size,
      streamListeners: this.streamListeners.size,
    };
  }

  /** Closes every listener and connection; idempotent. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    for (const connection of [...this.connections.values()]) connection.close('layer-closed');
    const waits: Promise<void>[] = [];
    for (const listener of this.udpListeners.values()) waits.push(listener.close());
    for (const listener of this.streamListeners.values()) waits.push(listener.close());
    for (const socket of this.outgoingSockets) socket.destroy();
    this.udpListeners.clear();
    this.streamListeners.clear();
    this.outgoingSockets.clear();
    this.closing = Promise.all(waits).then(() => {
      this.events.clear();
    });
    return this.closing;
  }

  private async listenStream(
    transport: StreamTransport,
    options: ListenOptions,
    tls: TlsListenOptions | undefined,
  ): Promise<StreamListener> {
    this.assertOpen();
    const listener = new StreamListener(this.nextId(transport), transport, this.acceptHost, tls);
    this.streamListeners.set(listener.id, listener);
    try {
      await listener.listen(options);
    } catch (error) {
      this.streamListeners.delete(listener.id);
      void listener.close();
      throw error;
    }
    return listener;
  }

  private admit(address: string): RejectReason | undefined {
    if (this.closing !== undefined) return 'max-connections';
    if (this.inboundSockets >= this.limits.maxInboundConnections) return 'max-connections';
    const count = this.perIp.get(address) ?? 0;
    if (count >= this.limits.maxConnectionsPerIp) return 'per-ip-cap';
    this.perIp.set(address, count + 1);
    this.inboundSockets++;
    return undefined;
  }

  private release(address: string): void {
    const count = (this.perIp.get(address) ?? 1) - 1;
    if (count <= 0) this.perIp.delete(address);
    else this.perIp.set(address, count);
    this.inboundSockets--;
  }

  private inboundFlow(socket: Socket, listener: StreamListener, peer?: PeerCertificateInfo): Flow {
    return {
      id: this.nextId(listener.transport),
      transport: listener.transport,
      local: { address: normalizeAddress(socket.localAddress), port: socket.localPort ?? 0 },
      remote: { address: normalizeAddress(socket.remoteAddress), port: socket.remotePort ?? 0 },
      direction: 'inbound',
      listenerId: listener.id,
      ...(peer === undefined ? {} : { peerCertificate: peer }),
    };
  }

  private adopt(connection: SipConnection, target?: string): void {
    const flow = connection.flow;
    if (this.closing !== undefined) {
      connection.close('layer-closed');
      return;
    }
    this.connections.set(flow.id, connection);
    this.index(remoteKey(flow.transport, flow.remote.address, flow.remote.port), flow.id);
    if (target !== undefined) this.index(target, flow.id);
    this.events.emit('flow-opened', flow);
  }

  private index(key: string, flowId: string): void {
    const keys = this.remoteKeys.get(flowId);
    if (keys === undefined) this.remoteKeys.set(flowId, [key]);
    else keys.push(key);
    let ids = this.byRemote.get(key);
    if (ids === undefined) {
      ids = new Set();
      this.byRemote.set(key, ids);
    }
    ids.add(flowId);
  }

  private forget(flow: Flow): void {
    if (!this.connections.delete(flow.id)) return;
    for (const key of this.remoteKeys.get(flow.id) ?? []) {
      const ids = this.byRemote.get(key);
      if (ids?.delete(flow.id) === true && ids.size === 0) this.byRemote.delete(key);
    }
    this.remoteKeys.delete(flow.id);
  }

  private emitRejected(reason: RejectReason, flow: Flow): void {
    this.events.emit('rejected', {
      reason,
      transport: flow.transport,
      remote: flow.remote,
      flowId: flow.id,
      ...(flow.listenerId === undefined ? {} : { listenerId: flow.listenerId }),
    });
  }

  private nextId(transport: SipTransport): string {
    this.sequence++;
    return `${transport}-${this.instanceTag}-${this.sequence}`;
  }

  private assertOpen(): void {
    if (this.closing !== undefined) {
      throw new RampartError(ERROR_CODES.INVALID_STATE, 'transport layer is closed');
    }
  }

  private dial(options: ConnectOptions): Promise<Flow> {
    const target = remoteKey(options.transport, normalizeAddress(options.host), options.port);
    return new Promise<Flow>((resolve, reject) => {
      let settled = false;
      let cleanup: { destroy(): void } | undefined;
      const fail = (message: string, cause?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (cleanup !== undefined) {
          this.outgoingSockets.delete(cleanup);
          cleanup.destroy();
        }
        reject(
          new RampartError(
            ERROR_CODES.TRANSPORT,
            `${options.transport} connect to ${formatHostPort(options.host, options.port)}: ${message}`,
            cause === undefined ? undefined : { cause },
          ),
        );
      };
      const succeed = (connection: SipConnection): void => {
        if (settled) {
          connection.close('local-close');
          return;
        }
        settled = true;
        clearTimeout(timer);
        if (cleanup !== undefined) this.outgoingSockets.delete(cleanup);
        this.adopt(connection, target);
        if (connection.closed) fail('layer closed');
        else resolve(connection.flow);
      };
      const timer = setTimeout(() => {
        fail('timed out');
      }, this.limits.connectTimeoutMs);
      const outboundFlow = (socket: Socket, peer?: PeerCertificateInfo): Flow => ({
        id: this.nextId(options.transport),
        transport: options.transport,
        local: { address: normalizeAddress(socket.localAddress), port: socket.localPort ?? 0 },
        remote: {
          address: normalizeAddress(socket.remoteAddress),
          port: socket.remotePort ?? options.port,
        },
        direction: 'outbound',
        ...(peer === undefined ? {} : { peerCertificate: peer }),
      });
      const servername =
        options.servername ?? (isIP(options.host) === 0 ? options.host : undefined);
      const tlsOptions = {
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        ...(options.cert === undefined ? {} : { cert: options.cert }),
        ...(options.key === undefined ? {} : { key: options.key }),
        ...(servername === undefined ? {} : { servername }),
        minVersion: TLS_MIN_VERSION,
      } as const;

      if (options.transport === 'tcp' || options.transport === 'tls') {
        const socket: Socket =
          options.transport === 'tcp'
            ? netConnect({ host: options.host, port: options.port })
            : tlsConnect({ host: options.host, port: options.port, ...tlsOptions });
        cleanup = socket;
        this.outgoingSockets.add(socket);
        socket.once('error', (error) => {
          fail(error.message, error);
        });
        socket.once(options.transport === 'tcp' ? 'connect' : 'secureConnect', () => {
          const peer = socket instanceof TLSSocket ? peerOfClient(socket) : undefined;
          succeed(
            new StreamConnection(socket, outboundFlow(socket, peer), this.limits, this.hooks),
          );
        });
        return;
      }

      const scheme = options.transport === 'ws' ? 'ws' : 'wss';
      const ws = new WebSocket(
        `${scheme}://${formatHostPort(options.host, options.port)}`,
        SIP_WS_SUBPROTOCOL,
        {
          ...(options.transport === 'wss' ? tlsOptions : {}),
          maxPayload: this.limits.maxMessageBytes,
          perMessageDeflate: false,
          handshakeTimeout: this.limits.connectTimeoutMs,
        },
      );
      const wsHandle = {
        destroy: () => {
          ws.terminate();
        },
      };
      cleanup = wsHandle;
      this.outgoingSockets.add(wsHandle);
      let upgradeSocket: Socket | undefined;
      ws.once('upgrade', (response: IncomingMessage) => {
        upgradeSocket = response.socket;
      });
      ws.once('error', (error) => {
        fail(error.message, error);
      });
      ws.once('open', () => {
        if (ws.protocol !== SIP_WS_SUBPROTOCOL || upgradeSocket === undefined) {
          fail('server did not accept the sip subprotocol');
          return;
        }
        const peer = upgradeSocket instanceof TLSSocket ? peerOfClient(upgradeSocket) : undefined;
        succeed(new WsConnection(ws, outboundFlow(upgradeSocket, peer), this.limits, this.hooks));
      });
    });
  }
}

function remoteKey(transport: SipTransport, address: string, port: number): string {
  return `${transport}|${address.toLowerCase()}|${port}`;
}

function peerOfClient(socket: TLSSocket): PeerCertificateInfo | undefined {
  return toPeerCertificateInfo(
    socket.getPeerCertificate(false),
    socket.authorized,
    socket.authorizationError,
  );
}

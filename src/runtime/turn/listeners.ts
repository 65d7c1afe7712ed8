/**
 * The TURN server's listening sockets: UDP, and TCP/TLS with STUN/ChannelData stream framing
 * (RFC 8656 §3.1). Streams are bounded before anyone authenticates: a per-address and a total
 * connection cap, a TLS handshake timeout, and an allocate timeout (a connection that has not
 * allocated in time is closed), so half-open and idle connections cannot pile up.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createNetServer, isIPv6, type Server, type Socket } from 'node:net';
import {
  createServer as createTlsServer,
  type SecureContextOptions,
  type Server as TlsServer,
} from 'node:tls';
import { StunStreamFramer } from '../../codec/stun/index.ts';
import { literalLookup } from '../../lib/udp-lookup.ts';
import { streamClientFlow, type ClientFlow } from './client-flow.ts';

/** A bound address. */
export interface BoundAddress {
  readonly address: string;
  readonly port: number;
}

/** Limits on stream clients. */
export interface StreamLimits {
  readonly maxConnectionsPerIp: number;
  readonly maxConnections: number;
  readonly handshakeTimeoutMs: number;
  readonly allocateTimeoutMs: number;
  /** Largest STUN or ChannelData frame accepted on a stream. */
  readonly maxFrameBytes: number;
}

/** What a stream listener reports. */
export interface StreamHost {
  /** A frame (STUN message or ChannelData, padding excluded) on a connection. */
  frame(flow: ClientFlow, frame: Buffer, kind: 'stun' | 'channel-data'): void;
  /** The connection closed (its allocation, if any, ends). */
  closed(flow: ClientFlow): void;
  /** Whether the flow holds an allocation (the allocate timeout spares it). */
  hasAllocation(flow: ClientFlow): boolean;
  rejected(reason: 'per-ip-cap' | 'total-cap' | 'framing' | 'allocate-timeout'): void;
}

const UDP_BUFFER_BYTES = 4 * 1024 * 1024;

/** Binds a UDP socket (exclusive; SO_REUSEPORT for workers). */
export function bindUdp(
  host: string,
  port: number,
  reusePort: boolean,
): Promise<{ socket: UdpSocket; bound: BoundAddress }> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({
      type: isIPv6(host) ? 'udp6' : 'udp4',
      ...(reusePort ? { reusePort: true } : {}),
      recvBufferSize: UDP_BUFFER_BYTES,
      sendBufferSize: UDP_BUFFER_BYTES,
      lookup: literalLookup,
    });
    socket.once('error', reject);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', reject);
      // ICMP errors and the like are not the socket's end. A module-level function: a
      // closure here would keep this promise's context (and its result) alive as long as
      // the socket, a few hundred bytes per relay socket.
      socket.on('error', ignoreSocketError);
      const address = socket.address();
      resolve({ socket, bound: { address: address.address, port: address.port } });
    });
  });
}

/** The `error` listener of every UDP socket {@link bindUdp} returns. */
function ignoreSocketError(): void {
  // Nothing to do: see bindUdp.
}

/** A TCP or TLS listener of TURN clients. */
export class TurnStreamListener {
  readonly transport: 'tcp' | 'tls';
  private readonly server: Server;
  private readonly tlsServer: TlsServer | undefined;
  private readonly limits: StreamLimits;
  private readonly host: StreamHost;
  private readonly perIp = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private boundAddress: BoundAddress = { address: '', port: 0 };

  constructor(
    transport: 'tcp' | 'tls',
    limits: StreamLimits,
    host: StreamHost,
    tls?: { key: SecureContextOptions['key']; cert: SecureContextOptions['cert'] },
  ) {
    this.transport = transport;
    this.limits = limits;
    this.host = host;
    if (transport === 'tls') {
      this.tlsServer = createTlsServer({
        key: tls?.key,
        cert: tls?.cert,
        minVersion: 'TLSv1.2',
        handshakeTimeout: limits.handshakeTimeoutMs,
      });
      this.server = this.tlsServer;
      this.server.on('secureConnection', (socket: Socket) => {
        this.adopt(socket);
      });
      // A failed or timed-out handshake: the socket is already destroyed.
      this.server.on('tlsClientError', () => undefined);
    } else {
      this.tlsServer = undefined;
      this.server = createNetServer((socket) => {
        this.adopt(socket);
      });
    }
    this.server.on('connection', (socket: Socket) => {
      this.admit(socket);
    });
    this.server.on('error', () => undefined);
  }

  get local(): BoundAddress {
    return this.boundAddress;
  }

  /** Binds; resolves with the bound address. */
  listen(host: string, port: number, reusePort: boolean): Promise<BoundAddress> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(
        { host, port, exclusive: true, ...(reusePort ? { reusePort: true } : {}) },
        () => {
          this.server.off('error', reject);
          const address = this.server.address();
          if (address === null || typeof address === 'string') {
            reject(new Error('listener has no address'));
            return;
          }
          this.boundAddress = { address: address.address, port: address.port };
          resolve(this.boundAddress);
        },
      );
    });
  }

  /** Replaces the certificate for new handshakes. */
  setSecureContext(tls: { key: string; cert: string }): void {
    this.tlsServer?.setSecureContext(tls);
  }

  /** Stops listening and closes every connection. */
  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  /** Counts a raw connection against the caps before any handshake. */
  private admit(socket: Socket): void {
    const address = socket.remoteAddress ?? '';
    const count = this.perIp.get(address) ?? 0;
    if (this.sockets.size >= this.limits.maxConnections) {
      this.host.rejected('total-cap');
      socket.destroy();
      return;
    }
    if (count >= this.limits.maxConnectionsPerIp) {
      this.host.rejected('per-ip-cap');
      socket.destroy();
      return;
    }
    this.perIp.set(address, count + 1);
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      const left = (this.perIp.get(address) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(address);
      else this.perIp.set(address, left);
    });
    socket.on('error', () => undefined);
  }

  private adopt(socket: Socket): void {
    const address = socket.remoteAddress;
    const port = socket.remotePort;
    if (address === undefined || port === undefined) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    let detached = false;
    const onData = (chunk: Buffer): void => {
      for (const frame of framer.push(chunk)) {
        if (detached) return;
        if (frame.type === 'error') {
          this.host.rejected('framing');
          socket.destroy();
          return;
        }
        this.host.frame(flow, frame.data, frame.type);
      }
    };
    const flow = streamClientFlow(
      socket,
      this.transport,
      this.boundAddress,
      address,
      port,
      isIPv6(address) ? 6 : 4,
      () => {
        if (detached) return undefined;
        detached = true;
        socket.off('data', onData);
        clearTimeout(timer);
        return socket;
      },
    );
    const framer = new StunStreamFramer({ maxFrameBytes: this.limits.maxFrameBytes });
    // RFC 8656 §3.1 leaves idle connections to the server: one that has not allocated within
    // the allocate timeout is closed, so unauthenticated connections hold nothing for long.
    const timer = setTimeout(() => {
      if (!this.host.hasAllocation(flow)) {
        this.host.rejected('allocate-timeout');
        socket.destroy();
      }
    }, this.limits.allocateTimeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.once('close', () => {
      clearTimeout(timer);
      this.host.closed(flow);
    });
  }
}

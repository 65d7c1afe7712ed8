/**
 * Where a TURN client is and how to reach it: a UDP source on one of our listening sockets,
 * or a TCP/TLS connection (RFC 8656 §3.1). The relay path sends through this, so it is kept
 * small: no per-packet allocation beyond what framing needs.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import type { FiveTuple, TurnTransport } from '../../proto/turn/index.ts';

/** A client of the TURN server. */
export interface ClientFlow {
  readonly transport: TurnTransport;
  readonly fiveTuple: FiveTuple;
  /** `address port` of the client; the per-listener key of its allocation over UDP. */
  readonly clientKey: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly family: 4 | 6;
  /** Streams pad ChannelData to 4 bytes (RFC 8656 §12.5); datagrams need not. */
  readonly framing: 'datagram' | 'stream';
  /** Sends one message (or its parts, sent back to back); false when the flow is gone. */
  send(parts: Buffer | readonly Buffer[]): boolean;
  /** Closes a stream flow; no-op for UDP. */
  close(): void;
  /**
   * Streams only: stops STUN framing and hands the socket over (an RFC 6062 data
   * connection after ConnectionBind). Undefined when the flow cannot be detached.
   */
  readonly detach?: () => Socket | undefined;
}

/**
 * A client reached through a UDP listening socket. A class, not an object literal with
 * closures: a live allocation keeps its flow, and methods on the prototype cost nothing per
 * flow. The flow is its own 5-tuple (it has the five fields), so no second object either.
 */
class UdpClientFlow implements ClientFlow, FiveTuple {
  readonly transport = 'udp' as const;
  readonly framing = 'datagram' as const;
  readonly clientKey: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly serverAddress: string;
  readonly serverPort: number;
  readonly family: 4 | 6;
  private readonly socket: UdpSocket;

  constructor(
    socket: UdpSocket,
    local: { readonly address: string; readonly port: number },
    address: string,
    port: number,
    family: 4 | 6,
  ) {
    this.socket = socket;
    this.clientKey = `${address} ${port}`;
    this.clientAddress = address;
    this.clientPort = port;
    this.serverAddress = local.address;
    this.serverPort = local.port;
    this.family = family;
  }

  get fiveTuple(): FiveTuple {
    return this;
  }

  send(parts: Buffer | readonly Buffer[]): boolean {
    // A list is sent as one datagram, gathered by the kernel: no copy here.
    this.socket.send(parts as Buffer | Buffer[], this.clientPort, this.clientAddress);
    return true;
  }

  close(): void {
    // Nothing to close: the listening socket is shared.
  }
}

/** A client reached through a UDP listening socket. */
export function udpClientFlow(
  socket: UdpSocket,
  local: { readonly address: string; readonly port: number },
  address: string,
  port: number,
  family: 4 | 6,
): ClientFlow {
  return new UdpClientFlow(socket, local, address, port, family);
}

/** A client on a TCP or TLS connection. */
export function streamClientFlow(
  socket: Socket,
  transport: 'tcp' | 'tls',
  local: { readonly address: string; readonly port: number },
  address: string,
  port: number,
  family: 4 | 6,
  detach?: () => Socket | undefined,
): ClientFlow {
  return {
    ...(detach === undefined ? {} : { detach }),
    transport,
    fiveTuple: {
      transport,
      clientAddress: address,
      clientPort: port,
      serverAddress: local.address,
      serverPort: local.port,
    },
    clientKey: `${address} ${port}`,
    clientAddress: address,
    clientPort: port,
    family,
    framing: 'stream',
    send(parts) {
      if (socket.destroyed || !socket.writable) return false;
      if (Buffer.isBuffer(parts)) return socket.write(parts) || true;
      socket.cork();
      for (const part of parts) socket.write(part);
      socket.uncork();
      return true;
    },
    close() {
      socket.destroy();
    },
  };
}

/**
 * TCP relay allocations (RFC 6062). The client holds a control connection (its TCP or TLS
 * connection to the server, where it allocated with REQUESTED-TRANSPORT TCP) and opens one
 * data connection per peer connection. Peer connections are made by Connect (§5.2) or
 * accepted on the relayed address (§5.3, announced by a ConnectionAttempt indication); a
 * ConnectionBind (§5.4) on a new client connection joins the two, after which bytes flow
 * unframed both ways.
 *
 * Node.js cannot bind an outgoing TCP socket to a port that a listener holds (no
 * SO_REUSEPORT for connect), so outgoing peer connections leave from the relay address
 * with an ephemeral port rather than from the relayed transport address itself.
 */
import { randomInt } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** How long a peer connection waits for its ConnectionBind (RFC 6062 §5.2, §5.3: 30 s). */
export const CONNECTION_BIND_TIMEOUT_MS = 30_000;
/** How long an outgoing Connect may take before 447. */
export const CONNECT_TIMEOUT_MS = 30_000;
/** Peer bytes held while waiting for ConnectionBind; beyond, the peer is paused. */
const MAX_BUFFERED_BYTES = 64 * 1024;

/** One peer connection of a TCP allocation. */
export interface PeerConnection {
  readonly id: number;
  readonly peer: { readonly address: string; readonly port: number };
  readonly socket: Socket;
  /** Set once a data connection is bound. */
  bound: boolean;
  readonly buffered: Buffer[];
  bufferedBytes: number;
  timer: NodeJS.Timeout | undefined;
}

/** What the TCP relay asks of its owner. */
export interface TcpRelayHost {
  /** Whether the allocation has a permission for this peer IP (§5.3). */
  hasPermission(address: string): boolean;
  /** §5.3: tell the client, over the control connection, that a peer connected. */
  connectionAttempt(connection: PeerConnection): void;
}

/** Every peer connection of every TCP allocation of one server, by CONNECTION-ID. */
export type PeerConnectionRegistry = Map<
  number,
  { readonly relay: TcpRelay; readonly connection: PeerConnection }
>;

function newConnectionId(registry: PeerConnectionRegistry): number {
  for (;;) {
    const id = randomInt(1, 0xffffffff);
    if (!registry.has(id)) return id;
  }
}

/** The TCP side of one allocation: a listener on the relayed address and its peers. */
export class TcpRelay {
  readonly server: Server;
  readonly host: string;
  private readonly owner: TcpRelayHost;
  private readonly registry: PeerConnectionRegistry;
  private readonly connections = new Map<number, PeerConnection>();
  private closed = false;

  private constructor(
    server: Server,
    host: string,
    owner: TcpRelayHost,
    registry: PeerConnectionRegistry,
  ) {
    this.server = server;
    this.host = host;
    this.owner = owner;
    this.registry = registry;
    server.on('connection', (socket) => {
      this.accept(socket);
    });
    server.on('error', () => undefined);
  }

  /** Listens on the relayed address; rejects when the port is taken. */
  static async listen(
    host: string,
    port: number,
    owner: TcpRelayHost,
    registry: PeerConnectionRegistry,
  ): Promise<TcpRelay> {
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new TcpRelay(server, host, owner, registry);
  }

  /** Whether a connection to or from this peer transport address exists (§5.2: 446). */
  hasPeer(address: string, port: number): boolean {
    for (const c of this.connections.values()) {
      if (c.peer.address === address && c.peer.port === port) return true;
    }
    return false;
  }

  /** §5.2: connects to a peer; resolves with the connection, or undefined (447). */
  connect(address: string, port: number): Promise<PeerConnection | undefined> {
    return new Promise((resolve) => {
      const socket = connect({ host: address, port, localAddress: this.host });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(undefined);
      }, CONNECT_TIMEOUT_MS);
      socket.once('error', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.pause();
        if (this.closed) {
          socket.destroy();
          resolve(undefined);
          return;
        }
        resolve(this.adopt(socket, { address, port }));
      });
    });
  }

  /** §5.4: joins a client data connection to peer connection `id`; false if unknown/bound. */
  bind(id: number, data: Socket): boolean {
    const connection = this.connections.get(id);
    if (connection === undefined || connection.bound) return false;
    connection.bound = true;
    if (connection.timer) clearTimeout(connection.timer);
    for (const chunk of connection.buffered) data.write(chunk);
    connection.buffered.length = 0;
    connection.socket.removeAllListeners('data');
    connection.socket.pipe(data);
    data.pipe(connection.socket);
    const end = (): void => {
      data.destroy();
      connection.socket.destroy();
    };
    data.once('close', end);
    connection.socket.once('close', end);
    connection.socket.resume();
    return true;
  }

  /** Closes the listener and every peer connection; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    for (const connection of this.connections.values()) connection.socket.destroy();
  }

  /** §5.3: a peer connected to the relayed address. */
  private accept(socket: Socket): void {
    const address = socket.remoteAddress;
    const port = socket.remotePort;
    // "If the server has no permission for the peer's IP address, it MUST reject (close)".
    if (address === undefined || port === undefined || !this.owner.hasPermission(address)) {
      socket.destroy();
      return;
    }
    const connection = this.adopt(socket, { address, port });
    this.owner.connectionAttempt(connection);
  }

  private adopt(socket: Socket, peer: { address: string; port: number }): PeerConnection {
    const connection: PeerConnection = {
      id: newConnectionId(this.registry),
      peer,
      socket,
      bound: false,
      buffered: [],
      bufferedBytes: 0,
      timer: undefined,
    };
    socket.on('error', () => undefined);
    // Until ConnectionBind, peer bytes are held (bounded: past the cap the peer is paused).
    socket.on('data', (chunk: Buffer) => {
      connection.buffered.push(chunk);
      connection.bufferedBytes += chunk.length;
      if (connection.bufferedBytes >= MAX_BUFFERED_BYTES) socket.pause();
    });
    socket.resume();
    // §5.2/§5.3: no ConnectionBind within 30 seconds → the peer connection is closed.
    connection.timer = setTimeout(() => {
      if (!connection.bound) socket.destroy();
    }, CONNECTION_BIND_TIMEOUT_MS);
    connection.timer.unref();
    socket.once('close', () => {
      if (connection.timer) clearTimeout(connection.timer);
      this.connections.delete(connection.id);
      this.registry.delete(connection.id);
    });
    this.connections.set(connection.id, connection);
    this.registry.set(connection.id, { relay: this, connection });
    return connection;
  }
}

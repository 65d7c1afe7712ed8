/**
 * A hand-built STUN/TURN client for integration tests (RFC 8489, RFC 8656): one UDP socket or
 * one TCP connection to the server, long-term credentials (the 401 → REALM/NONCE retry,
 * MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256), and every request and indication the A/V
 * Edge serves. It builds messages with the project's codec but sends and inspects raw bytes,
 * so a test can also send anything it likes and see exactly what came back.
 */
import { createHmac } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as netConnect, type Socket as TcpSocket } from 'node:net';
import {
  ChannelNumber,
  Data,
  decodeChannelData,
  decodeStun,
  encodeChannelData,
  encodeStun,
  ErrorCode,
  isStun,
  Lifetime,
  longTermKey,
  newTransactionId,
  Nonce,
  PASSWORD_ALGORITHM,
  PasswordAlgorithm,
  PasswordAlgorithms,
  Realm,
  RequestedTransport,
  STUN_METHOD,
  StunStreamFramer,
  TRANSPORT_PROTOCOL,
  Username,
  verifyMessageIntegrity,
  verifyMessageIntegritySha256,
  XorPeerAddress,
  XorRelayedAddress,
  type PasswordAlgorithmEntry,
  type StunAttributeWriter,
  type StunClass,
  type StunMessage,
  type TransportAddress,
} from '../../src/codec/stun/index.ts';

/** A long-term credential. */
export interface TurnCredential {
  readonly username: string;
  readonly password: string;
}

/**
 * A TURN REST API credential (draft-uberti-behave-turn-rest-00 §2.2): username
 * `<expiry-unix-seconds>:<user>`, password base64(HMAC-SHA1(secret, username)).
 */
export function restCredential(
  secret: string,
  user: string,
  ttlSeconds: number,
  nowMs: number = Date.now(),
): TurnCredential {
  const username = `${Math.floor(nowMs / 1000) + ttlSeconds}:${user}`;
  return { username, password: createHmac('sha1', secret).update(username).digest('base64') };
}

/** A server address. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

/** One message the client received: the bytes, and the decoded STUN message if it is one. */
export interface Received {
  readonly raw: Buffer;
  readonly stun: StunMessage | undefined;
}

/** A STUN response: its bytes and its decoding. */
export interface Response {
  readonly raw: Buffer;
  readonly message: StunMessage;
  /** The error code of an error response, undefined for a success. */
  readonly code: number | undefined;
}

/** The error code of a response, or undefined when it carries none. */
export function errorCodeOf(message: StunMessage): number | undefined {
  const read = ErrorCode.get(message);
  return read?.ok === true ? read.value.code : undefined;
}

interface Waiter {
  readonly match: (received: Received) => boolean;
  readonly resolve: (received: Received) => void;
}

/** Options of {@link TurnClient.open}. */
export interface OpenOptions {
  readonly transport?: 'udp' | 'tcp';
  /** Local address to bind (UDP) or to connect from (TCP); default 127.0.0.1. */
  readonly localAddress?: string;
}

/** Options of a request built by {@link TurnClient.build}. */
export interface BuildOptions {
  /** Sign with the long-term key (after a challenge); default true once a nonce is known. */
  readonly authenticate?: boolean;
  readonly fingerprint?: boolean;
  readonly transactionId?: Buffer;
  readonly cls?: StunClass;
}

/** Options of {@link TurnClient.allocate}. */
export interface AllocateOptions {
  readonly lifetimeSeconds?: number;
  /** Attributes added after REQUESTED-TRANSPORT. */
  readonly attributes?: readonly StunAttributeWriter[];
  /** Leave REQUESTED-TRANSPORT out. */
  readonly noRequestedTransport?: boolean;
  /** REQUESTED-TRANSPORT protocol; default UDP (17). */
  readonly protocol?: number;
}

/**
 * A STUN/TURN client on one socket. Everything received goes to an inbox; requests take their
 * response out of it by transaction ID, tests take Data indications and ChannelData.
 */
export class TurnClient {
  readonly transport: 'udp' | 'tcp';
  readonly server: ServerAddress;
  /** The client's own address as bound. */
  readonly local: TransportAddress;
  credential: TurnCredential | undefined;
  realm: string | undefined;
  nonce: string | undefined;
  /** The server's PASSWORD-ALGORITHMS, as it sent them (echoed by SHA-256 requests). */
  offeredAlgorithms: PasswordAlgorithmEntry[] | undefined;
  /** Which key and integrity the client uses: MD5 + MESSAGE-INTEGRITY, or SHA-256 + its own. */
  algorithm: 'md5' | 'sha256' = 'md5';
  private readonly inbox: Received[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly udp: UdpSocket | undefined;
  private readonly tcp: TcpSocket | undefined;
  private closedFlag = false;
  private tcpClosed: Promise<void> | undefined;

  private constructor(
    transport: 'udp' | 'tcp',
    server: ServerAddress,
    local: TransportAddress,
    socket: { udp?: UdpSocket; tcp?: TcpSocket },
  ) {
    this.transport = transport;
    this.server = server;
    this.local = local;
    this.udp = socket.udp;
    this.tcp = socket.tcp;
    if (this.udp !== undefined) {
      this.udp.on('message', (data) => {
        this.deliver(data);
      });
    }
    if (this.tcp !== undefined) {
      const tcp = this.tcp;
      const framer = new StunStreamFramer();
      tcp.on('data', (chunk: Buffer) => {
        for (const frame of framer.push(chunk)) {
          if (frame.type === 'error') {
            tcp.destroy();
            return;
          }
          // Frames are views of the framer's buffer, which it reuses: keep a copy.
          this.deliver(Buffer.from(frame.data));
        }
      });
      this.tcpClosed = new Promise((resolve) => {
        tcp.once('close', () => {
          resolve();
        });
      });
    }
  }

  /** Opens a UDP socket (or a TCP connection) to `server`. */
  static async open(server: ServerAddress, options: OpenOptions = {}): Promise<TurnClient> {
    const localAddress = options.localAddress ?? '127.0.0.1';
    if (options.transport === 'tcp') {
      const tcp = await new Promise<TcpSocket>((resolve, reject) => {
        const socket = netConnect({ host: server.host, port: server.port, localAddress });
        socket.once('error', reject);
        socket.once('connect', () => {
          socket.off('error', reject);
          socket.on('error', () => undefined);
          resolve(socket);
        });
      });
      tcp.setNoDelay(true);
      const local = {
        family: 4 as const,
        address: tcp.localAddress ?? localAddress,
        port: tcp.localPort ?? 0,
      };
      return new TurnClient('tcp', server, local, { tcp });
    }
    const udp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, localAddress, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', () => undefined);
    const bound = udp.address();
    return new TurnClient(
      'udp',
      server,
      { family: 4, address: bound.address, port: bound.port },
      { udp },
    );
  }

  /** Whether the TCP connection has been closed by either side (always false over UDP). */
  get connectionClosed(): boolean {
    return this.tcp?.destroyed === true || this.tcp?.readableEnded === true;
  }

  /** Resolves when the TCP connection closes. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    if (this.tcpClosed === undefined) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        resolve(false);
      }, timeoutMs);
    });
    const closed = this.tcpClosed.then(() => true);
    const result = await Promise.race([closed, timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Sends bytes as they are: one datagram, or written to the stream. */
  sendRaw(bytes: Buffer): void {
    if (this.udp !== undefined) this.udp.send(bytes, this.server.port, this.server.host);
    else this.tcp?.write(bytes);
  }

  /** Builds a request (or indication) with the client's credentials when it has a nonce. */
  build(
    method: number,
    attributes: readonly StunAttributeWriter[],
    options: BuildOptions = {},
  ): {
    raw: Buffer;
    transactionId: Buffer;
  } {
    const transactionId = options.transactionId ?? newTransactionId();
    const authenticate = options.authenticate ?? this.nonce !== undefined;
    const all = [...attributes];
    let integrity: { key: Buffer; algorithm: 'sha1' | 'sha256' } | undefined;
    if (authenticate) {
      const { credential, realm, nonce } = this;
      if (credential === undefined || realm === undefined || nonce === undefined) {
        throw new Error('no credential or no challenge yet');
      }
      all.push(Username.of(credential.username), Realm.of(realm), Nonce.of(nonce));
      if (this.algorithm === 'sha256') {
        // RFC 8489 §9.2.5: echo PASSWORD-ALGORITHMS and name the chosen one.
        all.push(
          PasswordAlgorithms.of(this.offeredAlgorithms ?? []),
          PasswordAlgorithm.of({
            algorithm: PASSWORD_ALGORITHM.SHA256,
            parameters: Buffer.alloc(0),
          }),
        );
      }
      integrity = {
        key: this.key(),
        algorithm: this.algorithm === 'sha256' ? 'sha256' : 'sha1',
      };
    }
    const raw = encodeStun(
      { method, cls: options.cls ?? 'request', transactionId, attributes: all },
      {
        ...(integrity === undefined ? {} : { integrity }),
        ...(options.fingerprint === true ? { fingerprint: true } : {}),
      },
    );
    return { raw, transactionId };
  }

  /** The long-term key of the current credential and realm. */
  key(): Buffer {
    if (this.credential === undefined || this.realm === undefined) {
      throw new Error('no credential or realm');
    }
    return longTermKey(
      this.credential.username,
      this.realm,
      this.credential.password,
      this.algorithm,
    );
  }

  /** Whether a response's integrity attribute verifies under the client's key. */
  verifies(message: StunMessage): boolean {
    return this.algorithm === 'sha256'
      ? verifyMessageIntegritySha256(message, this.key())
      : verifyMessageIntegrity(message, this.key());
  }

  /**
   * Sends `raw` and waits for the response with `transactionId`; rejects after `timeoutMs`.
   * Nothing is retransmitted: loopback loses nothing, and tests want to count answers.
   */
  async transact(raw: Buffer, transactionId: Buffer, timeoutMs = 2000): Promise<Response> {
    const waiting = this.waitFor(
      (r) =>
        r.stun !== undefined &&
        (r.stun.cls === 'success' || r.stun.cls === 'error') &&
        r.stun.transactionId.equals(transactionId),
      timeoutMs,
    );
    this.sendRaw(raw);
    const received = await waiting;
    if (received === undefined) {
      throw new Error(`no response to transaction ${transactionId.toString('hex')}`);
    }
    const message = received.stun as StunMessage;
    return { raw: received.raw, message, code: errorCodeOf(message) };
  }

  /**
   * A request with the current credentials; on 438 (Stale Nonce) or a 401 carrying a new
   * NONCE, takes the nonce and retries once (RFC 8489 §9.2.5).
   */
  async request(
    method: number,
    attributes: readonly StunAttributeWriter[],
    options: BuildOptions = {},
  ): Promise<Response> {
    const first = this.build(method, attributes, options);
    const response = await this.transact(first.raw, first.transactionId);
    if (response.code === 438 && this.takeChallenge(response.message)) {
      const retry = this.build(method, attributes, options);
      return this.transact(retry.raw, retry.transactionId);
    }
    return response;
  }

  /** Stores REALM, NONCE and PASSWORD-ALGORITHMS of a 401/438; false when it has none. */
  takeChallenge(message: StunMessage): boolean {
    const realm = Realm.get(message);
    const nonce = Nonce.get(message);
    if (realm?.ok !== true || nonce?.ok !== true) return false;
    this.realm = realm.value;
    this.nonce = nonce.value;
    const algorithms = PasswordAlgorithms.get(message);
    this.offeredAlgorithms =
      algorithms?.ok === true
        ? algorithms.value.map((entry) => ({
            algorithm: entry.algorithm,
            parameters: Buffer.from(entry.parameters),
          }))
        : undefined;
    return true;
  }

  /** The attributes of an Allocate request. */
  allocateAttributes(options: AllocateOptions = {}): StunAttributeWriter[] {
    const attributes: StunAttributeWriter[] = [];
    if (options.noRequestedTransport !== true) {
      attributes.push(RequestedTransport.of(options.protocol ?? TRANSPORT_PROTOCOL.UDP));
    }
    if (options.lifetimeSeconds !== undefined) {
      attributes.push(Lifetime.of(options.lifetimeSeconds));
    }
    attributes.push(...(options.attributes ?? []));
    return attributes;
  }

  /** Sends an Allocate without credentials and takes the challenge of the 401 it gets. */
  async challenge(): Promise<Response> {
    const { raw, transactionId } = this.build(STUN_METHOD.Allocate, this.allocateAttributes(), {
      authenticate: false,
    });
    const response = await this.transact(raw, transactionId);
    if (response.code === 401) this.takeChallenge(response.message);
    return response;
  }

  /**
   * Allocate (RFC 8656 §7.1) with `credential`: first without credentials, expecting 401 with
   * REALM and NONCE, then signed. Resolves with the final response, whatever its class.
   */
  async allocate(credential: TurnCredential, options: AllocateOptions = {}): Promise<Response> {
    this.credential = credential;
    if (this.nonce === undefined) {
      const challenge = await this.challenge();
      if (challenge.code !== 401) return challenge;
    }
    return this.request(STUN_METHOD.Allocate, this.allocateAttributes(options));
  }

  /** Allocate that must succeed; returns the relayed address. */
  async mustAllocate(
    credential: TurnCredential,
    options: AllocateOptions = {},
  ): Promise<{ relayed: TransportAddress; lifetime: number; response: Response }> {
    const response = await this.allocate(credential, options);
    if (response.code !== undefined) {
      throw new Error(`Allocate failed with ${response.code}`);
    }
    const relayed = XorRelayedAddress.get(response.message);
    const lifetime = Lifetime.get(response.message);
    if (relayed?.ok !== true || lifetime?.ok !== true) {
      throw new Error('Allocate success without XOR-RELAYED-ADDRESS or LIFETIME');
    }
    return { relayed: relayed.value, lifetime: lifetime.value, response };
  }

  /** Refresh (RFC 8656 §8). */
  refresh(lifetimeSeconds?: number): Promise<Response> {
    return this.request(
      STUN_METHOD.Refresh,
      lifetimeSeconds === undefined ? [] : [Lifetime.of(lifetimeSeconds)],
    );
  }

  /** CreatePermission (RFC 8656 §10) for one or more peers. */
  createPermission(...peers: TransportAddress[]): Promise<Response> {
    return this.request(
      STUN_METHOD.CreatePermission,
      peers.map((peer) => XorPeerAddress.of(peer)),
    );
  }

  /** ChannelBind (RFC 8656 §12). */
  channelBind(channel: number, peer: TransportAddress): Promise<Response> {
    return this.request(STUN_METHOD.ChannelBind, [
      ChannelNumber.of(channel),
      XorPeerAddress.of(peer),
    ]);
  }

  /** A Send indication (RFC 8656 §11.1): unauthenticated, no response. */
  sendIndication(peer: TransportAddress, data: Buffer): void {
    const { raw } = this.build(STUN_METHOD.Send, [XorPeerAddress.of(peer), Data.of(data)], {
      authenticate: false,
      cls: 'indication',
    });
    this.sendRaw(raw);
  }

  /** ChannelData (RFC 8656 §12.4), padded over TCP. */
  sendChannelData(channel: number, data: Buffer): void {
    this.sendRaw(
      encodeChannelData(channel, data, this.transport === 'tcp' ? 'stream' : 'datagram'),
    );
  }

  /** The next Data indication (RFC 8656 §11.4): its peer and data; undefined on timeout. */
  async nextDataIndication(
    timeoutMs: number,
  ): Promise<{ peer: TransportAddress; data: Buffer } | undefined> {
    const received = await this.waitFor(
      (r) => r.stun?.method === STUN_METHOD.Data && r.stun.cls === 'indication',
      timeoutMs,
    );
    if (received?.stun === undefined) return undefined;
    const peer = XorPeerAddress.get(received.stun);
    const data = Data.get(received.stun);
    if (peer?.ok !== true || data?.ok !== true) throw new Error('malformed Data indication');
    return { peer: peer.value, data: Buffer.from(data.value) };
  }

  /** The next ChannelData message: channel and data; undefined on timeout. */
  async nextChannelData(timeoutMs: number): Promise<{ channel: number; data: Buffer } | undefined> {
    const received = await this.waitFor((r) => r.stun === undefined && isChannel(r.raw), timeoutMs);
    if (received === undefined) return undefined;
    const decoded = decodeChannelData(received.raw);
    if (!decoded.ok) throw new Error(`malformed ChannelData: ${decoded.error.reason}`);
    return { channel: decoded.value.channel, data: Buffer.from(decoded.value.data) };
  }

  /** Waits up to `timeoutMs` for a message `match` accepts, taking it out of the inbox. */
  waitFor(
    match: (received: Received) => boolean,
    timeoutMs: number,
  ): Promise<Received | undefined> {
    const index = this.inbox.findIndex(match);
    if (index !== -1) {
      const [found] = this.inbox.splice(index, 1);
      return Promise.resolve(found);
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        match,
        resolve: (received) => {
          clearTimeout(timer);
          resolve(received);
        },
      };
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at !== -1) this.waiters.splice(at, 1);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Everything received and not yet taken; empties the inbox. */
  drain(): Received[] {
    return this.inbox.splice(0, this.inbox.length);
  }

  /** Closes the socket; idempotent. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.udp !== undefined) {
      await new Promise<void>((resolve) => {
        this.udp?.close(() => {
          resolve();
        });
      });
    }
    if (this.tcp !== undefined) {
      this.tcp.destroy();
      await this.tcpClosed;
    }
  }

  private deliver(raw: Buffer): void {
    const decoded = isStun(raw) ? decodeStun(raw) : undefined;
    const received: Received = { raw, stun: decoded?.ok === true ? decoded.value : undefined };
    const index = this.waiters.findIndex((waiter) => waiter.match(received));
    if (index !== -1) {
      const [waiter] = this.waiters.splice(index, 1);
      waiter?.resolve(received);
      return;
    }
    this.inbox.push(received);
  }
}

function isChannel(raw: Buffer): boolean {
  const first = raw[0];
  return first !== undefined && (first & 0xc0) === 0x40;
}

/** A UDP peer of the relay: a socket that records what it receives. */
export class UdpPeer {
  readonly socket: UdpSocket;
  readonly address: TransportAddress;
  private readonly inbox: { data: Buffer; from: TransportAddress }[] = [];
  private readonly waiters: ((item: { data: Buffer; from: TransportAddress }) => void)[] = [];

  private constructor(socket: UdpSocket, address: TransportAddress) {
    this.socket = socket;
    this.address = address;
    socket.on('message', (data, rinfo) => {
      const item = { data, from: { family: 4 as const, address: rinfo.address, port: rinfo.port } };
      const waiter = this.waiters.shift();
      if (waiter !== undefined) waiter(item);
      else this.inbox.push(item);
    });
  }

  /** Binds a peer on `host` (default 127.0.0.1), at `port` (default ephemeral). */
  static async open(host = '127.0.0.1', port = 0): Promise<UdpPeer> {
    const family = host.includes(':') ? 6 : 4;
    const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => undefined);
    const bound = socket.address();
    return new UdpPeer(socket, { family, address: bound.address, port: bound.port });
  }

  /** Sends a datagram to `to`. */
  send(data: Buffer, to: TransportAddress): void {
    this.socket.send(data, to.port, to.address);
  }

  /** The next datagram received, or undefined after `timeoutMs`. */
  next(timeoutMs: number): Promise<{ data: Buffer; from: TransportAddress } | undefined> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const waiter = (item: { data: Buffer; from: TransportAddress }): void => {
        clearTimeout(timer);
        resolve(item);
      };
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at !== -1) this.waiters.splice(at, 1);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Closes the socket; idempotent. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => {
          resolve();
        });
      } catch {
        resolve();
      }
    });
  }
}

/** A Binding request (RFC 8489 §7.1) as raw bytes with its transaction ID. */
export function bindingRequest(fingerprint = false): { raw: Buffer; transactionId: Buffer } {
  const transactionId = newTransactionId();
  const raw = encodeStun(
    { method: STUN_METHOD.Binding, cls: 'request', transactionId, attributes: [] },
    fingerprint ? { fingerprint: true } : {},
  );
  return { raw, transactionId };
}

/** Fetches the admin's Prometheus text. */
export async function fetchMetrics(admin: ServerAddress): Promise<string> {
  const response = await fetch(`http://${admin.host}:${admin.port}/metrics`);
  return response.text();
}

/**
 * The sum of a metric's samples whose labels include every `labels` pair (Prometheus text
 * format); 0 when there is none.
 */
export function metricValue(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match === null || match[1] !== name) continue;
    const labelText = match[2] ?? '';
    const ok = Object.entries(labels).every(([key, value]) =>
      labelText.includes(`${key}="${value}"`),
    );
    if (ok) sum += Number(match[3]);
  }
  return sum;
}

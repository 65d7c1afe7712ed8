/**
 * A minimal TURN-over-UDP client for the load generator (RFC 8656): one UDP socket connected
 * to the server per allocation, long-term credentials from the TURN REST API
 * (draft-uberti-behave-turn-rest: username `<expiry>:<user>`, password
 * base64(HMAC-SHA1(secret, username))), Allocate with the 401 → REALM/NONCE retry,
 * CreatePermission, ChannelBind, Refresh, and ChannelData in both directions.
 */
import { createHmac } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import {
  ChannelNumber,
  ErrorCode,
  Lifetime,
  Nonce,
  Realm,
  RequestedTransport,
  STUN_METHOD,
  TRANSPORT_PROTOCOL,
  Username,
  XorPeerAddress,
  XorRelayedAddress,
  decodeStun,
  encodeStun,
  isStun,
  longTermKey,
  newTransactionId,
  type StunAttributeWriter,
  type StunMessage,
  type TransportAddress,
} from '../../src/codec/stun/index.ts';

/** A TURN REST API credential. */
export interface RestCredential {
  readonly username: string;
  readonly password: string;
}

/**
 * The TURN REST API credential of `user`, valid until `nowSeconds + ttlSeconds`: username
 * `<expiry>:<user>`, password base64(HMAC-SHA1(secret, username)) — what coturn's
 * `use-auth-secret` and Rampart's `auth.secrets` check.
 */
export function restCredential(
  secret: string,
  user: string,
  ttlSeconds: number,
  nowSeconds: number,
): RestCredential {
  const username = `${Math.floor(nowSeconds + ttlSeconds)}:${user}`;
  const password = createHmac('sha1', secret).update(username).digest('base64');
  return { username, password };
}

/** Where the server is and how to authenticate. */
export interface TurnServerTarget {
  readonly host: string;
  readonly port: number;
  readonly credential: RestCredential;
}

/** Why a TURN transaction failed. */
export class TurnTransactionError extends Error {
  readonly code: number | 'timeout' | 'bad-response';
  constructor(method: string, code: number | 'timeout' | 'bad-response', detail = '') {
    super(`${method}: ${String(code)}${detail === '' ? '' : ` ${detail}`}`);
    this.code = code;
  }
}

/** Retransmission schedule: RFC 8489 §6.2.1 starts at 500 ms and doubles; we stop sooner. */
const RETRANSMIT_AFTER_MS = [500, 1000, 2000];
const TRANSACTION_TIMEOUT_MS = 4000;

interface Pending {
  readonly resolve: (msg: StunMessage) => void;
  readonly reject: (error: Error) => void;
  readonly timers: NodeJS.Timeout[];
}

/** The method name of a known method number, for error messages. */
function methodName(method: number): string {
  for (const [name, value] of Object.entries(STUN_METHOD)) if (value === method) return name;
  return `method ${method}`;
}

/**
 * One client 5-tuple: a UDP socket bound on 127.0.0.1 and connected to the server. STUN
 * responses settle transactions; ChannelData goes to {@link TurnClient.onChannelData}.
 */
export class TurnClient {
  readonly #socket: Socket;
  readonly #target: TurnServerTarget;
  readonly #pending = new Map<string, Pending>();
  #realm: string | undefined;
  #nonce: string | undefined;
  #key: Buffer | undefined;
  #closed = false;
  /** Relayed transport address of the allocation, once allocated. */
  relayed: TransportAddress | undefined;
  /** Called with every ChannelData datagram (header included). */
  onChannelData: (datagram: Buffer) => void = () => undefined;
  /** Datagrams that were neither ChannelData nor a response we were waiting for. */
  strayDatagrams = 0;

  private constructor(socket: Socket, target: TurnServerTarget) {
    this.#socket = socket;
    this.#target = target;
    socket.on('message', (datagram) => {
      // Cheap routing first (RFC 7983 / RFC 8656 §12): 0x40–0x4F is a channel.
      if (((datagram[0] as number) & 0xc0) === 0x40) this.onChannelData(datagram);
      else this.#onStun(datagram);
    });
    socket.on('error', () => undefined); // ICMP unreachable on a connected socket: ignore
  }

  /**
   * Opens a socket on `localHost` (an ephemeral port; default 127.0.0.1) connected to the
   * server. Any 127.0.0.0/8 address works on Linux loopback without configuration.
   */
  static open(
    target: TurnServerTarget,
    localHost = '127.0.0.1',
    receiveBufferBytes?: number,
  ): Promise<TurnClient> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({
        type: 'udp4',
        ...(receiveBufferBytes === undefined ? {} : { recvBufferSize: receiveBufferBytes }),
      });
      socket.once('error', reject);
      socket.bind(0, localHost, () => {
        socket.connect(target.port, target.host, () => {
          socket.removeListener('error', reject);
          resolve(new TurnClient(socket, target));
        });
      });
    });
  }

  /** The local port of this 5-tuple. */
  get localPort(): number {
    return this.#socket.address().port;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends raw bytes to the server (ChannelData, or invalid STUN for the flood). */
  send(datagram: Uint8Array): void {
    if (!this.#closed) this.#socket.send(datagram);
  }

  #onStun(datagram: Buffer): void {
    if (!isStun(datagram)) {
      this.strayDatagrams++;
      return;
    }
    const decoded = decodeStun(datagram);
    if (!decoded.ok) {
      this.strayDatagrams++;
      return;
    }
    const key = decoded.value.transactionId.toString('hex');
    const pending = this.#pending.get(key);
    if (pending === undefined) {
      this.strayDatagrams++; // a late answer to a retransmission
      return;
    }
    this.#pending.delete(key);
    for (const timer of pending.timers) clearTimeout(timer);
    pending.resolve(decoded.value);
  }

  /** Sends one request and resolves with its response (success or error class). */
  #transaction(method: number, attributes: readonly StunAttributeWriter[]): Promise<StunMessage> {
    if (this.#closed) return Promise.reject(new Error('client closed'));
    const transactionId = newTransactionId();
    const realm = this.#realm;
    const nonce = this.#nonce;
    const integrityKey = this.#key;
    const authenticated = realm !== undefined && nonce !== undefined && integrityKey !== undefined;
    const request = encodeStun(
      {
        method,
        cls: 'request',
        transactionId,
        attributes: authenticated
          ? [
              ...attributes,
              Username.of(this.#target.credential.username),
              Realm.of(realm),
              Nonce.of(nonce),
            ]
          : attributes,
      },
      authenticated ? { integrity: { key: integrityKey, algorithm: 'sha1' } } : {},
    );
    const key = transactionId.toString('hex');
    return new Promise((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      for (const delay of RETRANSMIT_AFTER_MS) {
        timers.push(
          setTimeout(() => {
            this.send(request);
          }, delay),
        );
      }
      timers.push(
        setTimeout(() => {
          this.#pending.delete(key);
          for (const timer of timers) clearTimeout(timer);
          reject(new TurnTransactionError(methodName(method), 'timeout'));
        }, TRANSACTION_TIMEOUT_MS),
      );
      this.#pending.set(key, { resolve, reject, timers });
      this.send(request);
    });
  }

  /**
   * A request with long-term credentials: on 401 (first contact) or 438 (stale nonce) takes
   * REALM and NONCE from the error response and retries once (RFC 8489 §9.2.4, §9.2.5).
   */
  async #authenticated(
    method: number,
    attributes: readonly StunAttributeWriter[],
  ): Promise<StunMessage> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await this.#transaction(method, attributes);
      if (response.cls === 'success') return response;
      const error = ErrorCode.get(response);
      const code = error?.ok === true ? error.value.code : 'bad-response';
      if (code === 401 || code === 438) {
        const realm = Realm.get(response);
        const nonce = Nonce.get(response);
        if (realm?.ok !== true || nonce?.ok !== true) {
          throw new TurnTransactionError(methodName(method), code, 'without REALM/NONCE');
        }
        // A 401 to a request that carried credentials means they are wrong: stop.
        if (code === 401 && this.#key !== undefined && this.#realm === realm.value) {
          throw new TurnTransactionError(methodName(method), code, 'credentials rejected');
        }
        this.#realm = realm.value;
        this.#nonce = nonce.value;
        this.#key = longTermKey(
          this.#target.credential.username,
          realm.value,
          this.#target.credential.password,
        );
        continue;
      }
      throw new TurnTransactionError(
        methodName(method),
        code,
        error?.ok === true ? error.value.reason : '',
      );
    }
    throw new TurnTransactionError(methodName(method), 'bad-response', 'too many auth retries');
  }

  /** Allocate a UDP relay (RFC 8656 §7.1); sets {@link relayed}. */
  async allocate(lifetimeSeconds?: number): Promise<TransportAddress> {
    const attributes = [RequestedTransport.of(TRANSPORT_PROTOCOL.UDP)];
    if (lifetimeSeconds !== undefined) attributes.push(Lifetime.of(lifetimeSeconds));
    const response = await this.#authenticated(STUN_METHOD.Allocate, attributes);
    const relayed = XorRelayedAddress.get(response);
    if (relayed?.ok !== true) {
      throw new TurnTransactionError('Allocate', 'bad-response', 'no XOR-RELAYED-ADDRESS');
    }
    this.relayed = relayed.value;
    return relayed.value;
  }

  /** CreatePermission for `peer` (RFC 8656 §9). */
  async createPermission(peer: TransportAddress): Promise<void> {
    await this.#authenticated(STUN_METHOD.CreatePermission, [XorPeerAddress.of(peer)]);
  }

  /** ChannelBind `channel` to `peer` (RFC 8656 §12.1). */
  async channelBind(channel: number, peer: TransportAddress): Promise<void> {
    await this.#authenticated(STUN_METHOD.ChannelBind, [
      ChannelNumber.of(channel),
      XorPeerAddress.of(peer),
    ]);
  }

  /** Refresh with `lifetimeSeconds`; 0 deletes the allocation (RFC 8656 §8). */
  async refresh(lifetimeSeconds: number): Promise<void> {
    await this.#authenticated(STUN_METHOD.Refresh, [Lifetime.of(lifetimeSeconds)]);
  }

  /** Closes the socket; pending transactions fail. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [key, pending] of this.#pending) {
      for (const timer of pending.timers) clearTimeout(timer);
      pending.reject(new Error('client closed'));
      this.#pending.delete(key);
    }
    this.#socket.close();
  }
}

/**
 * Runs `task(i)` for i in [0, count) with at most `window` in flight; resolves with every
 * result or error in index order.
 */
export async function runBounded<T>(
  count: number,
  window: number,
  task: (index: number) => Promise<T>,
): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = new Array<PromiseSettledResult<T>>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await task(index) };
      } catch (error) {
        results[index] = { status: 'rejected', reason: error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
  return results;
}

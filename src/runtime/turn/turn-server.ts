/**
 * A TURN server (RFC 8656) with STUN Binding (RFC 8489) on every listener: the driver that
 * joins the codec, the sans-IO pieces of proto/turn (authenticator, allocation machine and
 * table, peer policy, port pool, limiters) and real sockets.
 *
 * Routing (STYLE rule 2): a datagram whose first byte is 0x40–0x7F is ChannelData and goes
 * straight to the client's allocation; only STUN is decoded.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import {
  decodeStun,
  encodeBindingSuccess,
  isStun,
  STUN_HEADER_LENGTH,
  STUN_METHOD,
  XorMappedAddress,
  type StunMessage,
} from '../../codec/stun/index.ts';
import {
  AllocationTable,
  escapeForLog,
  type Allocation,
  type AllocationTableSizes,
  type TokenBucket,
  type TurnAuthenticator,
} from '../../proto/turn/index.ts';
import { udpClientFlow, type ClientFlow } from './client-flow.ts';
import type { TurnContext, TurnServerOptions } from './context.ts';
import { bindUdp, TurnStreamListener, type BoundAddress } from './listeners.ts';
import { RelaySession, type RelayCounters, type RelayHost } from './relay-session.ts';
import type { PeerConnectionRegistry } from './tcp-relay.ts';
import { handleConnect, handleConnectionBind } from './tcp-requests.ts';
import { errorResponse, successResponse, type Signing } from './responses.ts';
import { handleAllocate } from './allocate.ts';
import {
  handleChannelBind,
  handleCreatePermission,
  handleRefresh,
  handleSend,
} from './requests.ts';

export type { TurnContext, TurnServerOptions } from './context.ts';

/** Why a packet or request was dropped; a metric label. */
export type TurnDropReason =
  'not-stun' | 'malformed' | 'no-allocation' | 'rate-limited' | 'response-or-unknown-class';

/** Counters a scrape reads. */
export interface TurnServerStats {
  readonly allocations: number;
  readonly permissions: number;
  readonly channels: number;
  readonly relayed: Readonly<RelayCounters>;
  readonly authFailures: Readonly<Record<string, number>>;
  readonly deniedPeers: Readonly<Record<string, number>>;
  readonly drops: Readonly<Record<string, number>>;
  readonly requests: Readonly<Record<string, number>>;
}

/** See {@link TurnServer.tableSizes}. */
export interface TurnServerTableSizes extends AllocationTableSizes {
  /** Relay sessions, by allocation. */
  readonly sessions: number;
  /** UDP clients with an allocation, over every UDP listener. */
  readonly udpSessions: number;
  /** TCP/TLS connections with an allocation. */
  readonly streamSessions: number;
  /** RFC 6062 peer connections, by CONNECTION-ID. */
  readonly peerConnections: number;
  /** Relay ports reserved or in use in the port pool (shared with a side on the same host). */
  readonly portsInUse: number;
}

/** One live allocation, for `/api/status` (usernames escaped). */
export interface AllocationSummary {
  readonly side: 'external' | 'internal';
  readonly user: string;
  readonly transport: string;
  readonly client: string;
  readonly relayed: string;
  readonly ageSeconds: number;
  readonly expiresInSeconds: number;
  readonly permissions: number;
  readonly channels: number;
  readonly bytesToPeer: number;
  readonly bytesToClient: number;
}

/** A TURN server on one side (external or internal) of the A/V Edge. */
export class TurnServer implements TurnContext {
  /** Replaced by {@link reconfigure}; handlers read it per request. */
  options: TurnServerOptions;
  readonly table: AllocationTable;
  readonly sessions = new Map<Allocation, RelaySession>();
  readonly relayHost: RelayHost;
  readonly peerConnections: PeerConnectionRegistry = new Map();
  /** Bound listeners, for endpoints.json. */
  readonly bound: { transport: 'udp' | 'tcp' | 'tls'; address: BoundAddress }[] = [];
  private readonly udpSockets: { socket: UdpSocket; bound: BoundAddress }[] = [];
  /** Per UDP listener: client `address port` → its session. */
  private readonly udpSessions = new Map<UdpSocket, Map<string, RelaySession>>();
  private readonly streamSessions = new Map<ClientFlow, RelaySession>();
  private readonly streamListeners: TurnStreamListener[] = [];
  private readonly totals: RelayCounters = {
    packetsToPeer: 0,
    bytesToPeer: 0,
    packetsToClient: 0,
    bytesToClient: 0,
    droppedNoPermission: 0,
    droppedBandwidth: 0,
  };
  private readonly authFailures: Record<string, number> = {};
  private readonly deniedPeers: Record<string, number> = {};
  private readonly drops: Record<string, number> = {};
  private readonly requests: Record<string, number> = {};
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private expirySweep: NodeJS.Timeout | undefined;
  private closed = false;
  readonly now: () => number;

  constructor(options: TurnServerOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.table = new AllocationTable(options.ports, {
      maxAllocations: options.quotas.total,
      maxAllocationsPerUser: options.quotas.perUser,
    });
    this.relayHost = {
      now: this.now,
      allowBandwidth: (bucket, bytes, now) => this.options.bandwidth.allow(bucket, bytes, now),
      totals: this.totals,
    };
  }

  /** Binds every listener. */
  async start(): Promise<void> {
    const { host, reusePort } = this.options;
    // Strict expiry: an allocation ends when the REST credential that created it expires.
    this.expirySweep = setInterval(() => {
      if (this.options.strictExpiry) this.endExpiredCredentials();
    }, 1000);
    this.expirySweep.unref();
    if (this.options.udp !== null) {
      const udp = await bindUdp(host, this.options.udp, reusePort);
      this.udpSockets.push(udp);
      this.udpSessions.set(udp.socket, new Map());
      const family = isIPv6(host) ? 6 : 4;
      udp.socket.on('message', (data, rinfo) => {
        this.onDatagram(udp.socket, udp.bound, data, rinfo.address, rinfo.port, family);
      });
      this.bound.push({ transport: 'udp', address: udp.bound });
    }
    const streamHost = {
      frame: (flow: ClientFlow, frame: Buffer, kind: 'stun' | 'channel-data') => {
        if (kind === 'channel-data') {
          this.streamSessions.get(flow)?.fromClientChannel(frame, this.now());
        } else {
          this.onStun(flow, frame);
        }
      },
      closed: (flow: ClientFlow) => {
        const session = this.streamSessions.get(flow);
        if (session !== undefined) {
          this.settle(
            session,
            session.allocation.handle({ type: 'close', reason: 'transport-closed' }, this.now()),
          );
        }
      },
      hasAllocation: (flow: ClientFlow) => this.streamSessions.has(flow),
      rejected: (reason: string) => {
        this.count(this.drops, `stream-${reason}`);
      },
    };
    const listen = async (transport: 'tcp' | 'tls', port: number): Promise<void> => {
      const listener = new TurnStreamListener(
        transport,
        this.options.streamLimits,
        streamHost,
        transport === 'tls' ? this.options.tlsCredentials : undefined,
      );
      const address = await listener.listen(host, port, reusePort);
      this.streamListeners.push(listener);
      this.bound.push({ transport, address });
    };
    if (this.options.tcp !== null) await listen('tcp', this.options.tcp);
    for (const port of this.options.tls) await listen('tls', port);
  }

  /**
   * Configuration reload without restart: credentials, peer policy, bandwidth caps, strict
   * expiry and redirection apply to every request from now on; live allocations stay.
   */
  reconfigure(
    changes: Partial<
      Pick<
        TurnServerOptions,
        | 'authenticator'
        | 'peerPolicy'
        | 'bandwidth'
        | 'strictExpiry'
        | 'alternateServers'
        | 'redirectAbove'
        | 'allocationLimits'
      >
    >,
  ): void {
    this.options = { ...this.options, ...changes };
  }

  /** New certificate for TLS handshakes from now on. */
  setSecureContext(tls: { key: string; cert: string }): void {
    for (const listener of this.streamListeners) listener.setSecureContext(tls);
  }

  /** Counters for metrics. */
  stats(): TurnServerStats {
    let permissions = 0;
    let channels = 0;
    for (const allocation of this.sessions.keys()) {
      permissions += allocation.permissionCount;
      channels += allocation.channelCount;
    }
    return {
      allocations: this.sessions.size,
      permissions,
      channels,
      relayed: this.totals,
      authFailures: this.authFailures,
      deniedPeers: this.deniedPeers,
      drops: this.drops,
      requests: this.requests,
    };
  }

  /**
   * Entries of every per-allocation table of this server: all zero once every allocation has
   * ended (what a leak test checks; also a diagnostic).
   */
  tableSizes(): TurnServerTableSizes {
    let udpSessions = 0;
    for (const sessions of this.udpSessions.values()) udpSessions += sessions.size;
    return {
      ...this.table.sizes(),
      sessions: this.sessions.size,
      udpSessions,
      streamSessions: this.streamSessions.size,
      peerConnections: this.peerConnections.size,
      portsInUse: this.options.ports.usedCount,
    };
  }

  /** Live allocations, optionally of one user (REST usernames match on their user part). */
  allocations(user?: string): AllocationSummary[] {
    const now = this.now();
    const out: AllocationSummary[] = [];
    for (const session of this.sessions.values()) {
      const a = session.allocation;
      if (user !== undefined && !usernameMatches(a.username, user)) continue;
      out.push({
        side: this.options.side,
        user: escapeForLog(a.username),
        transport: a.fiveTuple.transport,
        client: `${a.fiveTuple.clientAddress}:${a.fiveTuple.clientPort}`,
        relayed: `${a.relayed.address}:${a.relayed.port}`,
        ageSeconds: Math.round((now - session.createdAt) / 1000),
        expiresInSeconds: Math.max(0, Math.round((a.expiresAtMs - now) / 1000)),
        permissions: a.permissionCount,
        channels: a.channelCount,
        bytesToPeer: session.counters.bytesToPeer,
        bytesToClient: session.counters.bytesToClient,
      });
    }
    return out;
  }

  /** Ends every allocation of `user`; returns how many. */
  disconnect(user: string): number {
    let ended = 0;
    for (const session of [...this.sessions.values()]) {
      if (!usernameMatches(session.allocation.username, user)) continue;
      this.settle(
        session,
        session.allocation.handle({ type: 'close', reason: 'admin' }, this.now()),
      );
      session.client.close();
      ended++;
    }
    return ended;
  }

  /** Ends every allocation and closes every socket; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.expirySweep) clearInterval(this.expirySweep);
    for (const session of [...this.sessions.values()]) {
      this.settle(
        session,
        session.allocation.handle({ type: 'close', reason: 'shutdown' }, this.now()),
      );
    }
    for (const { socket } of this.udpSockets) {
      try {
        socket.close();
      } catch {
        // Already closed.
      }
    }
    await Promise.all(this.streamListeners.map((listener) => listener.close()));
  }

  // ---- TurnContext ----------------------------------------------------------------------

  send(flow: ClientFlow, message: Buffer): void {
    flow.send(message);
  }

  sessionOf(flow: ClientFlow): RelaySession | undefined {
    if (flow.framing === 'stream') return this.streamSessions.get(flow);
    for (const [socket, sessions] of this.udpSessions) {
      if (flow.fiveTuple.serverPort === this.boundOf(socket)?.port) {
        return sessions.get(flow.clientKey);
      }
    }
    return undefined;
  }

  addSession(flow: ClientFlow, session: RelaySession): void {
    this.sessions.set(session.allocation, session);
    if (flow.framing === 'stream') {
      this.streamSessions.set(flow, session);
    } else {
      for (const [socket, sessions] of this.udpSessions) {
        if (flow.fiveTuple.serverPort === this.boundOf(socket)?.port) {
          sessions.set(flow.clientKey, session);
        }
      }
    }
    this.schedule();
  }

  settle(session: RelaySession, actions: readonly { type: string }[]): void {
    const allocation = session.allocation;
    for (const action of actions) {
      if (action.type === 'terminated') this.endSession(session, action);
    }
    this.table.touch(allocation);
    this.schedule();
  }

  countDenied(reason: string): void {
    this.count(this.deniedPeers, reason);
  }

  bucket(): TokenBucket | undefined {
    return this.options.bandwidth.bucketForAllocation(this.now());
  }

  // ---- input ----------------------------------------------------------------------------

  private onDatagram(
    socket: UdpSocket,
    local: BoundAddress,
    data: Buffer,
    address: string,
    port: number,
    family: 4 | 6,
  ): void {
    const first = data[0];
    if (first !== undefined && first >= 0x40 && first <= 0x7f && data.length >= 4) {
      // RFC 8656 §12.6: ChannelData from a client; the 5-tuple names the allocation.
      const session = this.udpSessions.get(socket)?.get(`${address} ${port}`);
      if (session === undefined) {
        this.count(this.drops, 'no-allocation');
        return;
      }
      session.fromClientChannel(data, this.now());
      return;
    }
    if (!isStun(data)) {
      this.count(this.drops, 'not-stun');
      return;
    }
    this.onStun(udpClientFlow(socket, local, address, port, family), data);
  }

  private onStun(flow: ClientFlow, data: Buffer): void {
    // The busiest request: a Binding request with no attributes (ICE checks, keepalives).
    // Answered without decoding, in one buffer (RFC 8489 §7.3.1).
    if (data.length === STUN_HEADER_LENGTH && data.readUInt16BE(0) === BINDING_REQUEST) {
      this.count(this.requests, 'Binding');
      this.send(
        flow,
        encodeBindingSuccess(data, {
          family: flow.family,
          address: flow.clientAddress,
          port: flow.clientPort,
        }),
      );
      return;
    }
    const decoded = decodeStun(data);
    if (!decoded.ok) {
      this.count(this.drops, 'malformed');
      // RFC 8489 §6.3.1: a request that cannot be parsed further than its header gets 400.
      const header = decoded.error.header;
      if (header?.cls === 'request' && header.method === STUN_METHOD.Binding) {
        this.answerError(flow, () => errorResponse(header, 400, []));
      }
      return;
    }
    const message = decoded.value;
    if (message.cls === 'indication') {
      if (message.method === STUN_METHOD.Send) handleSend(this, flow, message);
      return;
    }
    if (message.cls !== 'request') {
      this.count(this.drops, 'response-or-unknown-class');
      return;
    }
    this.count(this.requests, methodName(message.method));
    if (message.method === STUN_METHOD.Binding) {
      this.onBinding(flow, message);
      return;
    }
    this.onAuthenticatedRequest(flow, message);
  }

  /** RFC 8489 §7.3.1: Binding needs no credentials; the answer is the source address. */
  private onBinding(flow: ClientFlow, request: StunMessage): void {
    if (request.unknownComprehensionRequired.length > 0) {
      this.answerError(flow, () =>
        errorResponse(request, 420, [], undefined, request.unknownComprehensionRequired),
      );
      return;
    }
    this.send(
      flow,
      successResponse(request, [
        XorMappedAddress.of({
          family: flow.family,
          address: flow.clientAddress,
          port: flow.clientPort,
        }),
      ]),
    );
  }

  /** An error answer to an unauthenticated request, within the source's answer budget. */
  private answerError(flow: ClientFlow, response: () => Buffer): void {
    if (!this.options.authenticator.mayAnswerError(flow.clientAddress, this.now())) {
      this.count(this.drops, 'rate-limited');
      return;
    }
    this.send(flow, response());
  }

  private onAuthenticatedRequest(flow: ClientFlow, request: StunMessage): void {
    const auth = this.options.authenticator.authenticate(request, flow.clientAddress, this.now());
    if (!auth.ok) {
      this.count(this.authFailures, auth.reason);
      if (auth.challenge === undefined) {
        this.count(this.drops, 'rate-limited');
        return;
      }
      this.send(flow, challengeResponse(request, auth.challenge));
      return;
    }
    const signing: Signing = { key: auth.key, integrity: auth.integrity };
    // RFC 8489 §6.3.1: unknown comprehension-required attributes → 420, after authentication
    // (an unauthenticated sender never gets its attributes reflected).
    if (request.unknownComprehensionRequired.length > 0) {
      this.send(
        flow,
        errorResponse(request, 420, [], signing, request.unknownComprehensionRequired),
      );
      return;
    }
    switch (request.method) {
      case STUN_METHOD.Allocate:
        handleAllocate(this, flow, request, auth, signing).catch((error: unknown) => {
          this.options.logger.error({ error: String(error) }, 'turn allocate failed');
          this.send(flow, errorResponse(request, 500, [], signing));
        });
        return;
      case STUN_METHOD.Refresh:
        handleRefresh(this, flow, request, auth, signing);
        return;
      case STUN_METHOD.CreatePermission:
        handleCreatePermission(this, flow, request, auth, signing);
        return;
      case STUN_METHOD.ChannelBind:
        handleChannelBind(this, flow, request, auth, signing);
        return;
      case STUN_METHOD.Connect:
        handleConnect(this, flow, request, auth, signing).catch((error: unknown) => {
          this.options.logger.error({ error: String(error) }, 'turn connect failed');
        });
        return;
      case STUN_METHOD.ConnectionBind:
        handleConnectionBind(this, flow, request, auth, signing);
        return;
      default:
        // RFC 8489 §6.3.1: a request of an unknown method → 400.
        this.send(flow, errorResponse(request, 400, [], signing));
    }
  }

  // ---- lifecycle ------------------------------------------------------------------------

  private endExpiredCredentials(): void {
    const now = this.now();
    for (const session of [...this.sessions.values()]) {
      const expiresAt = session.credentialExpiresAt;
      if (expiresAt === undefined || expiresAt * 1000 > now) continue;
      this.settle(session, session.allocation.handle({ type: 'close', reason: 'admin' }, now));
    }
  }

  private endSession(session: RelaySession, action: { type: string }): void {
    const allocation = session.allocation;
    if (!this.sessions.delete(allocation)) return;
    this.streamSessions.delete(session.client);
    for (const sessions of this.udpSessions.values()) {
      if (sessions.get(session.client.clientKey) === session)
        sessions.delete(session.client.clientKey);
    }
    session.close();
    // The table frees the main relay port; a dual-stack allocation's second one is ours.
    if (allocation.additionalRelayed !== undefined) {
      this.options.ports.release(allocation.additionalRelayed.port);
    }
    const now = this.now();
    // One JSON line per closed allocation: who, where, how long, how much.
    this.options.logger.info(
      {
        event: 'allocation-closed',
        side: this.options.side,
        reason: 'reason' in action ? action.reason : 'unknown',
        user: escapeForLog(allocation.username),
        transport: allocation.fiveTuple.transport,
        client: `${allocation.fiveTuple.clientAddress}:${allocation.fiveTuple.clientPort}`,
        server: `${allocation.fiveTuple.serverAddress}:${allocation.fiveTuple.serverPort}`,
        relayed: `${allocation.relayed.address}:${allocation.relayed.port}`,
        durationSeconds: Math.round((now - session.createdAt) / 1000),
        bytesToPeer: session.counters.bytesToPeer,
        bytesToClient: session.counters.bytesToClient,
        packetsToPeer: session.counters.packetsToPeer,
        packetsToClient: session.counters.packetsToClient,
      },
      'turn allocation closed',
    );
    this.options.onAllocationClosed?.();
  }

  private schedule(): void {
    if (this.closed) return;
    const at = this.table.nextTimeoutAt;
    if (at === undefined || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.onTimer();
      },
      Math.max(0, at - this.now()),
    );
    this.timer.unref();
  }

  private onTimer(): void {
    const now = this.now();
    const due = this.table.takeDue(now);
    for (const allocation of due.allocations) {
      const session = this.sessions.get(allocation);
      const actions = allocation.handle({ type: 'timer' }, now);
      if (session === undefined) this.table.touch(allocation);
      else this.settle(session, actions);
    }
    this.schedule();
  }

  private boundOf(socket: UdpSocket): BoundAddress | undefined {
    return this.udpSockets.find((u) => u.socket === socket)?.bound;
  }

  private count(record: Record<string, number>, key: string): void {
    record[key] = (record[key] ?? 0) + 1;
  }
}

/** REST usernames (`expiry:user`) match on the user part too. */
function usernameMatches(username: string, user: string): boolean {
  if (username === user) return true;
  const at = username.indexOf(':');
  return at !== -1 && /^\d+$/.test(username.slice(0, at)) && username.slice(at + 1) === user;
}

/** Binding method, request class: the message type field of RFC 8489 §5. */
const BINDING_REQUEST = 0x0001;

const METHOD_NAMES = new Map<number, string>(
  Object.entries(STUN_METHOD).map(([name, value]) => [value, name]),
);

function methodName(method: number): string {
  return METHOD_NAMES.get(method) ?? 'other';
}

function challengeResponse(
  request: StunMessage,
  challenge: NonNullable<
    Extract<ReturnType<TurnAuthenticator['authenticate']>, { ok: false }>['challenge']
  >,
): Buffer {
  return errorResponse(request, challenge.code, [], undefined, undefined, challenge);
}

/**
 * One allocation at work: its relay socket, the client flow, and the two data paths of RFC
 * 8656 — client → peer (Send indication §11.2, ChannelData §12.6) and peer → client (Data
 * indication §11.3, ChannelData §12.5). The hot path does map lookups and a send, never a
 * decode: a datagram from a peer is checked against the permission table by its source IP.
 */
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import {
  Data,
  encodeStun,
  STUN_METHOD,
  XorPeerAddress,
  writeChannelDataHeader,
} from '../../codec/stun/index.ts';
import type { Allocation, TokenBucket } from '../../proto/turn/index.ts';
import type { ClientFlow } from './client-flow.ts';
import type { TcpRelay } from './tcp-relay.ts';

/** Counters of one allocation, for its closing log line and for metrics. */
export interface RelayCounters {
  /** Client → peer. */
  packetsToPeer: number;
  bytesToPeer: number;
  /** Peer → client. */
  packetsToClient: number;
  bytesToClient: number;
  /** Peer datagrams dropped: no permission. */
  droppedNoPermission: number;
  /** Dropped by a bandwidth cap. */
  droppedBandwidth: number;
}

/** What the session asks of the server that owns it. */
export interface RelayHost {
  now(): number;
  /** Whether the server-wide and per-allocation caps let `bytes` through. */
  allowBandwidth(bucket: TokenBucket | undefined, bytes: number, now: number): boolean;
  /** Server-wide counters, summed at scrape time. */
  readonly totals: RelayCounters;
}

const PADDING = Buffer.alloc(3);

/** A live allocation: its relay socket and client. */
export class RelaySession {
  readonly allocation: Allocation;
  readonly client: ClientFlow;
  /** The UDP relay socket; undefined for a TCP allocation (RFC 6062). */
  readonly relay: UdpSocket | undefined;
  /** The second relay socket of a dual-stack allocation (ADDITIONAL-ADDRESS-FAMILY). */
  readonly additionalRelay: UdpSocket | undefined;
  /** The TCP relay of a TCP allocation (RFC 6062). */
  tcp: TcpRelay | undefined;
  readonly createdAt: number;
  readonly counters: RelayCounters = {
    packetsToPeer: 0,
    bytesToPeer: 0,
    packetsToClient: 0,
    bytesToClient: 0,
    droppedNoPermission: 0,
    droppedBandwidth: 0,
  };
  /** REST credentials: when they expire (Unix seconds), for strict expiry. */
  readonly credentialExpiresAt: number | undefined;
  private readonly host: RelayHost;
  private readonly bucket: TokenBucket | undefined;

  constructor(
    allocation: Allocation,
    client: ClientFlow,
    relay: UdpSocket | undefined,
    host: RelayHost,
    bucket: TokenBucket | undefined,
    credentialExpiresAt: number | undefined,
    additionalRelay?: UdpSocket,
  ) {
    this.allocation = allocation;
    this.client = client;
    this.relay = relay;
    this.host = host;
    this.bucket = bucket;
    this.createdAt = host.now();
    this.credentialExpiresAt = credentialExpiresAt;
    this.tcp = undefined;
    this.additionalRelay = additionalRelay;
    // Relay sockets come from bindUdp, which already ignores their errors (ICMP and the
    // like are not the session's end). One shared listener, the session found by socket:
    // no closure and context per socket.
    for (const socket of [relay, additionalRelay]) {
      if (socket === undefined) continue;
      (socket as RelaySocket)[SESSION] = this;
      socket.on('message', onRelayMessage);
    }
  }

  /**
   * RFC 8656 §12.6: ChannelData from the client, `message` starting at its 4-byte header.
   * Unbound channel, or no permission: "silently discarded".
   */
  fromClientChannel(message: Buffer, now: number): void {
    const channel = message.readUInt16BE(0);
    const length = message.readUInt16BE(2);
    if (length > message.length - 4) return;
    const peer = this.allocation.peerForChannel(channel, now);
    if (peer === undefined || !this.allocation.hasPermission(peer.address, now)) {
      this.counters.droppedNoPermission++;
      this.host.totals.droppedNoPermission++;
      return;
    }
    this.toPeer(message.subarray(4, 4 + length), peer.address, peer.port, now);
  }

  /** RFC 8656 §11.2: the DATA of a Send indication, to a peer already checked by the caller. */
  toPeer(data: Buffer, address: string, port: number, now: number): void {
    if (!this.host.allowBandwidth(this.bucket, data.length, now)) {
      this.counters.droppedBandwidth++;
      this.host.totals.droppedBandwidth++;
      return;
    }
    // A dual-stack allocation sends to IPv6 peers from its IPv6 relay.
    const socket =
      this.additionalRelay !== undefined && address.includes(':')
        ? this.additionalRelay
        : this.relay;
    if (socket === undefined) return;
    socket.send(data, port, address);
    this.counters.packetsToPeer++;
    this.counters.bytesToPeer += data.length;
    this.host.totals.packetsToPeer++;
    this.host.totals.bytesToPeer += data.length;
  }

  /** A datagram reached the relay address. */
  fromPeer(data: Buffer, address: string, port: number): void {
    const now = this.host.now();
    // RFC 8656 §11.3 / §12.5: relayed only with a permission for the peer's IP address.
    if (!this.allocation.hasPermission(address, now)) {
      this.counters.droppedNoPermission++;
      this.host.totals.droppedNoPermission++;
      return;
    }
    if (!this.host.allowBandwidth(this.bucket, data.length, now)) {
      this.counters.droppedBandwidth++;
      this.host.totals.droppedBandwidth++;
      return;
    }
    const channel = this.allocation.channelForPeer(address, port, now);
    let sent: boolean;
    if (channel !== undefined && data.length <= 0xffff) {
      // §12.5: "the server MUST use the ChannelData message" when a channel is bound.
      const header = Buffer.allocUnsafe(4);
      writeChannelDataHeader(header, 0, channel, data.length);
      const padding = this.client.framing === 'stream' ? (4 - (data.length & 3)) & 3 : 0;
      sent = this.client.send(
        padding === 0 ? [header, data] : [header, data, PADDING.subarray(0, padding)],
      );
    } else {
      // §11.3: a Data indication with XOR-PEER-ADDRESS and DATA.
      sent = this.client.send(
        encodeStun({
          method: STUN_METHOD.Data,
          cls: 'indication',
          transactionId: transactionIdScratch(),
          attributes: [
            XorPeerAddress.of({ family: address.includes(':') ? 6 : 4, address, port }),
            Data.of(data),
          ],
        }),
      );
    }
    if (!sent) return;
    this.counters.packetsToClient++;
    this.counters.bytesToClient += data.length;
    this.host.totals.packetsToClient++;
    this.host.totals.bytesToClient += data.length;
  }

  /** Closes the relay socket; idempotent. */
  close(): void {
    this.tcp?.close();
    for (const socket of [this.relay, this.additionalRelay]) {
      if (socket === undefined) continue;
      (socket as RelaySocket)[SESSION] = undefined;
      socket.off('message', onRelayMessage);
      try {
        socket.close();
      } catch {
        // Already closed.
      }
    }
  }
}

/**
 * The session of a relay socket, kept on the socket itself: a property read per datagram,
 * cheaper than a map lookup on the relay path.
 */
const SESSION = Symbol('rampart.turn.relay-session');
type RelaySocket = UdpSocket & { [SESSION]?: RelaySession | undefined };

/** The `message` listener of every relay socket (`this` is the socket). */
function onRelayMessage(this: RelaySocket, data: Buffer, rinfo: RemoteInfo): void {
  this[SESSION]?.fromPeer(data, rinfo.address, rinfo.port);
}

/**
 * Indications need a transaction ID but nobody matches on it: a counter-based ID avoids a
 * random draw per Data indication.
 */
const scratch = Buffer.alloc(12);
let sequence = 0;
function transactionIdScratch(): Buffer {
  sequence = (sequence + 1) >>> 0;
  scratch.writeUInt32BE(sequence, 8);
  return scratch;
}

import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import {
  assertAllocationTransition,
  desiredLifetimeSeconds,
  fiveTupleKey,
  resolveAllocationLimits,
  TURN_CONSTANTS,
  type AllocationAction,
  type AllocationErrorCode,
  type AllocationErrorReason,
  type AllocationEvent,
  type AllocationLimits,
  type AllocationRequest,
  type AllocationState,
  type AllocationTerminationReason,
  type ChannelState,
  type FiveTuple,
  type TransportAddress,
} from './allocation-types.ts';

/** What an allocation is created with, after the Allocate request passed every check. */
export interface AllocationInit {
  readonly fiveTuple: FiveTuple;
  /** RFC 8656 §6: the username and realm of the Allocate request that created it. */
  readonly username: string;
  readonly realm: string;
  /** RFC 8656 §6: "the server MUST NOT store the password explicitly and MUST store the key". */
  readonly integrityKey?: Uint8Array;
  readonly relayed: TransportAddress;
  /**
   * RFC 8656 §7.2 (ADDITIONAL-ADDRESS-FAMILY): a second relayed address, of the other family
   * (dual stack, RFC 6156 semantics). Peers of either family are then allowed.
   */
  readonly additionalRelayed?: TransportAddress;
  /** As computed by {@link desiredLifetimeSeconds} (the Allocate response's LIFETIME). */
  readonly lifetimeSeconds: number;
  readonly limits?: Partial<AllocationLimits>;
}

interface Channel {
  state: ChannelState;
  readonly peer: TransportAddress;
  /** While bound: when the binding expires. While held: when the number is freed. */
  until: number;
}

const SECOND = 1000;

/**
 * One TURN allocation (RFC 8656 §6): its lifetime, permissions (§9) and channel bindings (§12).
 * Sans-IO: `handle(event, now)` returns the actions to perform; the driver runs one timer at
 * `nextTimeoutAt` and feeds `{ type: 'timer' }`. The relay path asks `hasPermission`,
 * `peerForChannel` and `channelForPeer`, which compare against `now` themselves, so a late
 * timer never relays for an expired permission.
 *
 * State is plain Maps keyed by strings and numbers, no closures per entry. Channels are found
 * by peer with a scan of the channel map (at most `maxChannels` entries, usually one): cheaper
 * than a second map per allocation and a key string built per relayed datagram.
 */
export class Allocation {
  /** The 5-tuple, and its registry key. */
  readonly fiveTuple: FiveTuple;
  readonly key: string;
  readonly username: string;
  readonly realm: string;
  /**
   * The key, one byte per character: a 16- or 32-byte string is one small heap object, where
   * a Uint8Array costs a view, an ArrayBuffer and an off-heap backing store per allocation.
   */
  private readonly integrityKeyBytes: string | undefined;
  readonly relayed: TransportAddress;
  readonly additionalRelayed: TransportAddress | undefined;
  private readonly limits: AllocationLimits;
  /** Families of the relayed addresses, as {@link familyBit}s: peers of any other get 443. */
  private readonly relayedFamilies: number;
  private currentState: AllocationState = 'active';
  private expiresAt: number;
  private readonly permissions = new Map<string, number>();
  private readonly channels = new Map<number, Channel>();
  private nextDeadline: number | undefined;

  constructor(init: AllocationInit, now: number) {
    this.fiveTuple = init.fiveTuple;
    this.key = fiveTupleKey(init.fiveTuple);
    this.username = init.username;
    this.realm = init.realm;
    this.integrityKeyBytes =
      init.integrityKey === undefined
        ? undefined
        : Buffer.from(
            init.integrityKey.buffer,
            init.integrityKey.byteOffset,
            init.integrityKey.byteLength,
          ).toString('latin1');
    this.relayed = init.relayed;
    this.additionalRelayed = init.additionalRelayed;
    this.relayedFamilies =
      familyBit(init.relayed.address) |
      (init.additionalRelayed === undefined ? 0 : familyBit(init.additionalRelayed.address));
    this.limits = resolveAllocationLimits(init.limits);
    if (!Number.isSafeInteger(init.lifetimeSeconds) || init.lifetimeSeconds <= 0) {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'lifetimeSeconds must be positive');
    }
    this.expiresAt = now + init.lifetimeSeconds * SECOND;
    this.nextDeadline = this.expiresAt;
  }

  /** RFC 8656 §6: the long-term credential key of the username that created it (a copy). */
  get integrityKey(): Uint8Array | undefined {
    if (this.integrityKeyBytes === undefined) return undefined;
    return Uint8Array.from(Buffer.from(this.integrityKeyBytes, 'latin1'));
  }

  /** The current state. */
  get state(): AllocationState {
    return this.currentState;
  }

  /** When the driver must deliver `{ type: 'timer' }`; undefined once terminated. */
  get nextTimeoutAt(): number | undefined {
    return this.nextDeadline;
  }

  /** When the allocation expires unless refreshed. */
  get expiresAtMs(): number {
    return this.expiresAt;
  }

  /** Number of installed permissions. */
  get permissionCount(): number {
    return this.permissions.size;
  }

  /** Number of channel numbers in use (bound or held). */
  get channelCount(): number {
    return this.channels.size;
  }

  /** RFC 8656 §9: whether a permission for `address` (canonical text) is installed at `now`. */
  hasPermission(address: string, now: number): boolean {
    const until = this.permissions.get(address);
    return until !== undefined && until > now && this.currentState === 'active';
  }

  /** The peer bound to `channel` at `now` (ChannelData from the client); undefined if none. */
  peerForChannel(channel: number, now: number): TransportAddress | undefined {
    const entry = this.channels.get(channel);
    if (entry?.state !== 'bound' || entry.until <= now || this.currentState !== 'active') {
      return undefined;
    }
    return entry.peer;
  }

  /**
   * The channel bound to a peer transport address at `now` (a datagram from the peer goes out
   * as ChannelData when there is one, RFC 8656 §12.5 "MUST use the ChannelData message").
   */
  channelForPeer(address: string, port: number, now: number): number | undefined {
    const channel = this.channelNumberOf(address, port);
    if (channel === undefined) return undefined;
    return this.peerForChannel(channel, now) === undefined ? undefined : channel;
  }

  /** The channel number (bound or held) of a peer transport address. */
  private channelNumberOf(address: string, port: number): number | undefined {
    for (const [number, channel] of this.channels) {
      if (channel.peer.port === port && channel.peer.address === address) return number;
    }
    return undefined;
  }

  /** Feeds one event at time `now` (ms) and returns the actions to perform, in order. */
  handle(event: AllocationEvent, now: number): readonly AllocationAction[] {
    if (this.currentState === 'terminated') {
      // RFC 8656 §5: "if the 5-tuple does not identify an existing allocation, then the message
      // MUST either be rejected with a 437 Allocation Mismatch error (if it is a request)".
      if (event.type === 'timer' || event.type === 'close') return [];
      return [error(event.type, 437, 'allocation-mismatch')];
    }
    let actions: readonly AllocationAction[];
    switch (event.type) {
      case 'refresh':
      case 'create-permission':
      case 'channel-bind':
        // RFC 8656 §5: a request whose username differs from the one that created the
        // allocation "MUST be rejected with a 441 (Wrong Credentials) error".
        if (event.username !== this.username) {
          return [error(event.type, 441, 'wrong-credentials')];
        }
        actions =
          event.type === 'refresh'
            ? this.onRefresh(event.lifetimeSeconds, now)
            : event.type === 'create-permission'
              ? this.onCreatePermission(event.peers, now)
              : this.onChannelBind(event.channel, event.peer, now);
        break;
      case 'timer':
        actions = this.onTimer(now);
        break;
      case 'close':
        actions = [this.terminate(event.reason)];
        break;
    }
    this.recomputeDeadline();
    return actions;
  }

  private onRefresh(requested: number | undefined, now: number): readonly AllocationAction[] {
    const lifetime = desiredLifetimeSeconds(requested, this.limits, true);
    // RFC 8656 §8.2: "If the "desired lifetime" is zero, then the request succeeds and the
    // allocation is deleted."
    if (lifetime === 0) {
      return [{ type: 'refresh-success', lifetimeSeconds: 0 }, this.terminate('deleted')];
    }
    // "If the "desired lifetime" is non-zero, then the request succeeds and the allocation's
    // time-to-expiry is set to the "desired lifetime"."
    this.expiresAt = now + lifetime * SECOND;
    return [{ type: 'refresh-success', lifetimeSeconds: lifetime }];
  }

  private onCreatePermission(peers: readonly string[], now: number): readonly AllocationAction[] {
    // RFC 8656 §10.2: the request "MUST contain at least one XOR-PEER-ADDRESS attribute".
    if (peers.length === 0) return [error('create-permission', 400, 'no-peer-address')];
    // §10.2: a peer of another family than the relayed address "MUST generate an error
    // response with the 443 (Peer Address Family Mismatch) response code".
    if (peers.some((peer) => (this.relayedFamilies & familyBit(peer)) === 0)) {
      return [error('create-permission', 443, 'peer-address-family-mismatch')];
    }
    const fresh = new Set(peers.filter((peer) => !this.permissions.has(peer)));
    // §10.2: unable to fulfil "due to some capacity limit or similar" → 508; all or nothing.
    if (this.permissions.size + fresh.size > this.limits.maxPermissions) {
      return [error('create-permission', 508, 'permission-quota')];
    }
    for (const peer of peers) this.installPermission(peer, now);
    return [{ type: 'create-permission-success', installed: peers.length }];
  }

  private onChannelBind(
    channel: number,
    peer: TransportAddress,
    now: number,
  ): readonly AllocationAction[] {
    // RFC 8656 §12.2: the server checks that "The channel number is in the range 0x4000
    // through 0x4FFF (inclusive)" ... "If any of these tests fail, the server replies with a
    // 400 (Bad Request) error."
    if (
      !Number.isInteger(channel) ||
      channel < TURN_CONSTANTS.CHANNEL_NUMBER_MIN ||
      channel > TURN_CONSTANTS.CHANNEL_NUMBER_MAX
    ) {
      return [error('channel-bind', 400, 'bad-channel-number')];
    }
    if ((this.relayedFamilies & familyBit(peer.address)) === 0) {
      return [error('channel-bind', 443, 'peer-address-family-mismatch')];
    }
    const existing = this.channels.get(channel);
    // "The channel number is not currently bound to a different transport address (same
    // transport address is OK)".
    if (
      existing !== undefined &&
      (existing.peer.port !== peer.port || existing.peer.address !== peer.address)
    ) {
      const reason =
        existing.state === 'bound' ? 'channel-bound-to-other-peer' : 'channel-held-for-other-peer';
      return [error('channel-bind', 400, reason)];
    }
    // "The transport address is not currently bound to a different channel number."
    const boundChannel = this.channelNumberOf(peer.address, peer.port);
    if (boundChannel !== undefined && boundChannel !== channel) {
      const other = this.channels.get(boundChannel);
      const reason =
        other?.state === 'held' ? 'peer-held-for-other-channel' : 'peer-bound-to-other-channel';
      return [error('channel-bind', 400, reason)];
    }
    // §12.2: "If the request is valid, but the server is unable to fulfill the request due to
    // some capacity limit or similar, the server replies with a 508 (Insufficient Capacity)".
    if (existing === undefined && this.channels.size >= this.limits.maxChannels) {
      return [error('channel-bind', 508, 'channel-quota')];
    }
    if (
      !this.permissions.has(peer.address) &&
      this.permissions.size >= this.limits.maxPermissions
    ) {
      return [error('channel-bind', 508, 'permission-quota')];
    }
    // "the server creates or refreshes the channel binding ... The server also installs or
    // refreshes a permission for the IP address in the XOR-PEER-ADDRESS attribute".
    const until = now + TURN_CONSTANTS.CHANNEL_LIFETIME_SECONDS * SECOND;
    const refreshed = existing?.state === 'bound';
    if (existing === undefined) {
      this.channels.set(channel, { state: 'bound', peer, until });
    } else {
      // §12: "Refreshing the binding ... resets the time-to-expiry timer back to 10 minutes";
      // a held number goes back to the same peer.
      if (existing.state === 'held') this.transitionChannel(existing, 'bound');
      existing.until = until;
    }
    this.installPermission(peer.address, now);
    return [{ type: 'channel-bind-success', channel, peer, refreshed }];
  }

  private onTimer(now: number): readonly AllocationAction[] {
    // RFC 8656 §6: "When an allocation expires, the state data associated with the allocation
    // can be freed"; §9/§12: its permissions and channels expire with it.
    if (this.expiresAt <= now) return [this.terminate('expired')];
    const actions: AllocationAction[] = [];
    // §9: "the permission expires and is deleted".
    for (const [address, until] of this.permissions) {
      if (until <= now) {
        this.permissions.delete(address);
        actions.push({ type: 'permission-expired', address });
      }
    }
    const hold = this.limits.channelReuseHoldSeconds * SECOND;
    for (const [number, channel] of this.channels) {
      if (channel.until > now) continue;
      if (channel.state === 'bound') {
        // §12: "When the channel binding expires, the channel becomes unbound."
        actions.push({ type: 'channel-expired', channel: number, peer: channel.peer });
        if (hold > 0) {
          this.transitionChannel(channel, 'held');
          channel.until += hold;
          if (channel.until > now) continue;
        }
      }
      this.channels.delete(number);
    }
    return actions;
  }

  private installPermission(address: string, now: number): void {
    // RFC 8656 §9: created or "reset to Permission Lifetime", which "MUST be 300 seconds".
    this.permissions.set(address, now + TURN_CONSTANTS.PERMISSION_LIFETIME_SECONDS * SECOND);
  }

  private terminate(reason: AllocationTerminationReason): AllocationAction {
    assertAllocationTransition('allocation', this.currentState, 'terminated');
    this.currentState = 'terminated';
    this.permissions.clear();
    this.channels.clear();
    return { type: 'terminated', reason };
  }

  private transitionChannel(channel: Channel, to: ChannelState): void {
    assertAllocationTransition('channel', channel.state, to);
    channel.state = to;
  }

  private recomputeDeadline(): void {
    if (this.currentState === 'terminated') {
      this.nextDeadline = undefined;
      return;
    }
    let next = this.expiresAt;
    for (const until of this.permissions.values()) if (until < next) next = until;
    for (const channel of this.channels.values()) if (channel.until < next) next = channel.until;
    this.nextDeadline = next;
  }
}

/** An address's family as one bit (IPv4 1, IPv6 2): a set of families is a number. */
function familyBit(address: string): number {
  return address.includes(':') ? 2 : 1;
}

function error(
  request: AllocationRequest,
  code: AllocationErrorCode,
  reason: AllocationErrorReason,
): AllocationAction {
  return { type: 'error', request, code, reason };
}

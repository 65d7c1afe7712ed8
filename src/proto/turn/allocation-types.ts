import { ERROR_CODES, RampartError } from '../../lib/errors.ts';

/** Client-to-server transports TURN runs over (RFC 8656 §3.1, RFC 7350 for DTLS). */
export type TurnTransport = 'udp' | 'tcp' | 'tls' | 'dtls';

/** An IP address (canonical text) and port. */
export interface TransportAddress {
  readonly address: string;
  readonly port: number;
}

/**
 * RFC 8656 §2: the 5-tuple "(client IP address, client port, server IP address, server port,
 * and transport protocol)" that identifies an allocation.
 */
export interface FiveTuple {
  readonly transport: TurnTransport;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly serverAddress: string;
  readonly serverPort: number;
}

/** The registry key of a 5-tuple: one string concatenation, no parsing. */
export function fiveTupleKey(tuple: FiveTuple): string {
  return `${tuple.transport} ${tuple.clientAddress} ${tuple.clientPort} ${tuple.serverAddress} ${tuple.serverPort}`;
}

/** The key of a peer transport address in channel maps. */
export function peerKey(address: string, port: number): string {
  return `${address} ${port}`;
}

/** Protocol constants of RFC 8656, in seconds or channel numbers. */
export const TURN_CONSTANTS = {
  /** §6: "the default lifetime value of 600 seconds (10 minutes)". */
  DEFAULT_LIFETIME_SECONDS: 600,
  /** §7.2: "It is RECOMMENDED that the server use a maximum allowed lifetime value of no more
   * than 3600 seconds (1 hour)". */
  MAX_LIFETIME_SECONDS: 3600,
  /** §9: "The Permission Lifetime MUST be 300 seconds (= 5 minutes)." */
  PERMISSION_LIFETIME_SECONDS: 300,
  /** §12: "A channel binding lasts for 10 minutes unless refreshed." */
  CHANNEL_LIFETIME_SECONDS: 600,
  /** §12: "the client MUST wait 5 minutes after the channel binding expires" before reuse. */
  CHANNEL_REUSE_HOLD_SECONDS: 300,
  /** §12.2: "The channel number is in the range 0x4000 through 0x4FFF (inclusive)". */
  CHANNEL_NUMBER_MIN: 0x4000,
  /** RFC 5766 §11's 0x7FFF, still used by RFC 5766 clients (see codec CHANNEL_NUMBER_MAX). */
  CHANNEL_NUMBER_MAX: 0x7fff,
} as const;

/** Per-allocation limits; memory per allocation grows with the two counts. */
export interface AllocationLimits {
  readonly defaultLifetimeSeconds: number;
  readonly maxLifetimeSeconds: number;
  /** Most permissions (peer IPs) at once; past it CreatePermission/ChannelBind get 508. */
  readonly maxPermissions: number;
  /** Most channel numbers in use, bound or held after expiry; past it ChannelBind gets 508. */
  readonly maxChannels: number;
  /**
   * How long an expired channel's number and peer stay reserved to each other (RFC 8656 §12
   * puts the 5-minute wait on the client; the server enforcing it keeps late ChannelData for
   * the old peer from reaching a new one). 0 frees them at expiry.
   */
  readonly channelReuseHoldSeconds: number;
}

/**
 * Default limits. Measured on Node 24 (heap delta over 5000 allocations): about 1 KB for an
 * allocation without permissions, about 10 KB at the full 64 permissions and 32 channels —
 * the 10 KB budget per allocation.
 */
export const DEFAULT_ALLOCATION_LIMITS: AllocationLimits = Object.freeze({
  defaultLifetimeSeconds: TURN_CONSTANTS.DEFAULT_LIFETIME_SECONDS,
  maxLifetimeSeconds: TURN_CONSTANTS.MAX_LIFETIME_SECONDS,
  maxPermissions: 64,
  maxChannels: 32,
  channelReuseHoldSeconds: TURN_CONSTANTS.CHANNEL_REUSE_HOLD_SECONDS,
});

/**
 * Merges `overrides` over the defaults. Throws RAMPART_ERR_INVALID_ARGUMENT on a value that is
 * not a non-negative integer, a zero default lifetime or count, or a maximum below the default.
 */
export function resolveAllocationLimits(
  overrides: Partial<AllocationLimits> = {},
): AllocationLimits {
  // Every allocation of a server resolves the same overrides: one frozen result, shared,
  // instead of a copy per allocation. A result passed back in is returned as is.
  if (RESOLVED.has(overrides)) return overrides as AllocationLimits;
  const cached = RESOLVED_BY_OVERRIDES.get(overrides);
  if (cached !== undefined && sameOverrides(overrides, cached)) return cached;
  const limits: AllocationLimits = { ...DEFAULT_ALLOCATION_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    const mayBeZero = name === 'channelReuseHoldSeconds';
    if (!Number.isSafeInteger(value) || value < 0 || (!mayBeZero && value === 0)) {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, `${name} must be a positive integer`);
    }
  }
  if (limits.maxLifetimeSeconds < limits.defaultLifetimeSeconds) {
    throw new RampartError(
      ERROR_CODES.INVALID_ARGUMENT,
      'maxLifetimeSeconds must not be below defaultLifetimeSeconds',
    );
  }
  Object.freeze(limits);
  RESOLVED.add(limits);
  RESOLVED_BY_OVERRIDES.set(overrides, limits);
  return limits;
}

/** Whether `limits` still reflects every field of `overrides` (an owner may have mutated it). */
function sameOverrides(overrides: Partial<AllocationLimits>, limits: AllocationLimits): boolean {
  for (const name in overrides) {
    const key = name as keyof AllocationLimits;
    if (overrides[key] !== undefined && overrides[key] !== limits[key]) return false;
  }
  return true;
}

/** Results of {@link resolveAllocationLimits}. */
const RESOLVED = new WeakSet<object>([DEFAULT_ALLOCATION_LIMITS]);
const RESOLVED_BY_OVERRIDES = new WeakMap<object, AllocationLimits>();

/**
 * The lifetime to grant. RFC 8656 §7.2 (Allocate) and §8.2 (Refresh): "the server computes the
 * minimum of the client's requested lifetime and the server's maximum allowed lifetime. If this
 * computed value is greater than the default lifetime, then the server uses the computed
 * lifetime ... Otherwise, the server uses the default lifetime." A Refresh asking for 0 gets 0
 * (§8.2: "the "desired lifetime" is zero"); pass `allowZero` for Refresh only.
 */
export function desiredLifetimeSeconds(
  requested: number | undefined,
  limits: Pick<AllocationLimits, 'defaultLifetimeSeconds' | 'maxLifetimeSeconds'>,
  allowZero = false,
): number {
  if (requested === undefined) return limits.defaultLifetimeSeconds;
  if (requested === 0 && allowZero) return 0;
  const computed = Math.min(requested, limits.maxLifetimeSeconds);
  return computed > limits.defaultLifetimeSeconds ? computed : limits.defaultLifetimeSeconds;
}

/** The states of an allocation. */
export type AllocationState = 'active' | 'terminated';
/** The states of one channel number: bound to a peer, or held after expiry (RFC 8656 §12). */
export type ChannelState = 'bound' | 'held';

/** Every state change the allocation machine may make; deletion of a channel is not listed. */
export const ALLOCATION_TRANSITIONS = {
  allocation: { active: ['terminated'], terminated: [] },
  channel: { bound: ['held'], held: ['bound'] },
} as const satisfies {
  allocation: Record<AllocationState, readonly AllocationState[]>;
  channel: Record<ChannelState, readonly ChannelState[]>;
};

/**
 * The one guard every state change goes through; throws RAMPART_ERR_INVALID_STATE on an edge
 * the table does not list (a bug in the machine, never a reaction to network input).
 */
export function assertAllocationTransition<M extends keyof typeof ALLOCATION_TRANSITIONS>(
  machine: M,
  from: keyof (typeof ALLOCATION_TRANSITIONS)[M],
  to: keyof (typeof ALLOCATION_TRANSITIONS)[M],
): void {
  const table: Readonly<Record<string, readonly string[]>> = ALLOCATION_TRANSITIONS[machine];
  if (table[from as string]?.includes(to as string) !== true) {
    throw new RampartError(
      ERROR_CODES.INVALID_STATE,
      `${machine}: no transition ${String(from)} -> ${String(to)}`,
    );
  }
}

/** Which request an answer is for. */
export type AllocationRequest = 'refresh' | 'create-permission' | 'channel-bind';

/** RFC 8656 error codes the allocation machine answers with. */
export type AllocationErrorCode = 400 | 437 | 441 | 443 | 508;

/** Why a request was refused. */
export type AllocationErrorReason =
  | 'allocation-mismatch'
  | 'wrong-credentials'
  | 'no-peer-address'
  | 'peer-address-family-mismatch'
  | 'bad-channel-number'
  | 'channel-bound-to-other-peer'
  | 'peer-bound-to-other-channel'
  | 'channel-held-for-other-peer'
  | 'peer-held-for-other-channel'
  | 'permission-quota'
  | 'channel-quota';

/** Why an allocation ended. */
export type AllocationTerminationReason =
  'expired' | 'deleted' | 'transport-closed' | 'shutdown' | 'admin';

/** Inputs of the allocation machine. Peer addresses are canonical text, policy already passed. */
export type AllocationEvent =
  | {
      readonly type: 'refresh';
      readonly username: string;
      readonly lifetimeSeconds: number | undefined;
    }
  | {
      readonly type: 'create-permission';
      readonly username: string;
      readonly peers: readonly string[];
    }
  | {
      readonly type: 'channel-bind';
      readonly username: string;
      readonly channel: number;
      readonly peer: TransportAddress;
    }
  | { readonly type: 'timer' }
  | { readonly type: 'close'; readonly reason: 'transport-closed' | 'shutdown' | 'admin' };

/** What the driver must do, in order. */
export type AllocationAction =
  | { readonly type: 'refresh-success'; readonly lifetimeSeconds: number }
  | { readonly type: 'create-permission-success'; readonly installed: number }
  | {
      readonly type: 'channel-bind-success';
      readonly channel: number;
      readonly peer: TransportAddress;
      /** True when the binding existed and was only refreshed. */
      readonly refreshed: boolean;
    }
  | {
      readonly type: 'error';
      readonly request: AllocationRequest;
      readonly code: AllocationErrorCode;
      readonly reason: AllocationErrorReason;
    }
  | { readonly type: 'permission-expired'; readonly address: string }
  | { readonly type: 'channel-expired'; readonly channel: number; readonly peer: TransportAddress }
  | { readonly type: 'terminated'; readonly reason: AllocationTerminationReason };

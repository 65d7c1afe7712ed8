/**
 * What the request handlers see of the TURN server: its options, tables and a few verbs.
 * Kept apart from the server class so handlers and server do not import each other.
 */
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from '../../lib/logger.ts';
import type {
  Allocation,
  AllocationLimits,
  AllocationTable,
  BandwidthLimiter,
  PeerPolicy,
  RelayPortAllocator,
  TokenBucket,
  TurnAuthenticator,
} from '../../proto/turn/index.ts';
import type { ClientFlow } from './client-flow.ts';
import type { StreamLimits } from './listeners.ts';
import type { RelayHost, RelaySession } from './relay-session.ts';
import type { PeerConnectionRegistry } from './tcp-relay.ts';

/** Options of {@link TurnServer}. */
export interface TurnServerOptions {
  readonly side: 'external' | 'internal';
  /** Address listeners and relay sockets bind to. */
  readonly host: string;
  /** Address written into XOR-RELAYED-ADDRESS (the public one behind a 1:1 NAT). */
  readonly relayAdvertisedHost: string;
  readonly udp: number | null;
  readonly tcp: number | null;
  readonly tls: readonly number[];
  readonly tlsCredentials?: {
    key: SecureContextOptions['key'];
    cert: SecureContextOptions['cert'];
  };
  /** SO_REUSEPORT on the listeners (worker processes). */
  readonly reusePort: boolean;
  readonly authenticator: TurnAuthenticator;
  readonly peerPolicy: PeerPolicy;
  readonly ports: RelayPortAllocator;
  /**
   * IPv6 relays (REQUESTED-/ADDITIONAL-ADDRESS-FAMILY, dual stack): the address they bind
   * to; absent = relays of the listener's family only. They take ports from `ports` too, so
   * a port number names one relay of the side whatever its family.
   */
  readonly relayHostV6?: string;
  readonly quotas: { readonly perUser: number; readonly total: number };
  readonly allocationLimits: Partial<AllocationLimits>;
  readonly bandwidth: BandwidthLimiter;
  /** End allocations when their REST credential expires. */
  readonly strictExpiry: boolean;
  /** Other servers for 300 Try Alternate once `redirectAbove` allocations are live. */
  readonly alternateServers: readonly { address: string; port: number }[];
  readonly redirectAbove: number;
  readonly streamLimits: StreamLimits;
  readonly logger: Logger;
  /** Told each time an allocation ends (after its state is dropped). */
  readonly onAllocationClosed?: () => void;
  /** Wall-clock milliseconds. */
  readonly now?: () => number;
}

/** The context a request handler works in. */
export interface TurnContext {
  readonly options: TurnServerOptions;
  readonly table: AllocationTable;
  readonly sessions: Map<Allocation, RelaySession>;
  readonly relayHost: RelayHost;
  /** RFC 6062 peer connections of this server's TCP allocations, by CONNECTION-ID. */
  readonly peerConnections: PeerConnectionRegistry;
  now(): number;
  send(flow: ClientFlow, message: Buffer): void;
  sessionOf(flow: ClientFlow): RelaySession | undefined;
  addSession(flow: ClientFlow, session: RelaySession): void;
  /** Feeds the allocation's actions back (expiry, deletion) after a handle call. */
  settle(session: RelaySession, actions: readonly { type: string }[]): void;
  countDenied(reason: string): void;
  bucket(): TokenBucket | undefined;
}

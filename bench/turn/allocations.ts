/**
 * Creating and releasing many allocations for the load generator: each one its own UDP
 * socket (its own 5-tuple), Allocate, then CreatePermission and ChannelBind to the echo peer
 * so the relay can carry ChannelData both ways.
 */
import type { TransportAddress } from '../../src/codec/stun/index.ts';
import { TurnClient, runBounded, type TurnServerTarget } from './turn-client.ts';

/** RFC 8656 §12: the first channel number; each allocation has its own 5-tuple, so all use it. */
export const BENCH_CHANNEL = 0x4000;

/** Options of {@link openAllocations}. */
export interface OpenAllocationsOptions {
  readonly count: number;
  readonly target: TurnServerTarget;
  readonly peer: TransportAddress;
  /** CreatePermission + ChannelBind to `peer` after Allocate (default true). */
  readonly bindChannel?: boolean;
  /** Allocations being set up at once (default 64). */
  readonly window?: number;
  /** Requested LIFETIME in seconds (server default when absent). */
  readonly lifetimeSeconds?: number;
  /** Give up on starting new setups after this many ms (default 120 s). */
  readonly deadlineMs?: number;
  /** Local address of the client sockets (default: {@link freshLoopbackAddress}). */
  readonly localHost?: string;
}

/** The allocations that succeeded and why the others failed (reason → count). */
export interface OpenedAllocations {
  readonly clients: TurnClient[];
  readonly failures: Readonly<Record<string, number>>;
  readonly elapsedMs: number;
}

function countReason(failures: Record<string, number>, error: unknown): void {
  // Some servers end reason phrases with NUL bytes: drop control characters.
  const reason = (error instanceof Error ? error.message : String(error)).replace(/\p{Cc}+/gu, '');
  failures[reason] = (failures[reason] ?? 0) + 1;
}

/**
 * A random address in 127.0.0.0/8 other than 127.0.0.1. Each batch of allocations uses its
 * own, so a new client 5-tuple never equals one of an allocation the server may still hold
 * after Refresh(0) (coturn answers such an Allocate with 437).
 */
export function freshLoopbackAddress(): string {
  const byte = (): number => 1 + Math.floor(Math.random() * 254);
  return `127.${byte()}.${byte()}.${byte()}`;
}

/** Opens `count` allocations, at most `window` at a time; failed ones are closed. */
export async function openAllocations(options: OpenAllocationsOptions): Promise<OpenedAllocations> {
  const started = Date.now();
  const deadline = started + (options.deadlineMs ?? 120_000);
  const bind = options.bindChannel ?? true;
  const localHost = options.localHost ?? freshLoopbackAddress();
  const settled = await runBounded(options.count, options.window ?? 64, async () => {
    if (Date.now() > deadline) throw new Error('setup deadline passed');
    const client = await TurnClient.open(options.target, localHost);
    try {
      await client.allocate(options.lifetimeSeconds);
      if (bind) {
        await client.createPermission(options.peer);
        await client.channelBind(BENCH_CHANNEL, options.peer);
      }
      return client;
    } catch (error) {
      client.close();
      throw error;
    }
  });
  const clients: TurnClient[] = [];
  const failures: Record<string, number> = {};
  for (const result of settled) {
    if (result.status === 'fulfilled') clients.push(result.value);
    else countReason(failures, result.reason);
  }
  return { clients, failures, elapsedMs: Date.now() - started };
}

/** Deletes each allocation (Refresh LIFETIME 0, RFC 8656 §8) and closes its socket. */
export async function releaseAllocations(
  clients: readonly TurnClient[],
  window = 64,
): Promise<Readonly<Record<string, number>>> {
  const settled = await runBounded(clients.length, window, async (index) => {
    const client = clients[index] as TurnClient;
    try {
      await client.refresh(0);
    } finally {
      client.close();
    }
  });
  const failures: Record<string, number> = {};
  for (const result of settled) {
    if (result.status === 'rejected') countReason(failures, result.reason);
  }
  return failures;
}

/** Closes every socket without telling the server (allocations then expire on their own). */
export function closeAll(clients: readonly TurnClient[]): void {
  for (const client of clients) client.close();
}

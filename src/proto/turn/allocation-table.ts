import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import type { Allocation } from './allocation.ts';
import { fiveTupleKey, type FiveTuple } from './allocation-types.ts';
import { DeadlineHeap } from '../../lib/deadline-heap.ts';
import type { RelayPortAllocator } from './relay-ports.ts';

/** Options of {@link AllocationTable}. */
export interface AllocationTableOptions {
  /** Most allocations on this server; past it Allocate gets 508. Default 100 000. */
  readonly maxAllocations?: number;
  /** Most allocations per username; past it Allocate gets 486. Default 10. */
  readonly maxAllocationsPerUser?: number;
  /**
   * How long the Allocate response is kept to answer retransmissions: RFC 8656 §5 suggests
   * "remembering all received requests and the corresponding responses for 40 seconds".
   */
  readonly responseCacheMs?: number;
  /** How long a begun Allocate may stay unfinished before its slot is reclaimed. Default 30 s. */
  readonly pendingTimeoutMs?: number;
}

/** The answer to an Allocate request before any port is touched. */
export type AllocateCheck =
  /** A retransmission of the request that created the allocation: send `response` again. */
  | { readonly kind: 'retransmission'; readonly response: Uint8Array }
  /** A retransmission of a request still being processed: drop it. */
  | { readonly kind: 'in-progress' }
  | {
      readonly kind: 'reject';
      readonly code: 437 | 486 | 508;
      readonly reason: 'allocation-mismatch' | 'allocation-quota-reached' | 'insufficient-capacity';
    }
  /** Go ahead: a slot is held under the 5-tuple until `add` or `abandon`. */
  | { readonly kind: 'proceed'; readonly key: string };

interface Pending {
  readonly transactionId: string;
  readonly username: string;
  readonly expiresAt: number;
}

interface Entry {
  readonly allocation: Allocation;
  transactionId: string | undefined;
  /**
   * The Allocate response, one byte per character: a string is a single heap object of the
   * response's size, where the encoder's Buffer is a view that would pin its whole pool slab
   * (64 KiB shared by a few hundred messages) for as long as the allocation lives.
   */
  response: string | undefined;
  responseExpiresAt: number;
}

/** Entries of each index of an {@link AllocationTable}. */
export interface AllocationTableSizes {
  /** By 5-tuple. */
  readonly allocations: number;
  /** By relay port. */
  readonly relayPorts: number;
  /** Begun Allocates (slots held between `checkAllocate` and `add` / `abandon`). */
  readonly pending: number;
  /** Usernames with at least one allocation or begun Allocate. */
  readonly users: number;
  /** Allocations with a deadline on the table's timer. */
  readonly deadlines: number;
}

/** What `takeDue` found due. */
export interface DueWork {
  /** Allocations whose deadline passed: feed each `{ type: 'timer' }`, then `touch` it. */
  readonly allocations: readonly Allocation[];
  /** Reserved relay ports freed by expired RESERVATION-TOKENs: close their held sockets. */
  readonly expiredReservations: readonly number[];
}

/**
 * Every allocation of a server, by 5-tuple key and by relay port, with the Allocate-time rules
 * of RFC 8656 §7.2: the 5-tuple-in-use check (437), the per-user quota (486), total capacity
 * (508) and the idempotency of retransmitted Allocate requests. One timer serves all
 * allocations and the port pool (`nextTimeoutAt` / `takeDue`).
 *
 * Driver protocol: `checkAllocate` → (ports: `tryReserve`/`redeem`, bind, `commit`) →
 * `add`, or `abandon` on any failure. After every `allocation.handle(...)`, call `touch`;
 * it re-files the deadline and removes a terminated allocation, releasing its port.
 */
export class AllocationTable {
  private readonly byKey = new Map<string, Entry>();
  private readonly byPort = new Map<number, Allocation>();
  private readonly pending = new Map<string, Pending>();
  private readonly perUser = new Map<string, number>();
  private readonly heap = new DeadlineHeap<Allocation>();
  private readonly ports: RelayPortAllocator;
  private readonly maxAllocations: number;
  private readonly maxPerUser: number;
  private readonly responseCacheMs: number;
  private readonly pendingTimeoutMs: number;

  constructor(ports: RelayPortAllocator, options: AllocationTableOptions = {}) {
    this.ports = ports;
    this.maxAllocations = options.maxAllocations ?? 100_000;
    this.maxPerUser = options.maxAllocationsPerUser ?? 10;
    this.responseCacheMs = options.responseCacheMs ?? 40_000;
    this.pendingTimeoutMs = options.pendingTimeoutMs ?? 30_000;
  }

  /** Allocations plus begun, unfinished Allocates. */
  get size(): number {
    return this.byKey.size + this.pending.size;
  }

  /** The allocation on a 5-tuple (key from {@link fiveTupleKey}). */
  get(key: string): Allocation | undefined {
    return this.byKey.get(key)?.allocation;
  }

  /** The allocation on a 5-tuple. */
  lookup(tuple: FiveTuple): Allocation | undefined {
    return this.get(fiveTupleKey(tuple));
  }

  /** The allocation relaying on `port` (a datagram from a peer arrived there). */
  byRelayPort(port: number): Allocation | undefined {
    return this.byPort.get(port);
  }

  /** Allocations (and begun Allocates) held by `username`. */
  userAllocations(username: string): number {
    return this.perUser.get(username) ?? 0;
  }

  /**
   * Runs the Allocate checks that need no port, in order. `transactionId` is the request's 12
   * bytes. On `proceed` a slot is held against both quotas until `add` or `abandon`.
   */
  checkAllocate(
    tuple: FiveTuple,
    transactionId: Uint8Array,
    username: string,
    now: number,
  ): AllocateCheck {
    this.expirePending(now);
    const key = fiveTupleKey(tuple);
    const id = Buffer.from(
      transactionId.buffer,
      transactionId.byteOffset,
      transactionId.byteLength,
    ).toString('hex');
    const entry = this.byKey.get(key);
    if (entry !== undefined) {
      if (entry.response !== undefined && entry.responseExpiresAt <= now) {
        entry.response = undefined;
        entry.transactionId = undefined;
      }
      // RFC 8656 §5: retransmissions ("same 5-tuple and same transaction id") are idempotent;
      // answered from the cached response for 40 s instead of failing the check below.
      if (entry.transactionId === id && entry.response !== undefined) {
        const bytes = Buffer.from(entry.response, 'latin1');
        return {
          kind: 'retransmission',
          response: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        };
      }
      // §7.2 step 2: "The server checks if the 5-tuple is currently in use by an existing
      // allocation. If yes, the server rejects the request with a 437 (Allocation Mismatch)".
      return { kind: 'reject', code: 437, reason: 'allocation-mismatch' };
    }
    const pending = this.pending.get(key);
    if (pending !== undefined) {
      if (pending.transactionId === id) return { kind: 'in-progress' };
      return { kind: 'reject', code: 437, reason: 'allocation-mismatch' };
    }
    // §7.2 step 10: "the server MAY choose to reject the request with a 486 (Allocation Quota
    // Reached) error ... it SHOULD define it based on the username".
    if (this.userAllocations(username) >= this.maxPerUser) {
      return { kind: 'reject', code: 486, reason: 'allocation-quota-reached' };
    }
    // §7.4: 508 "The server has no more relayed transport addresses available".
    if (this.size >= this.maxAllocations) {
      return { kind: 'reject', code: 508, reason: 'insufficient-capacity' };
    }
    this.pending.set(key, { transactionId: id, username, expiresAt: now + this.pendingTimeoutMs });
    this.countUser(username, 1);
    return { kind: 'proceed', key };
  }

  /** Gives up a begun Allocate (port exhausted, bind failed, token invalid, ...). */
  abandon(key: string): void {
    const pending = this.pending.get(key);
    if (pending === undefined) return;
    this.pending.delete(key);
    this.countUser(pending.username, -1);
  }

  /**
   * Files a new allocation begun with `checkAllocate`, with the encoded success `response`
   * kept for retransmissions. Its relay port must be committed in the port pool. Throws
   * RAMPART_ERR_INVALID_STATE when no matching Allocate was begun or the port is taken.
   */
  add(allocation: Allocation, response: Uint8Array, now: number): void {
    const pending = this.pending.get(allocation.key);
    if (pending?.username !== allocation.username) {
      throw new RampartError(ERROR_CODES.INVALID_STATE, 'allocation added without checkAllocate');
    }
    const port = allocation.relayed.port;
    if (this.byPort.has(port) || !this.ports.isInUse(port)) {
      throw new RampartError(
        ERROR_CODES.INVALID_STATE,
        `relay port ${port} not committed or taken`,
      );
    }
    this.pending.delete(allocation.key);
    this.byKey.set(allocation.key, {
      allocation,
      transactionId: pending.transactionId,
      response: Buffer.from(response.buffer, response.byteOffset, response.byteLength).toString(
        'latin1',
      ),
      responseExpiresAt: now + this.responseCacheMs,
    });
    this.byPort.set(port, allocation);
    this.heap.schedule(allocation, allocation.nextTimeoutAt);
  }

  /**
   * Re-reads an allocation after it handled an event: re-files its deadline, or removes it
   * once terminated. Returns whether it is still in the table.
   */
  touch(allocation: Allocation): boolean {
    const entry = this.byKey.get(allocation.key);
    if (entry?.allocation !== allocation) return false;
    if (allocation.state === 'terminated') {
      this.remove(allocation);
      return false;
    }
    this.heap.schedule(allocation, allocation.nextTimeoutAt);
    return true;
  }

  /** Removes an allocation and frees its relay port; idempotent. */
  remove(allocation: Allocation): void {
    const entry = this.byKey.get(allocation.key);
    if (entry?.allocation !== allocation) return;
    this.byKey.delete(allocation.key);
    this.byPort.delete(allocation.relayed.port);
    this.heap.schedule(allocation, undefined);
    this.countUser(allocation.username, -1);
    this.ports.release(allocation.relayed.port);
  }

  /** The earliest deadline of any allocation or of the port pool. */
  get nextTimeoutAt(): number | undefined {
    const a = this.heap.next;
    const b = this.ports.nextTimeoutAt;
    if (a === undefined) return b;
    return b === undefined || a < b ? a : b;
  }

  /** Everything due at `now`; see {@link DueWork}. */
  takeDue(now: number): DueWork {
    return { allocations: this.heap.takeDue(now), expiredReservations: this.ports.sweep(now) };
  }

  /**
   * How many entries each internal index holds: all zero once every allocation has ended and
   * every begun Allocate has finished (what a leak test checks).
   */
  sizes(): AllocationTableSizes {
    return {
      allocations: this.byKey.size,
      relayPorts: this.byPort.size,
      pending: this.pending.size,
      users: this.perUser.size,
      deadlines: this.heap.size,
    };
  }

  /** Every allocation, in creation order. */
  *[Symbol.iterator](): IterableIterator<Allocation> {
    for (const entry of this.byKey.values()) yield entry.allocation;
  }

  private expirePending(now: number): void {
    // Insertion order is expiry order (constant timeout, monotonic clock).
    for (const [key, pending] of this.pending) {
      if (pending.expiresAt > now) return;
      this.abandon(key);
    }
  }

  private countUser(username: string, delta: 1 | -1): void {
    const count = (this.perUser.get(username) ?? 0) + delta;
    if (count <= 0) this.perUser.delete(username);
    else this.perUser.set(username, count);
  }
}

import { DeadlineHeap } from '../../lib/deadline-heap.ts';

/** What the table needs from a transaction: its next deadline and whether it has ended. */
export interface TimedTransaction {
  readonly nextTimeoutAt: number | undefined;
  readonly state: string;
}

interface Entry<T> {
  readonly key: string;
  readonly transaction: T;
}

/**
 * Transactions by key (see `keys.ts`), with one earliest deadline across all of them so a
 * single driver timer serves the whole table. Deadlines sit in the shared {@link DeadlineHeap}
 * (a min-heap with lazy deletion): `set`/`touch` cost O(log n), memory stays O(n).
 *
 * Protocol for the driver: after every `handle()` on a transaction, call `touch(key)`; it
 * re-files the deadline and drops the transaction once it is 'terminated'. When the clock
 * reaches `nextTimeoutAt`, call `takeDue(now)`, feed each transaction `{ type: 'timer' }`, then
 * `touch` its key.
 */
export class TransactionTable<T extends TimedTransaction> {
  private readonly entries = new Map<string, Entry<T>>();
  /** Deadlines by entry (identity): a replaced or removed entry is simply unscheduled. */
  private readonly deadlines = new DeadlineHeap<Entry<T>>();

  /** Number of live transactions. */
  get size(): number {
    return this.entries.size;
  }

  /** The transaction filed under `key`. */
  get(key: string): T | undefined {
    return this.entries.get(key)?.transaction;
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Files `transaction` under `key` (replacing any other) and indexes its deadline. */
  set(key: string, transaction: T): void {
    const old = this.entries.get(key);
    if (old !== undefined) this.deadlines.schedule(old, undefined);
    const entry: Entry<T> = { key, transaction };
    this.entries.set(key, entry);
    this.deadlines.schedule(entry, transaction.nextTimeoutAt);
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.entries.delete(key);
    this.deadlines.schedule(entry, undefined);
    return true;
  }

  /**
   * Re-reads the deadline of the transaction under `key` after it handled an event; removes
   * it when it has reached 'terminated'. Returns whether the key is still present.
   */
  touch(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    if (entry.transaction.state === 'terminated') {
      this.delete(key);
      return false;
    }
    this.deadlines.schedule(entry, entry.transaction.nextTimeoutAt);
    return true;
  }

  /** The earliest deadline of any live transaction; undefined when none has a timer armed. */
  get nextTimeoutAt(): number | undefined {
    return this.deadlines.next;
  }

  /**
   * Removes from the timer index and returns every transaction whose deadline is at or before
   * `now`, earliest first. Each must then get `{ type: 'timer' }` and a `touch`.
   */
  takeDue(now: number): Array<readonly [key: string, transaction: T]> {
    return this.deadlines.takeDue(now).map((entry) => [entry.key, entry.transaction] as const);
  }

  /** Live transactions with their keys, in insertion order. */
  *[Symbol.iterator](): IterableIterator<readonly [key: string, transaction: T]> {
    for (const [key, entry] of this.entries) yield [key, entry.transaction];
  }
}

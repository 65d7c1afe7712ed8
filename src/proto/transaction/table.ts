/** What the table needs from a transaction: its next deadline and whether it has ended. */
export interface TimedTransaction {
  readonly nextTimeoutAt: number | undefined;
  readonly state: string;
}

interface Entry<T> {
  readonly transaction: T;
  /** The deadline this entry is filed under in the heap; undefined when not filed. */
  scheduledAt: number | undefined;
}

interface HeapItem<T> {
  readonly at: number;
  readonly key: string;
  readonly entry: Entry<T>;
}

/**
 * Transactions by key (see `keys.ts`), with one earliest deadline across all of them so a
 * single driver timer serves the whole table.
 *
 * Deadlines sit in a binary min-heap with lazy deletion: re-filing a transaction pushes a new
 * item and leaves the old one to be skipped when it surfaces. `set`/`touch` cost O(log n);
 * `nextTimeoutAt` and `takeDue` cost O(log n) per item popped, stale ones included. The heap is
 * rebuilt from the live entries (O(n)) when stale items outnumber live ones, so memory stays
 * O(n).
 *
 * Protocol for the driver: after every `handle()` on a transaction, call `touch(key)`; it
 * re-files the deadline and drops the transaction once it is 'terminated'. When the clock
 * reaches `nextTimeoutAt`, call `takeDue(now)`, feed each transaction `{ type: 'timer' }`, then
 * `touch` its key.
 */
export class TransactionTable<T extends TimedTransaction> {
  private readonly entries = new Map<string, Entry<T>>();
  private heap: HeapItem<T>[] = [];

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
    const entry: Entry<T> = { transaction, scheduledAt: undefined };
    this.entries.set(key, entry);
    this.file(key, entry);
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  /**
   * Re-reads the deadline of the transaction under `key` after it handled an event; removes
   * it when it has reached 'terminated'. Returns whether the key is still present.
   */
  touch(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    if (entry.transaction.state === 'terminated') {
      this.entries.delete(key);
      return false;
    }
    this.file(key, entry);
    return true;
  }

  /** The earliest deadline of any live transaction; undefined when none has a timer armed. */
  get nextTimeoutAt(): number | undefined {
    this.dropStale();
    return this.heap[0]?.at;
  }

  /**
   * Removes from the timer index and returns every transaction whose deadline is at or before
   * `now`, earliest first. Each must then get `{ type: 'timer' }` and a `touch`.
   */
  takeDue(now: number): Array<readonly [key: string, transaction: T]> {
    const due: Array<readonly [string, T]> = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (top === undefined || top.at > now) break;
      this.pop();
      top.entry.scheduledAt = undefined;
      due.push([top.key, top.entry.transaction]);
    }
    return due;
  }

  /** Live transactions with their keys, in insertion order. */
  *[Symbol.iterator](): IterableIterator<readonly [key: string, transaction: T]> {
    for (const [key, entry] of this.entries) yield [key, entry.transaction];
  }

  private file(key: string, entry: Entry<T>): void {
    const at = entry.transaction.nextTimeoutAt;
    if (at === entry.scheduledAt) return;
    entry.scheduledAt = at;
    if (at === undefined) return;
    this.push({ at, key, entry });
    if (this.heap.length > 2 * this.entries.size + 32) this.rebuild();
  }

  private isLive(item: HeapItem<T>): boolean {
    return this.entries.get(item.key) === item.entry && item.entry.scheduledAt === item.at;
  }

  private dropStale(): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || this.isLive(top)) return;
      this.pop();
    }
  }

  private rebuild(): void {
    const live = this.heap.filter((item) => this.isLive(item));
    this.heap = [];
    for (const item of live) this.push(item);
  }

  private push(item: HeapItem<T>): void {
    const heap = this.heap;
    heap.push(item);
    let index = heap.length - 1;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex];
      if (parent === undefined || parent.at <= item.at) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = item;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      let smallestAt = last.at;
      const leftItem = heap[left];
      if (leftItem !== undefined && leftItem.at < smallestAt) {
        smallest = left;
        smallestAt = leftItem.at;
      }
      const rightItem = heap[right];
      if (rightItem !== undefined && rightItem.at < smallestAt) smallest = right;
      if (smallest === index) break;
      const child = heap[smallest];
      if (child === undefined) break;
      heap[index] = child;
      index = smallest;
    }
    heap[index] = last;
  }
}

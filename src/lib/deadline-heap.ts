interface HeapEntry<T> {
  readonly at: number;
  readonly item: T;
}

/**
 * Items by deadline in a binary min-heap with lazy deletion: re-scheduling pushes a new entry
 * and the stale one is skipped when it surfaces. Schedule and pop cost O(log n); the heap is
 * rebuilt from the live entries when stale ones outnumber them, so memory stays O(n).
 */
export class DeadlineHeap<T> {
  private heap: HeapEntry<T>[] = [];
  private readonly scheduled = new Map<T, number>();

  /** Number of scheduled items. */
  get size(): number {
    return this.scheduled.size;
  }

  /** Files `item` under `at`, replacing its previous deadline; `undefined` unschedules it. */
  schedule(item: T, at: number | undefined): void {
    if (at === undefined) {
      this.scheduled.delete(item);
      return;
    }
    if (this.scheduled.get(item) === at) return;
    this.scheduled.set(item, at);
    this.push({ at, item });
    if (this.heap.length > 2 * this.scheduled.size + 32) this.rebuild();
  }

  /** The earliest deadline; undefined when nothing is scheduled. */
  get next(): number | undefined {
    this.dropStale();
    return this.heap[0]?.at;
  }

  /** Unschedules and returns every item due at `now`, earliest first. */
  takeDue(now: number): T[] {
    const due: T[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (top === undefined || top.at > now) return due;
      this.pop();
      this.scheduled.delete(top.item);
      due.push(top.item);
    }
  }

  private isLive(entry: HeapEntry<T>): boolean {
    return this.scheduled.get(entry.item) === entry.at;
  }

  private dropStale(): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || this.isLive(top)) return;
      this.pop();
    }
  }

  private rebuild(): void {
    const live = this.heap.filter((entry) => this.isLive(entry));
    this.heap = [];
    for (const entry of live) this.push(entry);
  }

  private push(entry: HeapEntry<T>): void {
    const heap = this.heap;
    heap.push(entry);
    let index = heap.length - 1;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex];
      if (parent === undefined || parent.at <= entry.at) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = entry;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      let smallest = index;
      let smallestAt = last.at;
      const leftEntry = heap[left];
      if (leftEntry !== undefined && leftEntry.at < smallestAt) {
        smallest = left;
        smallestAt = leftEntry.at;
      }
      const rightEntry = heap[left + 1];
      if (rightEntry !== undefined && rightEntry.at < smallestAt) smallest = left + 1;
      if (smallest === index) break;
      const child = heap[smallest];
      if (child === undefined) break;
      heap[index] = child;
      index = smallest;
    }
    heap[index] = last;
  }
}

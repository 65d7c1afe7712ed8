interface HeapEntry<T> {
  at: number;
  readonly item: T;
  /** Position in the heap array, kept up to date by every move. */
  index: number;
}

/**
 * Items by deadline in an indexed binary min-heap: each item has one entry that knows its
 * position, so re-scheduling moves it in place and unscheduling removes it at once. Schedule,
 * unschedule and pop cost O(log n), allocate nothing for an item already scheduled, and the
 * heap never holds more entries than items.
 */
export class DeadlineHeap<T> {
  private readonly heap: HeapEntry<T>[] = [];
  private readonly entries = new Map<T, HeapEntry<T>>();

  /** Number of scheduled items. */
  get size(): number {
    return this.entries.size;
  }

  /** Files `item` under `at`, replacing its previous deadline; `undefined` unschedules it. */
  schedule(item: T, at: number | undefined): void {
    const entry = this.entries.get(item);
    if (at === undefined) {
      if (entry === undefined) return;
      this.entries.delete(item);
      this.removeAt(entry.index);
      return;
    }
    if (entry === undefined) {
      const added: HeapEntry<T> = { at, item, index: this.heap.length };
      this.entries.set(item, added);
      this.heap.push(added);
      this.siftUp(added);
      return;
    }
    if (entry.at === at) return;
    const earlier = at < entry.at;
    entry.at = at;
    if (earlier) this.siftUp(entry);
    else this.siftDown(entry);
  }

  /** The earliest deadline; undefined when nothing is scheduled. */
  get next(): number | undefined {
    return this.heap[0]?.at;
  }

  /** Unschedules and returns every item due at `now`, earliest first. */
  takeDue(now: number): T[] {
    const due: T[] = [];
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > now) return due;
      this.entries.delete(top.item);
      this.removeAt(0);
      due.push(top.item);
    }
  }

  private removeAt(index: number): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || index >= heap.length) return;
    heap[index] = last;
    last.index = index;
    this.siftDown(last);
    this.siftUp(last);
  }

  private siftUp(entry: HeapEntry<T>): void {
    const heap = this.heap;
    let index = entry.index;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex];
      if (parent === undefined || parent.at <= entry.at) break;
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.index = index;
  }

  private siftDown(entry: HeapEntry<T>): void {
    const heap = this.heap;
    const length = heap.length;
    let index = entry.index;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      let child = heap[left];
      const right = heap[left + 1];
      if (child === undefined) break;
      let childIndex = left;
      if (right !== undefined && right.at < child.at) {
        child = right;
        childIndex = left + 1;
      }
      if (child.at >= entry.at) break;
      heap[index] = child;
      child.index = index;
      index = childIndex;
    }
    heap[index] = entry;
    entry.index = index;
  }
}

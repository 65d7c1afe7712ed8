import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DeadlineHeap } from './deadline-heap.ts';

describe('DeadlineHeap', () => {
  test('re-scheduling replaces the old deadline; undefined unschedules', () => {
    const heap = new DeadlineHeap<string>();
    heap.schedule('a', 100);
    heap.schedule('b', 50);
    heap.schedule('b', 200);
    heap.schedule('c', 10);
    heap.schedule('c', undefined);
    assert.equal(heap.size, 2);
    assert.equal(heap.next, 100);
    assert.deepEqual(heap.takeDue(150), ['a']);
    assert.deepEqual(heap.takeDue(1000), ['b']);
    assert.equal(heap.next, undefined);
  });

  test('property: takeDue matches a naive model', () => {
    const op = fc.tuple(
      fc.integer({ min: 0, max: 49 }),
      fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 200 }),
        fc.integer({ min: 0, max: 1000 }),
        (ops, now) => {
          const heap = new DeadlineHeap<number>();
          const model = new Map<number, number>();
          for (const [item, at] of ops) {
            heap.schedule(item, at);
            if (at === undefined) model.delete(item);
            else model.set(item, at);
          }
          const expected = [...model]
            .filter(([, at]) => at <= now)
            .map(([item]) => item)
            .sort();
          const taken = heap.takeDue(now);
          assert.deepEqual([...taken].sort(), expected);
          // Earliest first.
          const times = taken.map((item) => model.get(item) ?? -1);
          assert.deepEqual(
            times,
            [...times].sort((a, b) => a - b),
          );
          assert.equal(heap.size, model.size - taken.length);
          const rest = [...model.values()].filter((at) => at > now);
          assert.equal(heap.next, rest.length === 0 ? undefined : Math.min(...rest));
        },
      ),
    );
  });
});

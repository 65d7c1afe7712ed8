import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeapReclaimer } from './heap-reclaim.ts';

describe('HeapReclaimer', () => {
  test('collects once a burst has ended and gone quiet, not during it', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    let collections = 0;
    const pauses: number[] = [];
    const reclaimer = new HeapReclaimer({
      afterReleased: 10,
      quietMs: 40,
      minIntervalMs: 100,
      now: () => Date.now(),
      collect: () => {
        collections++;
      },
      onReclaim: (seconds) => pauses.push(seconds),
    });
    try {
      // Nine ended sessions: below the threshold, nothing ever happens.
      for (let i = 0; i < 9; i++) reclaimer.noteReleased();
      t.mock.timers.tick(1000);
      assert.equal(collections, 0);
      // The tenth crosses it, but sessions keep ending every 15 ms: still no collection.
      for (let i = 0; i < 6; i++) {
        reclaimer.noteReleased();
        t.mock.timers.tick(15);
        assert.equal(collections, 0, `collected during the burst (step ${String(i)})`);
      }
      // Quiet for longer than quietMs: one collection, reported with its pause.
      t.mock.timers.tick(30);
      assert.equal(collections, 1);
      assert.equal(reclaimer.reclaims, 1);
      assert.equal(pauses.length, 1);
      assert.ok((pauses[0] ?? -1) >= 0);
      // A second burst right away waits for minIntervalMs after the first collection.
      reclaimer.noteReleased(10);
      t.mock.timers.tick(50);
      assert.equal(collections, 1, 'min interval not respected');
      t.mock.timers.tick(60);
      assert.equal(collections, 2);
    } finally {
      reclaimer.stop();
    }
  });

  test('0 turns it off; stop() cancels a pending collection', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    let collections = 0;
    const off = new HeapReclaimer({
      afterReleased: 0,
      quietMs: 10,
      minIntervalMs: 100,
      now: () => Date.now(),
      collect: () => collections++,
    });
    off.noteReleased(1000);
    const stopped = new HeapReclaimer({
      afterReleased: 1,
      quietMs: 30,
      minIntervalMs: 100,
      now: () => Date.now(),
      collect: () => collections++,
    });
    stopped.noteReleased();
    stopped.stop();
    t.mock.timers.tick(1000);
    assert.equal(collections, 0);
  });

  test("V8's memory-reducing collection runs and gives garbage back", async () => {
    let pause = -1;
    const reclaimer = new HeapReclaimer({
      afterReleased: 1,
      quietMs: 10,
      minIntervalMs: 100,
      onReclaim: (seconds) => {
        pause = seconds;
      },
    });
    // Old-generation garbage: long-lived enough to be promoted, then dropped.
    const holder: { garbage: unknown[] | undefined } = {
      garbage: Array.from({ length: 200_000 }, (_, i) => ({ i })),
    };
    await sleep(20);
    const holding = process.memoryUsage().heapUsed;
    holder.garbage = undefined;
    reclaimer.noteReleased();
    await sleep(100);
    reclaimer.stop();
    assert.equal(holder.garbage, undefined);
    assert.equal(reclaimer.reclaims, 1);
    assert.ok(pause >= 0);
    const after = process.memoryUsage().heapUsed;
    // 200,000 small objects are several MiB; the collection frees them.
    assert.ok(after < holding - 2 * 1024 * 1024, `heap ${String(holding)} → ${String(after)}`);
  });
});

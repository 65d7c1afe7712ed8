import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../lib/clock.ts';
import { Lockout } from './lockout.ts';

const options = { maxFailures: 3, windowMs: 60_000, baseLockMs: 10_000, maxLockMs: 35_000 };

function failTimes(lockout: Lockout, key: string, clock: FakeClock, times: number): boolean {
  let locked = false;
  for (let i = 0; i < times; i++) locked = lockout.recordFailure(key, clock.now()).locked;
  return locked;
}

describe('Lockout', () => {
  it('locks after N failures within the window', () => {
    const clock = new FakeClock(1_000_000);
    const lockout = new Lockout(options);
    assert.equal(failTimes(lockout, 'u', clock, 2), false);
    assert.equal(lockout.check('u', clock.now()).locked, false);
    assert.deepEqual(lockout.recordFailure('u', clock.now()), {
      locked: true,
      until: clock.now() + 10_000,
    });
    assert.equal(lockout.check('u', clock.now()).locked, true);
    assert.equal(lockout.check('other', clock.now()).locked, false);
  });

  it('does not count failures older than the window', () => {
    const clock = new FakeClock(1_000_000);
    const lockout = new Lockout(options);
    failTimes(lockout, 'u', clock, 2);
    clock.advance(60_000);
    assert.equal(failTimes(lockout, 'u', clock, 2), false);
    assert.equal(lockout.recordFailure('u', clock.now()).locked, true);
  });

  it('doubles the lock per further lockout, capped', () => {
    const clock = new FakeClock(1_000_000);
    const lockout = new Lockout(options);
    const durations: number[] = [];
    for (let round = 0; round < 4; round++) {
      failTimes(lockout, 'u', clock, 2);
      const state = lockout.recordFailure('u', clock.now());
      assert.ok(state.locked);
      durations.push(state.until - clock.now());
      clock.advance(state.until - clock.now() - 1);
      assert.equal(lockout.check('u', clock.now()).locked, true, 'still locked 1 ms before');
      // Failures while locked do not extend or count.
      assert.equal(lockout.recordFailure('u', clock.now()).locked, true);
      clock.advance(1);
      assert.equal(lockout.check('u', clock.now()).locked, false);
    }
    assert.deepEqual(durations, [10_000, 20_000, 35_000, 35_000]);
  });

  it('success resets the counter and the doubling', () => {
    const clock = new FakeClock(1_000_000);
    const lockout = new Lockout(options);
    failTimes(lockout, 'u', clock, 3);
    clock.advance(10_000);
    lockout.recordSuccess('u');
    assert.equal(failTimes(lockout, 'u', clock, 2), false);
    const state = lockout.recordFailure('u', clock.now());
    assert.ok(state.locked);
    assert.equal(state.until - clock.now(), 10_000);
  });

  it('forgets the doubling after a quiet period', () => {
    const clock = new FakeClock(1_000_000);
    const lockout = new Lockout({ ...options, forgetAfterMs: 100_000 });
    failTimes(lockout, 'u', clock, 3);
    clock.advance(200_000);
    failTimes(lockout, 'u', clock, 2);
    const state = lockout.recordFailure('u', clock.now());
    assert.ok(state.locked);
    assert.equal(state.until - clock.now(), 10_000);
  });

  it('bounds memory, evicting the least recently touched key', () => {
    const clock = new FakeClock(1_000_000);
    const lockout = new Lockout({ ...options, maxTrackedKeys: 3 });
    failTimes(lockout, 'a', clock, 3);
    lockout.recordFailure('b', clock.now());
    lockout.recordFailure('c', clock.now());
    lockout.recordFailure('a', clock.now());
    lockout.recordFailure('d', clock.now());
    assert.equal(lockout.size, 3);
    assert.equal(lockout.check('a', clock.now()).locked, true, 'a was touched last-but-one');
    for (let i = 0; i < 100; i++) lockout.recordFailure(`k${i}`, clock.now());
    assert.equal(lockout.size, 3);
    assert.equal(lockout.check('a', clock.now()).locked, false, 'evicted');
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BandwidthLimiter, SourceRateLimiter, TokenBucket } from './rate-limit.ts';

describe('TokenBucket', () => {
  test('starts full, refuses past the burst, refills at the rate, caps at the burst', () => {
    const bucket = new TokenBucket({ ratePerSecond: 1000, burst: 1500 }, 0);
    assert.equal(bucket.tryTake(1500, 0), true);
    assert.equal(bucket.tryTake(1, 0), false);
    assert.equal(bucket.tryTake(100, 99), false);
    assert.equal(bucket.tryTake(100, 100), true);
    assert.equal(bucket.available(10_000), 1500);
    assert.equal(bucket.available(5_000), 1500); // time going backwards changes nothing
  });

  test('bad configuration throws', () => {
    assert.throws(() => new TokenBucket({ ratePerSecond: 0, burst: 1 }, 0), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
    assert.throws(() => new TokenBucket({ ratePerSecond: 1, burst: Number.NaN }, 0), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
  });
});

describe('BandwidthLimiter', () => {
  test('per-allocation cap', () => {
    const limiter = new BandwidthLimiter(
      { perAllocation: { ratePerSecond: 10_000, burst: 2000 } },
      0,
    );
    const bucket = limiter.bucketForAllocation(0);
    assert.ok(bucket !== undefined);
    assert.equal(limiter.allow(bucket, 1200, 0), true);
    assert.equal(limiter.allow(bucket, 1200, 0), false);
    assert.equal(limiter.allow(bucket, 1200, 40), true);
  });

  test('the total cap is shared; a refused datagram charges neither budget', () => {
    const limiter = new BandwidthLimiter(
      {
        perAllocation: { ratePerSecond: 1000, burst: 1000 },
        total: { ratePerSecond: 1000, burst: 1500 },
      },
      0,
    );
    const a = limiter.bucketForAllocation(0);
    const b = limiter.bucketForAllocation(0);
    assert.equal(limiter.allow(a, 1000, 0), true);
    assert.equal(limiter.allow(b, 1000, 0), false); // total has 500 left
    assert.equal(b?.available(0), 1000); // b was not charged
    assert.equal(limiter.allow(b, 500, 0), true);
    assert.equal(limiter.allow(a, 1, 0), false); // a's own bucket is empty
  });

  test('no caps: everything passes', () => {
    const limiter = new BandwidthLimiter({}, 0);
    assert.equal(limiter.bucketForAllocation(0), undefined);
    assert.equal(limiter.allow(undefined, 1e9, 0), true);
  });
});

describe('SourceRateLimiter (401 replies)', () => {
  test('a source gets its burst, then its rate', () => {
    const limiter = new SourceRateLimiter({ ratePerSecond: 2, burst: 3, seeds: [1, 2] });
    for (let i = 0; i < 3; i++) assert.equal(limiter.tryTake('192.0.2.7', 0), true);
    assert.equal(limiter.tryTake('192.0.2.7', 0), false);
    assert.equal(limiter.tryTake('192.0.2.7', 499), false);
    assert.equal(limiter.tryTake('192.0.2.7', 500), true);
    assert.equal(limiter.tryTake('198.51.100.9', 500), true);
  });

  test('spoofed floods neither grow memory nor reset a throttled source', () => {
    const limiter = new SourceRateLimiter({
      ratePerSecond: 0.001,
      burst: 2,
      slots: 1024,
      seeds: [7, 9],
    });
    assert.equal(limiter.tryTake('victim', 0), true);
    assert.equal(limiter.tryTake('victim', 0), true);
    assert.equal(limiter.tryTake('victim', 0), false);
    for (let i = 0; i < 100_000; i++)
      limiter.tryTake(`10.${i >>> 16}.${(i >>> 8) & 255}.${i & 255}`, 1);
    assert.equal(limiter.tryTake('victim', 2), false);
  });

  test('innocent sources mostly pass while a few sources flood', () => {
    const limiter = new SourceRateLimiter({
      ratePerSecond: 0.001,
      burst: 5,
      slots: 4096,
      seeds: [11, 13],
    });
    for (let source = 0; source < 200; source++) {
      for (let i = 0; i < 10; i++) limiter.tryTake(`203.0.113.${source}`, 0);
    }
    let passed = 0;
    for (let source = 0; source < 200; source++)
      if (limiter.tryTake(`198.51.100.${source}`, 0)) passed++;
    assert.ok(passed >= 190, `only ${passed} of 200 passed`);
    for (let source = 0; source < 200; source++) {
      assert.equal(limiter.tryTake(`203.0.113.${source}`, 0), false);
    }
  });

  test('slot counts must be powers of two', () => {
    assert.throws(() => new SourceRateLimiter({ ratePerSecond: 1, burst: 1, slots: 1000 }), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
  });
});

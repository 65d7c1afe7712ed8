import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RelayPortAllocator, type RelayPortOptions } from './relay-ports.ts';

/** Deterministic: always starts the probe at slot 0, tokens count up. */
function allocator(options: RelayPortOptions = {}): RelayPortAllocator {
  let counter = 0;
  return new RelayPortAllocator({
    randomInt: () => 0,
    randomBytes: (size) => {
      counter++;
      const bytes = new Uint8Array(size);
      bytes[size - 1] = counter;
      return bytes;
    },
    ...options,
  });
}

describe('relay port allocator', () => {
  test('default range 50000-59999, tryReserve/commit/release', () => {
    const ports = allocator();
    assert.equal(ports.min, 50000);
    assert.equal(ports.max, 59999);
    assert.equal(ports.freeCount, 10000);
    const claim = ports.tryReserve();
    assert.ok(claim.ok);
    assert.deepEqual(claim.value, { port: 50000, reservedPort: undefined, fromToken: false });
    assert.equal(ports.isInUse(50000), false);
    assert.deepEqual(ports.commit(claim.value, 0), { reservationToken: undefined });
    assert.equal(ports.isInUse(50000), true);
    assert.equal(ports.usedCount, 1);
    ports.release(50000);
    ports.release(50000);
    assert.equal(ports.usedCount, 0);
  });

  test('ports are picked at random across the range', () => {
    const seen = new Set<number>();
    const ports = new RelayPortAllocator();
    for (let i = 0; i < 20; i++) {
      const claim = ports.tryReserve();
      assert.ok(claim.ok);
      seen.add(claim.value.port);
    }
    assert.ok(seen.size === 20 && [...seen].some((port) => port > 50100));
  });

  test('EVEN-PORT: an even port, also when the range starts odd', () => {
    const ports = allocator({ min: 50001, max: 50010, randomInt: (max) => max - 1 });
    const claim = ports.tryReserve({ even: true });
    assert.ok(claim.ok);
    assert.equal(claim.value.port, 50010);
    for (let i = 0; i < 4; i++) assert.equal(ports.tryReserve({ even: true }).ok, true);
    assert.deepEqual(ports.tryReserve({ even: true }), { ok: false, error: 'exhausted' });
    assert.equal(ports.tryReserve().ok, true);
  });

  test('EVEN-PORT R bit: N even and N+1 reserved behind an 8-byte token, redeemable once', () => {
    const ports = allocator();
    const claim = ports.tryReserve({ reserveNext: true });
    assert.ok(claim.ok);
    assert.equal(claim.value.port % 2, 0);
    assert.equal(claim.value.reservedPort, claim.value.port + 1);
    const { reservationToken } = ports.commit(claim.value, 1000);
    assert.ok(reservationToken !== undefined);
    assert.equal(reservationToken.length, 8);
    // The reserved port is not handed out to anyone else.
    const other = ports.tryReserve();
    assert.ok(other.ok);
    assert.notEqual(other.value.port, claim.value.port + 1);
    const redeemed = ports.redeem(reservationToken, 1000 + 29_999);
    assert.ok(redeemed.ok);
    assert.deepEqual(redeemed.value, {
      port: claim.value.port + 1,
      reservedPort: undefined,
      fromToken: true,
    });
    ports.commit(redeemed.value, 1000 + 29_999);
    assert.equal(ports.isInUse(claim.value.port + 1), true);
    assert.deepEqual(ports.redeem(reservationToken, 1000 + 29_999), {
      ok: false,
      error: 'invalid-token',
    });
    assert.equal(ports.nextTimeoutAt, undefined);
  });

  test('a reservation expires after 30 s: the token is refused and sweep frees the port', () => {
    const ports = allocator();
    const claim = ports.tryReserve({ reserveNext: true });
    assert.ok(claim.ok);
    const { reservationToken } = ports.commit(claim.value, 0);
    assert.ok(reservationToken !== undefined);
    assert.equal(ports.nextTimeoutAt, 30_000);
    assert.deepEqual(ports.sweep(29_999), []);
    assert.deepEqual(ports.redeem(reservationToken, 30_000), { ok: false, error: 'invalid-token' });
    assert.deepEqual(ports.sweep(30_000), [claim.value.port + 1]);
    assert.equal(ports.usedCount, 1);
    assert.deepEqual(ports.redeem(reservationToken, 30_000), { ok: false, error: 'invalid-token' });
  });

  test('unknown and malformed tokens are refused', () => {
    const ports = allocator();
    assert.deepEqual(ports.redeem(new Uint8Array(8), 0), { ok: false, error: 'invalid-token' });
    assert.deepEqual(ports.redeem(new Uint8Array(7), 0), { ok: false, error: 'invalid-token' });
  });

  test('releasing the reserved port drops its token', () => {
    const ports = allocator();
    const claim = ports.tryReserve({ reserveNext: true });
    assert.ok(claim.ok);
    const { reservationToken } = ports.commit(claim.value, 0);
    assert.ok(reservationToken !== undefined);
    ports.release(claim.value.port + 1);
    assert.deepEqual(ports.redeem(reservationToken, 1), { ok: false, error: 'invalid-token' });
    assert.equal(ports.nextTimeoutAt, undefined);
  });

  test('a port that failed to bind is skipped until busyRetryMs passes', () => {
    const ports = allocator({ min: 50000, max: 50001, busyRetryMs: 5000 });
    const claim = ports.tryReserve();
    assert.ok(claim.ok);
    ports.abort(claim.value, 100, [claim.value.port]);
    const next = ports.tryReserve();
    assert.ok(next.ok);
    assert.equal(next.value.port, 50001);
    ports.abort(next.value, 100);
    assert.equal(ports.nextTimeoutAt, 5100);
    ports.sweep(5100);
    const again = ports.tryReserve();
    assert.ok(again.ok);
    assert.equal(again.value.port, 50000);
  });

  test('exhaustion, and no pair when no adjacent even/odd ports are free', () => {
    const ports = allocator({ min: 50000, max: 50003 });
    const a = ports.tryReserve();
    assert.ok(a.ok);
    const b = ports.tryReserve({ even: true });
    assert.ok(b.ok);
    assert.deepEqual([a.value.port, b.value.port], [50000, 50002]);
    assert.deepEqual(ports.tryReserve({ reserveNext: true }), { ok: false, error: 'exhausted' });
    assert.equal(ports.tryReserve().ok, true);
    assert.equal(ports.tryReserve().ok, true);
    assert.deepEqual(ports.tryReserve(), { ok: false, error: 'exhausted' });
  });

  test('misuse throws', () => {
    assert.throws(() => new RelayPortAllocator({ min: 80, max: 90 }), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
    assert.throws(() => new RelayPortAllocator({ reservationMs: 10_000 }), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
    const ports = allocator();
    const claim = ports.tryReserve();
    assert.ok(claim.ok);
    ports.commit(claim.value, 0);
    assert.throws(() => ports.commit(claim.value, 0), { code: 'RAMPART_ERR_INVALID_STATE' });
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Allocation } from './allocation.ts';
import { AllocationTable, type AllocationTableOptions } from './allocation-table.ts';
import type { FiveTuple } from './allocation-types.ts';
import { RelayPortAllocator } from './relay-ports.ts';

const S = 1000;
const TX1 = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
const TX2 = Uint8Array.from({ length: 12 }, (_, i) => 100 + i);
const RESPONSE = Uint8Array.of(0x01, 0x03, 0, 0);

function tuple(clientPort: number): FiveTuple {
  return {
    transport: 'udp',
    clientAddress: '192.0.2.10',
    clientPort,
    serverAddress: '192.0.2.1',
    serverPort: 3478,
  };
}

function setup(options: AllocationTableOptions = {}): {
  table: AllocationTable;
  ports: RelayPortAllocator;
} {
  const ports = new RelayPortAllocator({ randomInt: () => 0 });
  return { table: new AllocationTable(ports, options), ports };
}

/** Runs the whole driver protocol for one Allocate and returns the allocation. */
function allocate(
  table: AllocationTable,
  ports: RelayPortAllocator,
  clientPort: number,
  username: string,
  now: number,
  transactionId = TX1,
): Allocation {
  const check = table.checkAllocate(tuple(clientPort), transactionId, username, now);
  assert.equal(check.kind, 'proceed');
  const claim = ports.tryReserve();
  assert.ok(claim.ok);
  ports.commit(claim.value, now);
  const allocation = new Allocation(
    {
      fiveTuple: tuple(clientPort),
      username,
      realm: 'r',
      relayed: { address: '192.0.2.1', port: claim.value.port },
      lifetimeSeconds: 600,
    },
    now,
  );
  table.add(allocation, RESPONSE, now);
  return allocation;
}

describe('allocation table (RFC 8656 §7.2)', () => {
  test('every index is empty again once its allocations are gone', () => {
    const { table, ports } = setup();
    const empty = table.sizes();
    assert.deepEqual(empty, { allocations: 0, relayPorts: 0, pending: 0, users: 0, deadlines: 0 });
    const first = allocate(table, ports, 51000, 'alice', 0);
    allocate(table, ports, 51001, 'bob', 0);
    const begun = table.checkAllocate(tuple(51002), TX1, 'carol', 0);
    assert.equal(begun.kind, 'proceed');
    assert.deepEqual(table.sizes(), {
      allocations: 2,
      relayPorts: 2,
      pending: 1,
      users: 3,
      deadlines: 2,
    });
    // Deleted (Refresh 0), expired, and abandoned.
    first.handle({ type: 'refresh', username: 'alice', lifetimeSeconds: 0 }, 1 * S);
    table.touch(first);
    for (const due of table.takeDue(600 * S).allocations) {
      due.handle({ type: 'timer' }, 600 * S);
      table.touch(due);
    }
    table.abandon(begun.key);
    assert.deepEqual(table.sizes(), empty);
    assert.equal(ports.usedCount, 0);
  });

  test('lookup by 5-tuple and by relay port', () => {
    const { table, ports } = setup();
    const allocation = allocate(table, ports, 51000, 'alice', 0);
    assert.equal(table.lookup(tuple(51000)), allocation);
    assert.equal(table.get(allocation.key), allocation);
    assert.equal(table.byRelayPort(allocation.relayed.port), allocation);
    assert.equal(table.lookup(tuple(51001)), undefined);
    assert.equal(table.size, 1);
    assert.deepEqual([...table], [allocation]);
  });

  test('a retransmitted Allocate (same 5-tuple, same transaction id) is answered from the cache for 40 s', () => {
    const { table, ports } = setup();
    allocate(table, ports, 51000, 'alice', 0);
    assert.deepEqual(table.checkAllocate(tuple(51000), TX1, 'alice', 39_999), {
      kind: 'retransmission',
      response: RESPONSE,
    });
    assert.deepEqual(table.checkAllocate(tuple(51000), TX1, 'alice', 40_000), {
      kind: 'reject',
      code: 437,
      reason: 'allocation-mismatch',
    });
    assert.equal(table.size, 1);
  });

  test('437 when the 5-tuple is in use by an allocation or a begun Allocate', () => {
    const { table, ports } = setup();
    allocate(table, ports, 51000, 'alice', 0);
    assert.deepEqual(table.checkAllocate(tuple(51000), TX2, 'alice', 1), {
      kind: 'reject',
      code: 437,
      reason: 'allocation-mismatch',
    });
    assert.equal(table.checkAllocate(tuple(52000), TX1, 'bob', 1).kind, 'proceed');
    assert.deepEqual(table.checkAllocate(tuple(52000), TX1, 'bob', 2), { kind: 'in-progress' });
    assert.deepEqual(table.checkAllocate(tuple(52000), TX2, 'bob', 2), {
      kind: 'reject',
      code: 437,
      reason: 'allocation-mismatch',
    });
  });

  test('486 past the per-user quota; freed by remove and abandon', () => {
    const { table, ports } = setup({ maxAllocationsPerUser: 2 });
    const first = allocate(table, ports, 51000, 'alice', 0);
    const begun = table.checkAllocate(tuple(51001), TX1, 'alice', 0);
    assert.equal(begun.kind, 'proceed');
    assert.deepEqual(table.checkAllocate(tuple(51002), TX1, 'alice', 0), {
      kind: 'reject',
      code: 486,
      reason: 'allocation-quota-reached',
    });
    assert.equal(table.checkAllocate(tuple(51003), TX1, 'bob', 0).kind, 'proceed');
    assert.equal(begun.key, 'udp 192.0.2.10 51001 192.0.2.1 3478');
    table.abandon(begun.key);
    assert.equal(table.userAllocations('alice'), 1);
    assert.equal(table.checkAllocate(tuple(51002), TX1, 'alice', 0).kind, 'proceed');
    assert.equal(table.checkAllocate(tuple(51004), TX1, 'alice', 0).kind, 'reject');
    table.remove(first);
    table.remove(first);
    assert.equal(table.userAllocations('alice'), 1);
    assert.equal(table.checkAllocate(tuple(51004), TX1, 'alice', 0).kind, 'proceed');
  });

  test('508 past the total allocation quota', () => {
    const { table, ports } = setup({ maxAllocations: 2 });
    allocate(table, ports, 51000, 'alice', 0);
    allocate(table, ports, 51001, 'bob', 0);
    assert.deepEqual(table.checkAllocate(tuple(51002), TX1, 'carol', 0), {
      kind: 'reject',
      code: 508,
      reason: 'insufficient-capacity',
    });
  });

  test('an unfinished Allocate gives its slot back after pendingTimeoutMs', () => {
    const { table } = setup({ maxAllocations: 1, pendingTimeoutMs: 10_000 });
    assert.equal(table.checkAllocate(tuple(51000), TX1, 'alice', 0).kind, 'proceed');
    assert.equal(table.checkAllocate(tuple(51001), TX1, 'bob', 9_999).kind, 'reject');
    assert.equal(table.checkAllocate(tuple(51001), TX1, 'bob', 10_000).kind, 'proceed');
    assert.equal(table.userAllocations('alice'), 0);
  });

  test('timers: one deadline for all; a terminated allocation leaves and frees its port', () => {
    const { table, ports } = setup();
    const a = allocate(table, ports, 51000, 'alice', 0);
    const b = allocate(table, ports, 51001, 'bob', 100 * S);
    assert.equal(table.nextTimeoutAt, 600 * S);
    b.handle({ type: 'refresh', username: 'bob', lifetimeSeconds: 3600 }, 200 * S);
    table.touch(b);
    assert.deepEqual(table.takeDue(599 * S), { allocations: [], expiredReservations: [] });
    const due = table.takeDue(600 * S);
    assert.deepEqual(due.allocations, [a]);
    assert.deepEqual(a.handle({ type: 'timer' }, 600 * S), [
      { type: 'terminated', reason: 'expired' },
    ]);
    assert.equal(table.touch(a), false);
    assert.equal(table.lookup(tuple(51000)), undefined);
    assert.equal(table.byRelayPort(a.relayed.port), undefined);
    assert.equal(ports.isInUse(a.relayed.port), false);
    assert.equal(table.userAllocations('alice'), 0);
    assert.equal(table.nextTimeoutAt, 3800 * S);
  });

  test('expired RESERVATION-TOKENs come out of takeDue', () => {
    const { table, ports } = setup();
    const claim = ports.tryReserve({ reserveNext: true });
    assert.ok(claim.ok);
    ports.commit(claim.value, 0);
    assert.equal(table.nextTimeoutAt, 30_000);
    assert.deepEqual(table.takeDue(30_000), {
      allocations: [],
      expiredReservations: [claim.value.port + 1],
    });
  });

  test('add without a begun Allocate, or with an uncommitted port, throws', () => {
    const { table, ports } = setup();
    const orphan = new Allocation(
      {
        fiveTuple: tuple(51000),
        username: 'alice',
        realm: 'r',
        relayed: { address: '192.0.2.1', port: 50000 },
        lifetimeSeconds: 600,
      },
      0,
    );
    assert.throws(
      () => {
        table.add(orphan, RESPONSE, 0);
      },
      { code: 'RAMPART_ERR_INVALID_STATE' },
    );
    table.checkAllocate(tuple(51000), TX1, 'alice', 0);
    assert.throws(
      () => {
        table.add(orphan, RESPONSE, 0);
      },
      { code: 'RAMPART_ERR_INVALID_STATE' },
    );
    const claim = ports.tryReserve();
    assert.ok(claim.ok);
    ports.commit(claim.value, 0);
    table.add(orphan, RESPONSE, 0);
    assert.equal(table.lookup(tuple(51000)), orphan);
  });
});

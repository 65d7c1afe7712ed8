import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Allocation, type AllocationInit } from './allocation.ts';
import {
  assertAllocationTransition,
  desiredLifetimeSeconds,
  DEFAULT_ALLOCATION_LIMITS,
  resolveAllocationLimits,
  type AllocationAction,
} from './allocation-types.ts';

const S = 1000;
const USER = '1700086400:alice';
const PEER_A = { address: '198.51.100.1', port: 40000 };
const PEER_A2 = { address: '198.51.100.1', port: 40002 };
const PEER_B = { address: '198.51.100.2', port: 40000 };

function allocation(overrides: Partial<AllocationInit> = {}, now = 0): Allocation {
  return new Allocation(
    {
      fiveTuple: {
        transport: 'udp',
        clientAddress: '192.0.2.10',
        clientPort: 51000,
        serverAddress: '192.0.2.1',
        serverPort: 3478,
      },
      username: USER,
      realm: 'rampart.example',
      relayed: { address: '192.0.2.1', port: 50002 },
      lifetimeSeconds: 600,
      ...overrides,
    },
    now,
  );
}

function bind(
  a: Allocation,
  channel: number,
  peer: { address: string; port: number },
  now: number,
) {
  return a.handle({ type: 'channel-bind', username: USER, channel, peer }, now);
}

function errorReason(actions: readonly AllocationAction[]): string {
  const first = actions[0];
  return first?.type === 'error' ? `${first.code} ${first.reason}` : (first?.type ?? 'none');
}

describe('allocation lifetime (RFC 8656 §6, §7.2, §8.2)', () => {
  test('the lifetime to grant: default, capped at the maximum, never below the default', () => {
    const limits = DEFAULT_ALLOCATION_LIMITS;
    assert.equal(desiredLifetimeSeconds(undefined, limits), 600);
    assert.equal(desiredLifetimeSeconds(1200, limits), 1200);
    assert.equal(desiredLifetimeSeconds(7200, limits), 3600);
    assert.equal(desiredLifetimeSeconds(30, limits), 600);
    assert.equal(desiredLifetimeSeconds(0, limits), 600);
    assert.equal(desiredLifetimeSeconds(0, limits, true), 0);
    assert.equal(
      desiredLifetimeSeconds(7200, { defaultLifetimeSeconds: 600, maxLifetimeSeconds: 900 }),
      900,
    );
  });

  test('expires at its lifetime: terminated, then every request gets 437', () => {
    const a = allocation({}, 1000);
    assert.equal(a.nextTimeoutAt, 1000 + 600 * S);
    assert.deepEqual(a.handle({ type: 'timer' }, 1000 + 600 * S - 1), []);
    assert.equal(a.state, 'active');
    assert.deepEqual(a.handle({ type: 'timer' }, 1000 + 600 * S), [
      { type: 'terminated', reason: 'expired' },
    ]);
    assert.equal(a.state, 'terminated');
    assert.equal(a.nextTimeoutAt, undefined);
    assert.deepEqual(
      a.handle({ type: 'refresh', username: USER, lifetimeSeconds: 600 }, 1000 + 601 * S),
      [{ type: 'error', request: 'refresh', code: 437, reason: 'allocation-mismatch' }],
    );
    assert.equal(errorReason(bind(a, 0x4000, PEER_A, 1000 + 601 * S)), '437 allocation-mismatch');
    assert.deepEqual(a.handle({ type: 'timer' }, 1000 + 700 * S), []);
  });

  test('Refresh resets the time-to-expiry to the desired lifetime', () => {
    const a = allocation();
    assert.deepEqual(
      a.handle({ type: 'refresh', username: USER, lifetimeSeconds: 1800 }, 500 * S),
      [{ type: 'refresh-success', lifetimeSeconds: 1800 }],
    );
    assert.equal(a.nextTimeoutAt, 2300 * S);
    assert.deepEqual(a.handle({ type: 'timer' }, 600 * S), []);
    assert.deepEqual(
      a.handle({ type: 'refresh', username: USER, lifetimeSeconds: undefined }, 1000 * S),
      [{ type: 'refresh-success', lifetimeSeconds: 600 }],
    );
    assert.equal(a.expiresAtMs, 1600 * S);
  });

  test('Refresh with LIFETIME 0 deletes the allocation', () => {
    const a = allocation();
    bind(a, 0x4000, PEER_A, 0);
    assert.deepEqual(a.handle({ type: 'refresh', username: USER, lifetimeSeconds: 0 }, 10 * S), [
      { type: 'refresh-success', lifetimeSeconds: 0 },
      { type: 'terminated', reason: 'deleted' },
    ]);
    assert.equal(a.state, 'terminated');
    assert.equal(a.hasPermission(PEER_A.address, 10 * S), false);
    assert.equal(a.peerForChannel(0x4000, 10 * S), undefined);
  });

  test('441 when a request uses another username than the Allocate', () => {
    const a = allocation();
    assert.deepEqual(a.handle({ type: 'refresh', username: 'mallory', lifetimeSeconds: 600 }, 0), [
      { type: 'error', request: 'refresh', code: 441, reason: 'wrong-credentials' },
    ]);
    assert.equal(
      errorReason(
        a.handle({ type: 'create-permission', username: 'mallory', peers: ['198.51.100.1'] }, 0),
      ),
      '441 wrong-credentials',
    );
    assert.equal(a.hasPermission('198.51.100.1', 0), false);
  });

  test('close terminates with the driver reason', () => {
    const a = allocation();
    assert.deepEqual(a.handle({ type: 'close', reason: 'transport-closed' }, 5), [
      { type: 'terminated', reason: 'transport-closed' },
    ]);
    assert.deepEqual(a.handle({ type: 'close', reason: 'shutdown' }, 6), []);
  });

  test('the state guard refuses an edge the table does not list', () => {
    assert.throws(
      () => {
        assertAllocationTransition('allocation', 'terminated', 'active');
      },
      {
        code: 'RAMPART_ERR_INVALID_STATE',
      },
    );
    assert.throws(
      () => {
        assertAllocationTransition('channel', 'bound', 'bound');
      },
      {
        code: 'RAMPART_ERR_INVALID_STATE',
      },
    );
    assert.doesNotThrow(() => {
      assertAllocationTransition('channel', 'held', 'bound');
    });
  });

  test('limits are validated', () => {
    assert.throws(() => resolveAllocationLimits({ maxLifetimeSeconds: 300 }), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
    assert.throws(() => resolveAllocationLimits({ maxPermissions: 0 }), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
    assert.throws(() => allocation({ lifetimeSeconds: 0 }), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
    assert.equal(
      resolveAllocationLimits({ channelReuseHoldSeconds: 0 }).channelReuseHoldSeconds,
      0,
    );
  });

  test('resolved limits are shared: same overrides object, same frozen result', () => {
    const overrides: { maxPermissions: number } = { maxPermissions: 8 };
    const resolved = resolveAllocationLimits(overrides);
    assert.ok(Object.isFrozen(resolved));
    assert.equal(resolveAllocationLimits(overrides), resolved);
    assert.equal(resolveAllocationLimits(resolved), resolved);
    // An owner that mutates its overrides gets a fresh result, not the stale one.
    overrides.maxPermissions = 9;
    assert.equal(resolveAllocationLimits(overrides).maxPermissions, 9);
    assert.equal(
      resolveAllocationLimits().maxPermissions,
      DEFAULT_ALLOCATION_LIMITS.maxPermissions,
    );
  });

  test('RFC 8656 §6: the key is stored and read back byte for byte', () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => 250 - i * 16);
    assert.deepEqual(allocation({ integrityKey: key }).integrityKey, key);
    assert.equal(allocation().integrityKey, undefined);
  });
});

describe('permissions (RFC 8656 §9, §10)', () => {
  test('a permission lasts 300 s, checked against now even before the timer', () => {
    const a = allocation();
    assert.deepEqual(
      a.handle(
        { type: 'create-permission', username: USER, peers: ['198.51.100.1', '198.51.100.2'] },
        10 * S,
      ),
      [{ type: 'create-permission-success', installed: 2 }],
    );
    assert.equal(a.hasPermission('198.51.100.1', 310 * S - 1), true);
    assert.equal(a.hasPermission('198.51.100.1', 310 * S), false);
    assert.equal(a.hasPermission('198.51.100.3', 20 * S), false);
    assert.equal(a.nextTimeoutAt, 310 * S);
    assert.deepEqual(a.handle({ type: 'timer' }, 310 * S), [
      { type: 'permission-expired', address: '198.51.100.1' },
      { type: 'permission-expired', address: '198.51.100.2' },
    ]);
    assert.equal(a.permissionCount, 0);
    assert.equal(a.nextTimeoutAt, 600 * S);
  });

  test('CreatePermission refreshes an existing permission to 300 s', () => {
    const a = allocation();
    a.handle({ type: 'create-permission', username: USER, peers: ['198.51.100.1'] }, 0);
    a.handle({ type: 'create-permission', username: USER, peers: ['198.51.100.1'] }, 200 * S);
    assert.deepEqual(a.handle({ type: 'timer' }, 300 * S), []);
    assert.equal(a.hasPermission('198.51.100.1', 499 * S), true);
    assert.deepEqual(a.handle({ type: 'timer' }, 500 * S), [
      { type: 'permission-expired', address: '198.51.100.1' },
    ]);
  });

  test('ChannelBind installs and refreshes the permission; ChannelData lookups refresh nothing', () => {
    const a = allocation({ lifetimeSeconds: 3600 });
    bind(a, 0x4000, PEER_A, 0);
    assert.equal(a.hasPermission(PEER_A.address, 299 * S), true);
    for (let t = 0; t < 299; t++) assert.equal(a.peerForChannel(0x4000, t * S), PEER_A);
    assert.equal(a.hasPermission(PEER_A.address, 300 * S), false);
    bind(a, 0x4000, PEER_A, 250 * S);
    assert.equal(a.hasPermission(PEER_A.address, 549 * S), true);
  });

  test('no peers → 400; a peer of the other family → 443', () => {
    const a = allocation();
    assert.equal(
      errorReason(a.handle({ type: 'create-permission', username: USER, peers: [] }, 0)),
      '400 no-peer-address',
    );
    assert.equal(
      errorReason(
        a.handle(
          { type: 'create-permission', username: USER, peers: ['198.51.100.1', '2001:db8::1'] },
          0,
        ),
      ),
      '443 peer-address-family-mismatch',
    );
    assert.equal(a.hasPermission('198.51.100.1', 0), false);
    assert.equal(
      errorReason(bind(a, 0x4000, { address: '2001:db8::1', port: 1 }, 0)),
      '443 peer-address-family-mismatch',
    );
  });

  test('508 past the permission quota, all or nothing', () => {
    const a = allocation({ limits: { maxPermissions: 2 } });
    a.handle({ type: 'create-permission', username: USER, peers: ['198.51.100.1'] }, 0);
    assert.equal(
      errorReason(
        a.handle(
          { type: 'create-permission', username: USER, peers: ['198.51.100.2', '198.51.100.3'] },
          0,
        ),
      ),
      '508 permission-quota',
    );
    assert.equal(a.hasPermission('198.51.100.2', 0), false);
    assert.equal(
      a.handle(
        { type: 'create-permission', username: USER, peers: ['198.51.100.1', '198.51.100.2'] },
        0,
      )[0]?.type,
      'create-permission-success',
    );
    assert.equal(
      errorReason(bind(a, 0x4000, { address: '198.51.100.3', port: 1 }, 0)),
      '508 permission-quota',
    );
  });
});

describe('channel bindings (RFC 8656 §12)', () => {
  test('channel numbers outside 0x4000-0x7FFF (RFC 5766 range kept) → 400', () => {
    const a = allocation();
    for (const channel of [0x3fff, 0x8000, 0xffff, 0, 0x4000 + 0.5]) {
      assert.equal(
        errorReason(bind(a, channel, PEER_A, 0)),
        '400 bad-channel-number',
        String(channel),
      );
    }
    assert.equal(bind(a, 0x4000, PEER_A, 0)[0]?.type, 'channel-bind-success');
    assert.equal(bind(a, 0x4fff, PEER_B, 0)[0]?.type, 'channel-bind-success');
  });

  test('a binding lasts 600 s; rebinding to the same peer refreshes it', () => {
    const a = allocation({ lifetimeSeconds: 3600 });
    assert.deepEqual(bind(a, 0x4001, PEER_A, 0), [
      { type: 'channel-bind-success', channel: 0x4001, peer: PEER_A, refreshed: false },
    ]);
    assert.equal(a.channelForPeer(PEER_A.address, PEER_A.port, 10 * S), 0x4001);
    assert.deepEqual(bind(a, 0x4001, PEER_A, 500 * S), [
      { type: 'channel-bind-success', channel: 0x4001, peer: PEER_A, refreshed: true },
    ]);
    assert.equal(a.peerForChannel(0x4001, 1099 * S), PEER_A);
    assert.equal(a.peerForChannel(0x4001, 1100 * S), undefined);
  });

  test('expiry at 600 s: channel-expired, unbound, number and peer held 300 s, then free', () => {
    const a = allocation({ lifetimeSeconds: 3600 });
    bind(a, 0x4002, PEER_A, 0);
    a.handle({ type: 'timer' }, 300 * S); // permission expires
    assert.equal(a.nextTimeoutAt, 600 * S);
    assert.deepEqual(a.handle({ type: 'timer' }, 600 * S), [
      { type: 'channel-expired', channel: 0x4002, peer: PEER_A },
    ]);
    assert.equal(a.peerForChannel(0x4002, 600 * S), undefined);
    assert.equal(a.channelForPeer(PEER_A.address, PEER_A.port, 600 * S), undefined);
    assert.equal(a.channelCount, 1);
    assert.equal(a.nextTimeoutAt, 900 * S);
    assert.deepEqual(a.handle({ type: 'timer' }, 900 * S), []);
    assert.equal(a.channelCount, 0);
    assert.equal(bind(a, 0x4002, PEER_B, 900 * S)[0]?.type, 'channel-bind-success');
  });

  test('a channel bound to one peer cannot be bound to another → 400', () => {
    const a = allocation();
    bind(a, 0x4003, PEER_A, 0);
    assert.equal(errorReason(bind(a, 0x4003, PEER_B, 1 * S)), '400 channel-bound-to-other-peer');
    assert.equal(errorReason(bind(a, 0x4003, PEER_A2, 1 * S)), '400 channel-bound-to-other-peer');
    assert.equal(a.peerForChannel(0x4003, 1 * S), PEER_A);
  });

  test('a peer bound to one channel cannot be bound to another → 400', () => {
    const a = allocation();
    bind(a, 0x4004, PEER_A, 0);
    assert.equal(errorReason(bind(a, 0x4005, PEER_A, 1 * S)), '400 peer-bound-to-other-channel');
    assert.equal(a.peerForChannel(0x4005, 1 * S), undefined);
    // The same IP on another port is another transport address.
    assert.equal(bind(a, 0x4005, PEER_A2, 1 * S)[0]?.type, 'channel-bind-success');
  });

  test('for 5 minutes after expiry neither number nor peer may go elsewhere; the same pair may rebind', () => {
    const a = allocation({ lifetimeSeconds: 3600 });
    bind(a, 0x4006, PEER_A, 0);
    a.handle({ type: 'timer' }, 600 * S);
    assert.equal(errorReason(bind(a, 0x4006, PEER_B, 700 * S)), '400 channel-held-for-other-peer');
    assert.equal(errorReason(bind(a, 0x4007, PEER_A, 899 * S)), '400 peer-held-for-other-channel');
    assert.deepEqual(bind(a, 0x4006, PEER_A, 899 * S), [
      { type: 'channel-bind-success', channel: 0x4006, peer: PEER_A, refreshed: false },
    ]);
    assert.equal(a.peerForChannel(0x4006, 900 * S), PEER_A);
    assert.equal(a.nextTimeoutAt, 1199 * S);
  });

  test('with channelReuseHoldSeconds 0 the number is free at expiry', () => {
    const a = allocation({ lifetimeSeconds: 3600, limits: { channelReuseHoldSeconds: 0 } });
    bind(a, 0x4008, PEER_A, 0);
    assert.deepEqual(a.handle({ type: 'timer' }, 600 * S), [
      { type: 'permission-expired', address: PEER_A.address },
      { type: 'channel-expired', channel: 0x4008, peer: PEER_A },
    ]);
    assert.equal(bind(a, 0x4008, PEER_B, 600 * S)[0]?.type, 'channel-bind-success');
  });

  test('a late timer expires and frees a channel whose hold already passed', () => {
    const a = allocation({ lifetimeSeconds: 3600 });
    bind(a, 0x4009, PEER_A, 0);
    assert.deepEqual(a.handle({ type: 'timer' }, 1000 * S), [
      { type: 'permission-expired', address: PEER_A.address },
      { type: 'channel-expired', channel: 0x4009, peer: PEER_A },
    ]);
    assert.equal(a.channelCount, 0);
  });

  test('508 past the channel quota; held numbers count', () => {
    const a = allocation({ lifetimeSeconds: 3600, limits: { maxChannels: 1 } });
    bind(a, 0x4000, PEER_A, 0);
    assert.equal(errorReason(bind(a, 0x4001, PEER_B, 0)), '508 channel-quota');
    a.handle({ type: 'timer' }, 600 * S);
    assert.equal(errorReason(bind(a, 0x4001, PEER_B, 700 * S)), '508 channel-quota');
    a.handle({ type: 'timer' }, 900 * S);
    assert.equal(bind(a, 0x4001, PEER_B, 900 * S)[0]?.type, 'channel-bind-success');
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createPeerPolicy, type PeerPolicy, type PeerPolicyConfig } from './peer-policy.ts';

function policy(config: PeerPolicyConfig = {}): PeerPolicy {
  const built = createPeerPolicy(config);
  assert.ok(built.ok, built.ok ? '' : built.error.message);
  return built.value;
}

function reason(p: PeerPolicy, address: string, port = 40000): string {
  const decision = p.decide({ address, port });
  return decision.allowed ? 'allowed' : decision.reason;
}

function v4Value(text: string): number {
  const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number];
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

function hex16(value: number): string {
  return value.toString(16);
}

/** Every IPv6 spelling that embeds `ipv4` and must be judged as it. */
function encodings(ipv4: string): string[] {
  const value = v4Value(ipv4);
  const high = hex16(value >>> 16);
  const low = hex16(value & 0xffff);
  const out = [
    `::ffff:${ipv4}`, // IPv4-mapped, mixed notation
    `::ffff:${high}:${low}`, // IPv4-mapped, hex
    `0:0:0:0:0:FFFF:${high.toUpperCase()}:${low.padStart(4, '0')}`, // odd text
    `2002:${high}:${low}::`, // 6to4
    `2002:${high}:${low}:1::1`, // 6to4 with a subnet and host
    `64:ff9b::${ipv4}`, // NAT64 well-known prefix
    `0064:FF9B:0000::${high}:${low}`, // NAT64, odd text
    `64:ff9b:1::${ipv4}`, // NAT64 local-use /48 read as /96
  ];
  // IPv4-compatible (::a.b.c.d) only exists for values above ::1.
  if (value > 1) out.push(`::${ipv4}`, `0::${high}:${low}`);
  return out;
}

const DENIED_V4: readonly (readonly [string, string])[] = [
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['255.255.255.255', 'broadcast'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'private'],
  ['100.127.255.255', 'private'],
  ['169.254.169.254', 'link-local'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['192.0.2.1', 'documentation'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.9', 'documentation'],
  ['192.0.0.170', 'reserved'],
  ['192.88.99.1', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['198.19.255.255', 'reserved'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.254', 'reserved'],
];

const DENIED_V6: readonly (readonly [string, string])[] = [
  ['::', 'unspecified'],
  ['0:0:0:0:0:0:0:0', 'unspecified'],
  ['::1', 'loopback'],
  ['0000:0000:0000:0000:0000:0000:0000:0001', 'loopback'],
  ['fe80::1', 'link-local'],
  ['FE80::1%eth0', 'link-local'],
  ['febf:ffff::1', 'link-local'],
  ['ff02::1', 'multicast'],
  ['fc00::1', 'private'],
  ['fd12:3456::1', 'private'],
  ['fec0::1', 'private'],
  ['2001:db8::1', 'documentation'],
  ['3fff:0fff::1', 'documentation'],
  ['2001:0:4136:e378::1', 'reserved'],
  ['2001:2::1', 'reserved'],
  ['2001:20::1', 'reserved'],
  ['100::1', 'reserved'],
  ['5f00::1', 'reserved'],
  ['1::1', 'reserved'],
  ['4000::1', 'reserved'],
  ['e000::1', 'reserved'],
];

describe('PeerPolicy defaults (SSRF)', () => {
  const defaults = policy();

  test('every special-purpose IPv4 block is refused with its category', () => {
    for (const [address, expected] of DENIED_V4)
      assert.equal(reason(defaults, address), expected, address);
  });

  test('every IPv6 encoding of a refused IPv4 is refused the same way', () => {
    for (const [address, expected] of DENIED_V4) {
      for (const encoded of encodings(address)) {
        assert.equal(reason(defaults, encoded), expected, `${encoded} (${address})`);
      }
    }
  });

  test('special-purpose IPv6 blocks are refused with their category', () => {
    for (const [address, expected] of DENIED_V6)
      assert.equal(reason(defaults, address), expected, address);
  });

  test('odd IPv4 text is refused', () => {
    for (const text of ['0127.0.0.1', '127.1', '0x7f000001', '0177.0.0.1']) {
      assert.equal(reason(defaults, text), 'non-canonical-ipv4', text);
    }
  });

  test('ordinary public peers are relayed, in every encoding', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '169.253.255.255']) {
      assert.equal(reason(defaults, address), 'allowed', address);
      for (const encoded of encodings(address))
        assert.equal(reason(defaults, encoded), 'allowed', encoded);
    }
    for (const address of ['2a00:1450:4001:829::200e', '2606:4700::1111', '2001:4860:4860::8888']) {
      assert.equal(reason(defaults, address), 'allowed', address);
    }
  });

  test('port 0 and out-of-range ports are refused', () => {
    assert.equal(reason(defaults, '8.8.8.8', 0), 'invalid-port');
    assert.equal(reason(defaults, '8.8.8.8', 65536), 'invalid-port');
    assert.equal(reason(defaults, '8.8.8.8', 1.5), 'invalid-port');
  });
});

describe('PeerPolicy configuration', () => {
  test('flags enable a category; allow overrides defaults; deny overrides allow', () => {
    assert.equal(reason(policy({ allowLoopback: true }), '127.0.0.1'), 'allowed');
    assert.equal(reason(policy({ allowPrivate: true }), '::ffff:10.1.2.3'), 'allowed');
    const p = policy({ allow: ['10.0.0.0/8', 'fd00::/8'], deny: ['10.9.0.0/16'] });
    assert.equal(reason(p, '10.1.2.3'), 'allowed');
    assert.equal(reason(p, '2002:a01:203::'), 'allowed');
    assert.equal(reason(p, 'fd00::5'), 'allowed');
    assert.equal(reason(p, '10.9.1.1'), 'denied-by-config');
    assert.equal(reason(p, '::ffff:10.9.1.1'), 'denied-by-config');
    assert.equal(reason(p, '64:ff9b::10.9.1.1'), 'denied-by-config');
    assert.equal(reason(p, '192.168.1.1'), 'private');
  });

  test('unspecified and broadcast stay refused even when allowed', () => {
    const p = policy({ allow: ['0.0.0.0/0', '::/0'], allowReserved: true });
    for (const text of [
      '0.0.0.0',
      '::ffff:0.0.0.0',
      '2002::',
      '255.255.255.255',
      '::',
      '0.0.0.1',
    ]) {
      assert.notEqual(reason(p, text), 'allowed', text);
    }
    assert.equal(reason(p, '127.0.0.1'), 'allowed');
  });

  test('a deny on an IPv6 prefix blocks the literal even when its embedded IPv4 is fine', () => {
    const p = policy({ deny: ['64:ff9b::/96', '2002::/16'] });
    assert.equal(reason(p, '64:ff9b::8.8.8.8'), 'denied-by-config');
    assert.equal(reason(p, '2002:808:808::1'), 'denied-by-config');
    assert.equal(reason(p, '8.8.8.8'), 'allowed');
  });

  test('denyUnlisted refuses everything outside allow', () => {
    const p = policy({ allow: ['198.51.100.0/24'], denyUnlisted: true });
    assert.equal(reason(p, '198.51.100.1'), 'allowed');
    assert.equal(reason(p, '8.8.8.8'), 'not-in-allow-list');
  });

  test('a non-prefix-aligned IPv4 range blocks exactly its members', () => {
    const p = policy({ deny: ['8.8.8.5-8.8.8.9'] });
    assert.equal(reason(p, '8.8.8.4'), 'allowed');
    for (let host = 5; host <= 9; host++)
      assert.equal(reason(p, `8.8.8.${host}`), 'denied-by-config');
    assert.equal(reason(p, '8.8.8.10'), 'allowed');
  });

  test('a non-prefix-aligned IPv6 range blocks exactly its members', () => {
    const p = policy({ deny: ['2a00:1::fffe - 2a00:1::1:1'] });
    for (const inside of [
      '2a00:1::fffe',
      '2a00:1::ffff',
      '2a00:1::1:0',
      '2a00:1::1:1',
      '2A00:0001:0:0:0:0:1:0',
    ]) {
      assert.equal(reason(p, inside), 'denied-by-config', inside);
    }
    for (const outside of ['2a00:1::fffd', '2a00:1::1:2', '2a00:1::2:0']) {
      assert.equal(reason(p, outside), 'allowed', outside);
    }
  });

  test('property: a start-end range denies x iff start <= x <= end', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        (a, b, x) => {
          const [start, end] = a <= b ? [a, b] : [b, a];
          const ip = (n: number): string => `2a00:1::${n.toString(16)}`;
          const p = policy({ deny: [`${ip(start)}-${ip(end)}`] });
          const denied = reason(p, ip(x)) === 'denied-by-config';
          assert.equal(denied, x >= start && x <= end);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('a CIDR with host bits set is refused with both readings', () => {
    const built = createPeerPolicy({ deny: ['10.0.0.1/8'] });
    assert.ok(!built.ok);
    assert.equal(built.error.field, 'deny');
    assert.equal(built.error.reason, 'host-bits-set');
    assert.match(built.error.message, /10\.0\.0\.0\/8/);
    assert.match(built.error.message, /10\.0\.0\.1\/32/);
    const v6 = createPeerPolicy({ allow: ['2001:db8::1/64'] });
    assert.ok(!v6.ok);
    assert.match(v6.error.message, /2001:db8::\/64/);
  });

  test('bad entries are refused with the field named', () => {
    for (const [config, field] of [
      [{ allow: ['10.0.0.0/33'] }, 'allow'],
      [{ deny: ['10.0.0.9-10.0.0.1'] }, 'deny'],
      [{ deny: ['10.0.0.1-::1'] }, 'deny'],
      [{ deny: ['127.1'] }, 'deny'],
      [{ ownAddresses: ['0.0.0.0'] }, 'ownAddresses'],
      [{ ownAddresses: ['example.com'] }, 'ownAddresses'],
      [{ relayPorts: { min: 60000, max: 50000 } }, 'relayPorts'],
      [{ nat64Prefixes: ['2001:db8::/80'] }, 'nat64Prefixes'],
    ] as const) {
      const built = createPeerPolicy(config);
      assert.ok(!built.ok, JSON.stringify(config));
      assert.equal(built.error.field, field);
    }
  });

  test('IPv4-mapped CIDR entries match the IPv4 peers they map', () => {
    const p = policy({ allow: ['::ffff:10.0.0.0/104'] });
    assert.equal(reason(p, '10.2.3.4'), 'allowed');
    assert.equal(reason(p, '11.2.3.4'), 'allowed');
    assert.equal(reason(p, '192.168.0.1'), 'private');
  });

  test('64:ff9b:1::/48 at /48 needs its prefix listed; then exactly its reading counts', () => {
    const address = '64:ff9b:1:808:8:800::'; // 8.8.8.8 at /48
    assert.equal(reason(policy(), address), 'unspecified'); // the /96 reading is 0.0.0.0
    const p = policy({ nat64Prefixes: ['64:ff9b:1::/48'] });
    assert.equal(reason(p, address), 'allowed');
    assert.equal(reason(p, '64:ff9b:1:7f00:0:100::'), 'loopback'); // 127.0.0.1 at /48
  });

  test("the operator's NAT64 prefix is judged by its embedded IPv4", () => {
    const p = policy({ nat64Prefixes: ['2a00:64::/64'] });
    // /64 format: IPv4 in bits 72-103.
    assert.equal(reason(p, '2a00:64::7f:0:1:0'), 'loopback');
    assert.equal(reason(p, '2a00:64::8:808:800:0'), 'allowed');
  });
});

describe('PeerPolicy own-address rule', () => {
  const p = policy({
    ownAddresses: ['203.0.113.10', '2a00:1::10'],
    relayPorts: { min: 50000, max: 59999 },
  });

  test('own address: relay ports only, never listener or admin ports', () => {
    assert.equal(reason(p, '203.0.113.10', 50000), 'allowed');
    assert.equal(reason(p, '203.0.113.10', 59999), 'allowed');
    assert.equal(reason(p, '203.0.113.10', 3478), 'own-address-port');
    assert.equal(reason(p, '203.0.113.10', 443), 'own-address-port');
    assert.equal(reason(p, '203.0.113.10', 60000), 'own-address-port');
    assert.equal(reason(p, '2a00:1::10', 55555), 'allowed');
    assert.equal(reason(p, '2A00:0001::0010', 5061), 'own-address-port');
  });

  test('a listener port inside the relay range stays refused', () => {
    const withListeners = policy({
      ownAddresses: ['203.0.113.10'],
      relayPorts: { min: 50000, max: 59999 },
      ownListenerPorts: [51234],
    });
    assert.equal(reason(withListeners, '203.0.113.10', 51234), 'own-address-port');
    assert.equal(reason(withListeners, '203.0.113.10', 51235), 'allowed');
    // Only own addresses: another host's port 51234 is nobody's listener.
    assert.equal(reason(withListeners, '8.8.8.8', 51234), 'allowed');
  });

  test('the rule follows the own address through its IPv6 encodings', () => {
    for (const encoded of encodings('203.0.113.10')) {
      assert.equal(reason(p, encoded, 3478), 'own-address-port', encoded);
    }
  });

  test('classify once, decide per port (cached classification)', () => {
    const classification = p.classify('::ffff:203.0.113.10');
    assert.ok(classification.allowed);
    assert.equal(classification.ownAddress, true);
    assert.deepEqual(p.decidePort(classification, 50001), { allowed: true });
    assert.deepEqual(p.decidePort(classification, 8443), {
      allowed: false,
      reason: 'own-address-port',
    });
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatIpv4 } from './ip.ts';
import { canonicalPeerAddress, canonicalPeerFromBytes } from './peer-address.ts';

describe('canonicalPeerAddress', () => {
  test('IPv6 text in any RFC 4291 spelling comes out in RFC 5952 form', () => {
    const cases: readonly (readonly [string, string])[] = [
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
      ['2a00:1450:4001:0829:0000:0000:0000:200e', '2a00:1450:4001:829::200e'],
      ['2A00:1450::1', '2a00:1450::1'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ];
    for (const [input, expected] of cases) {
      const canonical = canonicalPeerAddress(input);
      assert.ok(canonical.ok);
      assert.equal(canonical.value.address, expected);
      assert.equal(canonical.value.embedding, undefined);
    }
  });

  test('IPv4-mapped is its IPv4; other embeddings keep the IPv6 literal and judge the IPv4', () => {
    const mapped = canonicalPeerAddress('::FFFF:7f00:1');
    assert.ok(mapped.ok);
    assert.equal(mapped.value.address, '127.0.0.1');
    assert.equal(mapped.value.ip.family, 4);
    assert.equal(mapped.value.embedding, 'ipv4-mapped');
    const cases: readonly (readonly [string, string, string])[] = [
      ['::7f00:1', 'ipv4-compatible', '127.0.0.1'],
      ['2002:7f00:1::', '6to4', '127.0.0.1'],
      ['64:ff9b::a00:1', 'nat64', '10.0.0.1'],
      ['64:ff9b:1::c0a8:1', 'nat64', '192.168.0.1'],
    ];
    for (const [input, embedding, policyAddress] of cases) {
      const canonical = canonicalPeerAddress(input);
      assert.ok(canonical.ok, input);
      assert.equal(canonical.value.embedding, embedding, input);
      assert.equal(canonical.value.policyAddress, policyAddress, input);
      assert.equal(canonical.value.ip.family, 6, input);
    }
  });

  test('64:ff9b:1::/48 yields every well-formed RFC 6052 reading', () => {
    // /48 reading: 10.0 at bits 48-63 and 0.1 at bits 72-87; /56 reads 0.0.1.0, /64 reads
    // 0.1.0.0, /96 reads 0.0.0.0.
    const canonical = canonicalPeerAddress('64:ff9b:1:a00:0:100::');
    assert.ok(canonical.ok);
    assert.deepEqual(canonical.value.embeddedIpv4.map(formatIpv4).sort(), [
      '0.0.0.0',
      '0.0.1.0',
      '0.1.0.0',
      '10.0.0.1',
    ]);
    // A /96 address with a non-zero tail has no other well-formed reading.
    const only96 = canonicalPeerAddress('64:ff9b:1::808:808');
    assert.ok(only96.ok);
    assert.deepEqual(only96.value.embeddedIpv4.map(formatIpv4), ['8.8.8.8']);
  });

  test('non-canonical IPv4 text is refused, never guessed', () => {
    for (const text of [
      '0127.0.0.1',
      '127.1',
      '127.0.1',
      '0x7f.0.0.1',
      '2130706433',
      '017700000001',
      '127.0.0.01',
      '127.0.0.1.',
      '::ffff:127.1',
      '1.2.3.256',
    ]) {
      const canonical = canonicalPeerAddress(text);
      assert.ok(!canonical.ok, text);
      assert.equal(canonical.error, 'non-canonical-ipv4', text);
    }
  });

  test('garbage is invalid-address', () => {
    for (const text of [
      '',
      'localhost',
      '[::1]',
      '1:::2',
      ':1::2',
      '1::2::3',
      '12345::',
      '1:2:3:4:5:6:7:8:9',
      'fe80::1%',
      '::1 ',
      'g::1',
    ]) {
      const canonical = canonicalPeerAddress(text);
      assert.ok(!canonical.ok, text);
      assert.equal(canonical.error, 'invalid-address', text);
    }
  });

  test('binary addresses canonicalise like their text', () => {
    const v4 = canonicalPeerFromBytes(Uint8Array.of(192, 0, 2, 1));
    assert.ok(v4.ok);
    assert.equal(v4.value.address, '192.0.2.1');
    const mapped = canonicalPeerFromBytes(
      Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 127, 0, 0, 1),
    );
    assert.ok(mapped.ok);
    assert.equal(mapped.value.address, '127.0.0.1');
    assert.ok(!canonicalPeerFromBytes(Uint8Array.of(1, 2, 3)).ok);
  });

  test('property: never throws; formatting round-trips', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (text) => {
        canonicalPeerAddress(text);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (value) => {
        const bytes = new Uint8Array(16);
        for (let i = 0; i < 16; i++) bytes[i] = Number((value >> BigInt(8 * (15 - i))) & 0xffn);
        const first = canonicalPeerFromBytes(bytes);
        assert.ok(first.ok);
        const again = canonicalPeerAddress(first.value.address);
        assert.ok(again.ok);
        assert.equal(again.value.address, first.value.address);
      }),
    );
  });
});

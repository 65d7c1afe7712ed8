// IP text ↔ bytes, MAPPED-ADDRESS / XOR-MAPPED-ADDRESS layouts, and the address attributes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RampartError } from '../../lib/errors.ts';
import { bytesToIp, encodeAddress, ipToBytes, readAddress, writeAddress } from './address.ts';
import {
  AlternateServer,
  MappedAddress,
  XorMappedAddress,
  XorPeerAddress,
  XorRelayedAddress,
} from './attributes-address.ts';
import { STUN_ATTR, STUN_METHOD } from './constants.ts';
import { decodeStun } from './decode.ts';
import { encodeStun, rawAttribute, type StunAttributeWriter } from './encode.ts';
import type { StunMessage } from './message.ts';

const TID = Buffer.from('b7e7a701bc34d686fa87dfae', 'hex');

function message(attributes: readonly StunAttributeWriter[]): StunMessage {
  const result = decodeStun(
    encodeStun({ method: STUN_METHOD.Binding, cls: 'success', transactionId: TID, attributes }),
  );
  assert.ok(result.ok);
  return result.value;
}

describe('IP conversions', () => {
  test('IPv4 and the IPv6 text forms of RFC 4291 §2.2', () => {
    assert.deepEqual(ipToBytes('192.0.2.1'), Buffer.from([192, 0, 2, 1]));
    assert.equal(ipToBytes('2001:db8::1')?.toString('hex'), '20010db8000000000000000000000001');
    assert.equal(ipToBytes('::')?.toString('hex'), '0'.repeat(32));
    assert.equal(ipToBytes('::1')?.toString('hex'), '0'.repeat(31) + '1');
    assert.equal(ipToBytes('1::')?.toString('hex'), '0001' + '0'.repeat(28));
    assert.equal(
      ipToBytes('::ffff:192.0.2.1')?.toString('hex'),
      '00000000000000000000ffffc0000201',
    );
    assert.equal(ipToBytes('::192.0.2.1')?.toString('hex'), '000000000000000000000000c0000201');
    assert.equal(
      ipToBytes('1:2:3:4:5:6:192.0.2.1')?.toString('hex'),
      '000100020003000400050006c0000201',
    );
    assert.equal(ipToBytes('1:2:3:4:5:6:7:8')?.toString('hex'), '00010002000300040005000600070008');
  });

  test('rejects what is not an address, and IPv6 zones', () => {
    assert.equal(ipToBytes('example.org'), undefined);
    assert.equal(ipToBytes('256.0.0.1'), undefined);
    assert.equal(ipToBytes('fe80::1%eth0'), undefined);
    assert.equal(ipToBytes('1:2:3'), undefined);
  });

  test('formats IPv6 per RFC 5952', () => {
    const format = (text: string): string => bytesToIp(ipToBytes(text) ?? Buffer.alloc(0));
    assert.equal(format('2001:0DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.equal(format('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
    assert.equal(format('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1');
    assert.equal(format('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(format('::'), '::');
    assert.equal(format('::1'), '::1');
    assert.equal(format('1::'), '1::');
    assert.equal(format('::ffff:c000:201'), '::ffff:192.0.2.1');
    assert.equal(
      format('2001:db8:1234:5678:11:2233:4455:6677'),
      '2001:db8:1234:5678:11:2233:4455:6677',
    );
  });
});

describe('address values', () => {
  test('plain and XOR layouts (RFC 8489 §14.1, §14.2)', () => {
    const addr = encodeAddress({ family: 4, address: '192.0.2.1', port: 32853 });
    const plain = Buffer.alloc(8);
    writeAddress(plain, 0, addr, undefined);
    assert.equal(plain.toString('hex'), '00018055c0000201');
    const xored = Buffer.alloc(8);
    writeAddress(xored, 0, addr, TID);
    // RFC 5769 §2.2: XOR-MAPPED-ADDRESS of 192.0.2.1 port 32853.
    assert.equal(xored.toString('hex'), '0001a147e112a643');
    assert.deepEqual(readAddress(xored, TID), {
      ok: true,
      value: { family: 4, address: '192.0.2.1', port: 32853 },
    });
  });

  test('malformed values', () => {
    assert.deepEqual(readAddress(Buffer.from('0003000001020304', 'hex'), undefined), {
      ok: false,
      error: 'unknown-address-family',
    });
    assert.deepEqual(readAddress(Buffer.from('000100000102', 'hex'), undefined), {
      ok: false,
      error: 'bad-length',
    });
    assert.deepEqual(readAddress(Buffer.from('0002000001020304', 'hex'), undefined), {
      ok: false,
      error: 'bad-length',
    });
    assert.deepEqual(readAddress(Buffer.from('00', 'hex'), undefined), {
      ok: false,
      error: 'bad-length',
    });
  });

  test('encodeAddress throws on programmer errors', () => {
    assert.throws(
      () => encodeAddress({ family: 4, address: '2001:db8::1', port: 1 }),
      RampartError,
    );
    assert.throws(() => encodeAddress({ family: 6, address: '192.0.2.1', port: 1 }), RampartError);
    assert.throws(() => encodeAddress({ family: 4, address: 'host', port: 1 }), RampartError);
    assert.throws(
      () => encodeAddress({ family: 4, address: '192.0.2.1', port: 65536 }),
      RampartError,
    );
  });
});

describe('address attributes', () => {
  const v4 = { family: 4, address: '203.0.113.5', port: 49152 } as const;
  const v6 = { family: 6, address: '2001:db8::5', port: 3478 } as const;

  test('each get/of pair round-trips, XOR or not', () => {
    for (const codec of [
      MappedAddress,
      XorMappedAddress,
      AlternateServer,
      XorPeerAddress,
      XorRelayedAddress,
    ]) {
      for (const addr of [v4, v6]) {
        const read = codec.get(message([codec.of(addr)]));
        assert.deepEqual(read, { ok: true, value: addr }, `type 0x${codec.type.toString(16)}`);
      }
    }
  });

  test('MAPPED-ADDRESS is in the clear, XOR-MAPPED-ADDRESS is not', () => {
    const msg = message([MappedAddress.of(v4), XorMappedAddress.of(v4)]);
    assert.equal(msg.attributes[0]?.value.readUInt16BE(2), 49152);
    assert.equal(msg.attributes[1]?.value.readUInt16BE(2), 49152 ^ 0x2112);
  });

  test('getAll returns every XOR-PEER-ADDRESS and both XOR-RELAYED-ADDRESSes', () => {
    const msg = message([
      XorRelayedAddress.of(v4),
      XorRelayedAddress.of(v6),
      XorPeerAddress.of(v4),
      XorPeerAddress.of(v6),
      XorPeerAddress.of({ ...v4, port: 1 }),
    ]);
    assert.deepEqual(XorRelayedAddress.getAll(msg), { ok: true, value: [v4, v6] });
    const peers = XorPeerAddress.getAll(msg);
    assert.ok(peers.ok);
    assert.equal(peers.value.length, 3);
    assert.deepEqual(XorMappedAddress.getAll(msg), { ok: true, value: [] });
    assert.equal(XorMappedAddress.get(msg), undefined);
  });

  test('a malformed address is an error value naming the attribute and its offset', () => {
    const msg = message([
      XorPeerAddress.of(v4),
      rawAttribute(STUN_ATTR.XOR_PEER_ADDRESS, Buffer.from('00030000', 'hex')),
    ]);
    assert.deepEqual(XorPeerAddress.getAll(msg), {
      ok: false,
      error: {
        code: 'RAMPART_ERR_STUN_PARSE',
        reason: 'unknown-address-family',
        attributeType: STUN_ATTR.XOR_PEER_ADDRESS,
        offset: 32,
      },
    });
  });
});

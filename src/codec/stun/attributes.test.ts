// The get/add pairs of the text, authentication, error and TURN attributes: each value
// round-trips through encodeStun/decodeStun with the RFC's layout, and each malformed value
// comes back as an error value.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RampartError } from '../../lib/errors.ts';
import type { AttributeRead } from './attribute-codec.ts';
import {
  AlternateDomain,
  Nonce,
  PasswordAlgorithm,
  PasswordAlgorithms,
  Realm,
  Software,
  Userhash,
  Username,
} from './attributes-auth.ts';
import { AddressErrorCode, ErrorCode, UnknownAttributes } from './attributes-error.ts';
import {
  AdditionalAddressFamily,
  ChannelNumber,
  ConnectionId,
  Data,
  DontFragment,
  EvenPort,
  Icmp,
  Lifetime,
  RequestedAddressFamily,
  RequestedTransport,
  ReservationToken,
} from './attributes-turn.ts';
import { PASSWORD_ALGORITHM, STUN_ATTR, STUN_METHOD, TRANSPORT_PROTOCOL } from './constants.ts';
import { decodeStun } from './decode.ts';
import { encodeStun, rawAttribute, type StunAttributeWriter } from './encode.ts';
import type { StunAttributeErrorReason, StunMessage } from './message.ts';

const TID = Buffer.alloc(12, 7);

function message(...attributes: StunAttributeWriter[]): StunMessage {
  const result = decodeStun(
    encodeStun({ method: STUN_METHOD.Allocate, cls: 'request', transactionId: TID, attributes }),
  );
  assert.ok(result.ok);
  return result.value;
}

/** The value bytes the writer produces, as hex. */
function wire(attribute: StunAttributeWriter): string {
  return message(attribute).attributes[0]?.value.toString('hex') ?? '';
}

function valueOf<T>(read: AttributeRead<T>): T {
  assert.ok(read?.ok === true, `expected a value, got ${JSON.stringify(read)}`);
  return read.value;
}

function reasonOf<T>(read: AttributeRead<T>): StunAttributeErrorReason {
  assert.ok(read?.ok === false, 'expected an error');
  return read.error.reason;
}

describe('text attributes', () => {
  test('USERNAME, REALM, NONCE, SOFTWARE round-trip UTF-8', () => {
    const msg = message(
      Username.of('ユーザー'),
      Realm.of('example.org'),
      Nonce.of('n0nce'),
      Software.of('rampart 1'),
    );
    assert.equal(valueOf(Username.get(msg)), 'ユーザー');
    assert.equal(valueOf(Realm.get(msg)), 'example.org');
    assert.equal(valueOf(Nonce.get(msg)), 'n0nce');
    assert.equal(valueOf(Software.get(msg)), 'rampart 1');
    assert.equal(Username.get(message()), undefined);
  });

  test('invalid UTF-8 and over-long values are errors; only the first occurrence counts', () => {
    assert.equal(
      reasonOf(Realm.get(message(rawAttribute(STUN_ATTR.REALM, Buffer.from([0xc3, 0x28]))))),
      'invalid-utf8',
    );
    assert.equal(
      reasonOf(Nonce.get(message(rawAttribute(STUN_ATTR.NONCE, Buffer.alloc(764, 0x61))))),
      'too-long',
    );
    assert.equal(
      valueOf(Nonce.get(message(rawAttribute(STUN_ATTR.NONCE, Buffer.alloc(763, 0x61))))).length,
      763,
    );
    const twice = message(Software.of('first'), Software.of('second'));
    assert.equal(valueOf(Software.get(twice)), 'first');
  });

  test('sending limits of RFC 8489 are enforced on encode', () => {
    assert.throws(() => Username.of('u'.repeat(509)), RampartError);
    assert.doesNotThrow(() => Username.of('u'.repeat(508)));
    assert.throws(() => Software.of('s'.repeat(128)), RampartError);
    assert.doesNotThrow(() => Realm.of('é'.repeat(127)));
  });

  test('ALTERNATE-DOMAIN is ASCII of at most 255 bytes', () => {
    assert.equal(
      valueOf(AlternateDomain.get(message(AlternateDomain.of('turn.example.org')))),
      'turn.example.org',
    );
    assert.equal(
      reasonOf(
        AlternateDomain.get(message(rawAttribute(STUN_ATTR.ALTERNATE_DOMAIN, Buffer.from('é')))),
      ),
      'invalid-utf8',
    );
    assert.throws(() => AlternateDomain.of('a'.repeat(256)), RampartError);
    assert.throws(() => AlternateDomain.of('bad domain'), RampartError);
  });

  test('USERHASH is exactly 32 bytes', () => {
    const hash = Buffer.alloc(32, 9);
    assert.deepEqual(valueOf(Userhash.get(message(Userhash.of(hash)))), hash);
    assert.equal(
      reasonOf(Userhash.get(message(rawAttribute(STUN_ATTR.USERHASH, Buffer.alloc(31))))),
      'bad-length',
    );
    assert.throws(() => Userhash.of(Buffer.alloc(16)), RampartError);
  });

  test('PASSWORD-ALGORITHM and PASSWORD-ALGORITHMS (RFC 8489 §14.11, §14.12)', () => {
    const sha256 = { algorithm: PASSWORD_ALGORITHM.SHA256, parameters: Buffer.alloc(0) };
    const md5 = { algorithm: PASSWORD_ALGORITHM.MD5, parameters: Buffer.alloc(0) };
    const exotic = { algorithm: 0x8001, parameters: Buffer.from([1, 2, 3]) };
    assert.equal(wire(PasswordAlgorithm.of(sha256)), '00020000');
    assert.deepEqual(valueOf(PasswordAlgorithm.get(message(PasswordAlgorithm.of(exotic)))), exotic);
    assert.equal(
      wire(PasswordAlgorithms.of([sha256, exotic, md5])),
      '00020000' + '8001000301020300' + '00010000',
    );
    assert.deepEqual(
      valueOf(PasswordAlgorithms.get(message(PasswordAlgorithms.of([sha256, exotic, md5])))),
      [sha256, exotic, md5],
    );
    const truncated = rawAttribute(
      STUN_ATTR.PASSWORD_ALGORITHMS,
      Buffer.from('000200080102', 'hex'),
    );
    assert.equal(reasonOf(PasswordAlgorithms.get(message(truncated))), 'bad-length');
    const two = rawAttribute(STUN_ATTR.PASSWORD_ALGORITHM, Buffer.from('0001000000020000', 'hex'));
    assert.equal(reasonOf(PasswordAlgorithm.get(message(two))), 'bad-length');
  });
});

describe('error attributes', () => {
  test('ERROR-CODE: class, number and the registry reason (RFC 8489 §14.8)', () => {
    assert.equal(
      wire(ErrorCode.of(420)),
      '00000414' + Buffer.from('Unknown Attribute').toString('hex'),
    );
    assert.deepEqual(valueOf(ErrorCode.get(message(ErrorCode.of(438)))), {
      code: 438,
      reason: 'Stale Nonce',
    });
    assert.deepEqual(valueOf(ErrorCode.get(message(ErrorCode.of(599, 'custom')))), {
      code: 599,
      reason: 'custom',
    });
    assert.throws(() => ErrorCode.of(299), RampartError);
    assert.throws(() => ErrorCode.of(700), RampartError);
  });

  test('ERROR-CODE: the 21 reserved bits are ignored', () => {
    const reservedSet = rawAttribute(STUN_ATTR.ERROR_CODE, Buffer.from('fffffc01', 'hex'));
    assert.deepEqual(valueOf(ErrorCode.get(message(reservedSet))), { code: 401, reason: '' });
  });

  test('ERROR-CODE: class outside 3..6 or number over 99 is bad-error-code', () => {
    for (const word of ['00000200', '00000700', '00000464', '00000000']) {
      assert.equal(
        reasonOf(
          ErrorCode.get(message(rawAttribute(STUN_ATTR.ERROR_CODE, Buffer.from(word, 'hex')))),
        ),
        'bad-error-code',
        word,
      );
    }
    assert.equal(
      reasonOf(
        ErrorCode.get(message(rawAttribute(STUN_ATTR.ERROR_CODE, Buffer.from('0004', 'hex')))),
      ),
      'bad-length',
    );
  });

  test('UNKNOWN-ATTRIBUTES lists 16-bit types, padded like any attribute', () => {
    const msg = message(UnknownAttributes.of([0x0024, 0x7001, 0x0002]));
    assert.deepEqual(valueOf(UnknownAttributes.get(msg)), [0x0024, 0x7001, 0x0002]);
    assert.equal(msg.raw.length, 20 + 4 + 8);
    assert.equal(
      reasonOf(
        UnknownAttributes.get(message(rawAttribute(STUN_ATTR.UNKNOWN_ATTRIBUTES, Buffer.alloc(3)))),
      ),
      'bad-length',
    );
  });

  test('ADDRESS-ERROR-CODE carries a family (RFC 8656 §18.12)', () => {
    assert.equal(wire(AddressErrorCode.of(6, 440)).slice(0, 8), '02000428');
    assert.deepEqual(valueOf(AddressErrorCode.get(message(AddressErrorCode.of(6, 440)))), {
      family: 6,
      code: 440,
      reason: 'Address Family not Supported',
    });
    const badFamily = rawAttribute(STUN_ATTR.ADDRESS_ERROR_CODE, Buffer.from('03000508', 'hex'));
    assert.equal(reasonOf(AddressErrorCode.get(message(badFamily))), 'unknown-address-family');
  });
});

describe('TURN attributes', () => {
  test('32-bit values: LIFETIME and CONNECTION-ID', () => {
    assert.equal(wire(Lifetime.of(600)), '00000258');
    assert.equal(valueOf(Lifetime.get(message(Lifetime.of(0xffffffff)))), 0xffffffff);
    assert.equal(valueOf(ConnectionId.get(message(ConnectionId.of(0x12345678)))), 0x12345678);
    assert.equal(
      reasonOf(Lifetime.get(message(rawAttribute(STUN_ATTR.LIFETIME, Buffer.alloc(2))))),
      'bad-length',
    );
    assert.throws(() => Lifetime.of(-1), RampartError);
    assert.throws(() => ConnectionId.of(2 ** 32), RampartError);
  });

  test('CHANNEL-NUMBER: 16-bit number, RFFU ignored', () => {
    assert.equal(wire(ChannelNumber.of(0x4001)), '40010000');
    assert.equal(
      valueOf(
        ChannelNumber.get(
          message(rawAttribute(STUN_ATTR.CHANNEL_NUMBER, Buffer.from('4fffabcd', 'hex'))),
        ),
      ),
      0x4fff,
    );
    assert.equal(valueOf(ChannelNumber.get(message(ChannelNumber.of(0xffff)))), 0xffff);
    assert.throws(() => ChannelNumber.of(0x10000), RampartError);
  });

  test('DATA is a view of the message', () => {
    const msg = message(Data.of(Buffer.from('hello')));
    const data = valueOf(Data.get(msg));
    assert.equal(data.toString(), 'hello');
    assert.equal(data.buffer, msg.raw.buffer);
    assert.equal(valueOf(Data.get(message(Data.of(Buffer.alloc(0))))).length, 0);
  });

  test('REQUESTED-TRANSPORT: protocol byte, RFFU ignored', () => {
    assert.equal(wire(RequestedTransport.of(TRANSPORT_PROTOCOL.UDP)), '11000000');
    assert.equal(
      valueOf(RequestedTransport.get(message(RequestedTransport.of(TRANSPORT_PROTOCOL.TCP)))),
      6,
    );
    assert.throws(() => RequestedTransport.of(256), RampartError);
  });

  test('REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY', () => {
    assert.equal(wire(RequestedAddressFamily.of(6)), '02000000');
    assert.equal(valueOf(RequestedAddressFamily.get(message(RequestedAddressFamily.of(4)))), 4);
    assert.equal(valueOf(AdditionalAddressFamily.get(message(AdditionalAddressFamily.of(6)))), 6);
    const unknownFamily = rawAttribute(
      STUN_ATTR.REQUESTED_ADDRESS_FAMILY,
      Buffer.from('03000000', 'hex'),
    );
    assert.equal(
      reasonOf(RequestedAddressFamily.get(message(unknownFamily))),
      'unknown-address-family',
    );
    const short = rawAttribute(STUN_ATTR.REQUESTED_ADDRESS_FAMILY, Buffer.from('01', 'hex'));
    assert.equal(reasonOf(RequestedAddressFamily.get(message(short))), 'bad-length');
  });

  test('EVEN-PORT: the R bit, other bits ignored', () => {
    assert.equal(wire(EvenPort.of({ reserveNext: true })), '80');
    assert.deepEqual(valueOf(EvenPort.get(message(EvenPort.of({ reserveNext: false })))), {
      reserveNext: false,
    });
    assert.deepEqual(
      valueOf(EvenPort.get(message(rawAttribute(STUN_ATTR.EVEN_PORT, Buffer.from([0xff]))))),
      { reserveNext: true },
    );
    assert.equal(
      reasonOf(EvenPort.get(message(rawAttribute(STUN_ATTR.EVEN_PORT, Buffer.alloc(4))))),
      'bad-length',
    );
  });

  test('RESERVATION-TOKEN is 8 bytes', () => {
    const token = Buffer.from('0102030405060708', 'hex');
    assert.deepEqual(valueOf(ReservationToken.get(message(ReservationToken.of(token)))), token);
    assert.throws(() => ReservationToken.of(Buffer.alloc(4)), RampartError);
  });

  test('DONT-FRAGMENT has no value', () => {
    const msg = message(DontFragment.of());
    assert.equal(msg.raw.length, 24);
    assert.equal(valueOf(DontFragment.get(msg)), true);
    assert.equal(DontFragment.get(message()), undefined);
    assert.equal(
      reasonOf(DontFragment.get(message(rawAttribute(STUN_ATTR.DONT_FRAGMENT, Buffer.alloc(1))))),
      'bad-length',
    );
  });

  test('ICMP: type, code and error data (RFC 8656 §18.13)', () => {
    const icmp = { icmpType: 3, icmpCode: 4, errorData: 1400 };
    assert.equal(wire(Icmp.of(icmp)), '00000304' + '00000578');
    assert.deepEqual(valueOf(Icmp.get(message(Icmp.of(icmp)))), icmp);
    assert.throws(() => Icmp.of({ icmpType: 256, icmpCode: 0, errorData: 0 }), RampartError);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { encodeBindingSuccess } from './binding.ts';
import { encodeStun } from './encode.ts';
import { XorMappedAddress } from './attributes-address.ts';
import { STUN_METHOD } from './constants.ts';
import { newTransactionId } from './message.ts';

describe('encodeBindingSuccess', () => {
  test('produces the bytes the general encoder produces, IPv4 and IPv6', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.oneof(
          fc.ipV4().map((address) => ({ family: 4 as const, address })),
          fc.constantFrom('::1', '2001:db8::5', 'fe80::1:2:3:4').map((address) => ({
            family: 6 as const,
            address,
          })),
        ),
        fc.integer({ min: 0, max: 65535 }),
        (id, where, port) => {
          const transactionId = Buffer.from(id);
          const request = encodeStun({
            method: STUN_METHOD.Binding,
            cls: 'request',
            transactionId,
            attributes: [],
          });
          const mapped = { ...where, port };
          const general = encodeStun({
            method: STUN_METHOD.Binding,
            cls: 'success',
            transactionId,
            attributes: [XorMappedAddress.of(mapped)],
          });
          assert.deepEqual(encodeBindingSuccess(request, mapped), general);
        },
      ),
    );
  });

  test('an invalid address is a programmer error', () => {
    const request = Buffer.alloc(20);
    newTransactionId().copy(request, 8);
    assert.throws(() => encodeBindingSuccess(request, { family: 4, address: 'nope', port: 1 }));
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import fc from 'fast-check';
import { ipv4Value } from './ipv4.ts';

/** The reference: Node's strict check, then the octets by split. */
function reference(text: string): number {
  if (!isIPv4(text)) return -1;
  return text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

describe('ipv4Value', () => {
  test('examples: canonical literals and the inet_aton forms it refuses', () => {
    assert.equal(ipv4Value('0.0.0.0'), 0);
    assert.equal(ipv4Value('127.0.0.1'), 0x7f000001);
    assert.equal(ipv4Value('255.255.255.255'), 0xffffffff);
    assert.equal(ipv4Value('192.0.2.10'), 0xc000020a);
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '01.2.3.4',
      '1.2.3.00',
      '256.0.0.1',
      '1.2.3.4 ',
      ' 1.2.3.4',
      '1..2.3',
      '.1.2.3',
      '1.2.3.',
      '0x7f.0.0.1',
      '2130706433',
      '::1',
      '1.2.3.1000',
      '1.2.3.4/32',
    ]) {
      assert.equal(ipv4Value(bad), -1, bad);
    }
  });

  test('agrees with node:net isIPv4 on dotted strings of digits', () => {
    const octet = fc.oneof(
      fc.integer({ min: 0, max: 300 }).map(String),
      fc.stringMatching(/^[0-9]{1,4}$/),
      fc.constantFrom('', '00', '01', '-1', 'a', ' 1'),
    );
    fc.assert(
      fc.property(fc.array(octet, { minLength: 1, maxLength: 6 }), (octets) => {
        const text = octets.join('.');
        assert.equal(ipv4Value(text), reference(text), text);
      }),
      { numRuns: 5000 },
    );
  });

  test('agrees with node:net isIPv4 on arbitrary short strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 18 }), (text) => {
        assert.equal(ipv4Value(text), reference(text), JSON.stringify(text));
      }),
      { numRuns: 5000 },
    );
  });
});

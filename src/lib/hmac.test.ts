import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { hmac, type HmacAlgorithm } from './hmac.ts';

test('hmac equals createHmac for any key, parts and algorithm', () => {
  const part = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.string({ maxLength: 100, unit: 'grapheme' }),
  );
  fc.assert(
    fc.property(
      fc.constantFrom<HmacAlgorithm>('sha1', 'sha256'),
      // Keys across the block size: shorter are padded, longer are hashed first.
      fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 80 })),
      fc.array(part, { maxLength: 5 }),
      (algorithm, key, parts) => {
        const want = createHmac(algorithm, typeof key === 'string' ? Buffer.from(key) : key);
        for (const p of parts) want.update(p);
        assert.deepEqual(hmac(algorithm, key, ...parts), want.digest());
      },
    ),
    { numRuns: 2000 },
  );
});

test('hmac: RFC 4231 test case 2 and a long input past the shared scratch buffer', () => {
  assert.equal(
    hmac('sha256', 'Jefe', 'what do ya want for nothing?').toString('hex'),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  );
  const big = Buffer.alloc(100_000, 7);
  assert.deepEqual(hmac('sha1', 'k', big), createHmac('sha1', 'k').update(big).digest());
  // The scratch buffer is reused: a short MAC after the long one is still right.
  assert.deepEqual(hmac('sha1', 'k', 'x'), createHmac('sha1', 'k').update('x').digest());
});

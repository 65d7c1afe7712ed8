import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { hmacKey } from './hmac-key.ts';

test('an HMAC with the cached key equals one with the raw secret', () => {
  for (const secret of ['shared-secret', Buffer.from([0, 1, 2, 250]), new Uint8Array([9, 9])]) {
    const raw = typeof secret === 'string' ? Buffer.from(secret) : secret;
    const want = createHmac('sha256', raw).update('data').digest('hex');
    assert.equal(createHmac('sha256', hmacKey(secret)).update('data').digest('hex'), want);
    assert.equal(hmacKey(secret), hmacKey(secret));
  }
});

test('an empty secret still works', () => {
  const want = createHmac('sha1', Buffer.alloc(0)).update('x').digest('hex');
  assert.equal(createHmac('sha1', hmacKey('')).update('x').digest('hex'), want);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBasic } from './auth.ts';

test('parseBasic: RFC 7617 credentials; the password may hold colons', () => {
  const encode = (text: string): string => `Basic ${Buffer.from(text).toString('base64')}`;
  assert.deepEqual(parseBasic(encode('alice@example.test:pa:ss')), {
    user: 'alice@example.test',
    password: 'pa:ss',
  });
  // RFC 7617 §2 example.
  assert.deepEqual(parseBasic('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=='), {
    user: 'Aladdin',
    password: 'open sesame',
  });
  assert.deepEqual(parseBasic(`basic ${Buffer.from('u:').toString('base64')}`), {
    user: 'u',
    password: '',
  });
  assert.equal(parseBasic(undefined), undefined);
  assert.equal(parseBasic('Bearer abc'), undefined);
  assert.equal(parseBasic(encode(':nouser')), undefined);
  assert.equal(parseBasic(encode('nocolon')), undefined);
  assert.equal(parseBasic('Basic !!!'), undefined);
  assert.equal(parseBasic(encode(`u:${'x'.repeat(5000)}`)), undefined, 'bounded');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { looksLike, mediaType } from './content-check.ts';

test('mediaType strips parameters and case', () => {
  assert.equal(mediaType('Text/Plain; charset=UTF-8'), 'text/plain');
  assert.equal(mediaType(undefined), undefined);
  assert.equal(mediaType(' ; x'), undefined);
});

test('signatures of known types', () => {
  assert.ok(looksLike('application/pdf', Buffer.from('%PDF-1.7\n...')));
  assert.ok(!looksLike('application/pdf', Buffer.from('<html><script>alert(1)</script>')));
  assert.ok(!looksLike('application/pdf', Buffer.from('%PD')), 'shorter than the signature');
  assert.ok(
    looksLike('image/png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0])),
  );
  assert.ok(!looksLike('image/png', Buffer.from('GIF89a')));
  assert.ok(looksLike('image/gif', Buffer.from('GIF87a...')));
  assert.ok(looksLike('image/jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xe0])));
  const pptx = 'application/vnd.openxmlformats-officedocument.presentationml.presentation';
  assert.ok(looksLike(pptx, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14])));
  assert.ok(!looksLike(pptx, Buffer.from('%PDF-')));
});

test('text/plain: no control bytes; other types: not a web page', () => {
  assert.ok(looksLike('text/plain', Buffer.from('agenda\r\n\t1. budget\n')));
  assert.ok(!looksLike('text/plain', Buffer.from([0x61, 0x00, 0x62])));
  assert.ok(!looksLike('text/plain', Buffer.from('  <!DOCTYPE html><p>hi')));
  assert.ok(looksLike('text/csv', Buffer.from('a,b\n1,2\n')));
  assert.ok(!looksLike('text/csv', Buffer.from('<svg onload=alert(1)>')));
});

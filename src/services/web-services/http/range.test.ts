import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { acceptsGzip, evaluatePreconditions, parseRange } from './range.ts';

describe('parseRange', () => {
  test('single ranges, suffixes and open ends (RFC 9110 §14.1.2 examples)', () => {
    assert.deepEqual(parseRange('bytes=0-499', 10000), { kind: 'partial', start: 0, end: 499 });
    assert.deepEqual(parseRange('bytes=500-999', 10000), { kind: 'partial', start: 500, end: 999 });
    assert.deepEqual(parseRange('bytes=-500', 10000), { kind: 'partial', start: 9500, end: 9999 });
    assert.deepEqual(parseRange('bytes=9500-', 10000), { kind: 'partial', start: 9500, end: 9999 });
    assert.deepEqual(parseRange('bytes=0-0', 10000), { kind: 'partial', start: 0, end: 0 });
    assert.deepEqual(parseRange('bytes=-20000', 100), { kind: 'partial', start: 0, end: 99 });
    assert.deepEqual(parseRange('bytes=90-200', 100), { kind: 'partial', start: 90, end: 99 });
    assert.deepEqual(parseRange(' Bytes = 1-2 ', 100), { kind: 'partial', start: 1, end: 2 });
  });
  test('unsatisfiable: start past the end, empty suffix, empty file', () => {
    assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=200-300', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-5', 0), { kind: 'unsatisfiable' });
  });
  test('ignored: absent, other units, malformed, reversed, several ranges', () => {
    for (const header of [
      undefined,
      'items=0-1',
      'bytes',
      'bytes=',
      'bytes=-',
      'bytes=a-b',
      'bytes=5-2',
      'bytes=0-1,5-6',
      'bytes=99999999999999999999-',
    ]) {
      assert.deepEqual(parseRange(header, 100), { kind: 'whole' }, String(header));
    }
  });
});

describe('evaluatePreconditions', () => {
  const validators = { etag: '"abc"', lastModifiedMs: Date.UTC(2026, 10, 29, 12, 0, 0, 500) };
  const date = new Date(validators.lastModifiedMs).toUTCString();
  test('If-None-Match: weak comparison, lists and *', () => {
    assert.equal(evaluatePreconditions({ ifNoneMatch: '"abc"' }, validators).kind, 'not-modified');
    assert.equal(
      evaluatePreconditions({ ifNoneMatch: 'W/"abc"' }, validators).kind,
      'not-modified',
    );
    assert.equal(
      evaluatePreconditions({ ifNoneMatch: '"x", "abc"' }, validators).kind,
      'not-modified',
    );
    assert.equal(evaluatePreconditions({ ifNoneMatch: '*' }, validators).kind, 'not-modified');
    assert.equal(evaluatePreconditions({ ifNoneMatch: '"x"' }, validators).kind, 'send');
  });
  test('If-Modified-Since counts only without If-None-Match, to the second', () => {
    assert.equal(evaluatePreconditions({ ifModifiedSince: date }, validators).kind, 'not-modified');
    const before = new Date(validators.lastModifiedMs - 2000).toUTCString();
    assert.equal(evaluatePreconditions({ ifModifiedSince: before }, validators).kind, 'send');
    assert.equal(
      evaluatePreconditions({ ifModifiedSince: date, ifNoneMatch: '"x"' }, validators).kind,
      'send',
    );
    assert.equal(evaluatePreconditions({ ifModifiedSince: 'garbage' }, validators).kind, 'send');
  });
  test('If-Match and If-Unmodified-Since fail with 412', () => {
    assert.equal(evaluatePreconditions({ ifMatch: '"x"' }, validators).kind, 'failed');
    assert.equal(evaluatePreconditions({ ifMatch: 'W/"abc"' }, validators).kind, 'failed');
    assert.equal(evaluatePreconditions({ ifMatch: '"abc"' }, validators).kind, 'send');
    const before = new Date(validators.lastModifiedMs - 2000).toUTCString();
    assert.equal(evaluatePreconditions({ ifUnmodifiedSince: before }, validators).kind, 'failed');
  });
  test('If-Range: strong tag or exact date keeps the range', () => {
    assert.deepEqual(evaluatePreconditions({ ifRange: '"abc"' }, validators), {
      kind: 'send',
      honourRange: true,
    });
    assert.deepEqual(evaluatePreconditions({ ifRange: 'W/"abc"' }, validators), {
      kind: 'send',
      honourRange: false,
    });
    assert.deepEqual(evaluatePreconditions({ ifRange: '"old"' }, validators), {
      kind: 'send',
      honourRange: false,
    });
    assert.deepEqual(evaluatePreconditions({ ifRange: date }, validators), {
      kind: 'send',
      honourRange: true,
    });
  });
});

test('acceptsGzip', () => {
  assert.equal(acceptsGzip(undefined), false);
  assert.equal(acceptsGzip('gzip, deflate, br'), true);
  assert.equal(acceptsGzip('br;q=1.0, gzip;q=0.8'), true);
  assert.equal(acceptsGzip('gzip;q=0'), false);
  assert.equal(acceptsGzip('identity'), false);
  assert.equal(acceptsGzip('*'), true);
  assert.equal(acceptsGzip('*;q=0, gzip'), true);
});

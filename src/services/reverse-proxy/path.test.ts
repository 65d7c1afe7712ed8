import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { normaliseTarget, prefixMatcher } from './path.ts';

function path(target: string): string {
  const result = normaliseTarget(target);
  assert.ok(result.ok, `${target} refused: ${result.ok ? '' : result.reason}`);
  return result.path + result.query;
}

function reason(target: string): string {
  const result = normaliseTarget(target);
  assert.ok(!result.ok, `${target} accepted as ${result.ok ? result.path : ''}`);
  return result.reason;
}

describe('normaliseTarget', () => {
  test('keeps ordinary paths and queries as sent', () => {
    assert.equal(path('/abs/full.lsabs?x=1&y=%2F'), '/abs/full.lsabs?x=1&y=%2F');
    assert.equal(path('/'), '/');
    assert.equal(path('/dl/'), '/dl/');
  });

  test('decodes unreserved characters and upper-cases other encodings (RFC 3986 §6.2.2)', () => {
    assert.equal(path('/%61bs/%7Euser'), '/abs/~user');
    assert.equal(path('/a%20b/%c3%a9'), '/a%20b/%C3%A9');
  });

  test('collapses empty segments', () => {
    assert.equal(path('//abs///x//'), '/abs/x/');
  });

  test('refuses dot segments in every spelling', () => {
    for (const target of [
      '/abs/../etc/passwd',
      '/abs/./x',
      '/abs/%2e%2e/x',
      '/abs/%2E%2e/x',
      '/abs/.%2e/x',
      '/abs/..;jsessionid=1/x',
      '/..',
    ])
      assert.equal(reason(target), 'dot-segment', target);
  });

  test('refuses encoded separators, backslashes and double encoding', () => {
    assert.equal(reason('/abs%2f..%2fsecret'), 'encoded-separator');
    assert.equal(reason('/abs%2F'), 'encoded-separator');
    assert.equal(reason('/abs%5c..%5csecret'), 'encoded-separator');
    assert.equal(reason('/abs\\..\\secret'), 'backslash');
    assert.equal(reason('/abs/%252e%252e/x'), 'double-encoding');
    assert.equal(reason('/abs/%25'), 'double-encoding');
  });

  test('refuses malformed encodings, controls and fragments', () => {
    assert.equal(reason('/abs/%zz'), 'bad-encoding');
    assert.equal(reason('/abs/%2'), 'bad-encoding');
    assert.equal(reason('/abs/%00'), 'bad-character');
    assert.equal(reason('/abs/\u00e9'), 'bad-character');
    assert.equal(reason('/abs#x'), 'fragment');
  });

  test('refuses absolute-form, authority-form and asterisk-form targets', () => {
    assert.equal(reason('https://evil.test/abs/'), 'not-origin-form');
    assert.equal(reason('evil.test:443'), 'not-origin-form');
    assert.equal(reason('*'), 'not-origin-form');
    assert.equal(reason(''), 'not-origin-form');
  });

  test('property: never throws; an accepted path has no dot segment, backslash or %2F/%25', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (tail) => {
        const result = normaliseTarget('/' + tail);
        if (!result.ok) return;
        assert.ok(result.path.startsWith('/'));
        assert.ok(!result.path.startsWith('//'));
        assert.ok(!/(^|\/)\.\.?(\/|;|$)/.test(result.path), result.path);
        assert.ok(!/%2f|%5c|%25|\\/i.test(result.path), result.path);
        // Normalising twice changes nothing.
        const again = normaliseTarget(result.path);
        assert.ok(again.ok);
        assert.equal(again.path, result.path);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('prefixMatcher', () => {
  const match = prefixMatcher([{ prefix: '/abs/' }, { prefix: '/abs/full/' }, { prefix: '/dl' }]);

  test('longest prefix wins', () => {
    assert.equal(match('/abs/full/x')?.prefix, '/abs/full/');
    assert.equal(match('/abs/delta')?.prefix, '/abs/');
  });

  test('a prefix without trailing slash matches at a segment boundary only', () => {
    assert.equal(match('/dl')?.prefix, '/dl');
    assert.equal(match('/dl/x')?.prefix, '/dl');
    assert.equal(match('/dlx'), undefined);
  });

  test('a prefix with trailing slash does not match the bare name', () => {
    assert.equal(match('/abs'), undefined);
    assert.equal(match('/other'), undefined);
  });
});

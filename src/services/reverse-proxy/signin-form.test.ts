import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseForm, safeReturnPath, signInHtml } from './signin-form.ts';

const ours = (path: string): boolean => path === '/' || path.startsWith('/webaccess/');

describe('safeReturnPath', () => {
  test('keeps our own paths, normalised, with their query', () => {
    assert.equal(safeReturnPath('/webaccess/chat?x=1', ours), '/webaccess/chat?x=1');
    assert.equal(safeReturnPath('/webaccess//%63hat', ours), '/webaccess/chat');
  });

  test('anything else becomes /', () => {
    for (const value of [
      'https://evil.test/',
      '//evil.test/webaccess/',
      '/\\evil.test/webaccess/',
      '\\\\evil.test',
      'javascript:alert(1)',
      '/webaccess/../admin',
      '/webaccess/%2e%2e/admin',
      '/admin',
      '',
      null,
      undefined,
      '/webaccess/' + 'x'.repeat(3000),
    ])
      assert.equal(safeReturnPath(value, ours), '/', String(value));
  });
});

describe('forms', () => {
  test('the sign-in page escapes what it echoes', () => {
    const html = signInHtml({
      action: '/signin',
      csrf: 'tok"en',
      returnTo: '/webaccess/"><script>',
      message: '<b>',
    });
    assert.ok(html.includes('value="tok&quot;en"'));
    assert.ok(html.includes('/webaccess/&quot;&gt;&lt;script&gt;'));
    assert.ok(html.includes('&lt;b&gt;'));
    assert.equal(html.includes('<script>'), false);
  });

  test('parseForm reads url-encoded fields', () => {
    assert.deepEqual(parseForm('user=alice%40example.test&password=p%26w&csrf=t&return=%2Fx'), {
      user: 'alice@example.test',
      password: 'p&w',
      csrf: 't',
      returnTo: '/x',
    });
    assert.deepEqual(parseForm(''), { user: '', password: '', csrf: '', returnTo: null });
  });
});

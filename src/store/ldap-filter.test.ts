import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { escapeDnValue, escapeFilterValue, unescapeFilterValue } from './ldap-filter.ts';

describe('escapeFilterValue (RFC 4515 §3)', () => {
  // RFC 4515 §4 examples: the value as a person means it, and the filter text.
  test('parentheses: (o=Parens R Us \\28for all your parenthetical needs\\29)', () => {
    const value = 'Parens R Us (for all your parenthetical needs)';
    assert.equal(
      `(o=${escapeFilterValue(value)})`,
      '(o=Parens R Us \\28for all your parenthetical needs\\29)',
    );
  });

  test('asterisk: (cn=*\\2A*) matches a literal star', () => {
    assert.equal(`(cn=*${escapeFilterValue('*')}*)`, '(cn=*\\2a*)');
    assert.equal(unescapeFilterValue('\\2A'), '*');
  });

  test('backslash: (filename=C:\\5cMyFile)', () => {
    assert.equal(`(filename=${escapeFilterValue('C:\\MyFile')})`, '(filename=C:\\5cMyFile)');
  });

  test('NUL octets: (bin=\\00\\00\\00\\04)', () => {
    assert.equal(`(bin=${escapeFilterValue('\0\0\0\x04')})`, '(bin=\\00\\00\\00\\04)');
  });

  test('non-ASCII: (sn=Lu\\c4\\8di\\c4\\87) means Lučić; UTF-8 is left as it is', () => {
    assert.equal(unescapeFilterValue('Lu\\c4\\8di\\c4\\87'), 'Lučić');
    assert.equal(escapeFilterValue('Lučić'), 'Lučić');
    assert.equal(unescapeFilterValue(escapeFilterValue('Lučić')), 'Lučić');
    assert.equal(escapeFilterValue('名前😀'), '名前😀');
  });

  test('hostile input cannot close the assertion or add one', () => {
    assert.equal(escapeFilterValue('*)(uid=*'), '\\2a\\29\\28uid=\\2a');
    assert.equal(escapeFilterValue('*)(|(objectClass=*'), '\\2a\\29\\28|\\28objectClass=\\2a');
    assert.equal(escapeFilterValue('admin)\0'), 'admin\\29\\00');
    assert.equal(escapeFilterValue('\\2a'), '\\5c2a');
    assert.equal(escapeFilterValue('a\r\nb\x7f'), 'a\\0d\\0ab\\7f');
    assert.equal(escapeFilterValue(''), '');
  });

  test('property: no unescaped filter syntax survives, and nothing is lost', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (value) => {
        const escaped = escapeFilterValue(value);
        // Only escape sequences may carry a backslash; '(' ')' '*' NUL never appear raw.
        assert.doesNotMatch(escaped.replace(/\\[0-9a-f]{2}/g, ''), /[()*\\\0]/);
        // Lone surrogates are not text; the rest must round-trip.
        if (value.isWellFormed()) assert.equal(unescapeFilterValue(escaped), value);
      }),
      { numRuns: 500 },
    );
  });

  test('unescapeFilterValue refuses malformed escapes', () => {
    assert.equal(unescapeFilterValue('\\2'), undefined);
    assert.equal(unescapeFilterValue('\\zz'), undefined);
    assert.equal(unescapeFilterValue('a*b'), undefined);
    assert.equal(unescapeFilterValue('\\ff'), undefined);
  });
});

describe('escapeDnValue (RFC 4514 §2.4)', () => {
  test('specials anywhere', () => {
    assert.equal(escapeDnValue('a,b+c"d\\e<f>g;h=i'), 'a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h\\=i');
  });

  test('leading space or #, trailing space, NUL', () => {
    assert.equal(escapeDnValue(' #x '), '\\ #x\\ ');
    assert.equal(escapeDnValue('#x'), '\\#x');
    assert.equal(escapeDnValue('x#'), 'x#');
    assert.equal(escapeDnValue('a\0b'), 'a\\00b');
  });

  test('a SIP address with every allowed user-part character stays one RDN value', () => {
    const escaped = escapeDnValue("a-_.!~*'()&=+$,;?/%@example.test");
    assert.equal(escaped, "a-_.!~*'()&\\=\\+$\\,\\;?/%@example.test");
  });

  test('non-ASCII stays UTF-8', () => {
    assert.equal(escapeDnValue('Lučić'), 'Lučić');
  });

  test('property: no unescaped separator survives', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (value) => {
        const escaped = escapeDnValue(value);
        // Scan left to right: every backslash starts a pair, no special stands alone.
        for (const match of escaped.matchAll(/\\([0-9a-f]{2}|[,+"\\<>;= #])|([,+"\\<>;=\0])/g)) {
          assert.equal(match[2], undefined, `raw ${JSON.stringify(match[2])} in ${escaped}`);
        }
        assert.doesNotMatch(escaped.replace(/\\([0-9a-f]{2}|[,+"\\<>;= #])/g, ''), /\\/);
      }),
      { numRuns: 500 },
    );
  });
});

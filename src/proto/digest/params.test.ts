import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseAuthHeader } from './params.ts';

/**
 * The quoted-string reader as it was before it took slices: one character at a time
 * (RFC 3261 §25.1 qdtext / quoted-pair, folded CRLF as one space). The reference of the
 * differential test below.
 */
function referenceQuoted(
  s: string,
  start: number,
): { ok: true; value: string; end: number } | { ok: false; reason: string; offset: number } {
  let value = '';
  let i = start + 1;
  for (;;) {
    const ch = s[i];
    if (ch === undefined) return { ok: false, reason: 'unterminated-quoted-string', offset: start };
    if (ch === '"') return { ok: true, value, end: i + 1 };
    if (ch === '\\') {
      const next = s[i + 1];
      if (next === undefined)
        return { ok: false, reason: 'unterminated-quoted-string', offset: start };
      if (next === '\r' || next === '\n')
        return { ok: false, reason: 'invalid-character', offset: i + 1 };
      value += next;
      i += 2;
      continue;
    }
    if (ch === '\r' && s[i + 1] === '\n' && (s[i + 2] === ' ' || s[i + 2] === '\t')) {
      value += ' ';
      i += 3;
      continue;
    }
    const code = ch.charCodeAt(0);
    if ((code < 0x20 && ch !== '\t') || code === 0x7f)
      return { ok: false, reason: 'invalid-character', offset: i };
    value += ch;
    i++;
  }
}

// Quoted-string bodies drawn mostly from the characters that matter: quotes, backslashes,
// CR, LF, tabs, spaces, controls, DEL, and some ordinary and non-ASCII text.
const body = fc
  .array(
    fc.oneof(
      fc.constantFrom('"', '\\', '\r', '\n', '\t', ' ', '\r\n ', '\r\n\t', '\u0001', '\u007f'),
      fc.string({ maxLength: 6 }),
      fc.constantFrom('é', '€', 'abc', 'x=y,z'),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

test('parseAuthHeader reads quoted values exactly as the character-at-a-time reader did', () => {
  fc.assert(
    fc.property(body, (inner) => {
      const input = `Digest nonce="${inner}`;
      const quoteAt = input.indexOf('"');
      const expected = referenceQuoted(input, quoteAt);
      const parsed = parseAuthHeader(input);
      if (!expected.ok) {
        assert.equal(parsed.ok, false);
        assert.equal(parsed.error.reason, expected.reason);
        assert.equal(parsed.error.offset, expected.offset);
        return;
      }
      // What follows the closing quote decides the rest; when it ends the input the whole
      // header parses and the value must be the reference's.
      if (expected.end === input.length) {
        assert.equal(parsed.ok, true);
        assert.equal(parsed.value.params[0]?.value, expected.value);
      }
    }),
    { numRuns: 3000 },
  );
});

test('parseAuthHeader: escapes, folding and the plain case', () => {
  const value = (input: string): string | undefined => {
    const parsed = parseAuthHeader(input);
    return parsed.ok ? parsed.value.params[0]?.value : undefined;
  };
  assert.equal(value('Digest realm="example.test"'), 'example.test');
  assert.equal(value('Digest realm="a\\"b\\\\c"'), 'a"b\\c');
  assert.equal(value('Digest realm="a\r\n b"'), 'a b');
  assert.equal(value('Digest realm=""'), '');
  assert.equal(parseAuthHeader('Digest realm="a\u0001b"').ok, false);
  assert.equal(parseAuthHeader('Digest realm="abc').ok, false);
});

/**
 * Escaping of values placed into LDAP search filters (RFC 4515) and distinguished names
 * (RFC 4514). Every filter and DN the LDAP directory sends is built through these two
 * functions; nothing typed by a user reaches the server unescaped.
 */

const HEX = '0123456789abcdef';

function hexEscape(code: number): string {
  return `\\${HEX[code >> 4] ?? '0'}${HEX[code & 0x0f] ?? '0'}`;
}

/**
 * Escapes `value` for an assertion value of a string filter.
 *
 * RFC 4515 §3: "the octets that represent the ASCII characters '*' (0x2a), '(' (0x28),
 * ')' (0x29), '\' (0x5c), and NUL (0x00) are represented as a backslash followed by the two
 * hexadecimal digits representing the value of the encoded octet." Other control characters
 * are escaped too (allowed: "any octet MAY be escaped") so that logs never carry them raw.
 *
 * Non-ASCII characters stay as UTF-8 (the `UTFMB` production of §3 allows them unescaped):
 * ldapts' filter parser turns each `\XX` into one UTF-16 code unit, so escaping the UTF-8
 * octets of `č` as `\c4\8d` would reach the server as two wrong characters.
 */
export function escapeFilterValue(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (
      code < 0x20 ||
      code === 0x7f ||
      char === '*' ||
      char === '(' ||
      char === ')' ||
      char === '\\'
    ) {
      out += hexEscape(code);
    } else {
      out += char;
    }
  }
  return out;
}

/**
 * Reverses {@link escapeFilterValue} and decodes any RFC 4515 escaped value, with `\XX`
 * sequences taken as UTF-8 octets (§3). Returns undefined for a malformed escape. Used by
 * tests to check that escaping loses nothing.
 */
export function unescapeFilterValue(escaped: string): string | undefined {
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < escaped.length;) {
    const char = escaped[i] ?? '';
    if (char === '\\') {
      const hex = escaped.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(Number.parseInt(hex, 16));
      i += 3;
    } else if (char === '*' || char === '(' || char === ')' || char === '\0') {
      return undefined;
    } else {
      const code = escaped.codePointAt(i) ?? 0;
      const text = String.fromCodePoint(code);
      for (const byte of encoder.encode(text)) bytes.push(byte);
      i += text.length;
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}

/** Characters RFC 4514 §2.4 requires escaping anywhere in an attribute value. */
const DN_SPECIAL = new Set([',', '+', '"', '\\', '<', '>', ';', '=']);

/**
 * Escapes `value` for an attribute value of a distinguished name's RDN.
 *
 * RFC 4514 §2.4: escape '"', '+', ',', ';', '<', '>', '\' anywhere, a space or '#' at the
 * beginning, a space at the end, and NUL as `\00`. '=' is escaped as well (allowed: "other
 * characters may be escaped") because some DN parsers split on it. Control characters are
 * hex-escaped.
 */
export function escapeDnValue(value: string): string {
  let out = '';
  const chars = Array.from(value);
  chars.forEach((char, index) => {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) {
      out += hexEscape(code);
    } else if (DN_SPECIAL.has(char)) {
      out += `\\${char}`;
    } else if (index === 0 && (char === ' ' || char === '#')) {
      out += `\\${char}`;
    } else if (index === chars.length - 1 && char === ' ') {
      out += '\\ ';
    } else {
      out += char;
    }
  });
  return out;
}

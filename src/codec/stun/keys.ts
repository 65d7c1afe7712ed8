/**
 * Integrity keys (RFC 8489 §9.1.1 short-term, §9.2.2 long-term) and USERHASH (§14.4).
 *
 * String preparation: RFC 8489 asks for the OpaqueString profile (RFC 8265), RFC 5389 asked
 * for SASLprep (RFC 4013). Both RFC vectors (RFC 5769 §2.4, RFC 8489 Appendix B.1) give the
 * password "The<U+00AD>M<U+00AA>tr<U+2168>" as "TheMatrIX" once prepared, which is what
 * SASLprep's mapping yields (U+00AD removed, NFKC folds U+00AA to 'a' and U+2168 to "IX"),
 * whereas OpaqueString would keep U+00AA (NFC) and reject U+00AD. So {@link saslPrep} applies
 * SASLprep's mapping and normalisation and nothing else; see its documentation for what it
 * leaves out.
 */
import { createHash } from 'node:crypto';

/** RFC 3454 Table B.1, "commonly mapped to nothing" (soft hyphen, joiners, selectors, BOM). */
function isMappedToNothing(cp: number): boolean {
  return (
    cp === 0x00ad ||
    cp === 0x034f ||
    cp === 0x1806 ||
    (cp >= 0x180b && cp <= 0x180d) ||
    (cp >= 0x200b && cp <= 0x200d) ||
    cp === 0x2060 ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    cp === 0xfeff
  );
}

/** RFC 3454 Table C.1.2, non-ASCII space characters (RFC 4013 §2.1 maps them to SPACE). */
function isNonAsciiSpace(cp: number): boolean {
  return (
    cp === 0x00a0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

/**
 * SASLprep (RFC 4013) minus its checks: maps non-ASCII spaces (RFC 3454 C.1.2) to U+0020,
 * removes the characters of RFC 3454 B.1, then applies Unicode NFKC (RFC 4013 §2.2). It does
 * not reject prohibited output (RFC 4013 §2.3: controls, private use, surrogates…) or check
 * bidirectional text (§2.5), and uses the running engine's Unicode version rather than 3.2's.
 * For ASCII input it is the identity.
 */
export function saslPrep(text: string): string {
  // An ASCII string without control characters is unchanged by every step.
  if (/^[\x20-\x7e]*$/u.test(text)) return text;
  let mapped = '';
  for (const char of text) {
    const cp = char.codePointAt(0) ?? 0;
    if (isNonAsciiSpace(cp)) mapped += ' ';
    else if (!isMappedToNothing(cp)) mapped += char;
  }
  return mapped.normalize('NFKC');
}

/** RFC 8489 §9.1.1: "key = OpaqueString(password)" (see {@link saslPrep}), as UTF-8. */
export function shortTermKey(password: string): Buffer {
  return Buffer.from(saslPrep(password), 'utf8');
}

/** Password algorithms of RFC 8489 §18.5.1 by the name `longTermKey` takes. */
export type LongTermKeyAlgorithm = 'md5' | 'sha256';

/**
 * RFC 8489 §9.2.2 / §18.5.1: key = MD5 or SHA-256 of
 * username ":" OpaqueString(realm) ":" OpaqueString(password), in UTF-8. The username is
 * used as given ("as taken from the USERNAME attribute (in which case OpaqueString has
 * already been applied)"); realm and password go through {@link saslPrep}.
 */
export function longTermKey(
  username: string,
  realm: string,
  password: string,
  algorithm: LongTermKeyAlgorithm = 'md5',
): Buffer {
  return createHash(algorithm)
    .update(`${username}:${saslPrep(realm)}:${saslPrep(password)}`, 'utf8')
    .digest();
}

/**
 * RFC 8489 §14.4: "userhash = SHA-256(OpaqueString(username) ":" OpaqueString(realm))",
 * 32 bytes (see {@link saslPrep}).
 */
export function userHash(username: string, realm: string): Buffer {
  return createHash('sha256')
    .update(`${saslPrep(username)}:${saslPrep(realm)}`, 'utf8')
    .digest();
}

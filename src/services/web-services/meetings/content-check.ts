/**
 * Meeting content type checks: the declared type must be allowed, and the first bytes must
 * look like that type (so that an HTML page cannot be uploaded as a "PDF" and served back).
 */

/** How many leading bytes {@link looksLike} needs. */
export const SNIFF_BYTES = 512;

const OOXML_ZIP = [0x50, 0x4b, 0x03, 0x04];

/** Leading bytes of the types we know (file signatures). */
const SIGNATURES: Readonly<Record<string, readonly (readonly number[])[]>> = {
  'application/pdf': [[0x25, 0x50, 0x44, 0x46, 0x2d]], // %PDF-
  'image/png': [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  'image/jpeg': [[0xff, 0xd8, 0xff]],
  'image/gif': [
    [0x47, 0x49, 0x46, 0x38, 0x37, 0x61],
    [0x47, 0x49, 0x46, 0x38, 0x39, 0x61],
  ],
  'application/zip': [OOXML_ZIP],
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': [OOXML_ZIP],
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': [OOXML_ZIP],
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': [OOXML_ZIP],
};

/** `Text/Plain; charset=utf-8` → `text/plain`; undefined when there is no type. */
export function mediaType(header: string | undefined): string | undefined {
  const type = header?.split(';')[0]?.trim().toLowerCase();
  return type === undefined || type === '' ? undefined : type;
}

/** Markup at the start of a file: what a browser would render as a page. */
function looksLikeMarkup(head: Buffer): boolean {
  const text = head.subarray(0, 64).toString('latin1').trimStart().toLowerCase();
  return /^<(?:!doctype|html|head|body|script|svg|\?xml|iframe)/.test(text);
}

/**
 * Whether `head` (the first {@link SNIFF_BYTES} bytes, fewer for a short file) fits `type`:
 * known binary types by signature; `text/plain` when it has no control bytes besides
 * whitespace; any other allowed type when it does not start like a web page.
 */
export function looksLike(type: string, head: Buffer): boolean {
  const signatures = SIGNATURES[type];
  if (signatures !== undefined) {
    return signatures.some(
      (signature) =>
        head.length >= signature.length && signature.every((byte, i) => head[i] === byte),
    );
  }
  if (looksLikeMarkup(head)) return false;
  if (type === 'text/plain') {
    for (const byte of head) {
      if (
        (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c) ||
        byte === 0x7f
      )
        return false;
    }
  }
  return true;
}

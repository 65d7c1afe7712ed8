/**
 * The one strict IPv4 literal parser every layer shares: exactly four decimal octets,
 * 0–255, no leading zeros (inet_aton's '0127.0.0.1', '127.1' and '0x7f.1' are not literals
 * here), read without a regular expression or an allocation. It runs on hot paths: every
 * datagram sent (dgram's `lookup`) and every XOR-MAPPED-ADDRESS written.
 */

/** The 32-bit value of a strict dotted-quad IPv4 literal, or -1 when `text` is not one. */
export function ipv4Value(text: string): number {
  const length = text.length;
  if (length < 7 || length > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === 46) {
      // '.': closes an octet that has at least one digit.
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (code >= 48 && code <= 57) {
      // A second digit after a leading '0' ('01', '00') is refused.
      if (digits > 0 && octet === 0) return -1;
      octet = octet * 10 + (code - 48);
      digits++;
      if (octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

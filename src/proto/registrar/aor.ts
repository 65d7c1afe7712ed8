import {
  formatHost,
  isSipUri,
  normalizeEscapes,
  parseUri,
  type SipUri,
} from '../../codec/sip/uri.ts';

/**
 * The canonical address-of-record of a SIP URI. RFC 3261 §10.3 step 5: "all URI parameters
 * MUST be removed (including the user-param), and any escaped characters MUST be converted to
 * their unescaped form". The scheme becomes `sip` (a `sips` AOR names the same user) and the
 * host is lower-cased; a port is kept. Only unreserved characters are unescaped (the §19.1.4
 * equivalence), so the result is still a valid URI.
 */
export function canonicalAor(uri: SipUri): string {
  const user = uri.user === undefined ? '' : `${normalizeEscapes(uri.user)}@`;
  const port = uri.port === undefined ? '' : `:${uri.port}`;
  return `sip:${user}${formatHost(uri.host)}${port}`;
}

/** Canonicalises an AOR given as text; undefined unless it is a sip/sips URI with a user. */
export function canonicalAorText(text: string): string | undefined {
  const parsed = parseUri(text);
  if (!parsed.ok) return undefined;
  const uri = parsed.value;
  if (!isSipUri(uri)) return undefined;
  if (uri.user === undefined) return undefined;
  return canonicalAor(uri);
}

/** The domain of a canonical AOR (`sip:user@domain` → `domain`). */
export function aorDomain(aor: string): string {
  const at = aor.lastIndexOf('@');
  const hostPort = at < 0 ? aor.slice(aor.indexOf(':') + 1) : aor.slice(at + 1);
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const colon = hostPort.indexOf(':');
  return colon < 0 ? hostPort : hostPort.slice(0, colon);
}

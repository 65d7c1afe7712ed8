import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import { err, ok, type Result } from '../../lib/result.ts';
import { DIGEST_HEX_LENGTH, hashOf, lookupAlgorithm, type DigestAlgorithm } from './algorithm.ts';
import { formatParam, isDigestScheme, type DigestQop } from './challenge.ts';
import {
  parseAuthHeader,
  parseError,
  quoteString,
  type AuthParam,
  type DigestParseError,
} from './params.ts';

/** Digest credentials from Authorization / Proxy-Authorization (RFC 7616 §3.4). */
export interface DigestCredentials {
  readonly username: string;
  readonly realm: string;
  readonly nonce: string;
  readonly uri: string;
  /** request-digest, lower-cased hex of the algorithm's length. */
  readonly response: string;
  /** `MD5` when the parameter is absent (RFC 7616 §3.4). */
  readonly algorithm: DigestAlgorithm;
  /** Absent for a legacy RFC 2069 response; then `nc` and `cnonce` are absent too. */
  readonly qop?: DigestQop;
  /** nonce-count: exactly 8 hex digits as sent (RFC 3261 §25.1 `8LHEX`). */
  readonly nc?: string;
  readonly cnonce?: string;
  readonly opaque?: string;
  /** Whether `username` is H(username:realm) (RFC 7616 §3.4.4). */
  readonly userhash: boolean;
  /** Parameters this module does not interpret, in wire order. */
  readonly extensions: readonly AuthParam[];
}

/** What {@link formatCredentials} writes. */
export interface DigestCredentialsInit {
  readonly username: string;
  readonly realm: string;
  readonly nonce: string;
  readonly uri: string;
  readonly response: string;
  /** Not written when absent (the receiver then assumes MD5). */
  readonly algorithm?: DigestAlgorithm;
  readonly qop?: DigestQop;
  readonly nc?: string;
  readonly cnonce?: string;
  readonly opaque?: string;
  readonly extensions?: readonly AuthParam[];
}

const KNOWN_CREDENTIAL_PARAMS = new Set([
  'username',
  'realm',
  'nonce',
  'uri',
  'response',
  'algorithm',
  'qop',
  'nc',
  'cnonce',
  'opaque',
  'userhash',
]);

const NONCE_COUNT = /^[0-9a-fA-F]{8}$/;
const HEX = /^[0-9a-fA-F]+$/;

/**
 * Parses an Authorization / Proxy-Authorization value holding Digest credentials.
 * Refuses, as a value, anything RFC 7616 §3.4 / RFC 3261 §25.1 forbids: missing
 * required parameters, a response of the wrong length, qop without nc and cnonce, and
 * nc or cnonce without qop. Never throws.
 */
export function parseCredentials(input: string): Result<DigestCredentials, DigestParseError> {
  const parsed = parseAuthHeader(input);
  if (!parsed.ok) return parsed;
  const { scheme, params } = parsed.value;
  if (!isDigestScheme(scheme)) return err(parseError('not-digest', 0));
  const values = new Map<string, string>();
  for (const p of params) values.set(p.name, p.value);
  const required = ['username', 'realm', 'nonce', 'uri', 'response'] as const;
  for (const name of required) {
    if (!values.has(name)) return err(parseError('missing-parameter', input.length, name));
  }
  const username = values.get('username') ?? '';
  const realm = values.get('realm') ?? '';
  const nonce = values.get('nonce') ?? '';
  const uri = values.get('uri') ?? '';
  const algorithmName = values.get('algorithm');
  const algorithm = algorithmName === undefined ? 'MD5' : lookupAlgorithm(algorithmName);
  if (algorithm === undefined) return err(parseError('unsupported-algorithm', 0, 'algorithm'));
  const response = (values.get('response') ?? '').toLowerCase();
  // RFC 8760 §2.1 / RFC 3261 §25.1: request-digest is the hex of the algorithm's hash.
  if (!HEX.test(response) || response.length !== DIGEST_HEX_LENGTH[hashOf(algorithm)]) {
    return err(parseError('invalid-parameter', 0, 'response'));
  }
  const qopValue = values.get('qop')?.toLowerCase();
  if (qopValue !== undefined && qopValue !== 'auth' && qopValue !== 'auth-int') {
    return err(parseError('invalid-parameter', 0, 'qop'));
  }
  const nc = values.get('nc');
  const cnonce = values.get('cnonce');
  if (qopValue !== undefined) {
    // RFC 7616 §3.4: cnonce and nc "MUST be specified if a qop parameter is sent".
    if (cnonce === undefined) return err(parseError('missing-parameter', input.length, 'cnonce'));
    if (nc === undefined) return err(parseError('missing-parameter', input.length, 'nc'));
    if (!NONCE_COUNT.test(nc)) return err(parseError('invalid-parameter', 0, 'nc'));
  } else if (cnonce !== undefined || nc !== undefined) {
    // RFC 7616 §3.4: cnonce and nc "MUST NOT be specified if the server did not send a
    // qop parameter in the WWW-Authenticate header field".
    return err(parseError('invalid-parameter', 0, cnonce === undefined ? 'nc' : 'cnonce'));
  }
  if (algorithm.endsWith('-sess') && cnonce === undefined) {
    return err(parseError('missing-parameter', input.length, 'cnonce'));
  }
  const opaque = values.get('opaque');
  return ok({
    username,
    realm,
    nonce,
    uri,
    response,
    algorithm,
    ...(qopValue === undefined ? {} : { qop: qopValue }),
    ...(nc === undefined ? {} : { nc: nc.toLowerCase() }),
    ...(cnonce === undefined ? {} : { cnonce }),
    ...(opaque === undefined ? {} : { opaque }),
    userhash: values.get('userhash')?.toLowerCase() === 'true',
    extensions: params.filter((p) => !KNOWN_CREDENTIAL_PARAMS.has(p.name)),
  });
}

/**
 * Writes Digest credentials for Authorization / Proxy-Authorization in the order of
 * RFC 7616 §3.9.1. `qop`, `nc` and `algorithm` are tokens (RFC 3261 §25.1
 * `message-qop`, `nonce-count`), the rest quoted. Throws on CR/LF in a value.
 */
export function formatCredentials(init: DigestCredentialsInit): string {
  const parts = [
    `username=${quoteString(init.username)}`,
    `realm=${quoteString(init.realm)}`,
    `uri=${quoteString(init.uri)}`,
  ];
  if (init.algorithm !== undefined) parts.push(`algorithm=${init.algorithm}`);
  parts.push(`nonce=${quoteString(init.nonce)}`);
  if (init.nc !== undefined) {
    if (!NONCE_COUNT.test(init.nc))
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'nc must be 8 hex digits');
    parts.push(`nc=${init.nc}`);
  }
  if (init.cnonce !== undefined) parts.push(`cnonce=${quoteString(init.cnonce)}`);
  if (init.qop !== undefined) parts.push(`qop=${init.qop}`);
  parts.push(`response=${quoteString(init.response)}`);
  if (init.opaque !== undefined) parts.push(`opaque=${quoteString(init.opaque)}`);
  for (const p of init.extensions ?? []) parts.push(formatParam(p));
  return `Digest ${parts.join(', ')}`;
}

/** Formats a nonce-count as the 8 lower-case hex digits of RFC 7616 §3.4. */
export function formatNonceCount(count: number): string {
  if (!Number.isInteger(count) || count < 1 || count > 0xffffffff) {
    throw new RampartError(
      ERROR_CODES.INVALID_ARGUMENT,
      'nonce count must be an integer in 1..2^32-1',
    );
  }
  return count.toString(16).padStart(8, '0');
}

import { err, ok, type Result } from '../../lib/result.ts';
import { lookupAlgorithm, type DigestAlgorithm } from './algorithm.ts';
import {
  parseAuthHeader,
  parseError,
  quoteString,
  tokenValue,
  type AuthParam,
  type DigestParseError,
} from './params.ts';

/** Quality-of-protection values (RFC 7616 §3.3). */
export type DigestQop = 'auth' | 'auth-int';

/** A Digest challenge from WWW-Authenticate or Proxy-Authenticate (RFC 7616 §3.3). */
export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  /** `MD5` when the parameter is absent (RFC 7616 §3.3). */
  readonly algorithm: DigestAlgorithm;
  /** Offered qop values Rampart understands; empty for a legacy RFC 2069 challenge. */
  readonly qop: readonly DigestQop[];
  /** Whether the previous request was refused only because its nonce had expired. */
  readonly stale: boolean;
  readonly opaque?: string;
  readonly domain?: string;
  readonly userhash: boolean;
  /** Parameters this module does not interpret, in wire order. */
  readonly extensions: readonly AuthParam[];
}

/** What {@link formatChallenge} writes; absent optional fields are not sent. */
export interface DigestChallengeInit {
  readonly realm: string;
  readonly nonce: string;
  readonly algorithm?: DigestAlgorithm;
  readonly qop?: readonly DigestQop[];
  readonly stale?: boolean;
  readonly opaque?: string;
  readonly domain?: string;
  /** Whether a parameter is quoted is chosen by the caller: `true` quotes. */
  readonly extensions?: readonly AuthParam[];
}

const KNOWN_CHALLENGE_PARAMS = new Set([
  'realm',
  'nonce',
  'algorithm',
  'qop',
  'stale',
  'opaque',
  'domain',
  'userhash',
]);

/** Whether an auth-scheme is `Digest` (schemes are case-insensitive, RFC 7235 §2.1). */
export function isDigestScheme(scheme: string): boolean {
  return scheme.toLowerCase() === 'digest';
}

function paramValue(params: readonly AuthParam[], name: string): string | undefined {
  for (const p of params) if (p.name === name) return p.value;
  return undefined;
}

/**
 * Parses a WWW-Authenticate / Proxy-Authenticate value holding one Digest challenge.
 * An algorithm Rampart does not implement comes back as `unsupported-algorithm`, so a
 * client offered several challenges (RFC 8760 §2.4) can skip it. Never throws.
 */
export function parseChallenge(input: string): Result<DigestChallenge, DigestParseError> {
  const parsed = parseAuthHeader(input);
  if (!parsed.ok) return parsed;
  const { scheme, params } = parsed.value;
  if (!isDigestScheme(scheme)) return err(parseError('not-digest', 0));
  const realm = paramValue(params, 'realm');
  if (realm === undefined) return err(parseError('missing-parameter', input.length, 'realm'));
  const nonce = paramValue(params, 'nonce');
  if (nonce === undefined) return err(parseError('missing-parameter', input.length, 'nonce'));
  const algorithmName = paramValue(params, 'algorithm');
  // RFC 7616 §3.3: "If this is not present, it is assumed to be "MD5"."
  const algorithm = algorithmName === undefined ? 'MD5' : lookupAlgorithm(algorithmName);
  if (algorithm === undefined) {
    return err(parseError('unsupported-algorithm', 0, 'algorithm'));
  }
  const qop: DigestQop[] = [];
  const qopValue = paramValue(params, 'qop');
  if (qopValue !== undefined) {
    for (const option of qopValue.split(',')) {
      const v = option.trim().toLowerCase();
      // RFC 2617 §3.2.1 qop-options: "Unrecognized options MUST be ignored."
      if ((v === 'auth' || v === 'auth-int') && !qop.includes(v)) qop.push(v);
    }
  }
  // RFC 7616 §3.3 stale: "If stale is FALSE, or anything other than TRUE, or the stale
  // parameter is not present, the username and/or password are invalid".
  const stale = paramValue(params, 'stale')?.toLowerCase() === 'true';
  const userhash = paramValue(params, 'userhash')?.toLowerCase() === 'true';
  const opaque = paramValue(params, 'opaque');
  const domain = paramValue(params, 'domain');
  return ok({
    realm,
    nonce,
    algorithm,
    qop,
    stale,
    userhash,
    ...(opaque === undefined ? {} : { opaque }),
    ...(domain === undefined ? {} : { domain }),
    extensions: params.filter((p) => !KNOWN_CHALLENGE_PARAMS.has(p.name)),
  });
}

/** Writes an extension auth-param, quoted or as a token. */
export function formatParam(p: AuthParam): string {
  return `${tokenValue(p.name)}=${p.quoted ? quoteString(p.value) : tokenValue(p.value)}`;
}

/**
 * Writes a Digest challenge value for WWW-Authenticate / Proxy-Authenticate, in the order
 * of RFC 7616 §3.9.1. Throws on values that cannot be written (CR/LF in a quoted value):
 * challenges are built from configuration, so that is a programmer error.
 */
export function formatChallenge(init: DigestChallengeInit): string {
  const parts = [`realm=${quoteString(init.realm)}`];
  if (init.domain !== undefined) parts.push(`domain=${quoteString(init.domain)}`);
  if (init.qop !== undefined && init.qop.length > 0) {
    parts.push(`qop=${quoteString(init.qop.join(','))}`);
  }
  if (init.algorithm !== undefined) parts.push(`algorithm=${init.algorithm}`);
  parts.push(`nonce=${quoteString(init.nonce)}`);
  if (init.opaque !== undefined) parts.push(`opaque=${quoteString(init.opaque)}`);
  // RFC 7616 §3.3: stale "is a case-insensitive flag"; RFC 3261 §25.1 spells it TRUE.
  if (init.stale === true) parts.push('stale=TRUE');
  for (const p of init.extensions ?? []) parts.push(formatParam(p));
  return `Digest ${parts.join(', ')}`;
}

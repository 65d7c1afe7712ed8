import { createHash } from 'node:crypto';
import { hmac } from '../../lib/hmac.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import { err, ok, type Result } from '../../lib/result.ts';

/**
 * Long-term credentials for TURN (RFC 8489 §9.2, RFC 8656 §5) and the TURN REST API
 * (draft-uberti-behave-turn-rest-00 §2.2, as coturn implements it): time-limited usernames
 * `<expiry-unix-seconds>:<user>` whose password is base64(HMAC-SHA1(secret, username)), so
 * any edge holding the shared secret verifies them without a lookup.
 */

/** RFC 8489 §18.5: the PASSWORD-ALGORITHM values. */
export const PASSWORD_ALGORITHMS = {
  MD5: 0x0001,
  'SHA-256': 0x0002,
} as const;

/** A long-term credential key algorithm. */
export type PasswordAlgorithm = keyof typeof PASSWORD_ALGORITHMS;

/** RFC 8489 §14.3: USERNAME "MUST contain a UTF-8-encoded sequence of fewer than 509 bytes". */
export const MAX_USERNAME_BYTES = 508;

/** The draft's default separator between expiry and user. */
export const DEFAULT_REST_SEPARATOR = ':';

const NON_ASCII_SPACE = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/gu;
const CONTROL = /\p{Cc}/u;

/**
 * The PRECIS OpaqueString profile (RFC 8265 §4.2) as STUN uses it for realm and password:
 * non-ASCII spaces map to U+0020, NFC normalisation, no case mapping. Refuses empty strings and
 * control characters (FreeformClass disallows them); other FreeformClass subtleties (unassigned
 * code points) are not checked.
 */
export function opaqueString(input: string): Result<string, 'empty' | 'disallowed-character'> {
  const mapped = input.replace(NON_ASCII_SPACE, ' ').normalize('NFC');
  if (mapped.length === 0) return err('empty');
  if (CONTROL.test(mapped)) return err('disallowed-character');
  return ok(mapped);
}

/**
 * The long-term credential key. RFC 8489 §9.2.2: "key = MD5(username ":" OpaqueString(realm)
 * ":" OpaqueString(password))"; §18.5.1.2 SHA-256 is the same input under SHA-256 (32 bytes).
 * `username` is as carried in USERNAME (the client has applied OpaqueString). Realm and
 * password fall back to their raw text when OpaqueString refuses them (a configuration issue,
 * reported elsewhere), so the key is deterministic either way.
 */
export function longTermKey(
  username: string,
  realm: string,
  password: string,
  algorithm: PasswordAlgorithm = 'MD5',
): Buffer {
  const preparedRealm = opaqueString(realm);
  const preparedPassword = opaqueString(password);
  return createHash(algorithm === 'MD5' ? 'md5' : 'sha256')
    .update(username, 'utf8')
    .update(':')
    .update(preparedRealm.ok ? preparedRealm.value : realm, 'utf8')
    .update(':')
    .update(preparedPassword.ok ? preparedPassword.value : password, 'utf8')
    .digest();
}

/** RFC 8489 §14.4: USERHASH = SHA-256(OpaqueString(username) ":" OpaqueString(realm)). */
export function userHash(username: string, realm: string): Buffer {
  const user = opaqueString(username);
  const preparedRealm = opaqueString(realm);
  return createHash('sha256')
    .update(user.ok ? user.value : username, 'utf8')
    .update(':')
    .update(preparedRealm.ok ? preparedRealm.value : realm, 'utf8')
    .digest();
}

/** The REST API password of `username`: base64(HMAC-SHA1(secret, username)). */
export function restPassword(secret: string | Uint8Array, username: string): string {
  return hmac('sha1', secret, username).toString('base64');
}

/** A generated REST credential, as `rampart turn credentials` prints it. */
export interface RestCredential {
  readonly username: string;
  readonly password: string;
  readonly ttlSeconds: number;
  /** Expiry, Unix seconds. */
  readonly expiresAt: number;
}

/**
 * Generates a time-limited credential for `user`. `nowMs` is the wall clock (`Date.now()`),
 * shared with the edges that check it. Throws RAMPART_ERR_INVALID_ARGUMENT on a non-positive
 * TTL or a separator in `user`'s place that would make the username ambiguous.
 */
export function generateRestCredential(
  secret: string | Uint8Array,
  user: string,
  ttlSeconds: number,
  nowMs: number,
  options: { readonly separator?: string } = {},
): RestCredential {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'ttlSeconds must be a positive integer');
  }
  if (!Number.isFinite(nowMs) || nowMs < 0) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'nowMs must be epoch milliseconds');
  }
  const separator = options.separator ?? DEFAULT_REST_SEPARATOR;
  if (separator.length === 0 || /[0-9]/.test(separator)) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'separator must be non-empty, no digits');
  }
  const expiresAt = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = user === '' ? String(expiresAt) : `${expiresAt}${separator}${user}`;
  if (Buffer.byteLength(username, 'utf8') > MAX_USERNAME_BYTES) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'user too long for a STUN USERNAME');
  }
  return { username, password: restPassword(secret, username), ttlSeconds, expiresAt };
}

/** Why a REST username is not one. */
export type RestUsernameFailure = 'not-rest-username';

/** A parsed REST username. */
export interface RestUsername {
  /** Expiry, Unix seconds. */
  readonly expiresAt: number;
  /** The user part; '' when the username is a bare timestamp. */
  readonly user: string;
}

const MAX_TIMESTAMP_DIGITS = 12;

/**
 * Splits `<expiry><separator><user>` (or a bare `<expiry>`) at the first separator. The expiry
 * is 1–12 decimal digits; anything else is not a REST username. Never throws.
 */
export function parseRestUsername(
  username: string,
  separator: string = DEFAULT_REST_SEPARATOR,
): Result<RestUsername, RestUsernameFailure> {
  const at = username.indexOf(separator);
  const digits = at === -1 ? username : username.slice(0, at);
  if (digits.length === 0 || digits.length > MAX_TIMESTAMP_DIGITS) return err('not-rest-username');
  for (let i = 0; i < digits.length; i++) {
    const code = digits.charCodeAt(i);
    if (code < 48 || code > 57) return err('not-rest-username');
  }
  return ok({
    expiresAt: Number(digits),
    user: at === -1 ? '' : username.slice(at + separator.length),
  });
}

/** A static long-term user: a password, or keys hashed beforehand (hex), so none is stored. */
export type StaticTurnUser =
  | { readonly username: string; readonly password: string }
  | { readonly username: string; readonly md5Key?: string; readonly sha256Key?: string };

/** Configuration of {@link TurnCredentials}. */
export interface TurnCredentialsConfig {
  /** RFC 8656 §5: a realm that "will uniquely identify the username and password combination". */
  readonly realm: string;
  /** REST API secrets; all are accepted (rotation), the first is the one to issue with. */
  readonly restSecrets?: readonly (string | Uint8Array)[];
  /** Separator of REST usernames; default ':'. */
  readonly restSeparator?: string;
  /** Refuse REST usernames expiring further ahead than this (a forged far-future expiry). */
  readonly maxRestTtlSeconds?: number;
  readonly users?: readonly StaticTurnUser[];
}

/** Keys to try for a username: one per REST secret, or the static user's key. */
export interface CredentialMatch {
  readonly source: 'rest' | 'static';
  /** Candidate keys; the request is authentic if its integrity verifies with any of them. */
  readonly keys: readonly Buffer[];
  /** REST usernames: expiry in Unix seconds. */
  readonly expiresAt: number | undefined;
}

/** Why no key exists for a username. */
export type CredentialFailure =
  'unknown-user' | 'expired' | 'expiry-too-far' | 'username-too-long' | 'unsupported-algorithm';

interface StaticKeys {
  readonly md5: Buffer | undefined;
  readonly sha256: Buffer | undefined;
}

function hexKey(hex: string | undefined, bytes: number, username: string): Buffer | undefined {
  if (hex === undefined) return undefined;
  if (!new RegExp(`^[0-9a-fA-F]{${2 * bytes}}$`).test(hex)) {
    throw new RampartError(
      ERROR_CODES.CONFIG,
      `TURN user ${escapeForLog(username)}: key must be ${2 * bytes} hex digits`,
    );
  }
  return Buffer.from(hex, 'hex');
}

/**
 * The key material of every long-term user (RFC 8656 §6: "the server MUST NOT store the
 * password explicitly and MUST store the key value"): static users' passwords are hashed at
 * construction and dropped. Throws RAMPART_ERR_CONFIG on a malformed pre-hashed key.
 */
export class TurnCredentials {
  /** The realm every key is computed for. */
  readonly realm: string;
  private readonly secrets: readonly (string | Uint8Array)[];
  private readonly separator: string;
  private readonly maxRestTtlSeconds: number | undefined;
  private readonly users = new Map<string, StaticKeys>();

  constructor(config: TurnCredentialsConfig) {
    this.realm = config.realm;
    this.secrets = [...(config.restSecrets ?? [])];
    this.separator = config.restSeparator ?? DEFAULT_REST_SEPARATOR;
    this.maxRestTtlSeconds = config.maxRestTtlSeconds;
    for (const user of config.users ?? []) {
      const keys: StaticKeys =
        'password' in user
          ? {
              md5: longTermKey(user.username, this.realm, user.password, 'MD5'),
              sha256: longTermKey(user.username, this.realm, user.password, 'SHA-256'),
            }
          : {
              md5: hexKey(user.md5Key, 16, user.username),
              sha256: hexKey(user.sha256Key, 32, user.username),
            };
      this.users.set(user.username, keys);
    }
  }

  /**
   * The candidate keys for `username` under `algorithm` at wall-clock `nowMs`. Static users
   * win over the REST form. Expired REST usernames are refused; so is any username when no
   * REST secret is configured and no static user matches. Never throws on the username.
   */
  lookup(
    username: string,
    algorithm: PasswordAlgorithm,
    nowMs: number,
  ): Result<CredentialMatch, CredentialFailure> {
    if (Buffer.byteLength(username, 'utf8') > MAX_USERNAME_BYTES) return err('username-too-long');
    const user = this.users.get(username);
    if (user !== undefined) {
      const key = algorithm === 'MD5' ? user.md5 : user.sha256;
      if (key === undefined) return err('unsupported-algorithm');
      return ok({ source: 'static', keys: [key], expiresAt: undefined });
    }
    if (this.secrets.length === 0) return err('unknown-user');
    const rest = parseRestUsername(username, this.separator);
    if (!rest.ok) return err('unknown-user');
    const nowSeconds = Math.floor(nowMs / 1000);
    // draft-uberti-behave-turn-rest-00 §2.2: the timestamp is when the credentials expire.
    if (rest.value.expiresAt <= nowSeconds) return err('expired');
    if (
      this.maxRestTtlSeconds !== undefined &&
      rest.value.expiresAt - nowSeconds > this.maxRestTtlSeconds
    ) {
      return err('expiry-too-far');
    }
    const keys = this.secrets.map((secret) =>
      longTermKey(username, this.realm, restPassword(secret, username), algorithm),
    );
    return ok({ source: 'rest', keys, expiresAt: rest.value.expiresAt });
  }

  /** Issues a REST credential with the current (first) secret. */
  issue(user: string, ttlSeconds: number, nowMs: number): RestCredential {
    const secret = this.secrets[0];
    if (secret === undefined) {
      throw new RampartError(ERROR_CODES.INVALID_STATE, 'no REST secret configured');
    }
    return generateRestCredential(secret, user, ttlSeconds, nowMs, { separator: this.separator });
  }
}

/**
 * A username (or any client-supplied text) made safe for a log line: printable ASCII passes,
 * `\` and `"` are escaped, other characters become `\xNN` or `\u{N}`, and text longer than
 * `maxChars` code points is cut with a `...(+N)` marker. Log and return usernames only through
 * this.
 */
export function escapeForLog(text: string, maxChars = 64): string {
  let out = '';
  let count = 0;
  let cut = 0;
  for (const char of text) {
    if (count === maxChars) {
      cut++;
      continue;
    }
    count++;
    const code = char.codePointAt(0) ?? 0;
    if (char === '\\' || char === '"') out += `\\${char}`;
    else if (code >= 0x20 && code <= 0x7e) out += char;
    else if (code <= 0xff) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += `\\u{${code.toString(16)}}`;
  }
  return cut === 0 ? out : `${out}...(+${cut})`;
}

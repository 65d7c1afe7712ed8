/**
 * The forms sign-in session cookie and the CSRF tokens, sans-IO.
 *
 * The cookie value is AES-256-GCM over the session (JSON): encrypted, and authenticated by
 * the GCM tag, so it is both unreadable and unforgeable without the secret. Keys are
 * derived from one secret with HKDF-SHA256, one per purpose. CSRF tokens are HMAC-SHA256
 * of a value bound to the browser (a random cookie before sign-in, the session id after).
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';

/** A signed-in browser. */
export interface Session {
  /** Random session id, new at every sign-in. */
  readonly sid: string;
  /** The user's SIP URI, as the verifier answered it. */
  readonly user: string;
  readonly displayName: string;
  /** Epoch ms of the sign-in. */
  readonly issuedAt: number;
  /** Epoch ms of the last time the cookie was (re)issued. */
  readonly seenAt: number;
}

/** Session lifetimes. */
export interface SessionLifetimes {
  /** A session unused for this long has ended. */
  readonly idleMs: number;
  /** A session this old has ended, used or not. */
  readonly maxMs: number;
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const AAD = Buffer.from('rampart reverse-proxy session v1');

function derive(secret: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), purpose, 32));
}

function isSession(value: unknown): value is Session {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record['sid'] === 'string' &&
    typeof record['user'] === 'string' &&
    typeof record['displayName'] === 'string' &&
    typeof record['issuedAt'] === 'number' &&
    typeof record['seenAt'] === 'number'
  );
}

/** A new random id (128 bits, base64url): session ids and pre-sign-in CSRF cookies. */
export function randomId(): string {
  return randomBytes(16).toString('base64url');
}

/** Seals and opens session cookies, issues and checks CSRF tokens. */
export class SessionCodec {
  private readonly encryptionKey: Buffer;
  private readonly csrfKey: Buffer;
  private readonly lifetimes: SessionLifetimes;

  constructor(secret: Buffer, lifetimes: SessionLifetimes) {
    if (secret.length < 16)
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'session secret under 16 bytes');
    this.encryptionKey = derive(secret, 'rampart session encryption');
    this.csrfKey = derive(secret, 'rampart csrf');
    this.lifetimes = lifetimes;
  }

  /** The cookie value for `session`. */
  seal(session: Session): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, iv);
    cipher.setAAD(AAD);
    const body = Buffer.concat([
      cipher.update(JSON.stringify({ v: VERSION, ...session })),
      cipher.final(),
    ]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The session in a cookie value, if authentic and not expired at `now`; else undefined. */
  open(value: string, now: number): Session | undefined {
    const raw = Buffer.from(value, 'base64url');
    if (raw.length <= IV_BYTES + TAG_BYTES || raw.length > 4096) return undefined;
    let plain: Buffer;
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        this.encryptionKey,
        raw.subarray(0, IV_BYTES),
      );
      decipher.setAAD(AAD);
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      plain = Buffer.concat([
        decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      return undefined; // wrong key or altered bytes: the tag does not verify
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(plain.toString('utf8'));
    } catch {
      return undefined;
    }
    if (!isSession(parsed)) return undefined;
    if (now - parsed.issuedAt >= this.lifetimes.maxMs) return undefined;
    if (now - parsed.seenAt >= this.lifetimes.idleMs) return undefined;
    return {
      sid: parsed.sid,
      user: parsed.user,
      displayName: parsed.displayName,
      issuedAt: parsed.issuedAt,
      seenAt: parsed.seenAt,
    };
  }

  /** The CSRF token for a form bound to `binding` (the pre-sign-in cookie or the sid). */
  csrfToken(purpose: 'signin' | 'signout', binding: string): string {
    return createHmac('sha256', this.csrfKey).update(`${purpose}\n${binding}`).digest('base64url');
  }

  /** Whether `token` is the CSRF token for `binding` (constant time). */
  checkCsrf(purpose: 'signin' | 'signout', binding: string, token: string): boolean {
    const expected = Buffer.from(this.csrfToken(purpose, binding));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/** The value of cookie `name` in a Cookie header, if present. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * A Set-Cookie value with the `__Host-` rules (RFC 6265bis §4.1.3.2): Secure, Path=/, no
 * Domain; always HttpOnly. `maxAgeSeconds` 0 deletes the cookie.
 */
export function setCookie(
  name: string,
  value: string,
  sameSite: 'Strict' | 'Lax',
  maxAgeSeconds?: number,
): string {
  const age = maxAgeSeconds === undefined ? '' : `; Max-Age=${String(maxAgeSeconds)}`;
  return `${name}=${value}; Path=/; Secure; HttpOnly; SameSite=${sameSite}${age}`;
}

/**
 * Who is asking. Two ways in, in this order:
 *
 * 1. `X-Rampart-User: sip:alice@example.test`, believed only when the TLS peer presented a
 *    client certificate that chains to the deployment CA (the reverse proxy, which signed the
 *    user in). From any other peer the header is ignored.
 * 2. HTTP Basic (RFC 7617) checked against the directory's web sign-in password, for clients
 *    that call directly. Failures lock the user out for a while (per user, bounded table).
 *
 * Disabled and unknown users are refused either way.
 */
import { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Lockout } from '../../proto/sip-auth/index.ts';
import { canonicalAddress, type Directory, type DirectoryUser } from '../../store/directory.ts';

/** The header the reverse proxy sets for a signed-in user. */
export const USER_HEADER = 'x-rampart-user';
/** The Basic challenge (RFC 7617 §2, §2.1). */
export const BASIC_CHALLENGE = 'Basic realm="Rampart", charset="UTF-8"';
/** Longest user or password accepted from a client. */
const MAX_CREDENTIAL_CHARS = 1024;

/** Lockout settings (`web-services.auth`). */
export interface WebAuthSettings {
  readonly maxFailures: number;
  readonly windowSeconds: number;
  readonly lockSeconds: number;
}

/** An authenticated user, and how they were recognised. */
export interface WebIdentity {
  readonly user: DirectoryUser;
  readonly via: 'proxy' | 'basic';
}

/** The result of a password check. */
export type PasswordCheck =
  | { readonly ok: true; readonly user: DirectoryUser }
  | { readonly ok: false; readonly reason: 'bad-credentials' }
  | { readonly ok: false; readonly reason: 'locked'; readonly retryAfterSeconds: number };

/** RFC 7617 §2: `Basic base64(user ":" password)`; undefined when it is not that. */
export function parseBasic(
  header: string | undefined,
): { user: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (match === null || (match[1] ?? '').length > 4 * MAX_CREDENTIAL_CHARS) return undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  // RFC 7617 §2: the user-id cannot contain a colon; the password may.
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** True when the TLS peer presented a certificate that chains to the deployment CA. */
export function isTrustedPeer(request: FastifyRequest): boolean {
  const socket = request.raw.socket;
  return socket instanceof TLSSocket && socket.authorized;
}

/** Authentication for the routes that need it, and the password check of `/auth/verify`. */
export class WebAuthenticator {
  readonly #directory: Directory;
  readonly #lockout: Lockout;
  readonly #now: () => number;

  constructor(directory: Directory, settings: WebAuthSettings, now: () => number = Date.now) {
    this.#directory = directory;
    const lockMs = settings.lockSeconds * 1000;
    this.#lockout = new Lockout({
      maxFailures: settings.maxFailures,
      windowMs: settings.windowSeconds * 1000,
      baseLockMs: lockMs,
      maxLockMs: Math.max(lockMs, 3_600_000),
    });
    this.#now = now;
  }

  /** Checks a password against the directory, counting failures per user. */
  async checkPassword(user: string, password: string): Promise<PasswordCheck> {
    const address = canonicalAddress(user);
    if (address === undefined || password.length > MAX_CREDENTIAL_CHARS)
      return { ok: false, reason: 'bad-credentials' };
    const now = this.#now();
    const lock = this.#lockout.check(address, now);
    if (lock.locked)
      return {
        ok: false,
        reason: 'locked',
        retryAfterSeconds: Math.ceil((lock.until - now) / 1000),
      };
    const record = await this.#directory.getUser(address);
    const verified = await this.#directory.verifyPassword(address, password);
    if (!verified || record?.enabled !== true) {
      this.#lockout.recordFailure(address, now);
      return { ok: false, reason: 'bad-credentials' };
    }
    this.#lockout.recordSuccess(address);
    return { ok: true, user: record };
  }

  /**
   * The user of a request, or undefined after answering it: 401 with a Basic challenge, 429
   * while locked out, 403 for a proxied user who is unknown or disabled.
   */
  async identify(request: FastifyRequest, reply: FastifyReply): Promise<WebIdentity | undefined> {
    const asserted = request.headers[USER_HEADER];
    if (typeof asserted === 'string' && isTrustedPeer(request)) {
      const address = canonicalAddress(asserted);
      const user = address === undefined ? undefined : await this.#directory.getUser(address);
      if (user?.enabled !== true) {
        await reply.code(403).send({ error: 'unknown-user' });
        return undefined;
      }
      return { user, via: 'proxy' };
    }
    const basic = parseBasic(request.headers.authorization);
    if (basic !== undefined) {
      const check = await this.checkPassword(basic.user, basic.password);
      if (check.ok) return { user: check.user, via: 'basic' };
      if (check.reason === 'locked') {
        await reply
          .code(429)
          .header('retry-after', String(check.retryAfterSeconds))
          .send({ error: 'locked' });
        return undefined;
      }
    }
    await reply
      .code(401)
      .header('www-authenticate', BASIC_CHALLENGE)
      .send({ error: 'authentication-required' });
    return undefined;
  }
}

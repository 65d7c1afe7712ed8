/**
 * Forms sign-in for web access: the CSRF-protected form, the password check against the
 * internal verifier (POST JSON {user, password} → 200 {sipUri, displayName} or 401), the
 * session cookie, lockout per user and per address, and sign-out.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Logger } from '../../lib/logger.ts';
import { Lockout } from '../../proto/sip-auth/lockout.ts';
import { cookieValue, randomId, setCookie, type Session, type SessionCodec } from './session.ts';
import { parseForm, safeReturnPath, signInHtml, signOutHtml } from './signin-form.ts';

/** The session cookie; `__Host-` binds it to our origin, Secure, Path=/. */
export const SESSION_COOKIE = '__Host-rampart-session';
/** The pre-sign-in cookie the sign-in form's CSRF token is bound to. */
export const CSRF_COOKIE = '__Host-rampart-csrf';

/** A session cookie older than this is re-issued, sliding the idle timeout. */
const REFRESH_AFTER_MS = 60_000;
const MAX_FORM_BYTES = 8192;
const VERIFY_TIMEOUT_MS = 10_000;

/** Settings of {@link FormsSignIn}. */
export interface FormsSignInOptions {
  readonly path: string;
  readonly signOutPath: string;
  readonly codec: SessionCodec;
  /** The verifier's pool and the path on it. */
  readonly verify: () => { readonly dispatcher: Dispatcher; readonly path: string };
  readonly lockout: {
    readonly maxFailures: number;
    readonly windowMs: number;
    readonly baseLockMs: number;
    readonly maxLockMs: number;
    readonly addressFactor: number;
  };
  readonly idleMs: number;
  readonly maxMs: number;
  /** Whether a path is one we publish (a sign-in may only return there). */
  readonly isOurs: (path: string) => boolean;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** How a sign-in request was answered. */
export interface SignInOutcome {
  readonly status: number;
  readonly user?: string;
  readonly reason?: string;
}

function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | string[]>,
  body = '',
): void {
  res.writeHead(status, {
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    ...(body === '' ? {} : { 'content-type': 'text/html; charset=utf-8' }),
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    ...headers,
  });
  res.end(body);
}

async function readForm(req: IncomingMessage): Promise<string | undefined> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_FORM_BYTES) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The forms sign-in endpoints and the session check of `forms` routes. */
export class FormsSignIn {
  private readonly options: FormsSignInOptions;
  private readonly users: Lockout;
  private readonly addresses: Lockout;
  /** Signed-out session ids, until they would have expired anyway. */
  private readonly revoked = new Map<string, number>();
  private readonly now: () => number;

  constructor(options: FormsSignInOptions) {
    this.options = options;
    const { lockout } = options;
    const common = {
      windowMs: lockout.windowMs,
      baseLockMs: lockout.baseLockMs,
      maxLockMs: lockout.maxLockMs,
    };
    this.users = new Lockout({ ...common, maxFailures: lockout.maxFailures });
    this.addresses = new Lockout({
      ...common,
      maxFailures: lockout.maxFailures * lockout.addressFactor,
    });
    this.now = options.now ?? Date.now;
  }

  /** Whether `path` is one of the sign-in endpoints. */
  handles(path: string): boolean {
    return path === this.options.path || path === this.options.signOutPath;
  }

  /** The browser's session, if its cookie is authentic, current and not signed out. */
  sessionOf(req: IncomingMessage): Session | undefined {
    const value = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (value === undefined) return undefined;
    const session = this.options.codec.open(value, this.now());
    if (session === undefined || this.revoked.has(session.sid)) return undefined;
    return session;
  }

  /** A Set-Cookie re-issuing the session when it was last issued a while ago. */
  refreshCookie(session: Session): string | undefined {
    const now = this.now();
    if (now - session.seenAt < REFRESH_AFTER_MS) return undefined;
    return this.sessionCookie({ ...session, seenAt: now });
  }

  /** Where an unauthenticated browser is sent for `target`. */
  signInLocation(target: string): string {
    return `${this.options.path}?return=${encodeURIComponent(target)}`;
  }

  private sessionCookie(session: Session): string {
    const maxAge = Math.ceil(this.options.maxMs / 1000);
    return setCookie(SESSION_COOKIE, this.options.codec.seal(session), 'Lax', maxAge);
  }

  /** Answers GET/POST on the sign-in and sign-out paths. */
  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: string,
    remote: string,
  ): Promise<SignInOutcome> {
    const method = req.method ?? 'GET';
    const signOut = path === this.options.signOutPath;
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
      send(res, 405, { allow: 'GET, HEAD, POST' });
      return { status: 405 };
    }
    if (method === 'POST') {
      // A cross-site form post carries a foreign Origin; ours or none (older browsers) pass.
      const origin = req.headers.origin;
      const host = req.headers.host ?? '';
      if (origin !== undefined && origin !== `https://${host}`) {
        send(res, 403, {});
        return { status: 403, reason: 'cross-origin' };
      }
    }
    if (signOut) return this.signOut(req, res, method);
    if (method !== 'POST') {
      const returnTo = safeReturnPath(
        new URLSearchParams(query.slice(1)).get('return'),
        this.options.isOurs,
      );
      return this.showForm(res, 200, returnTo);
    }
    return this.signIn(req, res, remote);
  }

  private showForm(
    res: ServerResponse,
    status: number,
    returnTo: string,
    message?: string,
    extraHeaders: Record<string, string> = {},
  ): SignInOutcome {
    const binding = randomId();
    const csrf = this.options.codec.csrfToken('signin', binding);
    send(
      res,
      status,
      { 'set-cookie': setCookie(CSRF_COOKIE, binding, 'Strict'), ...extraHeaders },
      signInHtml({ action: this.options.path, csrf, returnTo, message }),
    );
    return { status };
  }

  private async signIn(
    req: IncomingMessage,
    res: ServerResponse,
    remote: string,
  ): Promise<SignInOutcome> {
    const body = await readForm(req);
    if (body === undefined) {
      send(res, 413, { connection: 'close' });
      return { status: 413, reason: 'form-too-large' };
    }
    const form = parseForm(body);
    const returnTo = safeReturnPath(form.returnTo, this.options.isOurs);
    const binding = cookieValue(req.headers.cookie, CSRF_COOKIE);
    if (binding === undefined || !this.options.codec.checkCsrf('signin', binding, form.csrf)) {
      send(res, 403, {});
      return { status: 403, reason: 'csrf' };
    }
    const now = this.now();
    const userKey = form.user.trim().toLowerCase();
    const locked = [this.users.check(userKey, now), this.addresses.check(remote, now)].find(
      (state) => state.locked,
    );
    if (locked?.locked === true) {
      const retryAfter = String(Math.max(1, Math.ceil((locked.until - now) / 1000)));
      this.showForm(res, 429, returnTo, 'Too many failed sign-ins; try again later.', {
        'retry-after': retryAfter,
      });
      return { status: 429, reason: 'locked' };
    }
    const verdict = await this.verify(form.user, form.password);
    if (verdict === 'locked') {
      this.showForm(res, 429, returnTo, 'Too many failed sign-ins; try again later.');
      return { status: 429, reason: 'locked-by-verifier' };
    }
    if (verdict === 'unavailable') {
      this.showForm(res, 503, returnTo, 'Sign-in is unavailable; try again later.');
      return { status: 503, reason: 'verifier-unavailable' };
    }
    if (verdict === 'refused') {
      this.users.recordFailure(userKey, now);
      this.addresses.recordFailure(remote, now);
      this.showForm(res, 401, returnTo, 'Wrong user or password.');
      return { status: 401, reason: 'refused' };
    }
    this.users.recordSuccess(userKey);
    // A new session id at every sign-in (session fixation): never one the browser brought.
    const session: Session = {
      sid: randomId(),
      user: verdict.sipUri,
      displayName: verdict.displayName,
      issuedAt: now,
      seenAt: now,
    };
    send(res, 303, {
      location: returnTo,
      'set-cookie': [this.sessionCookie(session), setCookie(CSRF_COOKIE, '', 'Strict', 0)],
    });
    return { status: 303, user: session.user };
  }

  private async signOut(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
  ): Promise<SignInOutcome> {
    const session = this.sessionOf(req);
    if (session === undefined) {
      send(res, 303, { location: this.options.path });
      return { status: 303 };
    }
    if (method !== 'POST') {
      const csrf = this.options.codec.csrfToken('signout', session.sid);
      send(res, 200, {}, signOutHtml(this.options.signOutPath, csrf, session.user));
      return { status: 200, user: session.user };
    }
    return this.finishSignOut(req, res, session);
  }

  private async finishSignOut(
    req: IncomingMessage,
    res: ServerResponse,
    session: Session,
  ): Promise<SignInOutcome> {
    const form = parseForm((await readForm(req)) ?? '');
    if (!this.options.codec.checkCsrf('signout', session.sid, form.csrf)) {
      send(res, 403, {});
      return { status: 403, user: session.user, reason: 'csrf' };
    }
    this.revoke(session);
    send(res, 303, {
      location: this.options.path,
      'set-cookie': setCookie(SESSION_COOKIE, '', 'Lax', 0),
    });
    return { status: 303, user: session.user };
  }

  private revoke(session: Session): void {
    const now = this.now();
    for (const [sid, until] of this.revoked) if (until <= now) this.revoked.delete(sid);
    this.revoked.set(session.sid, session.issuedAt + this.options.maxMs);
  }

  private async verify(
    user: string,
    password: string,
  ): Promise<'refused' | 'locked' | 'unavailable' | { sipUri: string; displayName: string }> {
    if (user === '' || password === '' || user.length > 256 || password.length > 1024)
      return 'refused';
    try {
      const { dispatcher, path } = this.options.verify();
      const response = await dispatcher.request({
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user, password }),
        headersTimeout: VERIFY_TIMEOUT_MS,
        bodyTimeout: VERIFY_TIMEOUT_MS,
      });
      if (response.statusCode === 401 || response.statusCode === 403) {
        await response.body.dump();
        return 'refused';
      }
      if (response.statusCode === 429) {
        // The verifier's own lockout (the web services lock users too).
        await response.body.dump();
        return 'locked';
      }
      if (response.statusCode !== 200) {
        await response.body.dump();
        return 'unavailable';
      }
      const answer = (await response.body.json()) as Record<string, unknown>;
      const sipUri = answer['sipUri'];
      if (typeof sipUri !== 'string' || !/^sips?:[^\s]+$/i.test(sipUri)) return 'unavailable';
      const displayName = answer['displayName'];
      return { sipUri, displayName: typeof displayName === 'string' ? displayName : '' };
    } catch (error) {
      this.options.logger.warn(
        { event: 'verify-failed', error: error instanceof Error ? error.message : String(error) },
        'sign-in verifier unreachable',
      );
      return 'unavailable';
    }
  }
}

/**
 * SIP request authentication for the Director and the Front End: Digest (RFC 3261 §22,
 * RFC 7616, RFC 8760) with stateless nonces, replay detection by nonce-count, and lockout after
 * repeated failures per user and per source address.
 *
 * The digest username is the user part of the address-of-record and the realm its domain: the
 * directory stores HA1 = H(user:domain:password). A username written as the whole address
 * `user@domain` is accepted too, as some clients send it.
 */
import { randomBytes } from 'node:crypto';
import { parseNameAddr } from '../../codec/sip/headers.ts';
import type { SipRequest } from '../../codec/sip/message.ts';
import { header, headerFields } from '../../codec/sip/parse.ts';
import type { HeaderLine } from '../../codec/sip/serialize.ts';
import { isSipUri, normalizeEscapes, parseUri, sipUriEquals } from '../../codec/sip/uri.ts';
import { hashOf, type DigestHash } from '../digest/algorithm.ts';
import { formatChallenge } from '../digest/challenge.ts';
import { verifyCredentials } from '../digest/compute.ts';
import { parseCredentials, type DigestCredentials } from '../digest/credentials.ts';
import { NonceCountTracker, checkNonce, createNonce, type NonceBinding } from '../digest/nonce.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import { fnvLanes } from '../../lib/fnv.ts';
import { Lockout, type LockoutOptions } from './lockout.ts';

/** The algorithms a SIP authenticator offers (RFC 8760 §2.4: one challenge each). */
export type SipDigestAlgorithm = 'SHA-256' | 'MD5';

/** A policy verdict on an authenticated user. */
export type UserPolicyVerdict =
  { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** Options of {@link SipAuthenticator}. */
export interface SipAuthenticatorOptions {
  /** SIP domains served; each is the realm of its users (lower case). */
  readonly realms: readonly string[];
  /** HMAC secret of the stateless nonces, shared by every node (at least 16 bytes). */
  readonly nonceSecret: string | Uint8Array;
  /** Offered in this order (RFC 8760 §2.4: preferred first). Default ['SHA-256', 'MD5']. */
  readonly algorithms?: readonly SipDigestAlgorithm[];
  /** How long a nonce is good for; an older one with a right response is `stale`. Default 5 min. */
  readonly nonceLifetimeMs?: number;
  /** Proxy authentication: 407 with Proxy-Authenticate (RFC 3261 §22.3) instead of 401. */
  readonly proxy?: boolean;
  /** HA1 = H(user:realm:password) for the hash, hex; undefined for an unknown user. */
  readonly lookupHa1: (
    user: string,
    realm: string,
    hash: DigestHash,
  ) => Promise<string | undefined>;
  /** Policy check on an authenticated address (disabled account, no remote access, ...). */
  readonly checkUser?: (address: string) => Promise<UserPolicyVerdict> | UserPolicyVerdict;
  /** Lockout per user (`user@realm`). */
  readonly userLockout?: LockoutOptions;
  /** Lockout per source address. */
  readonly ipLockout?: LockoutOptions;
  /** Bind nonces to the client's address (breaks clients whose address changes). Default false. */
  readonly bindNonceToSourceIp?: boolean;
  /** Require the From user to be the authenticated user (no spoofed From). Default true. */
  readonly requireFromMatch?: boolean;
  /** Most nonces remembered for replay detection. Default 100000. */
  readonly maxTrackedNonces?: number;
}

/** Where the request came from. */
export interface AuthContext {
  /** The source IP address of the request (the transport peer). */
  readonly sourceIp: string;
}

/** Why a request was not authenticated: stable literals for logs and metrics. */
export type AuthFailure =
  | 'no-credentials'
  | 'malformed-credentials'
  | 'unknown-realm'
  | 'invalid-from'
  | 'from-mismatch'
  | 'uri-mismatch'
  | 'algorithm-not-offered'
  | 'nonce-invalid'
  | 'nonce-stale'
  | 'nonce-count-replay'
  | 'unknown-user'
  | 'wrong-password'
  | 'user-locked'
  | 'source-locked'
  | 'policy';

/** The verdict of {@link SipAuthenticator.authenticate}. */
export type AuthResult =
  | {
      readonly ok: true;
      /** The authenticated address, `sip:user@realm`. */
      readonly address: string;
      readonly username: string;
      readonly realm: string;
    }
  | {
      readonly ok: false;
      readonly outcome: 'challenge';
      readonly status: 401 | 407;
      readonly reason: string;
      /** WWW-Authenticate (401) or Proxy-Authenticate (407) lines, one per algorithm. */
      readonly headers: readonly HeaderLine[];
      readonly failure: AuthFailure;
    }
  | {
      readonly ok: false;
      readonly outcome: 'forbidden';
      readonly status: 403;
      readonly reason: string;
      readonly headers: readonly HeaderLine[];
      readonly failure: AuthFailure;
      /** For a lockout: when it ends (ms), for logs and a Retry-After if the driver wants one. */
      readonly lockedUntil?: number;
    }
  | {
      readonly ok: false;
      readonly outcome: 'bad-request';
      readonly status: 400;
      readonly reason: string;
      readonly headers: readonly HeaderLine[];
      readonly failure: AuthFailure;
    };

/** Most Authorization header fields looked at in one request. */
const MAX_CREDENTIAL_FIELDS = 8;
const MAX_USERNAME_LENGTH = 256;

function forbidden(
  reason: string,
  failure: AuthFailure,
  lockedUntil?: number,
): Extract<AuthResult, { outcome: 'forbidden' }> {
  return {
    ok: false,
    outcome: 'forbidden',
    status: 403,
    reason,
    headers: [],
    failure,
    ...(lockedUntil === undefined ? {} : { lockedUntil }),
  };
}

function badRequest(reason: string, failure: AuthFailure): AuthResult {
  return { ok: false, outcome: 'bad-request', status: 400, reason, headers: [], failure };
}

/** Authenticates SIP requests; one per service, shared by every transaction. */
export class SipAuthenticator {
  private readonly realms: ReadonlySet<string>;
  private readonly secret: string | Uint8Array;
  /** Salt of the per-request part of challenge nonces (see `challenge`). */
  private readonly challengeSalt = randomBytes(16).toString('hex');
  private readonly algorithms: readonly SipDigestAlgorithm[];
  private readonly nonceLifetimeMs: number;
  private readonly proxy: boolean;
  private readonly lookupHa1: SipAuthenticatorOptions['lookupHa1'];
  private readonly checkUser: SipAuthenticatorOptions['checkUser'];
  private readonly bindToIp: boolean;
  private readonly requireFromMatch: boolean;
  private readonly nonceCounts: NonceCountTracker;
  /** Failures per user. */
  readonly userLockout: Lockout;
  /** Failures per source address. */
  readonly ipLockout: Lockout;

  constructor(options: SipAuthenticatorOptions) {
    this.realms = new Set(options.realms.map((r) => r.toLowerCase()));
    this.secret = options.nonceSecret;
    this.algorithms = options.algorithms ?? ['SHA-256', 'MD5'];
    if (this.algorithms.length === 0) {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'at least one digest algorithm');
    }
    this.nonceLifetimeMs = options.nonceLifetimeMs ?? 300_000;
    this.proxy = options.proxy ?? false;
    this.lookupHa1 = options.lookupHa1;
    this.checkUser = options.checkUser;
    this.bindToIp = options.bindNonceToSourceIp ?? false;
    this.requireFromMatch = options.requireFromMatch ?? true;
    this.nonceCounts = new NonceCountTracker({
      retainMs: this.nonceLifetimeMs + 5_000,
      maxNonces: options.maxTrackedNonces ?? 100_000,
    });
    this.userLockout = new Lockout(options.userLockout);
    this.ipLockout = new Lockout(options.ipLockout);
    // Fail at start on a short secret rather than on the first request.
    createNonce(this.secret, 0, { realm: 'check' });
  }

  /**
   * Authenticates `request` at `now` (wall-clock epoch ms, shared by every node checking the
   * nonces). Never throws on the request; a failing `lookupHa1` or `checkUser` rejects.
   * ACK and CANCEL cannot be challenged (RFC 3261 §22.1) and must not be passed here.
   */
  async authenticate(request: SipRequest, now: number, context: AuthContext): Promise<AuthResult> {
    if (request.method === 'ACK' || request.method === 'CANCEL') {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, `${request.method} is never challenged`);
    }
    const from = parseNameAddr(header(request, 'from') ?? '');
    if (!from.ok || !isSipUri(from.value.parsedUri) || from.value.parsedUri.user === undefined) {
      return badRequest('Invalid From', 'invalid-from');
    }
    const realm = from.value.parsedUri.host;
    const fromUser = normalizeEscapes(from.value.parsedUri.user);
    if (!this.realms.has(realm)) return forbidden('Domain Not Served Here', 'unknown-realm');

    const ipLock = this.ipLockout.check(context.sourceIp, now);
    if (ipLock.locked) {
      return forbidden(
        'Source Address Locked After Too Many Failed Attempts',
        'source-locked',
        ipLock.until,
      );
    }
    const fields = headerFields(request, this.proxy ? 'proxy-authorization' : 'authorization');
    if (fields.length > MAX_CREDENTIAL_FIELDS) {
      return badRequest('Too Many Credentials', 'malformed-credentials');
    }
    // RFC 3261 §22.4: a UA may send credentials for several realms; ours is the one to check.
    let credentials: DigestCredentials | undefined;
    let malformed = false;
    for (const field of fields) {
      const parsed = parseCredentials(field.value);
      if (!parsed.ok) {
        // An algorithm we do not implement is answered with our challenges, not 400.
        if (parsed.error.reason !== 'unsupported-algorithm') malformed = true;
        continue;
      }
      if (parsed.value.realm === realm) {
        credentials = parsed.value;
        break;
      }
    }
    if (credentials === undefined) {
      if (malformed) return badRequest('Malformed Credentials', 'malformed-credentials');
      return this.challenge(request, realm, now, context, false, 'no-credentials');
    }

    const user = this.digestUser(credentials.username, realm);
    if (user === undefined) {
      // Counted like a wrong password: a username outside this realm cannot succeed.
      const key = credentials.username.slice(0, MAX_USERNAME_LENGTH);
      return this.failed(request, key, realm, now, context, 'unknown-user');
    }
    if (this.requireFromMatch && user !== fromUser) {
      return forbidden('Credentials Do Not Match From', 'from-mismatch');
    }
    const userKey = `${user}@${realm}`;
    const userLock = this.userLockout.check(userKey, now);
    if (userLock.locked) {
      return forbidden(
        'Account Locked After Too Many Failed Attempts',
        'user-locked',
        userLock.until,
      );
    }
    // RFC 7616 §3.4.6: the server SHOULD check that the uri parameter names the request's
    // target and answer 400 (Bad Request) when it does not.
    if (!sameRequestUri(credentials.uri, request.requestUri)) {
      return badRequest('Digest URI Does Not Match Request-URI', 'uri-mismatch');
    }
    const algorithm = credentials.algorithm;
    if (algorithm !== 'SHA-256' && algorithm !== 'MD5') {
      return this.challenge(request, realm, now, context, false, 'algorithm-not-offered');
    }
    if (!this.algorithms.includes(algorithm)) {
      return this.challenge(request, realm, now, context, false, 'algorithm-not-offered');
    }
    const ha1 = await this.lookupHa1(user, realm, hashOf(algorithm));
    const binding = this.nonceBinding(realm, context);
    const verdict = verifyCredentials({
      credentials,
      method: request.method,
      ha1: () => ha1,
      realm,
      acceptedAlgorithms: this.algorithms,
      // We offer qop=auth only: a legacy response without qop is refused (RFC 7616 §3.3).
      requireQop: true,
      body: request.body,
      nonceCheck: (nonce) => checkNonce(this.secret, nonce, now, this.nonceLifetimeMs, binding),
      nonceCountCheck: (nonce, nc) => this.nonceCounts.accept(nonce, nc, now),
    });
    switch (verdict.outcome) {
      case 'authenticated': {
        this.userLockout.recordSuccess(userKey);
        const address = `sip:${user}@${realm}`;
        const policy = this.checkUser === undefined ? undefined : await this.checkUser(address);
        if (policy !== undefined && !policy.allowed) return forbidden(policy.reason, 'policy');
        return { ok: true, address, username: user, realm };
      }
      case 'stale':
        // RFC 7616 §3.3: right password, expired nonce: challenge again with stale=TRUE so the
        // client retries without asking the user.
        return this.challenge(request, realm, now, context, true, 'nonce-stale');
      case 'rejected':
        switch (verdict.reason) {
          case 'unknown-user':
            return this.failed(request, user, realm, now, context, 'unknown-user');
          case 'response-mismatch':
            return this.failed(request, user, realm, now, context, 'wrong-password');
          case 'nonce-count-replay':
            // A replayed nonce-count proves nothing about the password: a fresh challenge.
            return this.challenge(request, realm, now, context, false, 'nonce-count-replay');
          case 'nonce-invalid':
            return this.challenge(request, realm, now, context, false, 'nonce-invalid');
          case 'realm-mismatch':
          case 'uri-mismatch':
          case 'algorithm-not-accepted':
          case 'qop-required':
          case 'auth-int-unavailable':
          case 'userhash-unsupported':
            return this.challenge(request, realm, now, context, false, 'algorithm-not-offered');
        }
    }
  }

  /** The user part from a digest username: `user`, or `user@realm` for this realm only. */
  private digestUser(username: string, realm: string): string | undefined {
    if (username.length === 0 || username.length > MAX_USERNAME_LENGTH) return undefined;
    const at = username.lastIndexOf('@');
    if (at < 0) return username;
    if (username.slice(at + 1).toLowerCase() !== realm) return undefined;
    const user = username.slice(0, at);
    return user.length === 0 ? undefined : user;
  }

  private nonceBinding(realm: string, context: AuthContext): NonceBinding {
    return this.bindToIp ? { realm, clientIp: context.sourceIp } : { realm };
  }

  /** Counts a failed password for the user and the source; locks, or challenges again. */
  private failed(
    request: SipRequest,
    user: string,
    realm: string,
    now: number,
    context: AuthContext,
    failure: 'unknown-user' | 'wrong-password',
  ): AuthResult {
    const userLock = this.userLockout.recordFailure(`${user}@${realm}`, now);
    const ipLock = this.ipLockout.recordFailure(context.sourceIp, now);
    if (userLock.locked) {
      return forbidden(
        'Account Locked After Too Many Failed Attempts',
        'user-locked',
        userLock.until,
      );
    }
    if (ipLock.locked) {
      return forbidden(
        'Source Address Locked After Too Many Failed Attempts',
        'source-locked',
        ipLock.until,
      );
    }
    return this.challenge(request, realm, now, context, false, failure);
  }

  /**
   * 401 with WWW-Authenticate, or 407 with Proxy-Authenticate (RFC 3261 §22.1, §22.3): one
   * challenge per algorithm, the preferred first (RFC 8760 §2.4), all with qop=auth.
   */
  private challenge(
    request: SipRequest,
    realm: string,
    now: number,
    context: AuthContext,
    stale: boolean,
    failure: AuthFailure,
  ): AuthResult {
    // Challenges go out statelessly (RFC 3261 §8.2.7), so a retransmitted request is
    // challenged again; it gets the same answer when it comes within the same second: the
    // nonce's random part is derived from the request's transaction identity (top Via,
    // Call-ID, CSeq) under a per-instance salt, and its timestamp is in whole seconds.
    // (A fast hash, not a cryptographic one: the nonce's MAC protects it, and its freshness
    // comes from the timestamp.)
    const seed = fnvLanes(
      `${this.challengeSalt}${headerFields(request, 'via')[0]?.value ?? ''}\n` +
        `${header(request, 'call-id') ?? ''}\n${header(request, 'cseq') ?? ''}`,
      4,
    );
    const nonce = createNonce(this.secret, Math.floor(now / 1000) * 1000, {
      ...this.nonceBinding(realm, context),
      randomBytes: (size) => new Uint8Array(seed.buffer, 0, size),
    });
    const name = this.proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate';
    const headers: HeaderLine[] = this.algorithms.map((algorithm) => [
      name,
      formatChallenge({ realm, nonce, algorithm, qop: ['auth'], ...(stale ? { stale } : {}) }),
    ]);
    return this.proxy
      ? {
          ok: false,
          outcome: 'challenge',
          status: 407,
          reason: 'Proxy Authentication Required',
          headers,
          failure,
        }
      : { ok: false, outcome: 'challenge', status: 401, reason: 'Unauthorized', headers, failure };
  }
}

/** Whether the digest `uri` names the Request-URI: equal text, or equal SIP URIs (§19.1.4). */
function sameRequestUri(digestUri: string, requestUri: string): boolean {
  if (digestUri === requestUri) return true;
  const a = parseUri(digestUri);
  const b = parseUri(requestUri);
  return a.ok && b.ok && isSipUri(a.value) && isSipUri(b.value) && sipUriEquals(a.value, b.value);
}

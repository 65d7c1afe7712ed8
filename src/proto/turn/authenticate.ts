/**
 * The long-term credential mechanism on the server side (RFC 8489 §9.2.4), as a pure
 * decision: a request comes in, an outcome goes out — authenticated (with the key to sign
 * the response), or the error response to send, or a silent drop when a source is asking for
 * challenges faster than it may.
 */
import {
  PASSWORD_ALGORITHM,
  PasswordAlgorithm,
  PasswordAlgorithms,
  Realm,
  Nonce,
  Username,
  Userhash,
  verifyMessageIntegrity,
  verifyMessageIntegritySha256,
  type StunMessage,
} from '../../codec/stun/index.ts';
import {
  userHash,
  type PasswordAlgorithm as KeyAlgorithm,
  type TurnCredentials,
} from './credentials.ts';
import type { TurnNonces } from './nonce.ts';
import type { SourceRateLimiter } from './rate-limit.ts';

/** Why authentication failed; a log field and a metric label (never the username). */
export type AuthFailureReason =
  | 'no-credentials'
  | 'missing-attributes'
  | 'bad-attribute'
  | 'wrong-realm'
  | 'stale-nonce'
  | 'invalid-nonce'
  | 'algorithm-mismatch'
  | 'unknown-user'
  | 'expired'
  | 'bad-integrity';

/** The error response the caller encodes (unsigned: the sender is not authenticated). */
export interface AuthChallenge {
  readonly code: 400 | 401 | 438;
  readonly realm: string | undefined;
  readonly nonce: string | undefined;
  /** Offer PASSWORD-ALGORITHMS (RFC 8489 §9.2.4: when the nonce carries that feature bit). */
  readonly passwordAlgorithms: boolean;
}

/** What {@link TurnAuthenticator.authenticate} decided. */
export type AuthOutcome =
  | {
      readonly ok: true;
      readonly username: string;
      readonly key: Buffer;
      /** The integrity the request used; the response must use the same (§9.2.4). */
      readonly integrity: 'sha1' | 'sha256';
      /** REST credentials: expiry in Unix seconds. */
      readonly expiresAt: number | undefined;
    }
  | {
      readonly ok: false;
      readonly reason: AuthFailureReason;
      /** Undefined: drop silently (the source is over its challenge rate). */
      readonly challenge: AuthChallenge | undefined;
    };

/** Options of {@link TurnAuthenticator}. */
export interface TurnAuthenticatorOptions {
  readonly credentials: TurnCredentials;
  readonly nonces: TurnNonces;
  /** Limits unauthenticated answers per source address (no reflection floods). */
  readonly challenges: SourceRateLimiter;
  /** Static usernames, for USERHASH lookups (a REST username cannot be recovered from a hash). */
  readonly staticUsernames?: readonly string[];
}

/** RFC 8489 §18.5: the algorithms this server offers, MD5 first (RFC 5389 clients). */
const OFFERED = [PASSWORD_ALGORITHM.MD5, PASSWORD_ALGORITHM.SHA256];

/** Checks requests against the long-term credentials of one realm. */
export class TurnAuthenticator {
  private readonly options: TurnAuthenticatorOptions;
  private readonly byUserhash = new Map<string, string>();

  constructor(options: TurnAuthenticatorOptions) {
    this.options = options;
    for (const name of options.staticUsernames ?? []) {
      this.byUserhash.set(userHash(name, options.credentials.realm).toString('hex'), name);
    }
  }

  /** The realm challenges carry. */
  get realm(): string {
    return this.options.credentials.realm;
  }

  /**
   * RFC 8489 §9.2.4. `source` keys the challenge rate limit and binds nonces to the client
   * address; `nowMs` is wall-clock time (REST expiry is in Unix seconds).
   */
  authenticate(request: StunMessage, source: string, nowMs: number): AuthOutcome {
    const hasSha1 = request.messageIntegrityOffset !== undefined;
    const hasSha256 = request.messageIntegritySha256Offset !== undefined;
    // §9.2.4: "If the message does not contain a MESSAGE-INTEGRITY or a
    // MESSAGE-INTEGRITY-SHA256 attribute, the server MUST generate an error response with an
    // error code of 401 (Unauthenticated)" with REALM and NONCE.
    if (!hasSha1 && !hasSha256) return this.challenge(401, 'no-credentials', source, nowMs);
    const username = Username.get(request);
    const userhash = Userhash.get(request);
    const realm = Realm.get(request);
    const nonce = Nonce.get(request);
    // "If the message contains a MESSAGE-INTEGRITY or a MESSAGE-INTEGRITY-SHA256 attribute,
    // but is missing either the USERNAME or USERHASH, REALM, or NONCE attribute, the server
    // MUST generate an error response with an error code of 400 (Bad Request)."
    if ((username === undefined && userhash === undefined) || !realm || !nonce) {
      return this.challenge(400, 'missing-attributes', source, nowMs, false);
    }
    if (!realm.ok || !nonce.ok || username?.ok === false || userhash?.ok === false) {
      return this.challenge(400, 'bad-attribute', source, nowMs, false);
    }
    if (realm.value !== this.realm) return this.challenge(401, 'wrong-realm', source, nowMs);
    // "If the NONCE is no longer valid, the server MUST generate an error response with an
    // error code of 438 (Stale Nonce)."
    const checked = this.options.nonces.check(nonce.value, nowMs, source);
    if (checked.status === 'invalid') return this.challenge(401, 'invalid-nonce', source, nowMs);
    if (checked.status === 'stale') return this.challenge(438, 'stale-nonce', source, nowMs);
    // §9.2.4 (password algorithms bit set in the nonce): both PASSWORD-ALGORITHMS and
    // PASSWORD-ALGORITHM, or neither (then MD5); the list must be the one we sent, and the
    // chosen algorithm one we offered — otherwise 400.
    const algorithm = this.algorithmOf(request, checked.features.passwordAlgorithms);
    if (algorithm === undefined) {
      return this.challenge(400, 'algorithm-mismatch', source, nowMs, false);
    }
    const name =
      username?.value ?? this.byUserhash.get((userhash?.value ?? Buffer.alloc(0)).toString('hex'));
    if (name === undefined) return this.challenge(401, 'unknown-user', source, nowMs);
    const match = this.options.credentials.lookup(name, algorithm, nowMs);
    if (!match.ok) {
      return this.challenge(
        401,
        match.error === 'expired' ? 'expired' : 'unknown-user',
        source,
        nowMs,
      );
    }
    // "using the same password, compute the value for the message integrity attribute ...
    // If the resulting value does not match ... 401".
    for (const key of match.value.keys) {
      const verified = hasSha256
        ? verifyMessageIntegritySha256(request, key)
        : verifyMessageIntegrity(request, key);
      if (verified) {
        return {
          ok: true,
          username: name,
          key,
          integrity: hasSha256 ? 'sha256' : 'sha1',
          expiresAt: match.value.expiresAt,
        };
      }
    }
    return this.challenge(401, 'bad-integrity', source, nowMs);
  }

  /**
   * Whether `source` may get one more error answer to an unauthenticated request (400 to a
   * malformed Binding, 420): such answers share the per-source budget of 401s, so a flood of
   * invalid STUN from one address costs no more sends than a flood of Allocates.
   */
  mayAnswerError(source: string, nowMs: number): boolean {
    return this.options.challenges.tryTake(source, nowMs);
  }

  /** The 401/438 challenge attributes for an error the caller produces itself. */
  freshChallenge(source: string, nowMs: number): { realm: string; nonce: string } {
    return { realm: this.realm, nonce: this.options.nonces.issue(nowMs, source) };
  }

  private algorithmOf(request: StunMessage, featureBit: boolean): KeyAlgorithm | undefined {
    const chosen = PasswordAlgorithm.get(request);
    const list = PasswordAlgorithms.get(request);
    if (chosen === undefined && list === undefined) return 'MD5';
    if (!featureBit || chosen === undefined || list === undefined) return undefined;
    if (!chosen.ok || !list.ok) return undefined;
    const offered = list.value.map((entry) => entry.algorithm);
    if (offered.length !== OFFERED.length || offered.some((a, i) => a !== OFFERED[i])) {
      return undefined;
    }
    if (chosen.value.algorithm === PASSWORD_ALGORITHM.MD5) return 'MD5';
    if (chosen.value.algorithm === PASSWORD_ALGORITHM.SHA256) return 'SHA-256';
    return undefined;
  }

  private challenge(
    code: 400 | 401 | 438,
    reason: AuthFailureReason,
    source: string,
    nowMs: number,
    withNonce = true,
  ): AuthOutcome {
    if (!this.options.challenges.tryTake(source, nowMs)) {
      return { ok: false, reason, challenge: undefined };
    }
    return {
      ok: false,
      reason,
      challenge: {
        code,
        realm: withNonce ? this.realm : undefined,
        nonce: withNonce ? this.options.nonces.issue(nowMs, source) : undefined,
        passwordAlgorithms: withNonce,
      },
    };
  }
}

/**
 * Request authentication as the Director and the Front End both run it: one SipAuthenticator
 * built from the same settings, and one way of answering and logging a refusal.
 */
import type { Logger } from '../../lib/logger.ts';
import type { DigestHash } from '../../proto/digest/index.ts';
import { SipAuthenticator } from '../../proto/sip-auth/index.ts';
import type { IncomingRequest, RequestDecision } from './handler.ts';

/** The authentication part of a SIP server role's configuration. */
export interface SipAuthSettings {
  readonly nonceLifetimeSeconds: number;
  /** Offered in this order (RFC 8760 §2.4). */
  readonly digestAlgorithms: readonly ('SHA-256' | 'MD5')[];
  readonly lockout: {
    readonly maxFailures: number;
    readonly windowSeconds: number;
    readonly baseLockSeconds: number;
    readonly maxLockSeconds: number;
  };
}

/** Where users and their HA1s come from (the directory). */
export interface SipUserSource {
  digestHa1(
    address: string,
    realm: string,
    algorithm: 'MD5' | 'SHA-256',
  ): Promise<string | undefined>;
  getUser(
    address: string,
  ): Promise<
    { readonly enabled: boolean; readonly policy: { readonly remoteAccess: boolean } } | undefined
  >;
}

export interface SipAuthenticatorFor {
  readonly realms: readonly string[];
  readonly nonceSecret: string;
  /** 407 with Proxy-Authenticate (a proxy) instead of 401. */
  readonly proxy: boolean;
  readonly users: SipUserSource;
  /** Refuse users whose policy does not allow remote access (the Director). */
  readonly requireRemoteAccess: boolean;
}

/** A SipAuthenticator for a server role: lockout per user, and per source address 4x. */
export function sipAuthenticator(
  settings: SipAuthSettings,
  role: SipAuthenticatorFor,
): SipAuthenticator {
  const { lockout } = settings;
  const userLockout = {
    maxFailures: lockout.maxFailures,
    windowMs: lockout.windowSeconds * 1000,
    baseLockMs: lockout.baseLockSeconds * 1000,
    maxLockMs: lockout.maxLockSeconds * 1000,
  };
  return new SipAuthenticator({
    realms: role.realms,
    nonceSecret: role.nonceSecret,
    nonceLifetimeMs: settings.nonceLifetimeSeconds * 1000,
    algorithms: settings.digestAlgorithms,
    proxy: role.proxy,
    userLockout,
    // A source address (a NAT, the Access Edge) carries many users.
    ipLockout: { ...userLockout, maxFailures: lockout.maxFailures * 4 },
    lookupHa1: (user: string, realm: string, hash: DigestHash) =>
      hash === 'MD5' || hash === 'SHA-256'
        ? role.users.digestHa1(`${user}@${realm}`, realm, hash)
        : Promise.resolve(undefined),
    checkUser: async (address) => {
      const user = await role.users.getUser(address.replace(/^sips?:/i, ''));
      if (user === undefined) return { allowed: false, reason: 'Unknown User' };
      if (!user.enabled) return { allowed: false, reason: 'Account Disabled' };
      if (role.requireRemoteAccess && !user.policy.remoteAccess)
        return { allowed: false, reason: 'Remote Access Not Allowed' };
      return { allowed: true };
    },
  });
}

/**
 * Authenticates a request: the authenticated address, or the answer to send (challenge,
 * 403, 400). Every outcome is counted; every refusal but a first challenge is logged.
 */
export async function authenticateRequest(
  authenticator: SipAuthenticator,
  incoming: IncomingRequest,
  log: Logger,
  count: (outcome: string) => void,
  /**
   * The client's address when the flow is a trusted server's (the Access Edge names it):
   * the per-address lockout must count the client, not the edge all clients come through.
   */
  clientAddress?: string,
): Promise<{ readonly address: string } | { readonly refusal: RequestDecision }> {
  const { request, flow } = incoming;
  const source = clientAddress ?? flow.remote.address;
  const verdict = await authenticator.authenticate(request, Date.now(), {
    sourceIp: source,
  });
  if (verdict.ok) {
    count('ok');
    return { address: verdict.address };
  }
  count(verdict.outcome);
  if (verdict.failure !== 'no-credentials') {
    log.info(
      {
        event: 'auth-refused',
        failure: verdict.failure,
        status: verdict.status,
        method: request.method,
        remote: source,
      },
      'request not authenticated',
    );
  }
  return {
    refusal: {
      kind: 'respond',
      status: verdict.status,
      reason: verdict.reason,
      headers: verdict.headers,
      // RFC 3261 §8.2.7: challenges are answered without transaction state.
      ...(verdict.status === 401 || verdict.status === 407 ? { stateless: true } : {}),
    },
  };
}

/**
 * SIP request authentication shared by the Director and the Front End: Digest with stateless
 * nonces (RFC 3261 §22, RFC 7616, RFC 8760) and lockout after repeated failures.
 */
export {
  SipAuthenticator,
  type AuthContext,
  type AuthFailure,
  type AuthResult,
  type SipAuthenticatorOptions,
  type SipDigestAlgorithm,
  type UserPolicyVerdict,
} from './authenticator.ts';
export { Lockout, type LockState, type LockoutOptions } from './lockout.ts';

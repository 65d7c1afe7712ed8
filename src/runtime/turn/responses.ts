/**
 * Building responses: success and error responses carry the request's method and transaction
 * ID (RFC 8489 §6.3), MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256 as the request used
 * (§9.2.4) when it was authenticated, and FINGERPRINT when the request had one.
 */
import {
  encodeStun,
  ErrorCode,
  Nonce,
  PASSWORD_ALGORITHM,
  PasswordAlgorithms,
  Realm,
  UnknownAttributes,
  type StunAttributeWriter,
  type StunHeader,
  type StunMessage,
} from '../../codec/stun/index.ts';
import type { AuthChallenge } from '../../proto/turn/index.ts';

/** How an authenticated response is signed. */
export interface Signing {
  readonly key: Buffer;
  readonly integrity: 'sha1' | 'sha256';
}

function hasFingerprint(request: StunHeader | StunMessage): boolean {
  return 'fingerprintOffset' in request && request.fingerprintOffset !== undefined;
}

/** A success response. */
export function successResponse(
  request: StunHeader | StunMessage,
  attributes: readonly StunAttributeWriter[],
  signing?: Signing,
): Buffer {
  return encodeStun(
    { method: request.method, cls: 'success', transactionId: request.transactionId, attributes },
    {
      ...(signing === undefined
        ? {}
        : { integrity: { key: signing.key, algorithm: signing.integrity } }),
      fingerprint: hasFingerprint(request),
    },
  );
}

/**
 * An error response. A challenge (401/438) carries REALM, NONCE and, for RFC 8489 clients,
 * PASSWORD-ALGORITHMS; a 420 lists the unknown attributes.
 */
export function errorResponse(
  request: StunHeader | StunMessage,
  code: number,
  attributes: readonly StunAttributeWriter[],
  signing?: Signing,
  unknown?: readonly number[],
  challenge?: AuthChallenge,
): Buffer {
  const all: StunAttributeWriter[] = [ErrorCode.of(code), ...attributes];
  if (unknown !== undefined && unknown.length > 0) all.push(UnknownAttributes.of(unknown));
  if (challenge?.realm !== undefined) all.push(Realm.of(challenge.realm));
  if (challenge?.nonce !== undefined) all.push(Nonce.of(challenge.nonce));
  if (challenge?.passwordAlgorithms === true) {
    all.push(
      PasswordAlgorithms.of([
        { algorithm: PASSWORD_ALGORITHM.MD5, parameters: Buffer.alloc(0) },
        { algorithm: PASSWORD_ALGORITHM.SHA256, parameters: Buffer.alloc(0) },
      ]),
    );
  }
  return encodeStun(
    { method: request.method, cls: 'error', transactionId: request.transactionId, attributes: all },
    {
      ...(signing === undefined
        ? {}
        : { integrity: { key: signing.key, algorithm: signing.integrity } }),
      fingerprint: hasFingerprint(request),
    },
  );
}

import type { SipMessage, SipRequest, SipResponse } from '../../codec/sip/message.ts';
import { callIdOf, cseqOf, fromTag, topVia as parseTopVia } from '../../codec/sip/headers.ts';
import { formatHost } from '../../codec/sip/uri.ts';
import { BRANCH_MAGIC_COOKIE } from '../../lib/ids.ts';
import { err, ok, type Result } from '../../lib/result.ts';

/**
 * Transaction matching keys (RFC 3261 §17.1.3, §17.2.3, §9.2). Equal keys mean "same
 * transaction"; a key is an opaque string for `TransactionTable`.
 *
 * Case rules: branch and sent-by host are compared case-insensitively (RFC 3261 §7.3.1:
 * parameter values are case-insensitive unless stated otherwise), methods case-sensitively
 * (§7.1), Call-ID byte by byte (§20.8). In the RFC 2543 fallback the Request-URI is compared
 * as written, not by §19.1.4 URI equality.
 */

/** Why no key could be made: a header the matching rules need is missing or malformed. */
export interface TransactionKeyError {
  readonly code: 'RAMPART_ERR_SIP_PARSE';
  readonly reason: string;
}

interface TopVia {
  /** Transport token, upper-cased, e.g. 'UDP'. */
  readonly transport: string;
  /** host[:port], host lower-cased, port as written. */
  readonly sentBy: string;
  /** The branch parameter, or undefined. */
  readonly branch: string | undefined;
}

function keyError(reason: string): { readonly ok: false; readonly error: TransactionKeyError } {
  return err({ code: 'RAMPART_ERR_SIP_PARSE', reason });
}

/** The top Via as matching needs it: transport, sent-by (host lower-cased) and branch. */
function topVia(msg: SipMessage): Result<TopVia, TransactionKeyError> {
  const via = parseTopVia(msg);
  if (!via.ok) return keyError(via.error.reason);
  const host = formatHost(via.value.host.toLowerCase());
  return ok({
    transport: via.value.transport,
    sentBy: via.value.port === undefined ? host : `${host}:${String(via.value.port)}`,
    branch: via.value.branch,
  });
}

function cseq(msg: SipMessage): Result<{ seq: string; method: string }, TransactionKeyError> {
  const parsed = cseqOf(msg);
  if (!parsed.ok) return keyError('invalid CSeq');
  return ok({ seq: String(parsed.value.seq), method: parsed.value.method });
}

/**
 * The client transaction key of a request this element sends: top Via branch plus method.
 * File the client transaction under this key.
 */
export function clientTransactionKeyForRequest(
  request: SipRequest,
): Result<string, TransactionKeyError> {
  const via = topVia(request);
  if (!via.ok) return via;
  if (via.value.branch === undefined) return keyError('Via without branch');
  return ok(flat(`c|${via.value.branch.toLowerCase()}|${request.method}`));
}

/**
 * The client transaction key for a request we send with top Via branch `branch`: the same
 * key {@link clientTransactionKeyForRequest} derives, without parsing the request.
 */
export function clientTransactionKeyFor(branch: string, method: string): string {
  return flat(`c|${branch.toLowerCase()}|${method}`);
}

/**
 * The client transaction a response belongs to (RFC 3261 §17.1.3): "1. If the response has
 * the same value of the branch parameter in the top Via header field as the branch parameter in
 * the top Via header field of the request that created the transaction. 2. If the method
 * parameter in the CSeq header field matches the method of the request that created the
 * transaction." The CSeq method keeps a CANCEL's responses apart from its INVITE's.
 */
export function clientTransactionKey(response: SipResponse): Result<string, TransactionKeyError> {
  const via = topVia(response);
  if (!via.ok) return via;
  if (via.value.branch === undefined) return keyError('Via without branch');
  const cs = cseq(response);
  if (!cs.ok) return cs;
  return ok(flat(`c|${via.value.branch.toLowerCase()}|${cs.value.method}`));
}

/**
 * Keys live as long as their transaction (32 s for UDP). A key built by concatenation is a
 * rope whose pieces point into the parsed message (a branch is a slice of the Via value);
 * flattening it (ToNumber flattens in V8) leaves one flat string and lets the message go.
 */
function flat(key: string): string {
  void Number(key);
  return key;
}

function serverKey(request: SipRequest, method: string): Result<string, TransactionKeyError> {
  const via = topVia(request);
  if (!via.ok) return via;
  const branch = via.value.branch?.toLowerCase();
  // RFC 3261 §17.2.3: "If the branch parameter in the top Via header field is present, it
  // begins with the magic cookie, the request matches a transaction if: 1. the branch
  // parameter in the request is equal to the one in the top Via header field of the request
  // that created the transaction, and 2. the sent-by value in the top Via of the request is
  // equal to the one in the request that created the transaction, and 3. the method of the
  // request matches the one that created the transaction, except for ACK, where the method of
  // the request that created the transaction is INVITE."
  // A bare cookie (`branch=z9hG4bK`) names no transaction: it is keyed the RFC 2543 way, so
  // two such requests from one sent-by are not taken for one transaction.
  if (
    branch !== undefined &&
    branch.length > BRANCH_MAGIC_COOKIE.length &&
    branch.startsWith(BRANCH_MAGIC_COOKIE.toLowerCase())
  ) {
    return ok(flat(`s|${branch}|${via.value.sentBy}|${method}`));
  }
  // RFC 2543 fallback (§17.2.3): "the INVITE request matches a transaction if the
  // Request-URI, To tag, From tag, Call-ID, CSeq, and top Via header field match those of the
  // INVITE request which created the transaction" and the ACK matches with the To tag of the
  // response instead. The To tag is left out of the key so that one key serves the INVITE,
  // its retransmissions and its ACK (an INVITE's To tag never changes between retransmissions).
  const cs = cseq(request);
  if (!cs.ok) return cs;
  const callId = callIdOf(request);
  if (callId === undefined) return keyError('missing Call-ID');
  return ok(
    [
      's2543',
      request.requestUri,
      fromTag(request) ?? '',
      callId,
      cs.value.seq,
      method,
      via.value.transport,
      via.value.sentBy,
      branch ?? '',
    ].join('|'),
  );
}

/**
 * The server transaction a request belongs to (RFC 3261 §17.2.3), with the RFC 2543 fallback
 * when the top Via branch lacks the magic cookie. An ACK maps to its INVITE's transaction;
 * a CANCEL has a transaction of its own (see `cancelTargetKey` for the INVITE it cancels).
 */
export function serverTransactionKey(request: SipRequest): Result<string, TransactionKeyError> {
  return serverKey(request, request.method === 'ACK' ? 'INVITE' : request.method);
}

/**
 * The key of the server transaction a CANCEL cancels. RFC 3261 §9.2: "The TU determines the
 * transaction to be cancelled by taking the CANCEL request, and then assuming that the request
 * method is anything but CANCEL or ACK and applying the transaction matching procedures of
 * Section 17.2.3." Only INVITE transactions are worth cancelling, so the method is INVITE.
 */
export function cancelTargetKey(cancel: SipRequest): Result<string, TransactionKeyError> {
  return serverKey(cancel, 'INVITE');
}

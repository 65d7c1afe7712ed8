import type { SipMessage, SipRequest, SipResponse } from '../../codec/sip/message.ts';
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
 *
 * The few header reads here (top Via, CSeq, Call-ID, tags) are minimal until the codec's
 * `topVia`/`cseqOf`/`callIdOf`/`fromTag` helpers land; they read `msg.headers` only.
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

function headerValue(msg: SipMessage, name: string): string | undefined {
  return msg.headers.find((h) => h.name === name)?.value;
}

function keyError(reason: string): { readonly ok: false; readonly error: TransactionKeyError } {
  return err({ code: 'RAMPART_ERR_SIP_PARSE', reason });
}

/** Parses the first via-parm of the first Via header line (RFC 3261 §20.42). */
function topVia(msg: SipMessage): Result<TopVia, TransactionKeyError> {
  const line = headerValue(msg, 'via');
  if (line === undefined) return keyError('missing Via');
  const comma = line.indexOf(',');
  const first = comma === -1 ? line : line.slice(0, comma);
  const [protocolAndSentBy = '', ...params] = first.split(';');
  // sent-protocol LWS sent-by: "SIP / 2.0 / UDP host:port" with optional LWS around '/'.
  const match = /^\s*SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9.!%*_+`'~-]+)\s+(\S+)\s*$/i.exec(
    protocolAndSentBy,
  );
  const transport = match?.[1];
  const sentBy = match?.[2];
  if (transport === undefined || sentBy === undefined) return keyError('invalid Via');
  let branch: string | undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq !== -1 && param.slice(0, eq).trim().toLowerCase() === 'branch') {
      branch = param.slice(eq + 1).trim();
    }
  }
  return ok({ transport: transport.toUpperCase(), sentBy: sentBy.toLowerCase(), branch });
}

function cseq(msg: SipMessage): Result<{ seq: string; method: string }, TransactionKeyError> {
  const value = headerValue(msg, 'cseq');
  const match = value === undefined ? null : /^(\d{1,10})\s+(\S+)$/.exec(value);
  const seq = match?.[1];
  const method = match?.[2];
  if (seq === undefined || method === undefined) return keyError('invalid CSeq');
  return ok({ seq: String(Number(seq)), method });
}

function tagOf(msg: SipMessage, name: 'from' | 'to'): string {
  const value = headerValue(msg, name) ?? '';
  // The tag is a header parameter: after the closing '>' when there is a name-addr.
  const params = value.slice(value.lastIndexOf('>') + 1);
  const match = /;\s*tag\s*=\s*([^;\s,]+)/i.exec(params);
  return match?.[1] ?? '';
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
  return ok(`c|${via.value.branch.toLowerCase()}|${request.method}`);
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
  return ok(`c|${via.value.branch.toLowerCase()}|${cs.value.method}`);
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
  if (branch?.startsWith(BRANCH_MAGIC_COOKIE.toLowerCase()) === true) {
    return ok(`s|${branch}|${via.value.sentBy}|${method}`);
  }
  // RFC 2543 fallback (§17.2.3): "the INVITE request matches a transaction if the
  // Request-URI, To tag, From tag, Call-ID, CSeq, and top Via header field match those of the
  // INVITE request which created the transaction" and the ACK matches with the To tag of the
  // response instead. The To tag is left out of the key so that one key serves the INVITE,
  // its retransmissions and its ACK (an INVITE's To tag never changes between retransmissions).
  const cs = cseq(request);
  if (!cs.ok) return cs;
  const callId = headerValue(request, 'call-id');
  if (callId === undefined) return keyError('missing Call-ID');
  return ok(
    [
      's2543',
      request.requestUri,
      tagOf(request, 'from'),
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

/**
 * State-independent request checks (RFC 3261 §8.2.1–§8.2.3, §16.3): what a UAS or a proxy
 * verifies before any transaction or routing work. Each failure carries the response to send.
 */
import { err, ok, type Result } from '../../lib/result.ts';
import { parseCSeq, parseMaxForwards, parseNameAddr, parseViaValue } from './headers.ts';
import type { SipRequest } from './message.ts';
import { headerFields, headerValues, splitHeaderList } from './parse.ts';
import { isSipUri, parseUri } from './uri.ts';

/** A request that must be refused, and how. */
export interface RequestRejection {
  readonly status: number;
  readonly reason: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
}

/** Options of {@link checkRequest}. */
export interface CheckRequestOptions {
  /** 'proxy' checks Proxy-Require (§16.3 item 6); 'uas' checks Require (§8.2.2.3). */
  readonly role: 'proxy' | 'uas';
  /** Option tags understood; anything else required → 420. */
  readonly supportedExtensions?: readonly string[];
}

/** RFC 3261 §8.1.1: the header fields every request carries. */
const MANDATORY = ['to', 'from', 'call-id', 'cseq', 'via'] as const;
/** Header fields that may appear once (§7.3.1: not comma-separated lists). */
const SINGLE = ['to', 'from', 'call-id', 'cseq', 'max-forwards', 'expires'] as const;

function reject(
  status: number,
  reason: string,
  headers?: ReadonlyArray<readonly [string, string]>,
): { ok: false; error: RequestRejection } {
  return err({ status, reason, ...(headers === undefined ? {} : { headers }) });
}

/**
 * Checks a parsed request. Returns the response to answer with when it must be refused:
 * 400 for malformed or missing mandatory fields (RFC 4475 §3.1.2, §3.3.1), 416 for a
 * Request-URI scheme a proxy cannot route (RFC 4475 §3.3.2–3), 420 for unsupported
 * extensions (RFC 4475 §3.3.5).
 */
export function checkRequest(
  req: SipRequest,
  options: CheckRequestOptions,
): Result<void, RequestRejection> {
  for (const name of MANDATORY) {
    if (headerFields(req, name).length === 0) return reject(400, `Missing ${name} header`);
  }
  // RFC 4475 §3.3.8 multi01: several values in a field that admits one → 400.
  for (const name of SINGLE) {
    if (headerFields(req, name).length > 1) return reject(400, `Multiple ${name} headers`);
  }
  const cseqField = headerValues(req, 'cseq')[0] ?? '';
  const cseq = parseCSeq(cseqField);
  if (!cseq.ok) return reject(400, 'Bad CSeq');
  // RFC 3261 §8.1.1.5: "The method MUST match that of the request" (RFC 4475 §3.1.2.17-18).
  if (cseq.value.method !== req.method) return reject(400, 'CSeq method does not match');
  // RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31.
  if (cseq.value.seq >= 2 ** 31) return reject(400, 'CSeq number out of range');
  for (const value of headerValues(req, 'via')) {
    if (!parseViaValue(value).ok) return reject(400, 'Bad Via');
  }
  for (const name of ['to', 'from'] as const) {
    const value = headerValues(req, name)[0] ?? '';
    if (!parseNameAddr(value).ok) return reject(400, `Bad ${name === 'to' ? 'To' : 'From'}`);
  }
  for (const field of headerFields(req, 'contact')) {
    if (field.value.trim() === '*') continue;
    for (const value of splitHeaderList(field.value)) {
      const contact = parseNameAddr(value);
      if (!contact.ok) return reject(400, 'Bad Contact');
      const expires = contact.value.params.get('expires');
      if (expires != null && !/^\d{1,10}$/.test(expires)) return reject(400, 'Bad Contact expires');
      if (expires != null && Number(expires) > 0xffffffff)
        return reject(400, 'Contact expires out of range');
    }
  }
  const maxForwards = headerValues(req, 'max-forwards')[0];
  if (maxForwards !== undefined && !parseMaxForwards(maxForwards).ok)
    return reject(400, 'Bad Max-Forwards');
  const expires = headerValues(req, 'expires')[0];
  // RFC 3261 §20.19: delta-seconds, at most 2**32-1 (RFC 4475 §3.1.2.4 scalar02).
  if (
    expires !== undefined &&
    (!/^\s*\d{1,10}\s*$/.test(expires) || Number(expires) > 0xffffffff)
  ) {
    return reject(400, 'Bad Expires');
  }
  const uri = parseUri(req.requestUri);
  if (!uri.ok) return reject(400, 'Bad Request-URI');
  if (!isSipUri(uri.value)) {
    // RFC 3261 §16.3 item 2 / §8.2.2.1: a scheme we cannot handle → 416.
    if (uri.value.scheme !== 'tel' || options.role === 'proxy')
      return reject(416, 'Unsupported URI Scheme');
  } else if (uri.value.headers !== undefined) {
    // RFC 3261 §19.1.5: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11 escruri).
    return reject(400, 'Request-URI with headers');
  }
  const extensionHeader = options.role === 'proxy' ? 'proxy-require' : 'require';
  const supported = new Set((options.supportedExtensions ?? []).map((t) => t.toLowerCase()));
  const unsupported = headerValues(req, extensionHeader).filter(
    (tag) => !supported.has(tag.toLowerCase()),
  );
  if (unsupported.length > 0 && req.method !== 'ACK' && req.method !== 'CANCEL') {
    return reject(420, 'Bad Extension', [['Unsupported', unsupported.join(', ')]]);
  }
  return ok(undefined);
}

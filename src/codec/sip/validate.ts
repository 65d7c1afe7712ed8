/**
 * State-independent request checks (RFC 3261 §8.2.1–§8.2.3 for a UAS, §16.3 for a proxy,
 * §10.3 for a registrar): what an element verifies before any transaction or routing work.
 * Each failure carries the response to send. A rejected ACK is dropped, never answered
 * (RFC 3261 §17.2.3: no response to ACK).
 */
import { err, ok, type Result } from '../../lib/result.ts';
import {
  parseAddressList,
  parseCSeq,
  parseExpires,
  parseMaxForwards,
  parseFromTo,
  parseNameAddr,
  parseVia,
  parseVias,
} from './headers.ts';
import type { SipRequest, SipResponse } from './message.ts';
import { header, headerFields, headerValues } from './parse.ts';
import { isSipUri, parseUri } from './uri.ts';

/** A request that must be refused, and how. */
export interface RequestRejection {
  readonly status: number;
  readonly reason: string;
  /** Header lines the response must carry (Unsupported for 420, Allow for 405, Accept for 415). */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
}

/** Options of {@link checkRequest}. */
export interface CheckRequestOptions {
  /** 'proxy': RFC 3261 §16.3 (Proxy-Require, Max-Forwards 0); 'uas' (default): §8.2. */
  readonly role?: 'proxy' | 'uas';
  /** Option tags understood; any other in Require (uas) or Proxy-Require (proxy) → 420. */
  readonly supportedExtensions?: readonly string[];
  /** URI schemes served in the Request-URI; default sip, sips and tel (uas), sip and sips (proxy). */
  readonly supportedSchemes?: readonly string[];
  /** uas: methods this UAS recognises; another method → 501 (RFC 3261 §21.5.2). */
  readonly knownMethods?: readonly string[];
  /** uas: methods it supports for the Request-URI; a recognised other method → 405 + Allow. */
  readonly allowedMethods?: readonly string[];
  /** uas: body media types understood; a body of another type → 415 + Accept (§8.2.3). */
  readonly supportedContentTypes?: readonly string[];
}

/** RFC 3261 §8.1.1: "A valid SIP request formulated by a UAC MUST, at a minimum, contain the
 * following header fields: To, From, CSeq, Call-ID, Max-Forwards, and Via"; Max-Forwards is
 * left out here because RFC 2543 elements omit it (RFC 4475 §3.4.1 inv2543). */
const MANDATORY = ['to', 'from', 'call-id', 'cseq', 'via'] as const;
/** Header fields whose value is not a list, so may appear once (§7.3.1; RFC 4475 §3.3.8). */
const SINGLE = [
  'to',
  'from',
  'call-id',
  'cseq',
  'max-forwards',
  'expires',
  'content-type',
] as const;

/** The names {@link checkSyntax} counts, and its reused counters (it never yields). */
const COUNTED: readonly string[] = [...new Set<string>([...MANDATORY, ...SINGLE])];
const FIELD_COUNTS = new Uint32Array(COUNTED.length);

const DISPLAY: Readonly<Record<string, string>> = {
  to: 'To',
  from: 'From',
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  via: 'Via',
  'max-forwards': 'Max-Forwards',
  expires: 'Expires',
  'content-type': 'Content-Type',
};

/** RFC 3261 §25.1 word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" /
 * "~" / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}"). */
const CALL_ID =
  /^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+(?:@[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+)?$/;

function reject(
  status: number,
  reason: string,
  headers?: ReadonlyArray<readonly [string, string]>,
): { ok: false; error: RequestRejection } {
  return err({ status, reason, ...(headers === undefined ? {} : { headers }) });
}

/** The header checks common to every role: RFC 3261 §16.3 item 1 "reasonable syntax". */
function checkSyntax(req: SipRequest): Result<void, RequestRejection> {
  // One pass over the header lines counts the fields checked below (none of them is a list
  // header, so a field is a value), with no array per name.
  FIELD_COUNTS.fill(0);
  for (const field of req.headers) {
    const at = COUNTED.indexOf(field.name);
    if (at !== -1) FIELD_COUNTS[at] = (FIELD_COUNTS[at] ?? 0) + 1;
  }
  for (const name of MANDATORY) {
    // RFC 4475 §3.3.1 insuf: missing Call-ID, From, To → 400.
    if (FIELD_COUNTS[COUNTED.indexOf(name)] === 0)
      return reject(400, `Missing ${DISPLAY[name]} header`);
  }
  for (const name of SINGLE) {
    if ((FIELD_COUNTS[COUNTED.indexOf(name)] ?? 0) > 1)
      return reject(400, `Multiple ${DISPLAY[name]} values`);
  }
  // RFC 3261 §25.1 callid = word [ "@" word ]: no whitespace, no comma.
  if (!CALL_ID.test(header(req, 'call-id') ?? '')) return reject(400, 'Bad Call-ID');
  // RFC 4475 §3.1.2.4 scalar02: a CSeq number beyond 32 bits → 400.
  const cseq = parseCSeq(header(req, 'cseq') ?? '');
  if (!cseq.ok) return reject(400, 'Bad CSeq');
  // RFC 3261 §8.1.1.5: "The sequence number MUST be expressible as a 32-bit unsigned integer
  // and MUST be less than 2**31."
  if (cseq.value.seq >= 2 ** 31) return reject(400, 'CSeq number out of range');
  // RFC 4475 §3.1.2.1 badinv01: empty via-parms and params → 400.
  if (!parseVias(req).ok) return reject(400, 'Bad Via');
  for (const name of ['to', 'from'] as const) {
    // RFC 4475 §3.1.2.6 quotbal, §3.1.2.14 badaspec, §3.1.2.15 baddn → 400.
    if (parseFromTo(req, name)?.ok !== true) return reject(400, `Bad ${DISPLAY[name]}`);
  }
  for (const field of headerFields(req, 'contact')) {
    // RFC 4475 §3.1.2.13 regbadct: an addr-spec holding '?' → 400.
    const contacts = parseAddressList(field.value);
    if (!contacts.ok) return reject(400, 'Bad Contact');
    for (const contact of contacts.value.addresses) {
      const expires = contact.params.get('expires');
      // §20.10 / RFC 4475 §3.1.2.4: contact expires = delta-seconds, less than 2**32.
      if (expires === null || (expires !== undefined && !parseExpires(expires).ok))
        return reject(400, 'Bad Contact expires');
    }
  }
  const maxForwards = header(req, 'max-forwards');
  if (maxForwards !== undefined && !parseMaxForwards(maxForwards).ok)
    return reject(400, 'Bad Max-Forwards');
  const expires = header(req, 'expires');
  if (expires !== undefined && !parseExpires(expires).ok) return reject(400, 'Bad Expires');
  return ok(undefined);
}

/**
 * Checks a parsed request and returns the response to answer with when it must be refused.
 * Order as RFC 3261 prescribes: for a proxy §16.3 (syntax 400, scheme 416, Max-Forwards 483,
 * Proxy-Require 420); for a UAS §8.2 (syntax 400, method 501/405, scheme 416, Require 420,
 * content 415). The CSeq method must match the Request-Line (§8.1.1.5) in either role.
 */
export function checkRequest(
  req: SipRequest,
  options: CheckRequestOptions = {},
): Result<void, RequestRejection> {
  const role = options.role ?? 'uas';
  const syntax = checkSyntax(req);
  if (!syntax.ok) return syntax;
  const uri = parseUri(req.requestUri);
  if (!uri.ok) return reject(400, 'Bad Request-URI');
  if (isSipUri(uri.value) && uri.value.headers !== undefined) {
    // RFC 3261 §19.1.5 forbids headers in a Request-URI; RFC 4475 §3.1.2.11 escruri → 400.
    return reject(400, 'Request-URI with headers');
  }
  if (role === 'uas') {
    // RFC 3261 §8.2.1 method inspection; RFC 4475 §3.1.2.18 mismatch02 prefers 501.
    if (options.knownMethods !== undefined && !options.knownMethods.includes(req.method))
      return reject(501, 'Not Implemented');
    if (options.allowedMethods !== undefined && !options.allowedMethods.includes(req.method))
      return reject(405, 'Method Not Allowed', [['Allow', options.allowedMethods.join(', ')]]);
  }
  // RFC 3261 §8.1.1.5: "The method MUST match that of the request" (RFC 4475 §3.1.2.17).
  const cseq = parseCSeq(header(req, 'cseq') ?? '');
  if (cseq.ok && cseq.value.method !== req.method) return reject(400, 'CSeq method does not match');
  const schemes =
    options.supportedSchemes ?? (role === 'proxy' ? ['sip', 'sips'] : ['sip', 'sips', 'tel']);
  // RFC 3261 §8.2.2.1 / §16.3 item 2: a Request-URI scheme not understood → 416
  // (RFC 4475 §3.3.2 unkscm, §3.3.3 novelsc).
  if (!schemes.includes(uri.value.scheme)) return reject(416, 'Unsupported URI Scheme');
  const maxForwards = header(req, 'max-forwards');
  // RFC 3261 §16.3 item 3: "If the header field value is zero (0), the element MUST NOT
  // forward the request" → 483 (RFC 4475 §3.3.11 zeromf). A UAS processes it normally.
  if (role === 'proxy' && maxForwards !== undefined) {
    const hops = parseMaxForwards(maxForwards);
    if (hops.ok && hops.value === 0) return reject(483, 'Too Many Hops');
  }
  // RFC 3261 §8.2.2.3 (Require, UAS) / §16.3 item 5 (Proxy-Require): unknown option tags → 420
  // listing them in Unsupported (RFC 4475 §3.3.5 bext01); never for ACK or CANCEL.
  const extensionHeader = role === 'proxy' ? 'proxy-require' : 'require';
  const supported = new Set((options.supportedExtensions ?? []).map((t) => t.toLowerCase()));
  const unsupported = headerValues(req, extensionHeader).filter(
    (tag) => !supported.has(tag.toLowerCase()),
  );
  if (unsupported.length > 0 && req.method !== 'ACK' && req.method !== 'CANCEL') {
    return reject(420, 'Bad Extension', [['Unsupported', unsupported.join(', ')]]);
  }
  if (role === 'uas' && options.supportedContentTypes !== undefined && req.body.length > 0) {
    // RFC 3261 §8.2.3: a body type not understood → 415 with Accept (RFC 4475 §3.3.6 invut).
    const type = (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const understood = options.supportedContentTypes.map((t) => t.toLowerCase());
    if (!understood.includes(type)) {
      return reject(415, 'Unsupported Media Type', [
        ['Accept', options.supportedContentTypes.join(', ')],
      ]);
    }
  }
  return ok(undefined);
}

/**
 * Registrar checks of RFC 3261 §10.3 that need no state: the To header holds the
 * address-of-record, a SIP or SIPS URI (RFC 4475 §3.3.4 unksm2 → 400); a Contact `*` comes
 * alone and with Expires: 0 (§10.3 step 6 → 400). Run after {@link checkRequest}.
 */
export function checkRegister(req: SipRequest): Result<void, RequestRejection> {
  const to = parseNameAddr(header(req, 'to') ?? '');
  if (!to.ok || !isSipUri(to.value.parsedUri)) return reject(400, 'To is not a SIP or SIPS URI');
  let star = false;
  let bindings = 0;
  for (const field of headerFields(req, 'contact')) {
    const contacts = parseAddressList(field.value);
    if (!contacts.ok) return reject(400, 'Bad Contact');
    if (contacts.value.star) star = true;
    bindings += contacts.value.addresses.length;
  }
  if (star) {
    // §10.3 step 6: "If the request has additional Contact fields or an expiration time other
    // than zero, the request is invalid, and the server MUST return a 400 (Invalid Request)".
    const expires = parseExpires(header(req, 'expires') ?? '');
    if (bindings > 0 || !expires.ok || expires.value !== 0) {
      return reject(400, 'Invalid Request');
    }
  }
  return ok(undefined);
}

/** Why a response is dropped. */
export interface ResponseRejection {
  readonly reason: string;
}

/**
 * Checks a received response before it is matched to a transaction: the header fields
 * transaction matching and forwarding need (Via, From, To, Call-ID, CSeq) are present and
 * parse. Responses are never answered; a failure means drop (RFC 4475 §3.1.2.5 scalarlg).
 * A Via naming a broadcast or unspecified address is refused: "proxies should drop such
 * responses" (RFC 4475 §3.3.10 bcast).
 */
export function checkResponse(res: SipResponse): Result<void, ResponseRejection> {
  for (const name of MANDATORY) {
    if (headerFields(res, name).length === 0) return err({ reason: `Missing ${DISPLAY[name]}` });
  }
  if (!parseCSeq(header(res, 'cseq') ?? '').ok) return err({ reason: 'Bad CSeq' });
  for (const field of headerFields(res, 'via')) {
    const vias = parseVia(field.value);
    if (!vias.ok) return err({ reason: 'Bad Via' });
    for (const via of vias.value) {
      for (const address of [via.host, via.received, via.maddr]) {
        if (address === '255.255.255.255' || address === '0.0.0.0') {
          return err({ reason: 'Via names a broadcast or unspecified address' });
        }
      }
    }
  }
  for (const name of ['to', 'from'] as const) {
    if (parseFromTo(res, name)?.ok !== true) return err({ reason: `Bad ${DISPLAY[name]}` });
  }
  return ok(undefined);
}

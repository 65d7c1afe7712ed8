/**
 * Reading the Contact header fields of a REGISTER (RFC 3261 §10.2, §10.3 step 6-7) with the
 * parameters of outbound (RFC 5626 §4.1-4.2) and GRUU (RFC 5627 §4.1). Bounded; never throws.
 */
import { parseExpires, parseNameAddr } from '../../codec/sip/headers.ts';
import type { AbsoluteUri, SipUri, TelUri } from '../../codec/sip/uri.ts';
import { err, ok, type Result } from '../../lib/result.ts';
import type { ContactParam } from './types.ts';

/** Limits on what one REGISTER may carry. */
export interface ContactLimits {
  /** Most Contact values in one REGISTER. */
  readonly maxContacts: number;
  /** Longest contact URI, in characters. */
  readonly maxUriLength: number;
  /** Most parameters on one Contact value. */
  readonly maxParams: number;
  /** Longest `+sip.instance` value. */
  readonly maxInstanceLength: number;
}

/** Default {@link ContactLimits}. */
export const DEFAULT_CONTACT_LIMITS: ContactLimits = {
  maxContacts: 16,
  maxUriLength: 1024,
  maxParams: 32,
  maxInstanceLength: 256,
};

/** One Contact value of a REGISTER, with the parameters the registrar interprets. */
export interface RegisterContact {
  /** The URI as written, without angle brackets. */
  readonly uri: string;
  readonly parsedUri: SipUri | TelUri | AbsoluteUri;
  /** The `expires` parameter; undefined when absent. Malformed values are read as absent. */
  readonly expires: number | undefined;
  /** q in thousandths; 1000 when absent. */
  readonly qThousandths: number;
  /** `+sip.instance`, quotes removed (e.g. `<urn:uuid:...>`). */
  readonly instance: string | undefined;
  /** `reg-id` (RFC 5626 §4.2), 1 to 2^31-1. */
  readonly regId: number | undefined;
  /** Every other parameter, kept with the binding (feature tags, RFC 3840). */
  readonly params: readonly ContactParam[];
}

/** The Contact header fields of a REGISTER: `*`, none (a query) or a list. */
export type RegisterContacts =
  { readonly star: true } | { readonly star: false; readonly contacts: readonly RegisterContact[] };

/** Why a REGISTER was refused, as the status and reason phrase to answer with. */
export interface ContactError {
  readonly status: 400;
  readonly reason: string;
}

/** Parameters the registrar writes itself in the 200 and so never stores. */
const REGISTRAR_PARAMS = new Set(['expires', 'q', 'pub-gruu', 'temp-gruu']);

function bad(reason: string): { ok: false; error: ContactError } {
  return err({ status: 400, reason });
}

/**
 * RFC 3261 §25.1: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), read in
 * thousandths so q compares exactly.
 */
export function parseQValue(text: string): number | undefined {
  const match = /^(?:(0)(?:\.(\d{0,3}))?|(1)(?:\.(0{0,3}))?)$/.exec(text);
  if (match === null) return undefined;
  if (match[3] === '1') return 1000;
  return Number((match[2] ?? '').padEnd(3, '0'));
}

/** Formats thousandths as a qvalue: 1000 → `1`, 500 → `0.5`, 5 → `0.005`. */
export function formatQValue(thousandths: number): string {
  if (thousandths >= 1000) return '1';
  const digits = String(thousandths).padStart(3, '0').replace(/0+$/, '');
  return digits === '' ? '0' : `0.${digits}`;
}

/**
 * Parses every Contact value of a REGISTER (`headerValues(request, 'contact')`).
 * RFC 3261 §10.3 step 6: `*` must be the only Contact value (it is checked against Expires by
 * the caller); every other value must be a valid name-addr or addr-spec.
 */
export function parseRegisterContacts(
  values: readonly string[],
  limits: ContactLimits = DEFAULT_CONTACT_LIMITS,
): Result<RegisterContacts, ContactError> {
  if (values.length > limits.maxContacts) return bad('Too Many Contacts');
  const stars = values.filter((value) => value.trim() === '*').length;
  if (stars > 0) {
    // §10.3 step 6: "If the request has additional Contact fields ... the request is invalid".
    if (values.length > 1) return bad('Wildcard Contact Must Be Alone');
    return ok({ star: true });
  }
  const contacts: RegisterContact[] = [];
  for (const value of values) {
    const parsed = parseNameAddr(value);
    if (!parsed.ok) return bad('Invalid Contact');
    const address = parsed.value;
    if (address.uri.length > limits.maxUriLength) return bad('Contact URI Too Long');
    if (address.params.size > limits.maxParams) return bad('Too Many Contact Parameters');
    let expires: number | undefined;
    const expiresText = address.params.get('expires');
    if (typeof expiresText === 'string') {
      // RFC 3261 §20.19: "Malformed values SHOULD be treated as equivalent to 3600"; reading it as
      // absent lets the Expires header or the registrar's default apply.
      const parsedExpires = parseExpires(expiresText);
      if (parsedExpires.ok) expires = parsedExpires.value;
    }
    let qThousandths = 1000;
    const qText = address.params.get('q');
    if (qText !== undefined) {
      const q = qText === null ? undefined : parseQValue(qText);
      if (q === undefined) return bad('Invalid q Value');
      qThousandths = q;
    }
    const instanceText = address.params.get('+sip.instance');
    let instance: string | undefined;
    if (instanceText !== undefined) {
      if (instanceText === null || instanceText.length === 0) return bad('Invalid +sip.instance');
      if (instanceText.length > limits.maxInstanceLength) return bad('+sip.instance Too Long');
      instance = instanceText;
    }
    const regIdText = address.params.get('reg-id');
    let regId: number | undefined;
    if (regIdText !== undefined) {
      // RFC 5626 §13 (ABNF): reg-id = 1*DIGIT ; 1 to (2^31 - 1).
      if (regIdText === null || !/^[0-9]{1,10}$/.test(regIdText)) return bad('Invalid reg-id');
      regId = Number(regIdText);
      if (regId < 1 || regId > 0x7fffffff) return bad('Invalid reg-id');
    }
    const params: ContactParam[] = [];
    for (const [name, paramValue] of address.params) {
      if (!REGISTRAR_PARAMS.has(name)) params.push([name, paramValue]);
    }
    contacts.push({
      uri: address.uri,
      parsedUri: address.parsedUri,
      expires,
      qThousandths,
      instance,
      regId,
      params,
    });
  }
  return ok({ star: false, contacts });
}

/** Whether a header parameter value can be written bare (a token or a host), else it is quoted. */
function isBareValue(value: string): boolean {
  return /^[A-Za-z0-9\-.!%*_+`'~[\]:]+$/.test(value);
}

/** Writes `;name=value` header parameters, quoting values that are not tokens. */
export function formatContactParams(params: readonly ContactParam[]): string {
  let out = '';
  for (const [name, value] of params) {
    if (value === null) out += `;${name}`;
    else if (isBareValue(value)) out += `;${name}=${value}`;
    else out += `;${name}="${value.replace(/["\\]/g, (ch) => `\\${ch}`)}"`;
  }
  return out;
}

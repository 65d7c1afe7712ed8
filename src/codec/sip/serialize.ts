/**
 * Serialisation of messages Rampart originates (responses, ACK, CANCEL). Forwarded
 * messages are never re-serialised: see `edit.ts`.
 */
import { randomToken } from '../../lib/ids.ts';
import type { SipRequest, SipResponse } from './message.ts';
import { header, headerFields, headerValues, isToken } from './parse.ts';
import { parseFromTo } from './headers.ts';

/** A header line to write: [name, value]. */
export type HeaderLine = readonly [string, string];

/** RFC 3261 §21 reason phrases for the codes Rampart sends. */
const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  199: 'Early Dialog Terminated',
  200: 'OK',
  202: 'Accepted',
  204: 'No Notification',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  305: 'Use Proxy',
  380: 'Alternative Service',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  410: 'Gone',
  412: 'Conditional Request Failed',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  421: 'Extension Required',
  422: 'Session Interval Too Small',
  423: 'Interval Too Brief',
  428: 'Use Identity Header',
  429: 'Too Many Requests',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  486: 'Busy Here',
  487: 'Request Terminated',
  485: 'Ambiguous',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  491: 'Request Pending',
  493: 'Undecipherable',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

/** RFC 3261 §21 class names, for codes without a phrase of their own. */
const CLASS_PHRASES = [
  'Provisional',
  'Successful',
  'Redirection',
  'Request Failure',
  'Server Failure',
  'Global Failure',
] as const;

/** The default reason phrase of a status code (its RFC 3261 §21 phrase, else its class). */
export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? CLASS_PHRASES[Math.floor(status / 100) - 1] ?? 'Unknown';
}

function assertNoLineBreak(text: string): void {
  if (/[\r\n]/.test(text))
    throw new TypeError(`line break in SIP header text: ${JSON.stringify(text)}`);
}

function serialize(
  startLine: string,
  headers: readonly HeaderLine[],
  body: Buffer | undefined,
): Buffer {
  assertNoLineBreak(startLine);
  let head = `${startLine}\r\n`;
  for (const [name, value] of headers) {
    if (name.toLowerCase() === 'content-length' || name.toLowerCase() === 'l') continue;
    // RFC 3261 §7.3.1: header-name = token.
    if (!isToken(name)) throw new TypeError(`invalid SIP header name: ${JSON.stringify(name)}`);
    assertNoLineBreak(value);
    head += `${name}: ${value}\r\n`;
  }
  const length = body?.length ?? 0;
  head += `Content-Length: ${length}\r\n\r\n`;
  const headBytes = Buffer.byteLength(head);
  const out = Buffer.allocUnsafe(headBytes + length);
  out.write(head, 0, 'utf8');
  if (body !== undefined) body.copy(out, headBytes);
  return out;
}

/** Serialises a request we originate; Content-Length is always written. */
export function serializeRequest(request: {
  readonly method: string;
  readonly requestUri: string;
  readonly headers: readonly HeaderLine[];
  readonly body?: Buffer;
}): Buffer {
  if (!isToken(request.method)) throw new TypeError(`invalid SIP method: ${request.method}`);
  if (!/^[^\s]+$/.test(request.requestUri))
    throw new TypeError(`invalid Request-URI: ${JSON.stringify(request.requestUri)}`);
  return serialize(
    `${request.method} ${request.requestUri} SIP/2.0`,
    request.headers,
    request.body,
  );
}

/** Serialises a response we originate; Content-Length is always written. */
export function serializeResponse(response: {
  readonly status: number;
  readonly reason?: string;
  readonly headers: readonly HeaderLine[];
  readonly body?: Buffer;
}): Buffer {
  if (!Number.isInteger(response.status) || response.status < 100 || response.status > 699)
    throw new TypeError(`invalid SIP status: ${response.status}`);
  return serialize(
    `SIP/2.0 ${response.status} ${response.reason ?? reasonPhrase(response.status)}`,
    response.headers,
    response.body,
  );
}

/** Options of {@link buildResponse}. */
export interface BuildResponseOptions {
  readonly reason?: string;
  /** The To tag to add when the request's To has none; a random one by default. */
  readonly toTag?: string;
  readonly headers?: readonly HeaderLine[];
  readonly body?: Buffer;
  /**
   * The text of the first Via line, when the server amended it on receipt (RFC 3261 §18.2.1
   * `received`, RFC 3581 §4 `rport`).
   */
  readonly topVia?: string;
}

/**
 * Builds a response to `request` (RFC 3261 §8.2.6.2): the Via lines in order, From, To (with a
 * tag added for non-100 responses when absent), Call-ID and CSeq are copied; a 100 copies
 * Timestamp (§8.2.6.1).
 */
export function buildResponse(
  request: SipRequest,
  status: number,
  options: BuildResponseOptions = {},
): Buffer {
  const headers: HeaderLine[] = [];
  headerFields(request, 'via').forEach((field, i) => {
    headers.push(['Via', i === 0 && options.topVia !== undefined ? options.topVia : field.value]);
  });
  const from = header(request, 'from');
  if (from !== undefined) headers.push(['From', from]);
  const to = header(request, 'to');
  if (to !== undefined) {
    let toValue = to;
    const parsed = parseFromTo(request, 'to');
    // §8.2.6.2: the UAS MUST add a tag to the To header field if one is not present (not for 100).
    if (status > 100 && parsed?.ok === true && !parsed.value.params.has('tag')) {
      toValue = `${to};tag=${options.toTag ?? randomToken(10)}`;
    }
    headers.push(['To', toValue]);
  }
  const callId = header(request, 'call-id');
  if (callId !== undefined) headers.push(['Call-ID', callId]);
  const cseq = header(request, 'cseq');
  if (cseq !== undefined) headers.push(['CSeq', cseq]);
  if (status === 100) {
    const timestamp = header(request, 'timestamp');
    if (timestamp !== undefined) headers.push(['Timestamp', timestamp]);
  }
  if (options.headers) headers.push(...options.headers);
  return serializeResponse({
    status,
    reason: options.reason ?? reasonPhrase(status),
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
  });
}

function cseqNumber(request: SipRequest): string {
  const cseq = header(request, 'cseq') ?? '';
  return cseq.trim().split(/\s+/)[0] ?? '0';
}

/**
 * The request RFC 3261 §9.1 (CANCEL) and §17.1.1.3 (ACK for a non-2xx) both derive from an
 * INVITE: same Request-URI, Call-ID, From and CSeq number, only the INVITE's top Via (so it
 * matches the INVITE's transaction), its Route header fields, and the given To.
 */
function requestLike(invite: SipRequest, method: 'ACK' | 'CANCEL', to: string | undefined): Buffer {
  const headers: HeaderLine[] = [];
  const topVia = headerValues(invite, 'via')[0];
  if (topVia !== undefined) headers.push(['Via', topVia]);
  for (const field of headerFields(invite, 'route')) headers.push(['Route', field.value]);
  headers.push(['Max-Forwards', '70']);
  const from = header(invite, 'from');
  if (from !== undefined) headers.push(['From', from]);
  if (to !== undefined) headers.push(['To', to]);
  const callId = header(invite, 'call-id');
  if (callId !== undefined) headers.push(['Call-ID', callId]);
  headers.push(['CSeq', `${cseqNumber(invite)} ${method}`]);
  return serializeRequest({ method, requestUri: invite.requestUri, headers });
}

/**
 * Builds the ACK for a non-2xx final response to an INVITE (RFC 3261 §17.1.1.3): the To
 * header field comes from the response (it carries the tag).
 */
export function buildAckForNon2xx(invite: SipRequest, response: SipResponse): Buffer {
  return requestLike(invite, 'ACK', header(response, 'to') ?? header(invite, 'to'));
}

/** Builds a CANCEL for `invite` (RFC 3261 §9.1): the To header field of the INVITE. */
export function buildCancel(invite: SipRequest): Buffer {
  return requestLike(invite, 'CANCEL', header(invite, 'to'));
}

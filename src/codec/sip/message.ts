/**
 * The parsed shape of a SIP message (RFC 3261 §7). Parsing indexes the start line and the
 * header field lines; header values are parsed into structures only on demand (see
 * `headers.ts`). Every string here is a view of `raw`: nothing is re-serialised.
 */

/** One header field line as it appears in the raw message. */
export interface HeaderField {
  /** Canonical lower-case long name: compact forms are expanded ('v' → 'via'). */
  readonly name: string;
  /** The value, with folded continuation lines joined by one space and outer whitespace trimmed. */
  readonly value: string;
  /** Byte offset of the first byte of the line in `raw`. */
  readonly start: number;
  /** Byte offset just past the line's terminating CRLF (including folded lines) in `raw`. */
  readonly end: number;
}

/**
 * Values later layers derive from a message, computed once and kept on it (a message never
 * changes once parsed): cheaper than a WeakMap entry per message. Each field belongs to the
 * module that fills it (`headers.ts`: the Vias, From and To; `sip-proxy/forward.ts`: the loop hash).
 */
export interface MessageMemo {
  topVia: unknown;
  vias: unknown;
  from: unknown;
  to: unknown;
  loopHash: string | undefined;
}

/** A fresh, empty memo (every field present, so all memos share one shape). */
export function newMemo(): MessageMemo {
  return {
    topVia: undefined,
    vias: undefined,
    from: undefined,
    to: undefined,
    loopHash: undefined,
  };
}

interface SipMessageCommon {
  /** The whole message as received. */
  readonly raw: Buffer;
  /** Derived values (see {@link MessageMemo}); messages built by hand may have none. */
  readonly memo?: MessageMemo;
  /** Header field lines in order of appearance. */
  readonly headers: readonly HeaderField[];
  /** Byte offset just past the start line's CRLF: where the first header line starts. */
  readonly headersStart: number;
  /** Byte offset of the first body byte (just past the empty line). */
  readonly bodyStart: number;
  /** The body, a subarray of `raw`. */
  readonly body: Buffer;
}

/** A parsed SIP request. */
export interface SipRequest extends SipMessageCommon {
  readonly kind: 'request';
  /** Method, case-sensitive as RFC 3261 §7.1 requires. */
  readonly method: string;
  /** Request-URI as written. */
  readonly requestUri: string;
  /** SIP-Version as written, e.g. 'SIP/2.0'. */
  readonly version: string;
}

/** A parsed SIP response. */
export interface SipResponse extends SipMessageCommon {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
  readonly version: string;
}

/** A parsed SIP message. */
export type SipMessage = SipRequest | SipResponse;

/** Where and why parsing failed. */
export interface SipParseError {
  readonly code: 'RAMPART_ERR_SIP_PARSE';
  /** A short explanation for logs, e.g. 'invalid CSeq'. */
  readonly reason: string;
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;
  /**
   * When the input is recognisably a request, the status a server answers it with
   * (400, or 505 for an unsupported SIP-Version, RFC 3261 §8.2.2 / RFC 4475 §3.3.15);
   * undefined when it is a response or unrecognisable (it is then dropped).
   */
  readonly status: number | undefined;
  /**
   * The request as far as it could be indexed, when the failure came after the header section
   * was read (e.g. an unsupported SIP-Version, a bad Content-Length): enough to answer it.
   */
  readonly request?: SipRequest;
}

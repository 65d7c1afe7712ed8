/**
 * The hook through which a service makes the proxy engine a SIP server of its own (a
 * registrar, a presence server, an authenticating Director): for each new request it decides
 * whether to answer it locally, to proxy it as routing says, or to fork it to targets it
 * chose (registered contacts, a GRUU's flow), with header edits on the way.
 */
import type { SipRequest, SipResponse } from '../../codec/sip/message.ts';
import type { SipEdit } from '../../codec/sip/edit.ts';
import type { HeaderLine } from '../../codec/sip/serialize.ts';
import type { Flow } from '../../transport/index.ts';

/** A new request, after validation and route pre-processing (RFC 3261 §16.3, §16.4). */
export interface IncomingRequest {
  readonly request: SipRequest;
  /** The flow it arrived on. */
  readonly flow: Flow;
  /** The Request-URI after pre-processing (a strict router's rewrite undone). */
  readonly requestUri: string;
  /** Route values left after ours were removed, top first. */
  readonly routes: readonly string[];
  /** Our own Route values that pre-processing removed, top first (a flow token, a `th` blob). */
  readonly consumedRoutes: readonly string[];
}

/** Header changes applied to every forwarded copy. */
export interface HeaderEdits {
  /** Header names (any case) whose lines are removed, e.g. a consumed Proxy-Authorization. */
  readonly remove?: readonly string[];
  /** Lines appended, e.g. P-Asserted-Identity. */
  readonly add?: readonly HeaderLine[];
  /** Lines inserted at the top of the header section, e.g. a Path of ours (RFC 3327 §5.1). */
  readonly insert?: readonly HeaderLine[];
  /**
   * Topology hiding: every Via the request carried is removed from the forwarded copy (ours
   * alone remains) and put back, as received, on the responses relayed upstream; our
   * Record-Route is the value facing the callee alone (each side sees only its own).
   */
  readonly hideTopology?: boolean;
  /** URI parameters of the Record-Route value facing the callee (e.g. `;th=…`). */
  readonly recordRouteParams?: string;
  /** Edits on lines of the request as received (e.g. a Contact rewritten in place). */
  readonly raw?: readonly SipEdit[];
}

/** One target of a fork (RFC 3261 §16.5). */
export interface ForwardTarget {
  /** The Request-URI of this copy (a registered contact, §16.5). */
  readonly uri: string;
  /**
   * Send over this flow (RFC 5626 outbound: the flow the endpoint registered on; a pooled
   * connection to a federation partner) instead of resolving the URI or the routes. When it
   * is gone the branch fails with 430 Flow Failed.
   */
  readonly flow?: Flow;
  /** Route values pushed on top of the copy (RFC 3327 Path of the registration). */
  readonly routes?: readonly string[];
}

/** What to do with a new request. */
export type RequestDecision =
  | { readonly kind: 'proxy'; readonly edits?: HeaderEdits }
  | {
      readonly kind: 'respond';
      readonly status: number;
      readonly reason?: string;
      readonly headers?: readonly HeaderLine[];
      readonly body?: Buffer;
      /** The To tag of the response (a dialog the service creates, e.g. a subscription). */
      readonly toTag?: string;
      /**
       * Answer as a stateless UAS (RFC 3261 §8.2.7), for challenges: the response is sent and
       * no transaction state is kept, so a retransmitted request is answered anew and a flood
       * of unauthenticated requests holds no memory for Timer J. The To tag is derived from
       * the request (the same for a retransmission). Not for INVITE, whose 100 Trying has
       * already gone out and whose ACK the transaction absorbs: it is answered statefully.
       */
      readonly stateless?: boolean;
    }
  | {
      readonly kind: 'fork';
      readonly targets: readonly ForwardTarget[];
      readonly edits?: HeaderEdits;
    };

/**
 * Decides for each new request (not for CANCEL, which the engine handles; for the ACK of a
 * 2xx only when the engine's `handleAck` is set — it is then forwarded statelessly to the
 * first target, and a `respond` decision drops it).
 */
export type RequestHandler = (
  incoming: IncomingRequest,
) => RequestDecision | Promise<RequestDecision>;

/** A request the service originates (a NOTIFY, a MESSAGE from the server). */
export interface OutgoingRequest {
  readonly method: string;
  readonly requestUri: string;
  /** Every header but Via, Max-Forwards and Content-Length, which the engine writes. */
  readonly headers: readonly HeaderLine[];
  readonly body?: Buffer;
  /** Send over this flow; otherwise the top Route header, else the Request-URI, is resolved. */
  readonly flow?: Flow;
}

/** How an originated request ended: its final response, or no response at all. */
export type OutgoingResult =
  | { readonly kind: 'response'; readonly response: SipResponse }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'unreachable'; readonly reason: string };

/**
 * Edits on a response the engine relays upstream (after it removed its own Via), given the
 * flow it goes to and the request it answers (as received).
 */
export type ResponseRewriter = (
  response: SipResponse,
  toward: Flow,
  request: SipRequest,
  from: Flow | undefined,
) => readonly SipEdit[];

/** The edits for {@link HeaderEdits} on one request. */
export function headerEdits(request: SipRequest, edits: HeaderEdits | undefined): SipEdit[] {
  if (edits === undefined) return [];
  const out: SipEdit[] = [];
  const remove = new Set((edits.remove ?? []).map((name) => name.toLowerCase()));
  if (remove.has('via') || remove.has('route'))
    throw new TypeError('a request handler may not remove Via or Route lines');
  for (const field of request.headers) {
    if (remove.has(field.name)) out.push({ type: 'remove-header', field });
  }
  out.push(...(edits.raw ?? []));
  for (const [name, value] of edits.add ?? []) out.push({ type: 'append-header', name, value });
  const first = request.headers[0];
  for (const [name, value] of edits.insert ?? [])
    out.push({
      type: 'insert-header',
      name,
      value,
      ...(first === undefined ? {} : { before: first }),
    });
  return out;
}

import type { SipRequest } from '../../codec/sip/message.ts';

const EMPTY = Buffer.alloc(0);
const shells = new Map<string, SipRequest>();
const MAX_SHELLS = 64;

/**
 * What a transaction keeps of its request once it only absorbs retransmissions (RFC 3261
 * Completed/Confirmed, RFC 6026 Accepted): the method, and nothing of the message. A lingering
 * UDP transaction lives 32 s (64*T1); without this, every call would keep its parsed
 * messages — buffers, header lines, strings — alive that long, and the garbage collector would
 * promote and trace them all.
 */
export function shedRequest(request: SipRequest): SipRequest {
  const cached = shells.get(request.method);
  if (cached !== undefined) return cached;
  const shell: SipRequest = Object.freeze({
    kind: 'request',
    method: request.method,
    requestUri: '',
    version: request.version,
    raw: EMPTY,
    headers: Object.freeze([]),
    headersStart: 0,
    bodyStart: 0,
    body: EMPTY,
  });
  // Methods are tokens chosen by the sender: cache a bounded few (the common ones).
  if (shells.size < MAX_SHELLS) shells.set(request.method, shell);
  return shell;
}

/** The empty buffer a transaction keeps once it no longer (re)sends its request. */
export const SHED_DATA: Buffer = EMPTY;

/**
 * A copy of a response kept for retransmission that owns exactly its bytes: a message built
 * in a pooled buffer is a slice of a shared slab, and keeping the slice for 32 s would keep
 * the whole slab.
 */
export function ownCopy(data: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(data.length);
  data.copy(copy);
  return copy;
}

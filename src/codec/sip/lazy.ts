/**
 * A request we built ourselves and will most likely never read again: its method is known,
 * everything else is parsed the first time it is asked for. A proxy forwards every request
 * it relays as new bytes; reading them back is needed only to CANCEL or ACK (RFC 3261 §9.1,
 * §17.1.1.3), so parsing them eagerly would cost one parse per relayed request for nothing.
 */
import { newMemo, type HeaderField, type SipRequest } from './message.ts';
import { parseSipMessage } from './parse.ts';

export function lazyRequest(data: Buffer, method: string): SipRequest {
  let parsed: SipRequest | undefined;
  const full = (): SipRequest => {
    if (parsed !== undefined) return parsed;
    const result = parseSipMessage(data);
    // Programmer error: the bytes came out of our own serializer or edit list.
    if (!result.ok || result.value.kind !== 'request')
      throw new TypeError('lazyRequest: bytes are not a SIP request');
    parsed = result.value;
    return parsed;
  };
  return {
    kind: 'request',
    method,
    get requestUri(): string {
      return full().requestUri;
    },
    get version(): string {
      return full().version;
    },
    raw: data,
    memo: newMemo(),
    get headers(): readonly HeaderField[] {
      return full().headers;
    },
    get headersStart(): number {
      return full().headersStart;
    },
    get bodyStart(): number {
      return full().bodyStart;
    },
    get body(): Buffer {
      return full().body;
    },
  };
}

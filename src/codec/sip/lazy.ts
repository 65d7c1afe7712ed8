/**
 * A request we built ourselves and will most likely never read again: its method is known,
 * everything else is parsed the first time it is asked for. A proxy forwards every request
 * it relays as new bytes; reading them back is needed only to CANCEL or ACK (RFC 3261 §9.1,
 * §17.1.1.3), so parsing them eagerly would cost one parse per relayed request for nothing.
 */
import { newMemo, type HeaderField, type MessageMemo, type SipRequest } from './message.ts';
import { parseSipMessage } from './parse.ts';

export function lazyRequest(data: Buffer, method: string): SipRequest {
  return new LazyRequest(data, method);
}

/**
 * The lazy request as a class: its getters live on the prototype, so each instance is four
 * fields, not an object literal with seven accessor closures (one per relayed request).
 */
class LazyRequest implements SipRequest {
  readonly kind = 'request';
  readonly memo: MessageMemo = newMemo();
  readonly raw: Buffer;
  readonly method: string;
  private parsed: SipRequest | undefined;

  constructor(data: Buffer, method: string) {
    this.raw = data;
    this.method = method;
  }

  get requestUri(): string {
    return this.full().requestUri;
  }

  get version(): string {
    return this.full().version;
  }

  get headers(): readonly HeaderField[] {
    return this.full().headers;
  }

  get headersStart(): number {
    return this.full().headersStart;
  }

  get bodyStart(): number {
    return this.full().bodyStart;
  }

  get body(): Buffer {
    return this.full().body;
  }

  private full(): SipRequest {
    if (this.parsed !== undefined) return this.parsed;
    const result = parseSipMessage(this.raw);
    // Programmer error: the bytes came out of our own serializer or edit list.
    if (!result.ok || result.value.kind !== 'request')
      throw new TypeError('lazyRequest: bytes are not a SIP request');
    this.parsed = result.value;
    return this.parsed;
  }
}

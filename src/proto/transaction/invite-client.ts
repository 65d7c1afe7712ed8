import type { SipRequest, SipResponse } from '../../codec/sip/message.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import type { ClientTransactionAction, ClientTransactionEvent } from './events.ts';
import { shedRequest, SHED_DATA } from './shed.ts';
import { assertTransition, type InviteClientState } from './states.ts';
import {
  Deadlines,
  resolveTimers,
  type ResolvedTimers,
  type TransactionTimerConfig,
} from './timers.ts';

/** Builds the ACK for a 300-699 final response to `invite` (RFC 3261 §17.1.1.3). */
export type AckBuilder = (invite: SipRequest, response: SipResponse) => Buffer;

/** How to create a client transaction. */
export interface ClientTransactionOptions {
  /** The request the TU sends; INVITE for the INVITE machine, neither INVITE nor ACK otherwise. */
  readonly request: SipRequest;
  /** The bytes to send; defaults to `request.raw`. */
  readonly data?: Buffer;
  /** Whether the transport is reliable (TCP, TLS, WS, SCTP). */
  readonly reliable: boolean;
  readonly timers?: Partial<TransactionTimerConfig>;
}

/** Options of the INVITE client transaction. */
export interface InviteClientTransactionOptions extends ClientTransactionOptions {
  /** Builds the transaction-layer ACK for 300-699 responses. */
  readonly buildAck: AckBuilder;
}

type InviteClientTimer = 'A' | 'B' | 'D' | 'M';

/**
 * The INVITE client transaction of RFC 3261 §17.1.1, with the Accepted state of RFC 6026 §7.2.
 * Sans-IO: `handle` returns what to do; the driver sends, delivers and runs one timer at
 * `nextTimeoutAt`.
 */
export class InviteClientTransaction {
  /** Which §17 machine this is. */
  readonly machine = 'invite-client' as const;
  /** The request that created the transaction. */
  private requestValue: SipRequest;
  private data: Buffer;
  private readonly timers: ResolvedTimers;
  private readonly buildAck: AckBuilder;
  private readonly deadlines = new Deadlines<InviteClientTimer>();
  private currentState: InviteClientState = 'calling';
  private started = false;
  private timerAIntervalMs: number;
  private ack: Buffer | undefined;

  constructor(options: InviteClientTransactionOptions) {
    if (options.request.method !== 'INVITE') {
      throw new RampartError(
        ERROR_CODES.INVALID_ARGUMENT,
        `INVITE client transaction created for ${options.request.method}`,
      );
    }
    this.requestValue = options.request;
    this.data = options.data ?? options.request.raw;
    this.timers = resolveTimers(options.reliable, options.timers);
    this.buildAck = options.buildAck;
    this.timerAIntervalMs = this.timers.t1Ms;
  }

  /** The request that created the transaction (only its method once it lingers). */
  get request(): SipRequest {
    return this.requestValue;
  }

  /** The current state. */
  get state(): InviteClientState {
    return this.currentState;
  }

  /** When the driver must deliver `{ type: 'timer' }`; undefined when no timer is armed. */
  get nextTimeoutAt(): number | undefined {
    return this.deadlines.next;
  }

  /** Feeds one event at time `now` and returns the actions to perform, in order. */
  handle(event: ClientTransactionEvent, now: number): readonly ClientTransactionAction[] {
    if (!this.started && event.type !== 'start') {
      throw new RampartError(
        ERROR_CODES.INVALID_STATE,
        `INVITE client: ${event.type} before start`,
      );
    }
    switch (event.type) {
      case 'start':
        return this.onStart(now);
      case 'response':
        return this.onResponse(event.response, now);
      case 'timer':
        return this.onTimer(now);
      case 'transport-error':
        return this.onTransportError();
    }
  }

  private onStart(now: number): readonly ClientTransactionAction[] {
    if (this.started) {
      throw new RampartError(ERROR_CODES.INVALID_STATE, 'INVITE client: started twice');
    }
    this.started = true;
    // RFC 3261 §17.1.1.2: "If an unreliable transport is being used, the client transaction
    // MUST start timer A with a value of T1."
    if (this.timers.retransmits) this.deadlines.set('A', now + this.timerAIntervalMs);
    // RFC 3261 §17.1.1.2: "For any transport, the client transaction MUST start timer B with a
    // value of 64*T1 seconds."
    this.deadlines.set('B', now + this.timers.transactionTimeoutMs);
    return [{ type: 'send', data: this.data, reason: 'initial' }];
  }

  private onResponse(response: SipResponse, now: number): readonly ClientTransactionAction[] {
    const status = response.status;
    const provisional = status >= 100 && status <= 199;
    const success = status >= 200 && status <= 299;
    const failure = status >= 300 && status <= 699;
    switch (this.currentState) {
      case 'calling':
      case 'proceeding':
        if (provisional) {
          // RFC 3261 §17.1.1.2: "If the client transaction receives a provisional response while
          // in the "Calling" state, it transitions to the "Proceeding" state. In the
          // "Proceeding" state, the client transaction SHOULD NOT retransmit the request any
          // longer." Timer B only acts in Calling, so it is disarmed too.
          if (this.currentState === 'calling') {
            this.transition('proceeding');
            this.deadlines.clearAll();
          }
          // "...any further provisional responses MUST be passed up to the TU"
          return [{ type: 'deliver-response', response }];
        }
        if (success) {
          // RFC 6026 §7.2: "If a 2xx response is received while the client INVITE state machine
          // is in the "Calling" or "Proceeding" states, it MUST transition to the "Accepted"
          // state, pass the 2xx response to the TU, and set Timer M to 64*T1."
          this.transition('accepted');
          this.deadlines.clearAll();
          this.deadlines.set('M', now + this.timers.transactionTimeoutMs);
          return [{ type: 'deliver-response', response }];
        }
        if (failure) return this.onFailure(response, now);
        return [];
      case 'completed':
        // RFC 3261 §17.1.1.2: "Any retransmissions of the final response that are received while
        // in the "Completed" state MUST cause the ACK to be re-passed to the transport layer for
        // retransmission, but the newly received response MUST NOT be passed up to the TU."
        if (failure && this.ack !== undefined) {
          return [{ type: 'send', data: this.ack, reason: 'ack' }];
        }
        return [];
      case 'accepted':
        // RFC 6026 §7.2: "A 2xx response received while in the "Accepted" state MUST be passed
        // to the TU and the machine remains in the "Accepted" state. The client transaction
        // MUST NOT generate an ACK to any 2xx response on its own." Anything else is absorbed.
        return success ? [{ type: 'deliver-response', response }] : [];
      case 'terminated':
        return [];
    }
  }

  private onFailure(response: SipResponse, now: number): readonly ClientTransactionAction[] {
    // RFC 3261 §17.1.1.2: "reception of a response with status code from 300-699 MUST cause the
    // client transaction to transition to "Completed". The client transaction MUST pass the
    // received response up to the TU, and the client transaction MUST generate an ACK request"
    this.ack = this.buildAck(this.request, response);
    this.transition('completed');
    this.deadlines.clearAll();
    const actions: ClientTransactionAction[] = [
      { type: 'deliver-response', response },
      { type: 'send', data: this.ack, reason: 'ack' },
    ];
    // "The client transaction SHOULD start timer D when it enters the "Completed" state, with a
    // value of at least 32 seconds for unreliable transports, and a value of zero seconds for
    // reliable transports." Zero terminates at once.
    if (this.timers.timerDMs === 0) {
      this.transition('terminated');
      actions.push({ type: 'terminated', reason: 'timer-d' });
    } else {
      this.deadlines.set('D', now + this.timers.timerDMs);
    }
    return actions;
  }

  private onTimer(now: number): readonly ClientTransactionAction[] {
    switch (this.currentState) {
      case 'calling':
        if (this.deadlines.due('B', now)) {
          // RFC 3261 §17.1.1.2: "If the client transaction is still in the "Calling" state when
          // timer B fires, the client transaction SHOULD inform the TU that a timeout has
          // occurred. The client transaction MUST NOT generate an ACK."
          return this.terminate('timer-b', [{ type: 'timeout', reason: 'timer-b' }]);
        }
        if (this.deadlines.due('A', now)) {
          // "When timer A fires, the client transaction MUST retransmit the request by passing
          // it to the transport layer, and MUST reset the timer with a value of 2*T1."
          this.timerAIntervalMs *= 2;
          this.deadlines.set('A', now + this.timerAIntervalMs);
          return [{ type: 'send', data: this.data, reason: 'retransmit' }];
        }
        return [];
      case 'completed':
        // "If timer D fires while the client transaction is in the "Completed" state, the
        // client transaction MUST move to the terminated state."
        return this.deadlines.due('D', now) ? this.terminate('timer-d', []) : [];
      case 'accepted':
        // RFC 6026 §8.4: "If Timer M fires while the client transaction is in the "Accepted"
        // state, the client transaction MUST move to the "Terminated" state."
        return this.deadlines.due('M', now) ? this.terminate('timer-m', []) : [];
      case 'proceeding':
      case 'terminated':
        return [];
    }
  }

  private onTransportError(): readonly ClientTransactionAction[] {
    // RFC 3261 Figure 5: a transport error in Calling or Completed informs the TU and
    // terminates (§17.1.4); Proceeding and Accepted send nothing, so no error can be theirs.
    if (this.currentState === 'calling' || this.currentState === 'completed') {
      return this.terminate('transport-error', [{ type: 'transport-error' }]);
    }
    return [];
  }

  private terminate(
    reason: 'timer-b' | 'timer-d' | 'timer-m' | 'transport-error',
    before: ClientTransactionAction[],
  ): readonly ClientTransactionAction[] {
    this.transition('terminated');
    this.deadlines.clearAll();
    before.push({ type: 'terminated', reason });
    return before;
  }

  private transition(to: InviteClientState): void {
    assertTransition(this.machine, this.currentState, to);
    this.currentState = to;
    if (to === 'accepted' || to === 'completed' || to === 'terminated') {
      this.requestValue = shedRequest(this.requestValue);
      this.data = SHED_DATA;
    }
  }
}

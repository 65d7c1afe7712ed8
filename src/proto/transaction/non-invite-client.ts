import type { SipRequest, SipResponse } from '../../codec/sip/message.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import type { ClientTransactionAction, ClientTransactionEvent } from './events.ts';
import type { ClientTransactionOptions } from './invite-client.ts';
import { shedRequest, SHED_DATA } from './shed.ts';
import { assertTransition, type NonInviteClientState } from './states.ts';
import { Deadlines, resolveTimers, type ResolvedTimers } from './timers.ts';

type NonInviteClientTimer = 'E' | 'F' | 'K';

/**
 * The non-INVITE client transaction of RFC 3261 §17.1.2 (Figure 6). Sans-IO: `handle` returns
 * what to do; the driver sends, delivers and runs one timer at `nextTimeoutAt`.
 */
export class NonInviteClientTransaction {
  /** Which §17 machine this is. */
  readonly machine = 'non-invite-client' as const;
  /** The request that created the transaction. */
  private requestValue: SipRequest;
  private data: Buffer;
  private readonly timers: ResolvedTimers;
  private readonly deadlines = new Deadlines<NonInviteClientTimer>();
  private currentState: NonInviteClientState = 'trying';
  private started = false;
  private timerEIntervalMs: number;

  constructor(options: ClientTransactionOptions) {
    const method = options.request.method;
    // RFC 3261 §17.1: ACK is never sent in a client transaction of its own.
    if (method === 'INVITE' || method === 'ACK') {
      throw new RampartError(
        ERROR_CODES.INVALID_ARGUMENT,
        `non-INVITE client transaction created for ${method}`,
      );
    }
    this.requestValue = options.request;
    this.data = options.data ?? options.request.raw;
    this.timers = resolveTimers(options.reliable, options.timers);
    this.timerEIntervalMs = this.timers.t1Ms;
  }

  /** The request that created the transaction (only its method once it lingers). */
  get request(): SipRequest {
    return this.requestValue;
  }

  /** The current state. */
  get state(): NonInviteClientState {
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
        `non-INVITE client: ${event.type} before start`,
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
      throw new RampartError(ERROR_CODES.INVALID_STATE, 'non-INVITE client: started twice');
    }
    this.started = true;
    // RFC 3261 §17.1.2.2: "The "Trying" state is entered when the TU initiates a new client
    // transaction with a request. When entering this state, the client transaction SHOULD set
    // timer F to fire in 64*T1 seconds. ... If an unreliable transport is in use, the client
    // transaction MUST set timer E to fire in T1 seconds."
    this.deadlines.set('F', now + this.timers.transactionTimeoutMs);
    if (this.timers.retransmits) this.deadlines.set('E', now + this.timerEIntervalMs);
    return [{ type: 'send', data: this.data, reason: 'initial' }];
  }

  private onResponse(response: SipResponse, now: number): readonly ClientTransactionAction[] {
    const status = response.status;
    switch (this.currentState) {
      case 'trying':
      case 'proceeding':
        if (status >= 100 && status <= 199) {
          // RFC 3261 §17.1.2.2: "If a provisional response is received while in the "Trying"
          // state, the response MUST be passed to the TU, and then the client transaction
          // SHOULD move to the "Proceeding" state."
          if (this.currentState === 'trying') this.transition('proceeding');
          return [{ type: 'deliver-response', response }];
        }
        if (status >= 200 && status <= 699) {
          // "If a final response (status codes 200-699) is received while in the "Trying" [or
          // "Proceeding"] state, the response MUST be passed to the TU, and the client
          // transaction MUST transition to the "Completed" state."
          this.transition('completed');
          this.deadlines.clearAll();
          const actions: ClientTransactionAction[] = [{ type: 'deliver-response', response }];
          // "Once the client transaction enters the "Completed" state, it MUST set Timer K to
          // fire in T4 seconds for unreliable transports, and zero seconds for reliable
          // transports." Zero terminates at once.
          if (this.timers.timerKMs === 0) {
            this.transition('terminated');
            actions.push({ type: 'terminated', reason: 'timer-k' });
          } else {
            this.deadlines.set('K', now + this.timers.timerKMs);
          }
          return actions;
        }
        return [];
      case 'completed':
        // "The "Completed" state exists to buffer any additional response retransmissions that
        // may be received": absorbed.
        return [];
      case 'terminated':
        return [];
    }
  }

  private onTimer(now: number): readonly ClientTransactionAction[] {
    switch (this.currentState) {
      case 'trying':
      case 'proceeding':
        if (this.deadlines.due('F', now)) {
          // RFC 3261 §17.1.2.2: "If Timer F fires while the client transaction is still in the
          // "Trying" state, the client transaction SHOULD inform the TU about the timeout, and
          // then it SHOULD enter the "Terminated" state." Likewise in "Proceeding".
          this.transition('terminated');
          this.deadlines.clearAll();
          return [
            { type: 'timeout', reason: 'timer-f' },
            { type: 'terminated', reason: 'timer-f' },
          ];
        }
        if (this.deadlines.due('E', now)) {
          // Trying: "If timer E fires while still in this state, the timer is reset, but this
          // time with a value of MIN(2*T1, T2). When the timer fires again, it is reset to a
          // MIN(4*T1, T2)." Proceeding: "If Timer E fires while in the "Proceeding"
          // state, the request MUST be passed to the transport layer for retransmission, and
          // Timer E MUST be reset with a value of T2 seconds."
          this.timerEIntervalMs =
            this.currentState === 'trying'
              ? Math.min(2 * this.timerEIntervalMs, this.timers.t2Ms)
              : this.timers.t2Ms;
          this.deadlines.set('E', now + this.timerEIntervalMs);
          return [{ type: 'send', data: this.data, reason: 'retransmit' }];
        }
        return [];
      case 'completed':
        // "If Timer K fires while in this state, the client transaction MUST transition to the
        // "Terminated" state."
        if (this.deadlines.due('K', now)) {
          this.transition('terminated');
          this.deadlines.clearAll();
          return [{ type: 'terminated', reason: 'timer-k' }];
        }
        return [];
      case 'terminated':
        return [];
    }
  }

  private onTransportError(): readonly ClientTransactionAction[] {
    // RFC 3261 Figure 6: "Timer F or Transport Err. inform TU" from Trying and Proceeding
    // (§17.1.4). Completed sends nothing, so no error can be its own.
    if (this.currentState === 'trying' || this.currentState === 'proceeding') {
      this.transition('terminated');
      this.deadlines.clearAll();
      return [{ type: 'transport-error' }, { type: 'terminated', reason: 'transport-error' }];
    }
    return [];
  }

  private transition(to: NonInviteClientState): void {
    assertTransition(this.machine, this.currentState, to);
    this.currentState = to;
    if (to === 'completed' || to === 'terminated') {
      this.requestValue = shedRequest(this.requestValue);
      this.data = SHED_DATA;
    }
  }
}

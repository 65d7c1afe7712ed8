import type { SipRequest } from '../../codec/sip/message.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import type { ServerTransactionAction, ServerTransactionEvent } from './events.ts';
import { assertResponseStatus, type ServerTransactionOptions } from './invite-server.ts';
import { ownCopy, shedRequest } from './shed.ts';
import { assertTransition, type NonInviteServerState } from './states.ts';
import { Deadlines, resolveTimers, type ResolvedTimers } from './timers.ts';

/**
 * The non-INVITE server transaction of RFC 3261 §17.2.2 (Figure 8). Sans-IO: `handle` returns
 * what to do; the driver sends, delivers and runs one timer at `nextTimeoutAt`.
 */
export class NonInviteServerTransaction {
  /** Which §17 machine this is. */
  readonly machine = 'non-invite-server' as const;
  /** The request that created the transaction. */
  private requestValue: SipRequest;
  private readonly timers: ResolvedTimers;
  private readonly deadlines = new Deadlines<'J'>();
  private currentState: NonInviteServerState = 'trying';
  private started = false;
  private lastResponse: Buffer | undefined;

  constructor(options: ServerTransactionOptions) {
    const method = options.request.method;
    // RFC 3261 §17.2.3: an ACK matches an INVITE server transaction or goes to the core; it
    // never creates a transaction of its own.
    if (method === 'INVITE' || method === 'ACK') {
      throw new RampartError(
        ERROR_CODES.INVALID_ARGUMENT,
        `non-INVITE server transaction created for ${method}`,
      );
    }
    this.requestValue = options.request;
    this.timers = resolveTimers(options.reliable, options.timers);
  }

  /** The request that created the transaction (only its method once it lingers). */
  get request(): SipRequest {
    return this.requestValue;
  }

  /** The current state. */
  get state(): NonInviteServerState {
    return this.currentState;
  }

  /** When the driver must deliver `{ type: 'timer' }`; undefined when no timer is armed. */
  get nextTimeoutAt(): number | undefined {
    return this.deadlines.next;
  }

  /** Feeds one event at time `now` and returns the actions to perform, in order. */
  handle(event: ServerTransactionEvent, now: number): readonly ServerTransactionAction[] {
    if (!this.started && event.type !== 'request') {
      throw new RampartError(
        ERROR_CODES.INVALID_STATE,
        `non-INVITE server: ${event.type} before request`,
      );
    }
    switch (event.type) {
      case 'request':
        if (!this.started) return this.onCreatingRequest(event.request);
        return event.request.method === this.request.method ? this.onRetransmission() : [];
      case 'send-response':
        assertResponseStatus(event.status);
        return this.onTuResponse(event.data, event.status, now);
      case 'timer':
        return this.onTimer(now);
      case 'transport-error':
        return this.onTransportError();
    }
  }

  private onCreatingRequest(request: SipRequest): readonly ServerTransactionAction[] {
    if (request !== this.request) {
      throw new RampartError(
        ERROR_CODES.INVALID_STATE,
        'non-INVITE server: first request is not its own',
      );
    }
    this.started = true;
    // RFC 3261 §17.2.2: "The state machine is initialized in the "Trying" state and is passed a
    // request other than INVITE or ACK when initialized. This request is passed up to the TU."
    return [{ type: 'deliver-request', request }];
  }

  private onRetransmission(): readonly ServerTransactionAction[] {
    switch (this.currentState) {
      case 'trying':
        // RFC 3261 §17.2.2: "While in the "Trying" state, if a request retransmission is
        // received, it MUST be discarded."
        return [];
      // Proceeding: "If a retransmission of the request is received while in the "Proceeding"
      // state, the most recently sent provisional response MUST be passed to the transport
      // layer for retransmission." Completed: "While in the "Completed" state, the server
      // transaction MUST pass the final response to the transport layer for retransmission
      // whenever a retransmission of the request is received."
      case 'proceeding':
      case 'completed':
        return this.lastResponse === undefined
          ? []
          : [{ type: 'send', data: this.lastResponse, reason: 'retransmit' }];
      case 'terminated':
        return [];
    }
  }

  private onTuResponse(
    data: Buffer,
    status: number,
    now: number,
  ): readonly ServerTransactionAction[] {
    switch (this.currentState) {
      case 'trying':
      case 'proceeding': {
        this.lastResponse = data;
        if (status <= 199) {
          // RFC 3261 §17.2.2: "While in the "Trying" state, if the TU passes a provisional
          // response to the server transaction, the server transaction MUST enter the
          // "Proceeding" state. The response MUST be passed to the transport layer for
          // transmission." "Any further provisional responses that are received from the TU
          // while in the "Proceeding" state MUST be passed to the transport layer for
          // transmission."
          if (this.currentState === 'trying') this.transition('proceeding');
          return [{ type: 'send', data, reason: 'response' }];
        }
        // "If the TU passes a final response (status codes 200-699) to the server while in the
        // "Proceeding" state, the transaction MUST enter the "Completed" state, and the
        // response MUST be passed to the transport layer for transmission." (Figure 8 draws the
        // same edge from "Trying".)
        this.transition('completed');
        // Kept for retransmissions only while they can come (unreliable transports).
        this.lastResponse = this.timers.retransmits ? ownCopy(data) : undefined;
        const actions: ServerTransactionAction[] = [{ type: 'send', data, reason: 'response' }];
        // "When the server transaction enters the "Completed" state, it MUST set Timer J to
        // fire in 64*T1 seconds for unreliable transports, and zero seconds for reliable
        // transports." Zero terminates at once.
        if (this.timers.timerJMs === 0) {
          this.transition('terminated');
          actions.push({ type: 'terminated', reason: 'timer-j' });
        } else {
          this.deadlines.set('J', now + this.timers.timerJMs);
        }
        return actions;
      }
      case 'completed':
        // "Any other final responses passed by the TU to the server transaction MUST be
        // discarded while in the "Completed" state."
        return [];
      case 'terminated':
        return [];
    }
  }

  private onTimer(now: number): readonly ServerTransactionAction[] {
    // RFC 3261 §17.2.2: "The server transaction remains in this state until Timer J fires, at
    // which point it MUST transition to the "Terminated" state."
    if (this.currentState === 'completed' && this.deadlines.due('J', now)) {
      this.transition('terminated');
      this.deadlines.clearAll();
      return [{ type: 'terminated', reason: 'timer-j' }];
    }
    return [];
  }

  private onTransportError(): readonly ServerTransactionAction[] {
    // RFC 3261 Figure 8: "Trnsprt Err / Inform TU" from Proceeding and Completed to Terminated
    // (§17.2.4). Trying has sent nothing, so no error can be its own.
    if (this.currentState === 'proceeding' || this.currentState === 'completed') {
      this.transition('terminated');
      this.deadlines.clearAll();
      return [{ type: 'transport-error' }, { type: 'terminated', reason: 'transport-error' }];
    }
    return [];
  }

  private transition(to: NonInviteServerState): void {
    assertTransition(this.machine, this.currentState, to);
    this.currentState = to;
    if (to === 'completed' || to === 'terminated') {
      this.requestValue = shedRequest(this.requestValue);
    }
  }
}

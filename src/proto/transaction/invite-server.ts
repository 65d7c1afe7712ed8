import type { SipRequest } from '../../codec/sip/message.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import type { ServerTransactionAction, ServerTransactionEvent } from './events.ts';
import { ownCopy, shedRequest } from './shed.ts';
import { assertTransition, type InviteServerState } from './states.ts';
import {
  Deadlines,
  resolveTimers,
  type ResolvedTimers,
  type TransactionTimerConfig,
} from './timers.ts';

/** Builds a 100 (Trying) for `invite` (RFC 3261 §8.2.6.1). */
export type TryingBuilder = (invite: SipRequest) => Buffer;

/** How to create a server transaction. */
export interface ServerTransactionOptions {
  /** The request that creates the transaction; also fed as the first `request` event. */
  readonly request: SipRequest;
  /** Whether the transport it arrived on is reliable (TCP, TLS, WS, SCTP). */
  readonly reliable: boolean;
  readonly timers?: Partial<TransactionTimerConfig>;
}

/** Options of the INVITE server transaction. */
export interface InviteServerTransactionOptions extends ServerTransactionOptions {
  /** Builds the automatic 100 (Trying); required when `timers.autoTryingAfterMs` is set. */
  readonly buildTrying?: TryingBuilder;
}

type InviteServerTimer = 'trying' | 'G' | 'H' | 'I' | 'L';

/** Throws on a status the TU cannot send; a TU bug, not network input. */
export function assertResponseStatus(status: number): void {
  if (!Number.isInteger(status) || status < 100 || status > 699) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, `invalid response status ${status}`);
  }
}

/**
 * The INVITE server transaction of RFC 3261 §17.2.1, with the Accepted state of RFC 6026 §7.1
 * (Figure 7 of RFC 6026). Sans-IO: `handle` returns what to do; the driver sends, delivers and
 * runs one timer at `nextTimeoutAt`.
 */
export class InviteServerTransaction {
  /** Which §17 machine this is. */
  readonly machine = 'invite-server' as const;
  /** The INVITE that created the transaction. */
  private requestValue: SipRequest;
  private readonly timers: ResolvedTimers;
  private readonly buildTrying: TryingBuilder | undefined;
  private readonly deadlines = new Deadlines<InviteServerTimer>();
  private currentState: InviteServerState = 'proceeding';
  private started = false;
  private timerGIntervalMs: number;
  private lastProvisional: Buffer | undefined;
  private finalResponse: Buffer | undefined;

  constructor(options: InviteServerTransactionOptions) {
    if (options.request.method !== 'INVITE') {
      throw new RampartError(
        ERROR_CODES.INVALID_ARGUMENT,
        `INVITE server transaction created for ${options.request.method}`,
      );
    }
    this.requestValue = options.request;
    this.timers = resolveTimers(options.reliable, options.timers);
    this.buildTrying = options.buildTrying;
    if (this.timers.autoTryingAfterMs !== undefined && this.buildTrying === undefined) {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'autoTryingAfterMs needs buildTrying');
    }
    this.timerGIntervalMs = this.timers.t1Ms;
  }

  /** The request that created the transaction (only its method once it lingers). */
  get request(): SipRequest {
    return this.requestValue;
  }

  /** The current state. */
  get state(): InviteServerState {
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
        `INVITE server: ${event.type} before request`,
      );
    }
    switch (event.type) {
      case 'request':
        if (!this.started) return this.onCreatingRequest(event.request, now);
        if (event.request.method === 'ACK') return this.onAck(event.request, now);
        if (event.request.method === 'INVITE') return this.onRetransmission();
        return [];
      case 'send-response':
        assertResponseStatus(event.status);
        return this.onTuResponse(event.data, event.status, now);
      case 'timer':
        return this.onTimer(now);
      case 'transport-error':
        return this.onTransportError();
    }
  }

  private onCreatingRequest(request: SipRequest, now: number): readonly ServerTransactionAction[] {
    if (request !== this.request) {
      throw new RampartError(
        ERROR_CODES.INVALID_STATE,
        'INVITE server: first request is not its own',
      );
    }
    this.started = true;
    const actions: ServerTransactionAction[] = [{ type: 'deliver-request', request }];
    // RFC 3261 §17.2.1: "The server transaction MUST generate a 100 (Trying) response unless it
    // knows that the TU will generate a provisional or final response within 200 ms". By
    // default the TU (the proxy core) promises that; `autoTryingAfterMs` makes the transaction
    // send it when the TU has not answered in time.
    const after = this.timers.autoTryingAfterMs;
    if (after === 0) actions.push(this.sendTrying());
    else if (after !== undefined) this.deadlines.set('trying', now + after);
    return actions;
  }

  private sendTrying(): ServerTransactionAction {
    if (this.buildTrying === undefined) {
      throw new RampartError(ERROR_CODES.INVALID_STATE, 'INVITE server: no buildTrying');
    }
    this.deadlines.clear('trying');
    this.lastProvisional = this.buildTrying(this.request);
    return { type: 'send', data: this.lastProvisional, reason: 'trying' };
  }

  private onRetransmission(): readonly ServerTransactionAction[] {
    switch (this.currentState) {
      case 'proceeding':
        // RFC 3261 §17.2.1: "If a request retransmission is received while in the "Proceeding"
        // state, the most recent provisional response that was received from the TU MUST be
        // passed to the transport layer for retransmission."
        return this.lastProvisional === undefined
          ? []
          : [{ type: 'send', data: this.lastProvisional, reason: 'retransmit' }];
      case 'completed':
        // "while in the "Completed" state, if a request retransmission is received, the server
        // SHOULD pass the response to the transport for retransmission."
        return this.finalResponse === undefined
          ? []
          : [{ type: 'send', data: this.finalResponse, reason: 'retransmit' }];
      // RFC 6026 §8.7: "The purpose of the "Accepted" state is to absorb retransmissions of
      // an accepted INVITE request. Any such retransmissions are absorbed entirely within the
      // server transaction."
      case 'accepted':
      case 'confirmed':
      case 'terminated':
        return [];
    }
  }

  private onAck(ack: SipRequest, now: number): readonly ServerTransactionAction[] {
    switch (this.currentState) {
      case 'completed': {
        // RFC 3261 §17.2.1: "If an ACK is received while the server transaction is in the
        // "Completed" state, the server transaction MUST transition to the "Confirmed" state.
        // As Timer G is ignored in this state, any retransmissions of the response will cease."
        this.transition('confirmed');
        this.deadlines.clearAll();
        // "When this state is entered, timer I is set to fire in T4 seconds for unreliable
        // transports, and zero seconds for reliable transports." Zero terminates at once.
        if (this.timers.timerIMs === 0) return this.terminate('timer-i', []);
        this.deadlines.set('I', now + this.timers.timerIMs);
        return [];
      }
      case 'accepted':
        // RFC 6026 §7.1: "Any ACKs received from the network while in the "Accepted" state MUST
        // be passed directly to the TU and not absorbed."
        return [{ type: 'deliver-request', request: ack }];
      // Proceeding: an ACK before any final response acknowledges nothing of this transaction.
      // Confirmed: "The purpose of the "Confirmed" state is to absorb any additional ACK
      // messages that arrive, triggered from retransmissions of the final response."
      case 'proceeding':
      case 'confirmed':
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
      case 'proceeding':
        this.deadlines.clear('trying');
        if (status <= 199) {
          // RFC 3261 §17.2.1: "So long as the server transaction is in the "Proceeding" state,
          // each of these MUST be passed to the transport layer for transmission."
          this.lastProvisional = data;
          return [{ type: 'send', data, reason: 'response' }];
        }
        if (status <= 299) {
          // RFC 6026 §8.5: "If, while in the "Proceeding" state, the TU passes a 2xx response to
          // the server transaction, the server transaction MUST pass this response to the
          // transport layer for transmission. It is not retransmitted by the server
          // transaction; retransmissions of 2xx responses are handled by the TU. The server
          // transaction MUST then transition to the "Accepted" state."
          this.transition('accepted');
          this.deadlines.clearAll();
          // RFC 6026 §8.7: "When the INVITE server transaction enters the "Accepted" state,
          // Timer L MUST be set to fire in 64*T1 for all transports."
          this.deadlines.set('L', now + this.timers.transactionTimeoutMs);
          return [{ type: 'send', data, reason: 'response' }];
        }
        // RFC 3261 §17.2.1: "if the TU passes a response with status code from 300 to 699 to
        // the server transaction, the response MUST be passed to the transport layer for
        // transmission, and the state machine MUST enter the "Completed" state. For unreliable
        // transports, timer G is set to fire in T1 seconds, and is not set to fire for reliable
        // transports." ... "When the "Completed" state is entered, timer H MUST be set to fire
        // in 64*T1 seconds for all transports."
        this.transition('completed');
        this.deadlines.clearAll();
        this.finalResponse = this.timers.retransmits ? ownCopy(data) : data;
        if (this.timers.retransmits) this.deadlines.set('G', now + this.timerGIntervalMs);
        this.deadlines.set('H', now + this.timers.transactionTimeoutMs);
        return [{ type: 'send', data, reason: 'response' }];
      case 'accepted':
        // RFC 6026 §7.1: "The server transaction MUST NOT generate 2xx retransmissions on its
        // own. Any retransmission of the 2xx response passed from the TU to the transaction
        // while in the "Accepted" state MUST be passed to the transport layer for
        // transmission." Other responses after a 2xx are a TU error and are dropped.
        return status >= 200 && status <= 299 ? [{ type: 'send', data, reason: 'response' }] : [];
      case 'completed':
      case 'confirmed':
      case 'terminated':
        // A final response was already sent; later responses are discarded.
        return [];
    }
  }

  private onTimer(now: number): readonly ServerTransactionAction[] {
    switch (this.currentState) {
      case 'proceeding':
        return this.deadlines.due('trying', now) ? [this.sendTrying()] : [];
      case 'completed':
        if (this.deadlines.due('H', now)) {
          // RFC 3261 §17.2.1: "If timer H fires while in the "Completed" state, it implies that
          // the ACK was never received. In this case, the server transaction MUST transition
          // to the "Terminated" state, and MUST indicate to the TU that a transaction failure
          // has occurred."
          return this.terminate('timer-h', [{ type: 'timeout', reason: 'timer-h' }]);
        }
        if (this.deadlines.due('G', now) && this.finalResponse !== undefined) {
          // "If timer G fires, the response is passed to the transport layer once more for
          // retransmission, and timer G is set to fire in MIN(2*T1, T2) seconds. From then on,
          // when timer G fires, the response is passed to the transport again for
          // transmission, and timer G is reset with a value that doubles, unless that value
          // exceeds T2, in which case it is reset with the value of T2."
          this.timerGIntervalMs = Math.min(2 * this.timerGIntervalMs, this.timers.t2Ms);
          this.deadlines.set('G', now + this.timerGIntervalMs);
          return [{ type: 'send', data: this.finalResponse, reason: 'retransmit' }];
        }
        return [];
      case 'confirmed':
        // "Once timer I fires, the server MUST transition to the "Terminated" state."
        return this.deadlines.due('I', now) ? this.terminate('timer-i', []) : [];
      case 'accepted':
        // RFC 6026 §8.7: "If Timer L fires while the INVITE server transaction is in the
        // "Accepted" state, the transaction MUST transition to the "Terminated" state."
        return this.deadlines.due('L', now) ? this.terminate('timer-l', []) : [];
      case 'terminated':
        return [];
    }
  }

  private onTransportError(): readonly ServerTransactionAction[] {
    switch (this.currentState) {
      case 'proceeding':
      case 'completed':
      case 'accepted':
        // RFC 6026 Figure 7 (replacing RFC 3261 Figure 7): "Transport Err. / Inform TU" is a
        // self-loop on Proceeding, Completed and Accepted. The transaction stays so that
        // retransmitted INVITEs still match it; Timers H and L still end it.
        return [{ type: 'transport-error' }];
      case 'confirmed':
      case 'terminated':
        return [];
    }
  }

  private terminate(
    reason: 'timer-h' | 'timer-i' | 'timer-l',
    before: ServerTransactionAction[],
  ): readonly ServerTransactionAction[] {
    this.transition('terminated');
    this.deadlines.clearAll();
    before.push({ type: 'terminated', reason });
    return before;
  }

  private transition(to: InviteServerState): void {
    assertTransition(this.machine, this.currentState, to);
    this.currentState = to;
    if (to === 'accepted' || to === 'completed' || to === 'confirmed' || to === 'terminated') {
      this.requestValue = shedRequest(this.requestValue);
      // Provisional responses are retransmitted only while Proceeding.
      this.lastProvisional = undefined;
    }
  }
}

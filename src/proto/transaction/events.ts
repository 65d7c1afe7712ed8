import type { SipRequest, SipResponse } from '../../codec/sip/message.ts';

/** An input to a client transaction (RFC 3261 §17.1). */
export type ClientTransactionEvent =
  /** The TU hands the request over: send it and start the timers. */
  | { readonly type: 'start' }
  /** A response the transport matched to this transaction (§17.1.3). */
  | { readonly type: 'response'; readonly response: SipResponse }
  /** The driver's timer: call when `now >= nextTimeoutAt`; early calls do nothing. */
  | { readonly type: 'timer' }
  /** The transport failed to send a message of this transaction (§17.1.4). */
  | { readonly type: 'transport-error' };

/** Why a client transaction reached Terminated. */
export type ClientTerminationReason =
  'timer-b' | 'timer-d' | 'timer-f' | 'timer-k' | 'timer-m' | 'transport-error';

/** An output of a client transaction; the driver's `switch (action.type)` is exhaustive. */
export type ClientTransactionAction =
  | {
      readonly type: 'send';
      readonly data: Buffer;
      /** 'ack' is the ACK the transaction itself generates for a 300-699 (§17.1.1.3). */
      readonly reason: 'initial' | 'retransmit' | 'ack';
    }
  | { readonly type: 'deliver-response'; readonly response: SipResponse }
  | { readonly type: 'timeout'; readonly reason: 'timer-b' | 'timer-f' }
  | { readonly type: 'transport-error' }
  | { readonly type: 'terminated'; readonly reason: ClientTerminationReason };

/** An input to a server transaction (RFC 3261 §17.2). */
export type ServerTransactionEvent =
  /**
   * A request the transport matched to this transaction (§17.2.3): the first one is the request
   * that created it; later ones are retransmissions, or for INVITE the ACK.
   */
  | { readonly type: 'request'; readonly request: SipRequest }
  /** The TU sends a response: its bytes and status code. */
  | { readonly type: 'send-response'; readonly data: Buffer; readonly status: number }
  /** The driver's timer: call when `now >= nextTimeoutAt`; early calls do nothing. */
  | { readonly type: 'timer' }
  /** The transport failed to send a response of this transaction (§17.2.4). */
  | { readonly type: 'transport-error' };

/** Why a server transaction reached Terminated. */
export type ServerTerminationReason =
  'timer-h' | 'timer-i' | 'timer-j' | 'timer-l' | 'transport-error';

/** An output of a server transaction; the driver's `switch (action.type)` is exhaustive. */
export type ServerTransactionAction =
  | {
      readonly type: 'send';
      readonly data: Buffer;
      /** 'response' from the TU, 'retransmit' by the transaction, 'trying' its own 100. */
      readonly reason: 'response' | 'retransmit' | 'trying';
    }
  /** A request for the TU: the creating request, or an ACK that reached an Accepted INVITE. */
  | { readonly type: 'deliver-request'; readonly request: SipRequest }
  | { readonly type: 'timeout'; readonly reason: 'timer-h' }
  | { readonly type: 'transport-error' }
  | { readonly type: 'terminated'; readonly reason: ServerTerminationReason };

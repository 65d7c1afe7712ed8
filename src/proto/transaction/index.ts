/**
 * SIP transactions (RFC 3261 §17, RFC 6026): four sans-IO state machines, their matching
 * keys, and a table with one timer for all of them.
 */
export type {
  ClientTerminationReason,
  ClientTransactionAction,
  ClientTransactionEvent,
  ServerTerminationReason,
  ServerTransactionAction,
  ServerTransactionEvent,
} from './events.ts';
export {
  InviteClientTransaction,
  type AckBuilder,
  type ClientTransactionOptions,
  type InviteClientTransactionOptions,
} from './invite-client.ts';
export { NonInviteClientTransaction } from './non-invite-client.ts';
export {
  InviteServerTransaction,
  assertResponseStatus,
  type InviteServerTransactionOptions,
  type ServerTransactionOptions,
  type TryingBuilder,
} from './invite-server.ts';
export { NonInviteServerTransaction } from './non-invite-server.ts';
export { shedRequest } from './shed.ts';
export {
  cancelTargetKey,
  clientTransactionKey,
  clientTransactionKeyFor,
  clientTransactionKeyForRequest,
  serverTransactionKey,
  type TransactionKeyError,
} from './keys.ts';
export {
  assertTransition,
  TRANSACTION_TRANSITIONS,
  type InviteClientState,
  type InviteServerState,
  type NonInviteClientState,
  type NonInviteServerState,
  type StateOf,
  type TransactionMachine,
} from './states.ts';
export { TransactionTable, type TimedTransaction } from './table.ts';
export {
  DEFAULT_TIMER_CONFIG,
  resolveTimers,
  type ResolvedTimers,
  type TransactionTimerConfig,
} from './timers.ts';

import type { InviteClientTransaction } from './invite-client.ts';
import type { InviteServerTransaction } from './invite-server.ts';
import type { NonInviteClientTransaction } from './non-invite-client.ts';
import type { NonInviteServerTransaction } from './non-invite-server.ts';

/** Either client machine; narrow on `machine`. */
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;
/** Either server machine; narrow on `machine`. */
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

import { ERROR_CODES, RampartError } from '../../lib/errors.ts';

/** INVITE client transaction states (RFC 3261 Figure 5 as updated by RFC 6026 Figure 5). */
export type InviteClientState = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';
/** Non-INVITE client transaction states (RFC 3261 Figure 6). */
export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';
/** INVITE server transaction states (RFC 3261 Figure 7 as updated by RFC 6026 Figure 7). */
export type InviteServerState =
  'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';
/** Non-INVITE server transaction states (RFC 3261 Figure 8). */
export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/**
 * Every state change the figures draw, per machine. Self-loops (retransmissions, absorbed
 * messages) are not state changes and are not listed.
 */
export const TRANSACTION_TRANSITIONS = {
  'invite-client': {
    calling: ['proceeding', 'completed', 'accepted', 'terminated'],
    proceeding: ['completed', 'accepted'],
    completed: ['terminated'],
    accepted: ['terminated'],
    terminated: [],
  } satisfies Record<InviteClientState, readonly InviteClientState[]>,
  'non-invite-client': {
    trying: ['proceeding', 'completed', 'terminated'],
    proceeding: ['completed', 'terminated'],
    completed: ['terminated'],
    terminated: [],
  } satisfies Record<NonInviteClientState, readonly NonInviteClientState[]>,
  'invite-server': {
    proceeding: ['completed', 'accepted'],
    completed: ['confirmed', 'terminated'],
    confirmed: ['terminated'],
    accepted: ['terminated'],
    terminated: [],
  } satisfies Record<InviteServerState, readonly InviteServerState[]>,
  'non-invite-server': {
    trying: ['proceeding', 'completed'],
    proceeding: ['completed', 'terminated'],
    completed: ['terminated'],
    terminated: [],
  } satisfies Record<NonInviteServerState, readonly NonInviteServerState[]>,
} as const;

/** Which of the four §17 machines. */
export type TransactionMachine = keyof typeof TRANSACTION_TRANSITIONS;

/** The state union of `M`. */
export type StateOf<M extends TransactionMachine> = keyof (typeof TRANSACTION_TRANSITIONS)[M];

/**
 * The one guard every state change goes through: throws RAMPART_ERR_INVALID_STATE when the
 * RFC 3261 §17 / RFC 6026 figures draw no edge from `from` to `to`. A throw here is a bug in
 * the machine, never a reaction to network input.
 */
export function assertTransition<M extends TransactionMachine>(
  machine: M,
  from: StateOf<M>,
  to: StateOf<M>,
): void {
  const table: Readonly<Record<string, readonly string[]>> = TRANSACTION_TRANSITIONS[machine];
  const allowed = table[from as string];
  if (allowed?.includes(to as string) !== true) {
    throw new RampartError(
      ERROR_CODES.INVALID_STATE,
      `${machine} transaction: no transition ${String(from)} -> ${String(to)}`,
    );
  }
}

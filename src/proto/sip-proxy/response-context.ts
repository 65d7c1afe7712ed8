/**
 * The response context of a stateful proxy (RFC 3261 §16.7, §16.10): one per server
 * transaction, it collects the responses of every branch (client transaction) and decides
 * what goes back upstream and which branches to cancel. Sans-IO.
 */
import type { SipResponse } from '../../codec/sip/message.ts';
import { headerFields } from '../../codec/sip/parse.ts';

/** RFC 3261 §16.6 item 11: Timer C MUST be set for each INVITE branch, greater than 3 minutes. */
export const TIMER_C_MS = 181_000;

/** Events of a {@link ResponseContext}. */
export type ResponseContextEvent =
  | { readonly type: 'branch-created'; readonly branchId: string }
  | { readonly type: 'response'; readonly branchId: string; readonly response: SipResponse }
  /** The branch's client transaction timed out (Timer B/F): an implicit 408 (§16.7 step 1). */
  | { readonly type: 'branch-timeout'; readonly branchId: string }
  /** The branch could not be sent or its transport failed: an implicit 503 (§16.7 step 1, §16.9). */
  | { readonly type: 'branch-transport-error'; readonly branchId: string }
  /** A CANCEL matched the server transaction (§16.10). */
  | { readonly type: 'cancel' }
  | { readonly type: 'timer' };

/** Actions of a {@link ResponseContext}; the driver's switch over `type` is exhaustive. */
export type ResponseContextAction =
  /** Send this response upstream, after removing our top Via and adding `extraHeaders`. */
  | {
      readonly type: 'forward-response';
      readonly response: SipResponse;
      /** Overrides the status line (503 → 500, §16.7 step 6). */
      readonly status?: number;
      readonly extraHeaders: readonly (readonly [string, string])[];
    }
  /** Send a locally generated final response upstream (no branch answered). */
  | { readonly type: 'send-response'; readonly status: number; readonly reason: string }
  /** Cancel this branch (§9.1: the driver sends CANCEL through a new client transaction). */
  | {
      readonly type: 'cancel-branch';
      readonly branchId: string;
      readonly reason: 'cancelled' | 'timer-c' | 'final-elsewhere';
    }
  /** The final response has gone upstream and every branch is final. */
  | { readonly type: 'finished' };

type BranchState = 'calling' | 'proceeding' | 'completed';

interface Branch {
  state: BranchState;
  cancelRequested: boolean;
  cancelSent: boolean;
  timerCAt: number | undefined;
}

type ContextState = 'collecting' | 'final-sent' | 'finished';

const CONTEXT_TRANSITIONS: Readonly<Record<ContextState, readonly ContextState[]>> = {
  collecting: ['final-sent', 'finished'],
  'final-sent': ['finished'],
  finished: [],
};

/** A best response kept while branches finish: a real response or an implicit status. */
type Candidate = { readonly status: number; readonly response: SipResponse | undefined };

/**
 * Response context for one forwarded request. For INVITE, 2xx responses from every branch
 * are forwarded (forking, §16.7 step 5), a 2xx or 6xx cancels the other branches (§16.7
 * step 10), and otherwise the best final response goes up once all branches are final.
 */
export class ResponseContext {
  readonly isInvite: boolean;
  private readonly branches = new Map<string, Branch>();
  private best: Candidate | undefined;
  private readonly challenges: Array<readonly [string, string]> = [];
  private stateValue: ContextState = 'collecting';
  private readonly timerCMs: number;

  constructor(options: { readonly isInvite: boolean; readonly timerCMs?: number }) {
    this.isInvite = options.isInvite;
    this.timerCMs = options.timerCMs ?? TIMER_C_MS;
  }

  /** 'collecting' until a final response went up, then 'final-sent', then 'finished'. */
  get state(): ContextState {
    return this.stateValue;
  }

  /** The earliest Timer C deadline, or undefined. */
  get nextTimeoutAt(): number | undefined {
    let next: number | undefined;
    for (const branch of this.branches.values()) {
      if (branch.timerCAt !== undefined && (next === undefined || branch.timerCAt < next))
        next = branch.timerCAt;
    }
    return next;
  }

  private transition(to: ContextState): void {
    if (!CONTEXT_TRANSITIONS[this.stateValue].includes(to)) {
      throw new Error(`response context: illegal transition ${this.stateValue} → ${to}`);
    }
    this.stateValue = to;
  }

  /** Feeds one event; returns what to do. */
  handle(event: ResponseContextEvent, now: number): readonly ResponseContextAction[] {
    const actions: ResponseContextAction[] = [];
    switch (event.type) {
      case 'branch-created':
        this.branches.set(event.branchId, {
          state: 'calling',
          cancelRequested: false,
          cancelSent: false,
          timerCAt: this.isInvite ? now + this.timerCMs : undefined,
        });
        break;
      case 'response':
        this.onResponse(event.branchId, event.response.status, event.response, now, actions);
        break;
      case 'branch-timeout':
        this.onResponse(event.branchId, 408, undefined, now, actions);
        break;
      case 'branch-transport-error':
        this.onResponse(event.branchId, 503, undefined, now, actions);
        break;
      case 'cancel':
        // §16.10: "the proxy MUST cancel any pending client transactions associated with a
        // response context when it receives a matching CANCEL request."
        for (const [branchId, branch] of this.branches)
          this.requestCancel(branchId, branch, 'cancelled', actions);
        break;
      case 'timer':
        for (const [branchId, branch] of this.branches) {
          if (branch.timerCAt === undefined || branch.timerCAt > now) continue;
          branch.timerCAt = undefined;
          // §16.8: Timer C fired. With a provisional response, the branch is CANCELled;
          // without, it behaves as if the client transaction got a 408.
          if (branch.state === 'proceeding')
            this.requestCancel(branchId, branch, 'timer-c', actions);
          else if (branch.state === 'calling')
            this.onResponse(branchId, 408, undefined, now, actions);
        }
        break;
    }
    return actions;
  }

  private requestCancel(
    branchId: string,
    branch: Branch,
    reason: 'cancelled' | 'timer-c' | 'final-elsewhere',
    actions: ResponseContextAction[],
  ): void {
    if (!this.isInvite || branch.state === 'completed' || branch.cancelSent) return;
    branch.cancelRequested = true;
    // §9.1: a CANCEL MUST NOT be sent before a provisional response was received.
    if (branch.state === 'proceeding') {
      branch.cancelSent = true;
      actions.push({ type: 'cancel-branch', branchId, reason });
    }
  }

  private onResponse(
    branchId: string,
    status: number,
    response: SipResponse | undefined,
    now: number,
    actions: ResponseContextAction[],
  ): void {
    const branch = this.branches.get(branchId);
    if (branch === undefined || branch.state === 'completed') {
      // A 2xx retransmission for an INVITE branch that already completed still goes up
      // (§16.7 step 5: 2xx responses are forwarded regardless).
      if (
        branch !== undefined &&
        response !== undefined &&
        this.isInvite &&
        status >= 200 &&
        status < 300
      ) {
        actions.push({ type: 'forward-response', response, extraHeaders: [] });
      }
      return;
    }
    if (status < 200) {
      if (branch.state === 'calling') branch.state = 'proceeding';
      // §16.8: Timer C is reset by a provisional response.
      if (branch.timerCAt !== undefined) branch.timerCAt = now + this.timerCMs;
      if (branch.cancelRequested && !branch.cancelSent) {
        branch.cancelSent = true;
        actions.push({ type: 'cancel-branch', branchId, reason: 'cancelled' });
      }
      // §16.7 step 5: provisional responses other than 100 are forwarded immediately.
      if (status > 100 && response !== undefined && this.stateValue === 'collecting') {
        actions.push({ type: 'forward-response', response, extraHeaders: [] });
      }
      return;
    }
    branch.state = 'completed';
    branch.timerCAt = undefined;
    if (status >= 200 && status < 300) {
      // §16.7 step 5: any 2xx is forwarded immediately (every 2xx for INVITE).
      if (response !== undefined)
        actions.push({ type: 'forward-response', response, extraHeaders: [] });
      if (this.stateValue === 'collecting') this.transition('final-sent');
      // §16.7 step 10: after a 2xx to an INVITE, cancel all other pending branches.
      for (const [otherId, other] of this.branches) {
        if (otherId !== branchId) this.requestCancel(otherId, other, 'final-elsewhere', actions);
      }
    } else {
      this.keepBest(status, response);
      if (status >= 600 && this.isInvite) {
        // §16.7 step 10: a 6xx cancels all other pending branches.
        for (const [otherId, other] of this.branches) {
          if (otherId !== branchId) this.requestCancel(otherId, other, 'final-elsewhere', actions);
        }
      }
    }
    this.maybeFinish(actions);
  }

  private keepBest(status: number, response: SipResponse | undefined): void {
    if (response !== undefined && (status === 401 || status === 407)) {
      // §16.7 step 7: collect every WWW-Authenticate and Proxy-Authenticate of the branches.
      for (const name of ['www-authenticate', 'proxy-authenticate'] as const) {
        for (const field of headerFields(response, name)) {
          this.challenges.push([
            name === 'www-authenticate' ? 'WWW-Authenticate' : 'Proxy-Authenticate',
            field.value,
          ]);
        }
      }
    }
    if (this.best === undefined || rank(status) < rank(this.best.status))
      this.best = { status, response };
  }

  /** Drops the responses kept for choosing the best one, once the context is finished. */
  release(): void {
    if (this.stateValue !== 'finished') return;
    this.best = undefined;
    this.challenges.length = 0;
  }

  private maybeFinish(actions: ResponseContextAction[]): void {
    for (const branch of this.branches.values()) if (branch.state !== 'completed') return;
    if (this.stateValue === 'collecting') {
      const best = this.best ?? { status: 408, response: undefined };
      if (best.response === undefined) {
        actions.push({
          type: 'send-response',
          status: best.status === 503 ? 500 : best.status,
          reason: best.status === 408 ? 'Request Timeout' : 'Server Internal Error',
        });
      } else {
        const own = new Set(
          headerFields(best.response, 'www-authenticate')
            .concat(headerFields(best.response, 'proxy-authenticate'))
            .map((f) => f.value),
        );
        const extraHeaders = this.challenges.filter(([, value]) => !own.has(value));
        actions.push({
          type: 'forward-response',
          response: best.response,
          // §16.7 step 6: "If the selected response is a 503, the proxy MUST generate a 500".
          ...(best.status === 503 ? { status: 500 } : {}),
          extraHeaders,
        });
      }
      this.transition('finished');
    } else if (this.stateValue === 'final-sent') {
      this.transition('finished');
    }
    actions.push({ type: 'finished' });
  }
}

/**
 * §16.7 step 6: choose the lowest response class; a 6xx is preferred over all others; within
 * 4xx, the statuses that inform a resubmission (401, 407, 415, 420, 484) are preferred.
 */
function rank(status: number): number {
  if (status >= 600) return 0;
  const cls = Math.floor(status / 100);
  const preferred = [401, 407, 415, 420, 484].includes(status) ? 0 : 1;
  return cls * 10 + preferred;
}

import { ERROR_CODES, RampartError } from '../../lib/errors.ts';

/**
 * Transaction timer base values (RFC 3261 §17.1.1.1, §17.1.2.2, Appendix A Table 4).
 * Every other timer is derived from these.
 */
export interface TransactionTimerConfig {
  /** T1, the RTT estimate; RFC 3261 §17.1.1.1 recommends 500 ms. */
  readonly t1Ms: number;
  /** T2, the maximum retransmit interval for non-INVITE requests and INVITE responses (4 s). */
  readonly t2Ms: number;
  /** T4, the maximum duration a message remains in the network (5 s). */
  readonly t4Ms: number;
  /** Timer D on unreliable transports; RFC 3261 §17.1.1.2: "at least 32 seconds". */
  readonly timerDUnreliableMs: number;
  /**
   * How long an INVITE server transaction waits for the TU's first response before it sends
   * 100 (Trying) itself (RFC 3261 §17.2.1: "within 200 ms"); `undefined` leaves the 100 to the TU.
   */
  readonly autoTryingAfterMs: number | undefined;
}

/** RFC 3261 Appendix A defaults; automatic 100 (Trying) is off (the proxy core sends it). */
export const DEFAULT_TIMER_CONFIG: TransactionTimerConfig = Object.freeze({
  t1Ms: 500,
  t2Ms: 4000,
  t4Ms: 5000,
  timerDUnreliableMs: 32_000,
  autoTryingAfterMs: undefined,
});

/** Timer values a transaction uses, already resolved for its transport's reliability. */
export interface ResolvedTimers {
  readonly t1Ms: number;
  readonly t2Ms: number;
  /** 64*T1: Timers B, F, H, L, M (and J on unreliable transports). */
  readonly transactionTimeoutMs: number;
  /** Timer D: 32 s unreliable, 0 reliable (RFC 3261 §17.1.1.2). */
  readonly timerDMs: number;
  /** Timer I: T4 unreliable, 0 reliable (RFC 3261 §17.2.1). */
  readonly timerIMs: number;
  /** Timer J: 64*T1 unreliable, 0 reliable (RFC 3261 §17.2.2). */
  readonly timerJMs: number;
  /** Timer K: T4 unreliable, 0 reliable (RFC 3261 §17.1.2.2). */
  readonly timerKMs: number;
  /** Whether requests and responses are retransmitted (Timers A, E, G): unreliable only. */
  readonly retransmits: boolean;
  readonly autoTryingAfterMs: number | undefined;
}

function checkMs(name: string, value: number, allowZero: boolean): void {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, `${name} must be a positive number of ms`);
  }
}

/**
 * Merges `overrides` over the defaults and derives every timer for a transport.
 * Throws RAMPART_ERR_INVALID_ARGUMENT on a non-positive value or T2 < T1 (a configuration bug).
 */
export function resolveTimers(
  reliable: boolean,
  overrides: Partial<TransactionTimerConfig> = {},
): ResolvedTimers {
  const config: TransactionTimerConfig = { ...DEFAULT_TIMER_CONFIG, ...overrides };
  checkMs('t1Ms', config.t1Ms, false);
  checkMs('t2Ms', config.t2Ms, false);
  checkMs('t4Ms', config.t4Ms, true);
  checkMs('timerDUnreliableMs', config.timerDUnreliableMs, true);
  if (config.autoTryingAfterMs !== undefined) {
    checkMs('autoTryingAfterMs', config.autoTryingAfterMs, true);
  }
  if (config.t2Ms < config.t1Ms) {
    throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 't2Ms must not be less than t1Ms');
  }
  const transactionTimeoutMs = 64 * config.t1Ms;
  return {
    t1Ms: config.t1Ms,
    t2Ms: config.t2Ms,
    transactionTimeoutMs,
    timerDMs: reliable ? 0 : config.timerDUnreliableMs,
    timerIMs: reliable ? 0 : config.t4Ms,
    timerJMs: reliable ? 0 : transactionTimeoutMs,
    timerKMs: reliable ? 0 : config.t4Ms,
    retransmits: !reliable,
    autoTryingAfterMs: config.autoTryingAfterMs,
  };
}

/**
 * The armed deadlines of one machine, by timer name. A handful of entries, so the minimum is a
 * scan. Deadlines are absolute times on the injected clock. Kept in a plain object (its
 * in-object slots hold the few timers a machine has): a transaction lingers up to 32 s, so
 * at thousands of calls per second this is per-transaction memory the collector keeps
 * walking, and a Map costs four times as much.
 */
export class Deadlines<Name extends string> {
  private armed: Partial<Record<Name, number>> = {};

  /** Arms (or re-arms) `name` to fire at `at`. */
  set(name: Name, at: number): void {
    this.armed[name] = at;
  }

  /** Disarms `name`. */
  clear(name: Name): void {
    // Assigning undefined, not `delete`, keeps the object's fast shape.
    this.armed[name] = undefined;
  }

  /** Disarms everything. */
  clearAll(): void {
    this.armed = {};
  }

  /** Whether `name` is armed and its deadline has passed at `now`. */
  due(name: Name, now: number): boolean {
    const at = this.armed[name];
    return at !== undefined && at <= now;
  }

  /** Whether `name` is armed. */
  has(name: Name): boolean {
    return this.armed[name] !== undefined;
  }

  /** The earliest armed deadline, or undefined when nothing is armed. */
  get next(): number | undefined {
    let earliest: number | undefined;
    for (const name in this.armed) {
      const at = this.armed[name];
      if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
    }
    return earliest;
  }
}

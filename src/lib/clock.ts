/** A source of time in milliseconds; injected into every state machine so tests drive it. */
export interface Clock {
  now(): number;
}

/** The real monotonic clock. */
export const systemClock: Clock = { now: () => performance.now() };

/** A clock that moves only when told to; for tests. */
export class FakeClock implements Clock {
  private current: number;

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** Moves time forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.current += ms;
  }
}

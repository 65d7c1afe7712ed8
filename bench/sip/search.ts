/** Outcome of one load step at a fixed call rate. */
export interface StepResult {
  readonly rate: number;
  readonly passed: boolean;
  /** Why the step failed (failed calls, retransmissions, generator lag), or 'ok'. */
  readonly verdict: string;
}

/** Bounds of {@link findMaxRate}. */
export interface RateSearchOptions {
  readonly startRate: number;
  readonly minRate: number;
  readonly maxRate: number;
  /** Stop bisecting once (high - low) <= low * precision. */
  readonly precision: number;
  /** Wall-clock budget in ms; the search returns its best pass so far when it runs out. */
  readonly budgetMs: number;
  /** Round rates to multiples of this. */
  readonly granularity: number;
  readonly now?: () => number;
}

/** Result of a search: the highest passing rate (0 if none) and every step run. */
export interface RateSearchResult {
  readonly maxRate: number;
  /** Lowest failing rate seen (upper bound), or undefined if none failed. */
  readonly firstFailingRate: number | undefined;
  readonly steps: readonly StepResult[];
  readonly budgetExhausted: boolean;
}

/**
 * Highest rate at which `runStep` passes: double from `startRate` until a step fails (or
 * halve until one passes), then bisect between the best pass and the lowest failure.
 */
export async function findMaxRate(
  runStep: (rate: number) => Promise<StepResult>,
  options: RateSearchOptions,
): Promise<RateSearchResult> {
  const now = options.now ?? Date.now;
  const deadline = now() + options.budgetMs;
  const steps: StepResult[] = [];
  const round = (rate: number): number =>
    Math.max(options.granularity, Math.round(rate / options.granularity) * options.granularity);
  let low = 0;
  let high: number | undefined;
  const step = async (rate: number): Promise<boolean> => {
    const result = await runStep(rate);
    steps.push(result);
    if (result.passed) low = Math.max(low, rate);
    else high = high === undefined ? rate : Math.min(high, rate);
    return result.passed;
  };
  const outOfTime = (): boolean => now() >= deadline;

  let rate = round(options.startRate);
  if (await step(rate)) {
    while (high === undefined && rate < options.maxRate && !outOfTime()) {
      rate = Math.min(options.maxRate, round(rate * 2));
      await step(rate);
    }
  } else {
    while (low === 0 && rate > options.minRate && !outOfTime()) {
      rate = Math.max(options.minRate, round(rate / 2));
      await step(rate);
    }
  }
  while (
    low > 0 &&
    high !== undefined &&
    high - low > Math.max(options.granularity, low * options.precision) &&
    !outOfTime()
  ) {
    const middle = round((low + high) / 2);
    if (middle <= low || middle >= high) break;
    await step(middle);
  }
  return { maxRate: low, firstFailingRate: high, steps, budgetExhausted: outOfTime() };
}

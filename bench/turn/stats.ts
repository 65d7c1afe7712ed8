/**
 * Pure statistics of the TURN benchmark: medians and percentiles, RFC 3550 interarrival
 * jitter, loss. No I/O, no clock: the load generator feeds them numbers.
 */

/** The median of `values` (mean of the two middle values for an even count); NaN if empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  if (sorted.length % 2 === 1) return sorted[middle] as number;
  return ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * The `fraction` quantile (0..1) of the first `count` values of `values` by the nearest-rank
 * method; NaN if `count` is 0. Sorts that prefix of `values` in place.
 */
export function quantileInPlace(values: Float64Array, count: number, fraction: number): number {
  if (count === 0) return Number.NaN;
  const view = values.subarray(0, count).sort();
  const rank = Math.min(count, Math.max(1, Math.ceil(fraction * count)));
  return view[rank - 1] as number;
}

/** The arithmetic mean of `values`; NaN if empty. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/**
 * Interarrival jitter of one stream, RFC 3550 §6.4.1: "the mean deviation (smoothed absolute
 * value) of the difference D in packet spacing at the receiver compared to the sender for a
 * pair of packets", updated per packet as J(i) = J(i-1) + (|D(i-1,i)| - J(i-1))/16, where
 * D(i,j) = (Rj - Ri) - (Sj - Si) = transit(j) - transit(i). Feed packets in arrival order.
 * Units are whatever the caller's times are in (milliseconds here).
 */
export class JitterEstimator {
  #jitter = 0;
  #previousTransit: number | undefined;

  /** Records a packet sent at `sentAt` and received at `receivedAt` (same clock or offset). */
  add(sentAt: number, receivedAt: number): void {
    const transit = receivedAt - sentAt;
    if (this.#previousTransit !== undefined) {
      const difference = Math.abs(transit - this.#previousTransit);
      this.#jitter += (difference - this.#jitter) / 16;
    }
    this.#previousTransit = transit;
  }

  /** The current estimate; 0 before two packets have arrived. */
  get jitter(): number {
    return this.#jitter;
  }
}

/** Loss as a fraction of what was sent: (sent - received) / sent, 0 when nothing was sent. */
export function lossFraction(sent: number, received: number): number {
  if (sent <= 0) return 0;
  return Math.max(0, sent - received) / sent;
}

/** Per-allocation counters of a paced stream, as the load generator keeps them. */
export interface StreamCounters {
  readonly sent: number;
  /** Distinct sequence numbers received (duplicates excluded). */
  readonly received: number;
  readonly jitterMs: number;
}

/** What {@link summarizeStreams} reports over every allocation. */
export interface StreamSummary {
  readonly sent: number;
  readonly received: number;
  readonly lossFraction: number;
  /** Mean over streams of each stream's final RFC 3550 jitter. */
  readonly jitterMeanMs: number;
  readonly jitterMaxMs: number;
  /** Streams that lost at least one packet. */
  readonly streamsWithLoss: number;
}

/** Totals, loss and jitter across streams. */
export function summarizeStreams(streams: readonly StreamCounters[]): StreamSummary {
  let sent = 0;
  let received = 0;
  let jitterSum = 0;
  let jitterMax = 0;
  let streamsWithLoss = 0;
  for (const stream of streams) {
    sent += stream.sent;
    received += stream.received;
    jitterSum += stream.jitterMs;
    jitterMax = Math.max(jitterMax, stream.jitterMs);
    if (stream.received < stream.sent) streamsWithLoss++;
  }
  return {
    sent,
    received,
    lossFraction: lossFraction(sent, received),
    jitterMeanMs: streams.length === 0 ? Number.NaN : jitterSum / streams.length,
    jitterMaxMs: jitterMax,
    streamsWithLoss,
  };
}

/**
 * Least-squares slope of `values` against their index (units per step); 0 for fewer than two
 * values. Used for memory growth per churn cycle.
 */
export function slopePerStep(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const meanX = (n - 1) / 2;
  const meanY = mean(values);
  let numerator = 0;
  let denominator = 0;
  values.forEach((y, x) => {
    numerator += (x - meanX) * (y - meanY);
    denominator += (x - meanX) ** 2;
  });
  return numerator / denominator;
}

/** candidate / baseline, or null when either is not a finite number or the baseline is 0. */
export function ratio(candidate: number | null, baseline: number | null): number | null {
  if (candidate === null || baseline === null) return null;
  if (!Number.isFinite(candidate) || !Number.isFinite(baseline) || baseline === 0) return null;
  return candidate / baseline;
}

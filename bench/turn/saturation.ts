/**
 * Saturation: the highest total ChannelData rate whose round trips come back with at most
 * `maxLoss` loss, found by doubling then bisecting (bench/sip/search.ts) over steps of
 * paced media on the same allocations, and who ran out first at the lowest failing step.
 */
import { findMaxRate, type StepResult } from '../sip/search.ts';
import type { MediaEngine, MediaRunResult } from './media.ts';
import type { Observer, WindowReport } from './observe.ts';

/** Options of {@link runSaturation}. */
export interface SaturationOptions {
  readonly engine: MediaEngine;
  /** Streams (allocations) the engine drives. */
  readonly streams: number;
  readonly observer: Observer;
  readonly stepSeconds: number;
  /** Largest loss fraction a passing step may have (0.01). */
  readonly maxLoss: number;
  readonly startRate: number;
  readonly maxRate: number;
  readonly budgetMs: number;
  readonly log: (message: string) => void;
}

/** One step: the search's verdict, what the generator measured and what /proc showed. */
export interface SaturationStep extends StepResult {
  readonly media: MediaRunResult;
  readonly window: WindowReport;
}

/**
 * Who ran out first at a failing step: the kernel's per-socket drop counters say whose
 * receive buffer overflowed; a server core ≥ 90 % busy says the server ran out of CPU.
 */
export function bottleneck(step: SaturationStep): string {
  if (step.verdict.includes('offered only')) return 'generator (rate not offered)';
  const serverCpu = (step.window.serverCoreBusy ?? 0) >= 0.9;
  const dropped = step.window.udpDropped;
  const loadSide = dropped.generator + dropped.echo;
  if (dropped.server > loadSide) return serverCpu ? 'server (CPU)' : 'server (receive buffers)';
  if (loadSide > 0) return 'generator (its sockets overflowed)';
  return serverCpu ? 'server (CPU)' : 'server (dropped internally)';
}

function fixed(value: number | undefined): string {
  return value === undefined ? '?' : value.toFixed(2);
}

/** Runs the search; every step is bounded by `stepSeconds`, the search by `budgetMs`. */
export async function runSaturation(options: SaturationOptions): Promise<Record<string, unknown>> {
  const { engine, observer, log } = options;
  const steps: SaturationStep[] = [];
  await engine.run({ ratePerStream: 50, seconds: 0.5, drainMs: 300 }); // warm-up
  const search = await findMaxRate(
    async (rate) => {
      const start = observer.start();
      const media = await engine.run({
        ratePerStream: rate / options.streams,
        seconds: options.stepSeconds,
        drainMs: 500,
      });
      const window = observer.finish(start, media.windowMs / 1000, media.generatorCpuSeconds);
      const problems: string[] = [];
      if (media.lossFraction > options.maxLoss) {
        problems.push(`loss ${(media.lossFraction * 100).toFixed(2)}%`);
      }
      if (media.offeredPps < rate * 0.95) {
        problems.push(`offered only ${media.offeredPps.toFixed(0)} pps`);
      }
      const verdict = problems.length === 0 ? 'ok' : problems.join(', ');
      log(
        `step ${rate} pps: received ${media.receivedPps.toFixed(0)} pps, ` +
          `loss ${(media.lossFraction * 100).toFixed(3)}%, rtt p50 ${media.rttMedianMs.toFixed(2)} ms, ` +
          `server core ${fixed(window.serverCoreBusy)} (process ${fixed(window.serverProcessBusy)}), ` +
          `load core ${fixed(window.loadCoreBusy)} (processes ${fixed(window.loadProcessesBusy)}), ` +
          `kernel drops ${JSON.stringify(window.udpDropped)}, ` +
          `foreign ${window.interference.foreignBusy.toFixed(2)}: ${verdict}`,
      );
      const step: SaturationStep = { rate, passed: verdict === 'ok', verdict, media, window };
      steps.push(step);
      await new Promise((resolve) => setTimeout(resolve, 300));
      return step;
    },
    {
      startRate: options.startRate,
      minRate: 100,
      maxRate: options.maxRate,
      precision: 0.05,
      budgetMs: options.budgetMs,
      granularity: 100,
    },
  );
  const best = steps.filter((s) => s.passed).sort((a, b) => b.rate - a.rate)[0];
  const firstFailure = steps.filter((s) => !s.passed).sort((a, b) => a.rate - b.rate)[0];
  return {
    allocations: options.streams,
    maxOfferedPps: search.maxRate,
    maxReceivedPps: best?.media.receivedPps ?? 0,
    firstFailingRate: search.firstFailingRate,
    limitedBy: firstFailure === undefined ? 'max-rate' : bottleneck(firstFailure),
    budgetExhausted: search.budgetExhausted,
    steps: steps.map((s) => ({
      rate: s.rate,
      verdict: s.verdict,
      receivedPps: Math.round(s.media.receivedPps),
      lossFraction: s.media.lossFraction,
      rttMedianMs: s.media.rttMedianMs,
      serverCoreBusy: s.window.serverCoreBusy,
      serverProcessBusy: s.window.serverProcessBusy,
      loadCoreBusy: s.window.loadCoreBusy,
      loadProcessesBusy: s.window.loadProcessesBusy,
      udpDropped: s.window.udpDropped,
      interference: s.window.interference,
    })),
  };
}

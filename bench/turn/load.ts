/**
 * The TURN benchmark's load generator, run as its own process so it can be pinned
 * (`taskset -c 1 node bench/turn/load.ts --mode <mode> …`). TURN over UDP on 127.0.0.1 only,
 * REST API credentials, one UDP socket per allocation. Prints one JSON line on stdout (the
 * result) and progress on stderr. Every loop is bounded in count and time.
 *
 * Modes: paced, saturation, hold, churn, binding, flood. Options: bench/turn/README.md.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { TransportAddress } from '../../src/codec/stun/index.ts';
import { findMaxRate } from '../sip/search.ts';
import type { StepResult } from '../sip/search.ts';
import { closeAll, openAllocations, releaseAllocations } from './allocations.ts';
import { runBindingLoad } from './binding.ts';
import { runFlood, type FloodResult } from './flood.ts';
import { MediaEngine, queryEchoStats, type MediaRunResult } from './media.ts';
import {
  allProcessTimes,
  coreBusy,
  coreTimes,
  dropsSince,
  foreignCpu,
  processTree,
  sampleServer,
  udpDrops,
  type CoreTimes,
  type ProcessTimes,
  type ServerSample,
  type UdpDrops,
} from './proc.ts';
import { median, slopePerStep } from './stats.ts';
import { restCredential, type TurnServerTarget } from './turn-client.ts';

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string', default: 'paced' },
    server: { type: 'string', default: '127.0.0.1:3478' },
    peer: { type: 'string', default: '' },
    secret: { type: 'string', default: '' },
    realm: { type: 'string', default: 'bench.test' },
    user: { type: 'string', default: 'bench' },
    'server-pid': { type: 'string', default: '' },
    'echo-pid': { type: 'string', default: '' },
    allocations: { type: 'string', default: '500' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    payload: { type: 'string', default: '160' },
    'drain-ms': { type: 'string', default: '1000' },
    'flood-rate': { type: 'string', default: '0' },
    'step-seconds': { type: 'string', default: '3' },
    'start-rate': { type: 'string', default: '10000' },
    'max-rate': { type: 'string', default: '400000' },
    'budget-seconds': { type: 'string', default: '60' },
    'max-loss': { type: 'string', default: '0.01' },
    cycles: { type: 'string', default: '10' },
    'settle-ms': { type: 'string', default: '2000' },
    sockets: { type: 'string', default: '8' },
    window: { type: 'string', default: '16' },
    'setup-window': { type: 'string', default: '64' },
    'max-count': { type: 'string', default: '' },
    'wait-go': { type: 'boolean', default: false },
    'server-cpus': { type: 'string', default: '0' },
    'load-cpus': { type: 'string', default: '1' },
    'relay-min-port': { type: 'string', default: '50000' },
    'relay-max-port': { type: 'string', default: '59999' },
  },
});

function address(text: string, what: string): TransportAddress {
  const match = /^([\d.]+):(\d+)$/.exec(text);
  if (match === null) throw new Error(`--${what} must be <ipv4>:<port>, got "${text}"`);
  return { family: 4, address: match[1] as string, port: Number(match[2]) };
}

function log(message: string): void {
  process.stderr.write(`load: ${message}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const server = address(args.server, 'server');
const serverPid = args['server-pid'] === '' ? undefined : Number(args['server-pid']);
const echoPid = args['echo-pid'] === '' ? undefined : Number(args['echo-pid']);
const allocations = Number(args.allocations);
const setupWindow = Number(args['setup-window']);

function target(): TurnServerTarget {
  if (args.secret === '') throw new Error('--secret is required');
  return {
    host: server.address,
    port: server.port,
    credential: restCredential(args.secret, args.user, 86_400, Date.now() / 1000),
  };
}

function peer(): TransportAddress {
  return address(args.peer, 'peer');
}

/** How busy the server's and the load's cores were since `before` (/proc/stat, softirq included). */
function coresSince(before: CoreTimes): { server: number | undefined; load: number | undefined } {
  const now = coreTimes();
  return {
    server: coreBusy(before, now, args['server-cpus']),
    load: coreBusy(before, now, args['load-cpus']),
  };
}

/** What the benchmark's processes are: the orchestrator's tree, this one's, server, echo. */
function ourPids(): Set<number> {
  const ours = new Set([...processTree(process.ppid), ...processTree(process.pid)]);
  if (serverPid !== undefined) for (const pid of processTree(serverPid)) ours.add(pid);
  if (echoPid !== undefined) ours.add(echoPid);
  return ours;
}

/** CPU that processes outside the benchmark used since `before`, per second of the window. */
interface Interference {
  /** Cores' worth of other user-space processes (another job on the machine). */
  readonly foreignBusy: number;
  /** Cores' worth of kernel threads (softirq work deferred to ksoftirqd, …). */
  readonly kernelThreadsBusy: number;
  readonly topForeignPid: number | undefined;
  /** Its command line (truncated), if it is still running. */
  readonly topForeignCommand: string | undefined;
}

function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 160);
  } catch {
    return undefined;
  }
}

function interferenceSince(before: ProcessTimes, windowSeconds: number): Interference {
  const foreign = foreignCpu(before, allProcessTimes(), ourPids());
  const seconds = Math.max(0.001, windowSeconds);
  return {
    foreignBusy: foreign.processes / seconds,
    kernelThreadsBusy: foreign.kernelThreads / seconds,
    topForeignPid: foreign.top?.pid,
    topForeignCommand: foreign.top === undefined ? undefined : commandLine(foreign.top.pid),
  };
}

/** Kernel receive-buffer drops so far, by socket owner (see {@link udpDrops}). */
function drops(): UdpDrops {
  return udpDrops({
    serverPort: server.port,
    echoPort: args.peer === '' ? -1 : peer().port,
    relayMinPort: Number(args['relay-min-port']),
    relayMaxPort: Number(args['relay-max-port']),
  });
}

function sample(): ServerSample | undefined {
  return serverPid === undefined ? undefined : sampleServer(serverPid);
}

/** Median of three RSS readings `gapMs` apart (smooths a GC or allocator spike). */
async function settledRss(gapMs = 300): Promise<number | undefined> {
  if (serverPid === undefined) return undefined;
  const readings: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(gapMs);
    readings.push(sampleServer(serverPid).rssBytes);
  }
  return median(readings);
}

async function setup(count: number, bindChannel = true) {
  const opened = await openAllocations({
    count,
    target: target(),
    peer: peer(),
    bindChannel,
    window: setupWindow,
  });
  log(
    `${opened.clients.length}/${count} allocations in ${opened.elapsedMs} ms` +
      (Object.keys(opened.failures).length > 0
        ? ` failures ${JSON.stringify(opened.failures)}`
        : ''),
  );
  // A comparison needs the same load on both sides: more than 1 % failed setups is an error.
  if (opened.clients.length < count * 0.99) {
    closeAll(opened.clients);
    throw new Error(
      `only ${opened.clients.length}/${count} allocations: ${JSON.stringify(opened.failures)}`,
    );
  }
  return opened;
}

/** A flood child (this file, --mode flood --wait-go) that starts when told. */
function startFloodChild(
  rate: number,
  seconds: number,
): { go(): void; result: Promise<FloodResult> } {
  const child = spawn(
    process.execPath,
    [
      import.meta.filename,
      '--mode',
      'flood',
      '--wait-go',
      '--server',
      args.server,
      '--realm',
      args.realm,
      '--rate',
      String(rate),
      '--seconds',
      String(seconds),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const result = new Promise<FloodResult>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve((JSON.parse(line) as { result: FloodResult }).result);
      } catch {
        reject(new Error(`flood child exited ${String(code)}: ${out.slice(-500)}`));
      }
    });
  });
  return {
    go: () => {
      child.stdin.end('go\n');
    },
    result,
  };
}

async function paced(): Promise<Record<string, unknown>> {
  const floodRate = Number(args['flood-rate']);
  const seconds = Number(args.seconds);
  const flood = floodRate > 0 ? startFloodChild(floodRate, seconds) : undefined;
  const opened = await setup(allocations);
  const engine = new MediaEngine(opened.clients, Number(args.payload));
  // A short warm-up so first-packet costs (JIT, lazy state) fall outside the window.
  await engine.run({ ratePerStream: Number(args.rate), seconds: 0.5, drainMs: 300 });
  const echoBefore = await queryEchoStats(peer());
  let before: ServerSample | undefined;
  let echoCpuBefore: number | undefined;
  let dropsBefore: UdpDrops | undefined;
  let coresBefore: CoreTimes | undefined;
  let processesBefore: ProcessTimes | undefined;
  const media: MediaRunResult = await engine.run({
    ratePerStream: Number(args.rate),
    seconds,
    drainMs: Number(args['drain-ms']),
    onStart: () => {
      flood?.go();
      dropsBefore = drops();
      coresBefore = coreTimes();
      processesBefore = allProcessTimes();
      before = sample();
      echoCpuBefore = echoPid === undefined ? undefined : sampleServer(echoPid).cpuSeconds;
    },
  });
  const after = sample();
  const udpDropped = dropsBefore === undefined ? undefined : dropsSince(dropsBefore, drops());
  const cores = coresBefore === undefined ? undefined : coresSince(coresBefore);
  const interference =
    processesBefore === undefined
      ? undefined
      : interferenceSince(processesBefore, media.windowMs / 1000);
  const echoCpu =
    echoPid === undefined || echoCpuBefore === undefined
      ? undefined
      : sampleServer(echoPid).cpuSeconds - echoCpuBefore;
  const echoAfter = await queryEchoStats(peer());
  const floodResult = flood === undefined ? undefined : await flood.result;
  await releaseAllocations(opened.clients, setupWindow);
  const peerReceived =
    echoBefore === undefined || echoAfter === undefined
      ? undefined
      : echoAfter.received - echoBefore.received;
  const relayedPackets = peerReceived === undefined ? undefined : peerReceived + media.received;
  const serverCpuSeconds =
    before === undefined || after === undefined ? undefined : after.cpuSeconds - before.cpuSeconds;
  return {
    allocations: opened.clients.length,
    setupFailures: opened.failures,
    media,
    peerReceived,
    relayedPackets,
    serverCpuSeconds,
    serverCpuSecondsPerMillionRelayed:
      serverCpuSeconds === undefined || relayedPackets === undefined || relayedPackets === 0
        ? undefined
        : (serverCpuSeconds / relayedPackets) * 1e6,
    serverRssBytes: after?.rssBytes,
    udpDropped,
    serverCoreBusy: cores?.server,
    interference,
    echoCpuSeconds: echoCpu,
    loadCoreBusy: cores?.load,
    loadProcessesBusy:
      echoCpu === undefined
        ? undefined
        : (media.generatorCpuSeconds + echoCpu) / (media.windowMs / 1000),
    flood: floodResult,
  };
}

interface SaturationStep extends StepResult {
  readonly media: MediaRunResult;
  readonly loadCoreBusy: number | undefined;
  readonly serverCoreBusy: number | undefined;
  readonly serverProcessBusy: number | undefined;
  readonly loadProcessesBusy: number | undefined;
  readonly udpDropped: UdpDrops;
  readonly interference: Interference;
}

/**
 * Who ran out first at a failing step: the kernel's per-socket drop counters say whose
 * receive buffer overflowed; a server core ≥ 90 % busy says the server ran out of CPU.
 */
function bottleneck(step: SaturationStep): string {
  if (step.verdict.includes('offered only')) return 'generator (rate not offered)';
  const serverCpu = (step.serverCoreBusy ?? 0) >= 0.9;
  const loadSide = step.udpDropped.generator + step.udpDropped.echo;
  if (step.udpDropped.server > loadSide) {
    return serverCpu ? 'server (CPU)' : 'server (receive buffers)';
  }
  if (loadSide > 0) return 'generator (its sockets overflowed)';
  return serverCpu ? 'server (CPU)' : 'server (dropped internally)';
}

async function saturation(): Promise<Record<string, unknown>> {
  const opened = await setup(allocations);
  const count = opened.clients.length;
  if (count === 0) throw new Error('no allocation');
  const engine = new MediaEngine(opened.clients, Number(args.payload));
  const stepSeconds = Number(args['step-seconds']);
  const maxLoss = Number(args['max-loss']);
  const steps: SaturationStep[] = [];
  await engine.run({ ratePerStream: 50, seconds: 0.5, drainMs: 300 });
  const search = await findMaxRate(
    async (rate) => {
      const echoBefore = echoPid === undefined ? undefined : sampleServer(echoPid).cpuSeconds;
      const before = sample();
      const dropsBefore = drops();
      const coresBefore = coreTimes();
      const processesBefore = allProcessTimes();
      const media = await engine.run({
        ratePerStream: rate / count,
        seconds: stepSeconds,
        drainMs: 500,
      });
      const after = sample();
      const udpDropped = dropsSince(dropsBefore, drops());
      const cores = coresSince(coresBefore);
      const windowSeconds = media.windowMs / 1000;
      const interference = interferenceSince(processesBefore, windowSeconds);
      const echoCpu =
        echoPid === undefined || echoBefore === undefined
          ? undefined
          : sampleServer(echoPid).cpuSeconds - echoBefore;
      const loadProcessesBusy =
        echoCpu === undefined ? undefined : (media.generatorCpuSeconds + echoCpu) / windowSeconds;
      const serverProcessBusy =
        before === undefined || after === undefined
          ? undefined
          : (after.cpuSeconds - before.cpuSeconds) / windowSeconds;
      const serverCoreBusy = cores.server;
      const loadCoreBusy = cores.load;
      const problems: string[] = [];
      if (media.lossFraction > maxLoss)
        problems.push(`loss ${(media.lossFraction * 100).toFixed(2)}%`);
      if (media.offeredPps < rate * 0.95)
        problems.push(`offered only ${media.offeredPps.toFixed(0)} pps`);
      const verdict = problems.length === 0 ? 'ok' : problems.join(', ');
      log(
        `step ${rate} pps: received ${media.receivedPps.toFixed(0)} pps, ` +
          `loss ${(media.lossFraction * 100).toFixed(3)}%, rtt p50 ${media.rttMedianMs.toFixed(2)} ms, ` +
          `server core ${serverCoreBusy?.toFixed(2) ?? '?'} (process ${serverProcessBusy?.toFixed(2) ?? '?'}), ` +
          `load core ${loadCoreBusy?.toFixed(2) ?? '?'} (processes ${loadProcessesBusy?.toFixed(2) ?? '?'}), ` +
          `kernel drops ${JSON.stringify(udpDropped)}, ` +
          `foreign ${interference.foreignBusy.toFixed(2)}: ${verdict}`,
      );
      const step: SaturationStep = {
        rate,
        passed: verdict === 'ok',
        verdict,
        media,
        loadCoreBusy,
        serverCoreBusy,
        serverProcessBusy,
        loadProcessesBusy,
        udpDropped,
        interference,
      };
      steps.push(step);
      await sleep(300);
      return step;
    },
    {
      startRate: Number(args['start-rate']),
      minRate: 100,
      maxRate: Number(args['max-rate']),
      precision: 0.05,
      budgetMs: Number(args['budget-seconds']) * 1000,
      granularity: 100,
    },
  );
  await releaseAllocations(opened.clients, setupWindow);
  const best = steps.filter((s) => s.passed).sort((a, b) => b.rate - a.rate)[0];
  const firstFailure = steps.filter((s) => !s.passed).sort((a, b) => a.rate - b.rate)[0];
  const limitedBy = firstFailure === undefined ? 'max-rate' : bottleneck(firstFailure);
  return {
    allocations: count,
    maxOfferedPps: search.maxRate,
    maxReceivedPps: best?.media.receivedPps ?? 0,
    firstFailingRate: search.firstFailingRate,
    limitedBy,
    budgetExhausted: search.budgetExhausted,
    steps: steps.map((s) => ({
      rate: s.rate,
      verdict: s.verdict,
      receivedPps: Math.round(s.media.receivedPps),
      lossFraction: s.media.lossFraction,
      rttMedianMs: s.media.rttMedianMs,
      serverCoreBusy: s.serverCoreBusy,
      serverProcessBusy: s.serverProcessBusy,
      loadCoreBusy: s.loadCoreBusy,
      loadProcessesBusy: s.loadProcessesBusy,
      udpDropped: s.udpDropped,
      interference: s.interference,
    })),
  };
}

async function hold(): Promise<Record<string, unknown>> {
  if (serverPid === undefined) throw new Error('--server-pid is required for hold');
  const settleMs = Number(args['settle-ms']);
  // Warm-up: the first allocations pay for lazy start-up state, not per-allocation state.
  const warm = await setup(Math.min(100, Math.max(1, Math.round(allocations / 10))));
  await releaseAllocations(warm.clients, setupWindow);
  await sleep(settleMs);
  const rssBefore = await settledRss();
  const opened = await setup(allocations);
  await sleep(settleMs);
  const rssHolding = await settledRss();
  const releaseFailures = await releaseAllocations(opened.clients, setupWindow);
  await sleep(settleMs);
  const rssAfterRelease = await settledRss();
  const held = opened.clients.length;
  return {
    requested: allocations,
    held,
    setupFailures: opened.failures,
    releaseFailures,
    rssBeforeBytes: rssBefore,
    rssHoldingBytes: rssHolding,
    rssAfterReleaseBytes: rssAfterRelease,
    bytesPerAllocation:
      rssBefore === undefined || rssHolding === undefined || held === 0
        ? undefined
        : (rssHolding - rssBefore) / held,
  };
}

async function churn(): Promise<Record<string, unknown>> {
  if (serverPid === undefined) throw new Error('--server-pid is required for churn');
  const cycles = Number(args.cycles);
  const settleMs = Number(args['settle-ms']);
  const rssAfterCycle: number[] = [];
  const failures: Record<string, number>[] = [];
  const rssStart = await settledRss();
  let allocated = 0;
  for (let cycle = 0; cycle < cycles; cycle++) {
    const opened = await setup(allocations);
    allocated += opened.clients.length;
    const released = await releaseAllocations(opened.clients, setupWindow);
    failures.push({ ...opened.failures, ...released });
    await sleep(settleMs);
    rssAfterCycle.push((await settledRss()) ?? 0);
    log(`cycle ${cycle + 1}/${cycles}: rss ${((rssAfterCycle.at(-1) ?? 0) / 1024).toFixed(0)} KiB`);
  }
  const first = rssAfterCycle[0] ?? 0;
  const last = rssAfterCycle.at(-1) ?? 0;
  return {
    cycles,
    allocationsPerCycle: allocations,
    allocated,
    rssStartBytes: rssStart,
    rssAfterCycleBytes: rssAfterCycle,
    // Growth from the end of the first cycle (which pays for warm-up) to the end of the last.
    growthBytes: last - first,
    growthPerCycleBytes: slopePerStep(rssAfterCycle.slice(1)),
    failures: failures.filter((f) => Object.keys(f).length > 0),
  };
}

async function binding(): Promise<Record<string, unknown>> {
  const before = sample();
  const coresBefore = coreTimes();
  const processesBefore = allProcessTimes();
  const result = await runBindingLoad({
    host: server.address,
    port: server.port,
    sockets: Number(args.sockets),
    window: Number(args.window),
    seconds: Number(args.seconds),
  });
  const after = sample();
  const cores = coresSince(coresBefore);
  const interference = interferenceSince(processesBefore, result.windowMs / 1000);
  const serverCpuSeconds =
    before === undefined || after === undefined ? undefined : after.cpuSeconds - before.cpuSeconds;
  return {
    ...result,
    interference,
    serverCpuSeconds,
    serverCoreBusy: cores.server,
    serverProcessBusy:
      serverCpuSeconds === undefined ? undefined : serverCpuSeconds / (result.windowMs / 1000),
    loadCoreBusy: cores.load,
    loadProcessesBusy: result.generatorCpuSeconds / (result.windowMs / 1000),
  };
}

async function flood(): Promise<Record<string, unknown>> {
  if (args['wait-go']) {
    const lines = createInterface({ input: process.stdin });
    await new Promise<void>((resolve) => {
      lines.once('line', () => {
        resolve();
      });
      lines.once('close', resolve);
    });
    lines.close();
  }
  const maxCount = args['max-count'] === '' ? undefined : Number(args['max-count']);
  const result = await runFlood({
    host: server.address,
    port: server.port,
    realm: args.realm,
    rate: Number(args.rate),
    seconds: Number(args.seconds),
    ...(maxCount === undefined ? {} : { maxCount }),
  });
  return { ...result };
}

const MODES: Readonly<Record<string, () => Promise<Record<string, unknown>>>> = {
  paced,
  saturation,
  hold,
  churn,
  binding,
  flood,
};

async function main(): Promise<void> {
  const run = MODES[args.mode];
  if (run === undefined)
    throw new Error(`unknown --mode ${args.mode}; known: ${Object.keys(MODES).join(', ')}`);
  const result = await run();
  process.stdout.write(JSON.stringify({ mode: args.mode, result }) + '\n');
}

try {
  await main();
  process.exit(0);
} catch (error) {
  process.stdout.write(
    JSON.stringify({
      mode: args.mode,
      error: error instanceof Error ? error.message : String(error),
    }) + '\n',
  );
  process.exit(1);
}

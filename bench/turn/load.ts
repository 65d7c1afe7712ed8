/**
 * The TURN benchmark's load generator, run as its own process so it can be pinned
 * (`taskset -c 1 node bench/turn/load.ts --mode <mode> …`). TURN over UDP on loopback only,
 * REST API credentials, one UDP socket per allocation. Prints one JSON line on stdout (the
 * result) and progress on stderr. Every loop is bounded in count and time.
 *
 * Modes: paced, saturation, hold, churn, binding, flood. Options: bench/turn/README.md.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { TransportAddress } from '../../src/codec/stun/index.ts';
import { closeAll, openAllocations, releaseAllocations } from './allocations.ts';
import { runBindingLoad } from './binding.ts';
import { runFlood, startFloodProcess } from './flood.ts';
import { MediaEngine, queryEchoStats } from './media.ts';
import { Observer, type WindowStart } from './observe.ts';
import { runSaturation } from './saturation.ts';
import { slopePerStep } from './stats.ts';
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
const allocations = Number(args.allocations);
const setupWindow = Number(args['setup-window']);

function peer(): TransportAddress {
  return address(args.peer, 'peer');
}

const observer = new Observer({
  serverPid,
  echoPid: args['echo-pid'] === '' ? undefined : Number(args['echo-pid']),
  layout: {
    serverPort: server.port,
    echoPort: args.peer === '' ? -1 : peer().port,
    relayMinPort: Number(args['relay-min-port']),
    relayMaxPort: Number(args['relay-max-port']),
  },
  serverCpus: args['server-cpus'],
  loadCpus: args['load-cpus'],
});

function target(): TurnServerTarget {
  if (args.secret === '') throw new Error('--secret is required');
  return {
    host: server.address,
    port: server.port,
    credential: restCredential(args.secret, args.user, 86_400, Date.now() / 1000),
  };
}

/** Opens `count` allocations (with permission and channel); > 1 % failures is an error. */
async function setup(count: number) {
  const opened = await openAllocations({
    count,
    target: target(),
    peer: peer(),
    window: setupWindow,
  });
  log(
    `${opened.clients.length}/${count} allocations in ${opened.elapsedMs} ms` +
      (Object.keys(opened.failures).length > 0
        ? ` failures ${JSON.stringify(opened.failures)}`
        : ''),
  );
  // A comparison needs the same load on both sides.
  if (opened.clients.length < count * 0.99) {
    closeAll(opened.clients);
    throw new Error(
      `only ${opened.clients.length}/${count} allocations: ${JSON.stringify(opened.failures)}`,
    );
  }
  return opened;
}

async function paced(): Promise<Record<string, unknown>> {
  const floodRate = Number(args['flood-rate']);
  const seconds = Number(args.seconds);
  const flood =
    floodRate > 0
      ? startFloodProcess(import.meta.filename, {
          server: args.server,
          realm: args.realm,
          rate: floodRate,
          seconds,
        })
      : undefined;
  const opened = await setup(allocations);
  const engine = new MediaEngine(opened.clients, Number(args.payload));
  // A short warm-up so first-packet costs (JIT, lazy state) fall outside the window.
  await engine.run({ ratePerStream: Number(args.rate), seconds: 0.5, drainMs: 300 });
  const echoBefore = await queryEchoStats(peer());
  let start: WindowStart | undefined;
  const media = await engine.run({
    ratePerStream: Number(args.rate),
    seconds,
    drainMs: Number(args['drain-ms']),
    onStart: () => {
      flood?.go();
      start = observer.start();
    },
  });
  const window =
    start === undefined
      ? undefined
      : observer.finish(start, media.windowMs / 1000, media.generatorCpuSeconds);
  const echoAfter = await queryEchoStats(peer());
  const floodResult = await flood?.result;
  await releaseAllocations(opened.clients, setupWindow);
  // Relayed = what reached the peer (client → peer leg) + what came back (peer → client).
  const peerReceived =
    echoBefore === undefined || echoAfter === undefined
      ? undefined
      : echoAfter.received - echoBefore.received;
  const relayedPackets = peerReceived === undefined ? undefined : peerReceived + media.received;
  const serverCpuSeconds = window?.serverCpuSeconds;
  return {
    allocations: opened.clients.length,
    setupFailures: opened.failures,
    media,
    peerReceived,
    relayedPackets,
    serverCpuSecondsPerMillionRelayed:
      serverCpuSeconds === undefined || relayedPackets === undefined || relayedPackets === 0
        ? undefined
        : (serverCpuSeconds / relayedPackets) * 1e6,
    ...window,
    flood: floodResult,
  };
}

async function saturation(): Promise<Record<string, unknown>> {
  const opened = await setup(allocations);
  try {
    return await runSaturation({
      engine: new MediaEngine(opened.clients, Number(args.payload)),
      streams: opened.clients.length,
      observer,
      stepSeconds: Number(args['step-seconds']),
      maxLoss: Number(args['max-loss']),
      startRate: Number(args['start-rate']),
      maxRate: Number(args['max-rate']),
      budgetMs: Number(args['budget-seconds']) * 1000,
      log,
    });
  } finally {
    await releaseAllocations(opened.clients, setupWindow);
  }
}

async function hold(): Promise<Record<string, unknown>> {
  if (serverPid === undefined) throw new Error('--server-pid is required for hold');
  const settleMs = Number(args['settle-ms']);
  // Warm-up: the first allocations pay for lazy start-up state, not per-allocation state.
  const warm = await setup(Math.min(100, Math.max(1, Math.round(allocations / 10))));
  await releaseAllocations(warm.clients, setupWindow);
  await sleep(settleMs);
  const rssBefore = await observer.settledRss();
  const opened = await setup(allocations);
  await sleep(settleMs);
  const rssHolding = await observer.settledRss();
  const releaseFailures = await releaseAllocations(opened.clients, setupWindow);
  await sleep(settleMs);
  const rssAfterRelease = await observer.settledRss();
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
  const rssStart = await observer.settledRss();
  let allocated = 0;
  for (let cycle = 0; cycle < cycles; cycle++) {
    const opened = await setup(allocations);
    allocated += opened.clients.length;
    const released = await releaseAllocations(opened.clients, setupWindow);
    failures.push({ ...opened.failures, ...released });
    await sleep(settleMs);
    rssAfterCycle.push((await observer.settledRss()) ?? 0);
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
  const start = observer.start();
  const result = await runBindingLoad({
    host: server.address,
    port: server.port,
    sockets: Number(args.sockets),
    window: Number(args.window),
    seconds: Number(args.seconds),
  });
  const window = observer.finish(start, result.windowMs / 1000, result.generatorCpuSeconds);
  return { ...result, ...window };
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
  if (run === undefined) {
    throw new Error(`unknown --mode ${args.mode}; known: ${Object.keys(MODES).join(', ')}`);
  }
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

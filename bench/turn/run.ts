// `npm run bench:turn`: Rampart's A/V Edge and coturn 4.6 side by side under the same TURN
// load, one server at a time, alternating rounds, medians. Server on one core, load generator
// and echo peer on another. Method and options: bench/turn/README.md.
import { cpus } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { requireProgram, sleep, startProcess } from '../../test/helpers/process.ts';
import { METRICS, type LoadResult, type MetricPlan, type Scale } from './metrics.ts';
import {
  SERVER_FACTORIES,
  startEchoPeer,
  type EchoPeer,
  type TurnBenchSettings,
  type TurnServerUnderTest,
} from './servers.ts';
import { allProcessTimes, foreignCpu, processTree } from './proc.ts';
import {
  DISTURBED_FOREIGN_BUSY,
  buildTable,
  collectWarnings,
  foreignBusyOf,
  format,
  type RunRecord,
} from './report.ts';

const HERE = import.meta.dirname;

const { values: args } = parseArgs({
  options: {
    candidate: { type: 'string', default: 'rampart' },
    baseline: { type: 'string', default: 'coturn' },
    rounds: { type: 'string' },
    metrics: { type: 'string', default: METRICS.map((m) => m.name).join(',') },
    quick: { type: 'boolean', default: false },
    workers: { type: 'string', default: '1' },
    'server-cpus': { type: 'string', default: '0' },
    'load-cpus': { type: 'string', default: '1' },
    secret: { type: 'string', default: 'rampart-bench-turn-secret' },
    realm: { type: 'string', default: 'bench.test' },
    out: { type: 'string', default: resolve(HERE, '../results/turn-latest.json') },
    /** Reruns of a run during which other processes used more than 10 % of a core. */
    retries: { type: 'string', default: '2' },
    /** Before each run, wait up to this long for other processes to go quiet. */
    'quiet-wait-seconds': { type: 'string', default: '120' },
    /** NODE_OPTIONS of the Rampart server process (V8 heap flags, …); none by default. */
    'rampart-node-options': { type: 'string', default: '' },
  },
});

const scale: Scale = args.quick ? 'quick' : 'full';
const rounds = Number(args.rounds ?? (args.quick ? 1 : 3));

/** Each server's configuration as it ran (first start), for the report. */
const serverConfigs = new Map<string, string>();

/** Servers that could not start: later runs skip them instead of waiting again. */
const unavailable = new Map<string, string>();

function lastJsonLine(text: string): { result?: LoadResult; error?: string } {
  const lines = text.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines[i] as string) as { result?: LoadResult; error?: string };
    } catch {
      // not JSON; keep looking
    }
  }
  return { error: 'generator printed no result' };
}

/** Runs bench/turn/load.ts pinned to the load cores; resolves with its result object. */
async function runGenerator(
  server: TurnServerUnderTest,
  echo: EchoPeer,
  extra: readonly string[],
  timeoutSeconds: number,
): Promise<LoadResult> {
  const generator = startProcess('load', 'taskset', [
    '-c',
    args['load-cpus'],
    process.execPath,
    resolve(HERE, 'load.ts'),
    '--server',
    `${server.host}:${server.port}`,
    '--peer',
    `127.0.0.1:${echo.port}`,
    '--secret',
    args.secret,
    '--realm',
    args.realm,
    '--server-pid',
    String(server.pid),
    '--echo-pid',
    String(echo.pid),
    '--server-cpus',
    args['server-cpus'],
    '--load-cpus',
    args['load-cpus'],
    ...extra,
  ]);
  const timer = setTimeout(() => void generator.stop('SIGKILL'), timeoutSeconds * 1000);
  try {
    await generator.exited;
  } finally {
    clearTimeout(timer);
  }
  const progress = generator.stderr().trim();
  if (progress !== '') console.log(progress.replace(/^/gm, '      '));
  const printed = lastJsonLine(generator.stdout());
  if (printed.result === undefined) {
    throw new Error(`generator: ${printed.error ?? 'no result'} ${generator.stderr().slice(-500)}`);
  }
  return printed.result;
}

async function runAttempt(
  metric: MetricPlan,
  serverName: string,
  round: number,
  settings: TurnBenchSettings,
  echo: EchoPeer,
): Promise<RunRecord> {
  const skipped = unavailable.get(serverName);
  if (skipped !== undefined) {
    return { server: serverName, round, values: {}, results: [], error: skipped };
  }
  const factory = SERVER_FACTORIES[serverName];
  if (factory === undefined) throw new Error(`unknown server "${serverName}"`);
  let server: TurnServerUnderTest;
  try {
    server = await factory(settings);
  } catch (error) {
    const message = `did not start: ${error instanceof Error ? error.message : String(error)}`;
    unavailable.set(serverName, message);
    console.log(`    ${serverName}: ${message.slice(0, 2000)}`);
    return { server: serverName, round, values: {}, results: [], error: message };
  }
  if (!serverConfigs.has(serverName)) {
    serverConfigs.set(serverName, server.config.replaceAll(args.secret, '(redacted)'));
  }
  const results: LoadResult[] = [];
  try {
    for (const extra of metric.runs(scale)) {
      results.push(await runGenerator(server, echo, extra, metric.timeoutSeconds));
    }
    const values = metric.extract(results);
    const note = metric.note?.(results);
    const foreign = foreignBusyOf(results);
    console.log(
      `    ${serverName} round ${round}: ` +
        Object.entries(values)
          .map(([key, value]) => `${key} ${value === null ? 'n/a' : format(value)}`)
          .join(', ') +
        (note === undefined ? '' : `\n      ${note}`),
    );
    return {
      server: serverName,
      round,
      values,
      results,
      foreignBusy: foreign.busy,
      ...(foreign.command === undefined ? {} : { foreignCommand: foreign.command }),
      ...(note === undefined ? {} : { note }),
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.log(
      `    ${serverName} round ${round}: failed: ${message}\n${server.logs().slice(-1500)}`,
    );
    return { server: serverName, round, values: {}, results, error: message };
  } finally {
    await server.stop();
  }
}

/**
 * Waits (1 s samples, up to `--quiet-wait-seconds`) until processes outside this benchmark use
 * less than {@link DISTURBED_FOREIGN_BUSY} of a core. False if they never did.
 */
async function waitForQuiet(): Promise<boolean> {
  const deadline = Date.now() + Number(args['quiet-wait-seconds']) * 1000;
  let announced = false;
  for (;;) {
    const before = allProcessTimes();
    await sleep(1000);
    const ours = new Set([process.ppid, ...processTree(process.pid)]);
    const foreign = foreignCpu(before, allProcessTimes(), ours);
    if (foreign.processes < DISTURBED_FOREIGN_BUSY) return true;
    if (Date.now() >= deadline) {
      console.log('    the machine did not go quiet; running anyway');
      return false;
    }
    if (!announced) {
      console.log(
        `    waiting for other processes to go quiet (${foreign.processes.toFixed(2)} of a core)`,
      );
      announced = true;
    }
  }
}

/** One run, rerun (fresh server) while other processes disturbed it, up to `--retries`. */
async function runOnce(
  metric: MetricPlan,
  serverName: string,
  round: number,
  settings: TurnBenchSettings,
  echo: EchoPeer,
): Promise<RunRecord> {
  await waitForQuiet();
  let record = await runAttempt(metric, serverName, round, settings, echo);
  for (let retry = 0; retry < Number(args.retries); retry++) {
    const foreign = record.foreignBusy ?? 0;
    if (record.error !== undefined || foreign <= DISTURBED_FOREIGN_BUSY) break;
    console.log(
      `    disturbed: other processes used ${foreign.toFixed(2)} of a core` +
        ` (${record.foreignCommand ?? '?'}); running again`,
    );
    await waitForQuiet();
    record = await runAttempt(metric, serverName, round, settings, echo);
  }
  return record;
}

async function main(): Promise<void> {
  requireProgram('taskset', 'util-linux');
  const chosen = args.metrics.split(',').map((name) => {
    const metric = METRICS.find((m) => m.name === name.trim());
    if (metric === undefined) {
      throw new Error(`unknown metric "${name}"; known: ${METRICS.map((m) => m.name).join(', ')}`);
    }
    return metric;
  });
  const candidate = args.candidate;
  const baseline = args.baseline;
  for (const name of [candidate, baseline]) {
    if (SERVER_FACTORIES[name] === undefined) {
      throw new Error(
        `unknown server "${name}"; known: ${Object.keys(SERVER_FACTORIES).join(', ')}`,
      );
    }
  }
  if (args.secret.length < 16) throw new Error('--secret must be at least 16 characters');
  if (cpus().length < 2) console.log('warning: one CPU: server and load share it');
  const settings: TurnBenchSettings = {
    realm: args.realm,
    secret: args.secret,
    relayMinPort: 50_000,
    relayMaxPort: 59_999,
    serverCpus: args['server-cpus'],
    workers: Number(args.workers),
    rampartNodeOptions: args['rampart-node-options'],
  };
  // Names may be equal (coturn against itself): label the two sides apart.
  const sides = [
    { label: 'baseline', server: baseline },
    { label: 'candidate', server: candidate },
  ];
  const echo = await startEchoPeer(args['load-cpus']);
  const perMetric: Record<string, RunRecord[]> = {};
  try {
    for (const metric of chosen) {
      console.log(`${metric.name}: ${metric.description}`);
      const records: RunRecord[] = [];
      for (let round = 1; round <= rounds; round++) {
        // Alternate which side goes first, so drift over time favours neither.
        const order = round % 2 === 1 ? sides : [...sides].reverse();
        for (const side of order) {
          const record = await runOnce(metric, side.server, round, settings, echo);
          records.push({ ...record, server: side.label });
        }
      }
      perMetric[metric.name] = records;
    }
  } finally {
    await echo.stop();
  }

  const { table, rendered } = buildTable(chosen, perMetric, { baseline, candidate });
  const warnings = collectWarnings(chosen, perMetric);

  const report = {
    date: new Date().toISOString(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
    method: {
      scale,
      rounds,
      order: 'per metric: rounds alternate which server goes first; each run starts a fresh server',
      pinning: { serverCpus: args['server-cpus'], loadAndEchoCpus: args['load-cpus'] },
      settings: { ...settings, secret: '(redacted)' },
      ratio: 'candidate / baseline of the medians over rounds',
      metrics: Object.fromEntries(
        chosen.map((m) => [m.name, { description: m.description, runs: m.runs(scale) }]),
      ),
    },
    baseline,
    candidate,
    table,
    serverConfigs: Object.fromEntries(serverConfigs),
    unavailable: Object.fromEntries(unavailable),
    warnings,
    runs: perMetric,
  };
  await mkdir(dirname(args.out), { recursive: true });
  await writeFile(args.out, JSON.stringify(report, null, 2) + '\n');
  const warningText = warnings.length === 0 ? '' : `\n\n${warnings.join('\n')}`;
  console.log(`\n${rendered}${warningText}\n\nresults: ${args.out}`);
}

await main();

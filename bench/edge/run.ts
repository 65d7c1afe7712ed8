// `npm run bench:edge`: REGISTER and MESSAGE through a TLS edge proxy to one internal registrar,
// highest rate with no failed transaction and every answer within T1; then the memory the edge
// holds per idle TLS connection, at 5,000 connections. Rampart's Access Edge and Kamailio 5.6
// configured as an equivalent edge, one after the other, side by side. Method and options:
// the `bench:edge` section of bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../../test/helpers/ports.ts';
import { sleep } from '../../test/helpers/process.ts';
import { describeSummary, runSipp } from '../../test/helpers/sipp.ts';
import { startTlsBridge } from '../../test/helpers/socat.ts';
import type { TlsBridge } from '../../test/helpers/socat.ts';
import { createTestPki } from '../../test/helpers/tls.ts';
import type { TestPki } from '../../test/helpers/tls.ts';
import { stepVerdict } from '../registrar/report.ts';
import { findMaxRate } from '../sip/search.ts';
import type { RateSearchResult, StepResult } from '../sip/search.ts';
import { allProcessTimes, cpuSeconds, foreignCpu, processTree } from '../turn/proc.ts';
import { measureMemory } from './memory.ts';
import { MAX_SOURCE_ADDRESSES, resultsDate, summaryLines, usersCsv } from './report.ts';
import type { ConnectionMemory, EdgeFigures } from './report.ts';
import { EDGE_FACTORIES, startNextHop } from './servers.ts';
import type { EdgeSettings, EdgeUnderTest, NextHop } from './servers.ts';

const HERE = import.meta.dirname;
const SCENARIOS = resolve(HERE, 'scenarios');

const { values: args } = parseArgs({
  options: {
    /**
     * Edges to measure, in order: rampart, kamailio, kamailio-topoh (rampart is the candidate
     * of the ratios).
     */
    servers: { type: 'string', default: 'rampart,kamailio,kamailio-topoh' },
    /** Per edge and per method (REGISTER, MESSAGE). */
    'budget-seconds': { type: 'string', default: '80' },
    'step-seconds': { type: 'string', default: '5' },
    'start-rate': { type: 'string', default: '800' },
    'max-rate': { type: 'string', default: '51200' },
    children: { type: 'string', default: String(Math.max(2, cpus().length)) },
    /** A transaction answered later than this fails (T1: a UDP client would have resent it). */
    'answer-timeout-ms': { type: 'string', default: '500' },
    connections: { type: 'string', default: '5000' },
    'source-addresses': { type: 'string', default: '100' },
    /** TLS handshakes the idle client runs at once. */
    'in-flight': { type: 'string', default: '1' },
    /** Wait between opening the idle connections and the second memory sample. */
    'settle-seconds': { type: 'string', default: '5' },
    domain: { type: 'string', default: 'bench.test' },
    /** Distinct users the REGISTERs and MESSAGEs come from (round robin). */
    users: { type: 'string', default: '10000' },
    'skip-rates': { type: 'boolean', default: false },
    'skip-memory': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

const stepSeconds = Number(args['step-seconds']);
const budgetMs = Number(args['budget-seconds']) * 1000;
const children = Number(args.children);
const answerTimeoutMs = Number(args['answer-timeout-ms']);
const connections = Number(args.connections);
const sourceAddresses = Number(args['source-addresses']);
const settleMs = Number(args['settle-seconds']) * 1000;
const domain = args.domain;
const users = Number(args.users);
const out = args.out ?? resolve(HERE, 'results', `${resultsDate(new Date())}.json`);

if (!Number.isInteger(connections) || connections < 1 || connections > 15_000) {
  // The client and the edges live under this machine's 20,000 open-files limit.
  throw new RangeError('--connections must be an integer in [1, 15000]');
}
if (
  !Number.isInteger(sourceAddresses) ||
  sourceAddresses < 1 ||
  sourceAddresses > MAX_SOURCE_ADDRESSES
) {
  throw new RangeError(`--source-addresses must be an integer in [1, ${MAX_SOURCE_ADDRESSES}]`);
}

type Method = 'REGISTER' | 'MESSAGE';
const SCENARIO_FILES: Readonly<Record<Method, string>> = {
  REGISTER: join(SCENARIOS, 'register.xml'),
  MESSAGE: join(SCENARIOS, 'message.xml'),
};

/** One load step as the results file keeps it: the verdict plus what it cost. */
interface StepRecord extends StepResult {
  readonly method: Method;
  readonly calls: number;
  /** CPU seconds the edge's processes used during the step. */
  readonly edgeCpuSeconds: number;
  /** CPU seconds the next hop (the registrar) used during the step. */
  readonly nextHopCpuSeconds: number;
  /** Mean response time (sipp's ResponseTime1), ms. */
  readonly responseTimeMs: number;
  /** CPU seconds used by processes that are not the benchmark's: interference. */
  readonly foreignCpuSeconds: number;
}

/** Everything started for the rate phase of one edge. */
interface RateHarness {
  readonly edge: EdgeUnderTest;
  readonly nextHop: NextHop;
  /** sipp injection file of the users (see {@link usersCsv}). */
  readonly usersFile: string;
  readonly bridge: TlsBridge;
  readonly records: StepRecord[];
}

function edgeSettings(pki: TestPki, nextHop: NextHop): EdgeSettings {
  return { domain, nextHop: nextHop.uri, children, pki, connections, sourceAddresses };
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
}

/** The last sipp line saying why a transaction failed, for the step log. */
function lastError(diagnostics: string): string {
  const lines = diagnostics.split('\n');
  const why = lines.filter((line) =>
    /Aborting|receive timeout|unexpected|Broken pipe|closed/i.test(line),
  );
  const any = why.length > 0 ? why : lines.filter((line) => /failed/i.test(line));
  return (any[any.length - 1] ?? '').replace(/\s+/g, ' ').slice(0, 300);
}

/** One sipp client run through the TLS bridge: `calls` transactions at `rate`/s. */
function sipp(harness: RateHarness, method: Method, calls: number, rate: number, port: number) {
  return runSipp({
    name: method.toLowerCase(),
    scenario: { file: SCENARIO_FILES[method], role: 'client' },
    // One TCP connection to socat, hence one TLS connection to the edge (sipp -t t1).
    transport: 'tcp',
    localPort: port,
    remote: { host: '127.0.0.1', port: harness.bridge.listenPort },
    calls,
    rate,
    timeoutSeconds: stepSeconds + 20,
    recvTimeoutMs: answerTimeoutMs,
    keys: { domain },
    extraArgs: ['-inf', harness.usersFile, '-max_recv_loops', '10000'],
  });
}

async function step(harness: RateHarness, method: Method, rate: number): Promise<StepResult> {
  const calls = Math.max(10, Math.round(rate * stepSeconds));
  const localPort = await freePort();
  const cpuBefore = cpuSeconds(harness.edge.pids());
  const nextHopCpuBefore = cpuSeconds(harness.nextHop.pids());
  const timesBefore = allProcessTimes();
  const started = Date.now();
  const summary = await sipp(harness, method, calls, rate, localPort);
  // sipp's own start-up and the last transaction's round trip are not offered load.
  const elapsedMs = Math.max(1, Date.now() - started - 200);
  const edgeCpuSeconds = cpuSeconds(harness.edge.pids()) - cpuBefore;
  const nextHopCpuSeconds = cpuSeconds(harness.nextHop.pids()) - nextHopCpuBefore;
  const foreign = foreignCpu(timesBefore, allProcessTimes(), new Set(processTree(process.pid)));
  const verdict = stepVerdict({ ...summary, calls, rate, elapsedMs });
  const record: StepRecord = {
    method,
    rate,
    calls,
    passed: verdict === 'ok',
    verdict,
    edgeCpuSeconds,
    nextHopCpuSeconds,
    responseTimeMs: summary.responseTimeMs,
    foreignCpuSeconds: foreign.processes,
  };
  harness.records.push(record);
  console.log(
    `  ${harness.edge.name} ${method} ${String(rate).padStart(5)}/s × ${calls}: ${verdict}` +
      ` (CPU per tx: edge ${((edgeCpuSeconds / calls) * 1e6).toFixed(0)} µs, ` +
      `next hop ${((nextHopCpuSeconds / calls) * 1e6).toFixed(0)} µs; ` +
      `mean answer ${summary.responseTimeMs.toFixed(1)} ms` +
      (foreign.processes > 0.5 ? `, other processes ${foreign.processes.toFixed(1)} CPU s` : '') +
      ')' +
      (verdict === 'ok'
        ? ''
        : `\n    ${describeSummary(summary)}\n    ${lastError(summary.diagnostics)}`),
  );
  // Let the edge drain before the next step. After an overload, longer: the next step must not
  // inherit its backlog (nor, for Rampart, a next hop marked down by a late health check).
  await sleep(record.passed ? 500 : 5000);
  return { rate, passed: record.passed, verdict };
}

/**
 * A failed step is run once more, and the rate fails only if that fails too. The machine is
 * shared (2 cores, other jobs): one stall of more than the answer timeout fails a whole step,
 * and a single such stall must not decide the search. The same rule holds for every edge.
 */
async function withRetry(
  run: (rate: number) => Promise<StepResult>,
  rate: number,
): Promise<StepResult> {
  const first = await run(rate);
  if (first.passed) return first;
  console.log('    running the step once more');
  return run(rate);
}

function search(run: (rate: number) => Promise<StepResult>): Promise<RateSearchResult> {
  return findMaxRate((rate) => withRetry(run, rate), {
    startRate: Number(args['start-rate']),
    minRate: 10,
    maxRate: Number(args['max-rate']),
    precision: 0.05,
    budgetMs,
    granularity: 10,
  });
}

/** One REGISTER and one MESSAGE must get through before any measurement. */
async function warmUp(harness: RateHarness, nextHop: NextHop): Promise<void> {
  for (const method of ['REGISTER', 'MESSAGE'] as const) {
    const summary = await sipp(harness, method, 1, 1, await freePort());
    if (summary.successfulCalls !== 1) {
      throw new Error(
        `${harness.edge.name}: a single ${method} did not get through\n` +
          `${describeSummary(summary)}\n${summary.diagnostics.slice(-1500)}\n` +
          `--- edge\n${harness.edge.logs()}\n--- next hop\n${nextHop.logs()}`,
      );
    }
  }
}

/** Rates, with a fresh next hop and edge. */
async function measureRates(
  name: string,
  pki: TestPki,
  figures: Record<string, unknown>,
): Promise<{ register: number; message: number }> {
  const factory = EDGE_FACTORIES[name];
  if (factory === undefined) throw new Error(`unknown edge "${name}"`);
  const nextHop = await startNextHop(children);
  const workDir = await mkdtemp(join(tmpdir(), 'bench-edge-'));
  let edge: EdgeUnderTest | undefined;
  let bridge: TlsBridge | undefined;
  try {
    const usersFile = join(workDir, 'users.csv');
    await writeFile(usersFile, usersCsv(users));
    edge = await factory(edgeSettings(pki, nextHop));
    figures.setup = edge.setup;
    bridge = await startTlsBridge({
      listenPort: await freePort(),
      tlsPort: edge.tls.port,
      caFile: pki.caCertFile,
    });
    console.log(
      `${name}: TLS ${edge.tls.host}:${edge.tls.port} (socat ${bridge.listenPort}) → ` +
        `${nextHop.uri}, ${children} workers`,
    );
    const harness: RateHarness = { edge, nextHop, usersFile, bridge, records: [] };
    figures.steps = harness.records;
    await warmUp(harness, nextHop);
    const register = await search((rate) => step(harness, 'REGISTER', rate));
    figures.register = register;
    const message = await search((rate) => step(harness, 'MESSAGE', rate));
    figures.message = message;
    const failures = harness.records.filter((record) => !record.passed);
    if (failures.length > 0) figures.edgeLogTail = edge.logs();
    return { register: register.maxRate, message: message.maxRate };
  } finally {
    await bridge?.stop();
    await edge?.stop();
    await nextHop.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The commit measured (and whether the tree had changes), for the results file. */
function currentCommit(): string {
  try {
    const git = (...gitArgs: string[]): string =>
      execFileSync('git', gitArgs, { cwd: HERE, encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    return git('rev-parse', '--short', 'HEAD') + (dirty ? ' (with uncommitted changes)' : '');
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const names = args.servers
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    if (EDGE_FACTORIES[name] === undefined) {
      throw new Error(`unknown edge "${name}"; known: ${Object.keys(EDGE_FACTORIES).join(', ')}`);
    }
  }
  const pkiDir = await mkdtemp(join(tmpdir(), 'bench-edge-pki-'));
  const edges: EdgeFigures[] = [];
  const details: Record<string, Record<string, unknown>> = {};
  try {
    const pki = await createTestPki(pkiDir);
    for (const name of names) {
      const figures: Record<string, unknown> = {};
      details[name] = figures;
      const errors: string[] = [];
      let rates: { register: number; message: number } | undefined;
      let memory: ConnectionMemory | undefined;
      if (!args['skip-rates']) {
        try {
          rates = await measureRates(name, pki, figures);
        } catch (error) {
          console.error(`${name}: rates failed: ${String(error)}`);
          errors.push(`rates: ${errorText(error)}`);
        }
      }
      if (!args['skip-memory']) {
        try {
          memory = await measureMemory(
            name,
            EDGE_FACTORIES[name]!,
            {
              children,
              settings: (nextHop) => edgeSettings(pki, nextHop),
              settleMs,
              inFlight: Number(args['in-flight']),
            },
            figures,
          );
          const problems = figures.memoryProblems as string[] | undefined;
          if (problems !== undefined) errors.push(`memory: ${problems.join(', ')}`);
        } catch (error) {
          console.error(`${name}: memory failed: ${String(error)}`);
          errors.push(`memory: ${errorText(error)}`);
        }
      }
      edges.push({
        name,
        ...(rates === undefined
          ? {}
          : { registerPerSecond: rates.register, messagePerSecond: rates.message }),
        ...(memory === undefined ? {} : { memory }),
        errors,
      });
    }
  } finally {
    await rm(pkiDir, { recursive: true, force: true });
  }
  const report = {
    date: new Date().toISOString(),
    commit: currentCommit(),
    command: `node bench/edge/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
    method: {
      path: 'sipp -t t1 → socat (TCP → TLS, one TLS connection per sipp run) → edge → TCP → Kamailio registrar',
      register: 'REGISTER (new AOR per transaction, Supported: path) → save("location") → 200',
      message: 'MESSAGE → 200 answered statelessly by the registrar',
      pass:
        `every transaction answered 200 within ${answerTimeoutMs} ms, offered ≥ 85 % of target; ` +
        'a failed step is run once more and the rate fails only if both runs fail',
      stepSeconds,
      budgetSecondsPerMethodPerEdge: budgetMs / 1000,
      workers: children,
      domain,
      users,
      memory: {
        connections,
        sourceAddresses,
        settleSeconds: settleMs / 1000,
        figure:
          'growth of summed PSS (/proc/<pid>/smaps_rollup) over the edge processes / connections',
      },
    },
    edges,
    details,
  };
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\n${summaryLines(edges).join('\n')}\nresults: ${out}`);
}

await main();

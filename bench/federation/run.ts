// `npm run bench:federation`: inbound federation MESSAGE throughput of one edge over mutual
// TLS with N partner connections (default 4), side by side: Rampart's Access Edge with
// federation on, and Kamailio 5.6 configured as the equivalent federation edge. The load is the
// same for both: N sipp processes as the partner's users (From user<n>@partner.example), each
// through its own socat process holding one mutual-TLS connection with the partner's
// certificate; the edge relays to one internal next hop over TCP that answers 200. The rate is
// ramped in bounded steps (doubling, then bisecting; the whole run stays under --total-seconds)
// and the highest rate with ≥ 99 % of MESSAGEs answered 200 within the answer timeout is
// reported for each edge, with the edge's CPU seconds per 1000 messages (/proc/<pid>/stat) and
// the ratio Rampart / Kamailio. Results: bench/federation/results/<date>.json.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../../test/helpers/ports.ts';
import { sleep } from '../../test/helpers/process.ts';
import { describeSummary, runSipp, type SippSummary } from '../../test/helpers/sipp.ts';
import { startNextHop, type EdgeUnderTest, type NextHop } from '../edge/servers.ts';
import { resultsDate } from '../edge/report.ts';
import { findMaxRate, type RateSearchResult, type StepResult } from '../sip/search.ts';
import { cpuSeconds } from '../turn/proc.ts';
import {
  createFederationPki,
  FEDERATION_EDGES,
  startPartnerConnections,
  type FederationPki,
  type PartnerConnections,
} from './servers.ts';

const HERE = import.meta.dirname;
const SCENARIO = resolve(HERE, 'scenarios', 'message.xml');
/** Share of MESSAGEs that must be answered 200 in time for a step to pass. */
const SUCCESS_SHARE = 0.99;
/** Share of the target rate sipp must actually offer for a step to count. */
const OFFERED_SHARE = 0.9;

const { values: args } = parseArgs({
  options: {
    /** Edges to measure, in order (rampart is the candidate of the ratio). */
    servers: { type: 'string', default: 'rampart,kamailio' },
    /** Partner connections: socat processes, each one mutual-TLS connection, one sipp each. */
    connections: { type: 'string', default: '4' },
    'step-seconds': { type: 'string', default: '4' },
    'start-rate': { type: 'string', default: '400' },
    'max-rate': { type: 'string', default: '25600' },
    /** Ramp budget per edge (start-up not included). */
    'budget-seconds': { type: 'string', default: '60' },
    /** Hard bound on the whole run: an edge started after it is not measured. */
    'total-seconds': { type: 'string', default: '170' },
    children: { type: 'string', default: String(Math.max(2, cpus().length)) },
    /** A MESSAGE answered later than this counts as failed. */
    'answer-timeout-ms': { type: 'string', default: '1000' },
    domain: { type: 'string', default: 'bench.example' },
    partner: { type: 'string', default: 'partner.example' },
    out: { type: 'string' },
  },
});

const connections = Number(args.connections);
const stepSeconds = Number(args['step-seconds']);
const budgetMs = Number(args['budget-seconds']) * 1000;
const totalMs = Number(args['total-seconds']) * 1000;
const children = Number(args.children);
const answerTimeoutMs = Number(args['answer-timeout-ms']);
const out = args.out ?? resolve(HERE, 'results', `${resultsDate(new Date())}.json`);
const startedAt = Date.now();

if (!Number.isInteger(connections) || connections < 1 || connections > 64)
  throw new RangeError('--connections must be an integer in [1, 64]');
if (!(stepSeconds >= 1 && stepSeconds <= 20))
  throw new RangeError('--step-seconds must be in [1, 20]');
if (!(totalMs > 0 && totalMs <= 600_000))
  throw new RangeError('--total-seconds must be in (0, 600]');

/** One load step as the results file keeps it. */
interface StepRecord extends StepResult {
  readonly calls: number;
  readonly successful: number;
  readonly successShare: number;
  readonly offeredRate: number;
  /** CPU seconds the edge's processes used during the step. */
  readonly edgeCpuSeconds: number;
  readonly edgeCpuSecondsPer1000: number;
  readonly nextHopCpuSeconds: number;
  /** Mean of the sipp processes' mean response times, ms. */
  readonly responseTimeMs: number;
}

interface Harness {
  readonly edge: EdgeUnderTest;
  readonly nextHop: NextHop;
  readonly partner: PartnerConnections;
  readonly records: StepRecord[];
}

/** One sipp per partner connection, `calls` MESSAGEs at `rate`/s each. */
async function sippAll(harness: Harness, calls: number, rate: number): Promise<SippSummary[]> {
  return Promise.all(
    harness.partner.ports.map(async (port, i) =>
      runSipp({
        name: `partner-${String(i)}`,
        scenario: { file: SCENARIO, role: 'client' },
        transport: 'tcp',
        localPort: await freePort(),
        remote: { host: '127.0.0.1', port },
        calls,
        rate,
        timeoutSeconds: stepSeconds + 15,
        recvTimeoutMs: answerTimeoutMs,
        keys: { domain: args.domain, partner: args.partner },
        extraArgs: ['-max_recv_loops', '10000'],
      }),
    ),
  );
}

async function step(harness: Harness, rate: number): Promise<StepResult> {
  const perConnection = Math.max(1, Math.round(rate / connections));
  const callsEach = Math.max(5, Math.round(perConnection * stepSeconds));
  const calls = callsEach * connections;
  const edgeBefore = cpuSeconds(harness.edge.pids());
  const nextHopBefore = cpuSeconds(harness.nextHop.pids());
  const started = Date.now();
  const summaries = await sippAll(harness, callsEach, perConnection);
  // sipp's start-up and the last answer's round trip are not offered load.
  const elapsedMs = Math.max(1, Date.now() - started - 200);
  const edgeCpuSeconds = cpuSeconds(harness.edge.pids()) - edgeBefore;
  const nextHopCpuSeconds = cpuSeconds(harness.nextHop.pids()) - nextHopBefore;
  const successful = summaries.reduce((sum, s) => sum + s.successfulCalls, 0);
  const successShare = successful / calls;
  const offeredRate = calls / (elapsedMs / 1000);
  const problems: string[] = [];
  if (successShare < SUCCESS_SHARE) problems.push(`${String(successful)}/${String(calls)} ok`);
  if (offeredRate < rate * OFFERED_SHARE) problems.push(`offered only ${offeredRate.toFixed(0)}/s`);
  if (summaries.some((s) => s.killedByHarness)) problems.push('sipp overran its timeout');
  const verdict = problems.length === 0 ? 'ok' : problems.join(', ');
  const record: StepRecord = {
    rate,
    passed: verdict === 'ok',
    verdict,
    calls,
    successful,
    successShare,
    offeredRate,
    edgeCpuSeconds,
    edgeCpuSecondsPer1000: (edgeCpuSeconds / Math.max(1, successful)) * 1000,
    nextHopCpuSeconds,
    responseTimeMs: summaries.reduce((sum, s) => sum + s.responseTimeMs, 0) / summaries.length,
  };
  harness.records.push(record);
  console.log(
    `  ${harness.edge.name} ${String(rate).padStart(6)}/s × ${String(calls)}: ${verdict} ` +
      `(${(successShare * 100).toFixed(2)} % ok; edge CPU ${record.edgeCpuSecondsPer1000.toFixed(3)} s ` +
      `per 1000; mean answer ${record.responseTimeMs.toFixed(1)} ms)` +
      (record.passed ? '' : `\n    ${summaries.map(describeSummary).join('\n    ')}`),
  );
  // Let the edge drain; after an overload, longer, so the next step does not inherit it.
  await sleep(record.passed ? 500 : 3000);
  return { rate, passed: record.passed, verdict };
}

/** One MESSAGE per partner connection must get through before any measurement. */
async function warmUp(harness: Harness): Promise<void> {
  const summaries = await sippAll(harness, 1, 1);
  const failed = summaries.filter((s) => s.successfulCalls !== 1);
  if (failed.length > 0)
    throw new Error(
      `${harness.edge.name}: a single MESSAGE per partner connection did not get through\n` +
        `${failed.map(describeSummary).join('\n')}\n${failed[0]?.diagnostics.slice(-1500) ?? ''}\n` +
        `--- edge\n${harness.edge.logs()}\n--- next hop\n${harness.nextHop.logs()}`,
    );
}

interface EdgeFigures {
  readonly name: string;
  /** Highest rate with ≥ 99 % answered in time (0: none). */
  readonly messagesPerSecond?: number;
  readonly edgeCpuSecondsPer1000AtMax?: number;
  readonly search?: RateSearchResult;
  readonly steps: readonly StepRecord[];
  readonly setup?: Readonly<Record<string, unknown>>;
  /** The edge's log after the ramp, when a step failed. */
  readonly edgeLogTail?: string;
  /** Warm-ups that failed before the one that passed. */
  readonly warmUpFailures?: readonly string[];
  readonly errors: readonly string[];
}

async function measure(name: string, pki: FederationPki, budget: number): Promise<EdgeFigures> {
  const factory = FEDERATION_EDGES[name];
  if (factory === undefined) throw new Error(`unknown edge "${name}"`);
  const records: StepRecord[] = [];
  const warmUpFailures: string[] = [];
  let nextHop: NextHop | undefined;
  let edge: EdgeUnderTest | undefined;
  let partner: PartnerConnections | undefined;
  try {
    nextHop = await startNextHop(children);
    edge = await factory({
      domain: args.domain,
      partner: args.partner,
      nextHop: nextHop.uri,
      children,
      pki,
    });
    partner = await startPartnerConnections(connections, edge.tls.port, pki);
    console.log(
      `${name}: TLS ${edge.tls.host}:${String(edge.tls.port)} ← ${String(connections)} partner ` +
        `connections (socat ${partner.ports.join(', ')}); next hop ${nextHop.uri}; ${String(children)} workers`,
    );
    const harness: Harness = { edge, nextHop, partner, records };
    try {
      await warmUp(harness);
    } catch (error) {
      // Kamailio 5.6 was seen failing one of four simultaneous handshakes ("tls_h_read_f():
      // protocol level error"): one more try for every edge, and the first failure is kept.
      warmUpFailures.push(String(error).split('\n').slice(0, 3).join(' | '));
      console.log(`  ${name}: warm-up failed once, trying again`);
      await sleep(1000);
      await warmUp(harness);
    }
    const granularity = 10 * connections;
    const search = await findMaxRate((rate) => step(harness, rate), {
      startRate: Number(args['start-rate']),
      minRate: granularity,
      maxRate: Number(args['max-rate']),
      precision: 0.1,
      budgetMs: budget,
      granularity,
    });
    const best = records.filter((r) => r.passed && r.rate === search.maxRate).at(-1);
    return {
      name,
      ...(records.some((r) => !r.passed) ? { edgeLogTail: edge.logs() } : {}),
      messagesPerSecond: search.maxRate,
      ...(best === undefined ? {} : { edgeCpuSecondsPer1000AtMax: best.edgeCpuSecondsPer1000 }),
      search,
      steps: records,
      setup: edge.setup,
      warmUpFailures,
      errors: [],
    };
  } catch (error) {
    console.error(`${name}: ${String(error)}`);
    return {
      name,
      steps: records,
      ...(edge === undefined ? {} : { setup: edge.setup }),
      warmUpFailures,
      errors: [error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)],
    };
  } finally {
    await partner?.stop();
    await edge?.stop();
    await nextHop?.stop();
  }
}

/** CPU per 1000 at the highest rate every edge passed (the same offered load for all). */
function commonRateCpu(edges: readonly EdgeFigures[]): {
  rate: number;
  perEdge: Record<string, number>;
} | null {
  const passedBy = edges.map(
    (e) => new Map(e.steps.filter((s) => s.passed).map((s) => [s.rate, s.edgeCpuSecondsPer1000])),
  );
  const common = [...(passedBy[0]?.keys() ?? [])]
    .filter((rate) => passedBy.every((m) => m.has(rate)))
    .sort((a, b) => b - a)[0];
  if (common === undefined || edges.length < 2) return null;
  const perEdge: Record<string, number> = {};
  edges.forEach((e, i) => (perEdge[e.name] = passedBy[i]?.get(common) ?? Number.NaN));
  return { rate: common, perEdge };
}

function ratio(candidate: number | undefined, baseline: number | undefined): number | null {
  return candidate === undefined || baseline === undefined || !(baseline > 0)
    ? null
    : candidate / baseline;
}

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
    .map((n) => n.trim())
    .filter((n) => n !== '');
  for (const name of names)
    if (FEDERATION_EDGES[name] === undefined)
      throw new Error(`unknown edge "${name}"; known: ${Object.keys(FEDERATION_EDGES).join(', ')}`);
  const pkiDir = await mkdtemp(join(tmpdir(), 'bench-federation-pki-'));
  const edges: EdgeFigures[] = [];
  try {
    const pki = await createFederationPki(pkiDir, args.domain, args.partner);
    for (const [i, name] of names.entries()) {
      // Every edge gets its share of what is left, so the run ends within --total-seconds
      // (start-up of about 10 s per edge kept aside).
      const left = totalMs - (Date.now() - startedAt) - 12_000 * (names.length - i);
      const budget = Math.min(budgetMs, Math.floor(left / (names.length - i)));
      if (budget < Math.min(budgetMs, 5000)) {
        edges.push({ name, steps: [], errors: ['not measured: --total-seconds used up'] });
        continue;
      }
      edges.push(await measure(name, pki, budget));
    }
  } finally {
    await rm(pkiDir, { recursive: true, force: true });
  }
  const rampart = edges.find((e) => e.name === 'rampart');
  const kamailio = edges.find((e) => e.name === 'kamailio');
  const common = commonRateCpu(edges);
  const ratios = {
    messagesPerSecond: ratio(rampart?.messagesPerSecond, kamailio?.messagesPerSecond),
    edgeCpuPer1000AtMax: ratio(
      rampart?.edgeCpuSecondsPer1000AtMax,
      kamailio?.edgeCpuSecondsPer1000AtMax,
    ),
    edgeCpuPer1000AtCommonRate:
      common === null ? null : ratio(common.perEdge.rampart, common.perEdge.kamailio),
  };
  const report = {
    date: new Date().toISOString(),
    commit: currentCommit(),
    command: `node bench/federation/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
    wallSeconds: (Date.now() - startedAt) / 1000,
    method: {
      path:
        `${String(connections)} × (sipp -t t1 → socat TCP → OPENSSL with the partner's certificate) ` +
        '→ edge (mutual TLS, federation policy) → TCP → next hop answering 200 (Kamailio sl_send_reply)',
      message: `MESSAGE From user<n>@${args.partner} To u000000@${args.domain}`,
      pass:
        `≥ ${String(SUCCESS_SHARE * 100)} % answered 200 within ${String(answerTimeoutMs)} ms, ` +
        `offered ≥ ${String(OFFERED_SHARE * 100)} % of the target rate`,
      ramp: 'double from --start-rate until a step fails, then bisect to 10 %; budget per edge',
      stepSeconds,
      budgetSecondsPerEdge: budgetMs / 1000,
      totalSeconds: totalMs / 1000,
      workers: children,
      cpu: 'utime + stime of every process of the edge (/proc/<pid>/stat), per 1000 answered MESSAGEs',
    },
    edges,
    commonRateCpu: common,
    ratios,
  };
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(report, null, 2) + '\n');
  const fmt = (v: number | null | undefined, digits = 2): string =>
    v === null || v === undefined ? 'n/a' : v.toFixed(digits);
  console.log('');
  for (const e of edges)
    console.log(
      `${e.name.padEnd(9)} MESSAGE/s ${String(e.messagesPerSecond ?? 'n/a').padStart(6)}  ` +
        `edge CPU s per 1000 at that rate ${fmt(e.edgeCpuSecondsPer1000AtMax, 3)}` +
        (e.errors.length > 0 ? `  errors: ${e.errors.join('; ')}` : ''),
    );
  console.log(
    `ratio Rampart/Kamailio: MESSAGE/s ${fmt(ratios.messagesPerSecond)}, CPU per 1000 at max ` +
      fmt(ratios.edgeCpuPer1000AtMax) +
      (common === null
        ? ''
        : `, CPU per 1000 at ${String(common.rate)}/s (both passed) ${fmt(ratios.edgeCpuPer1000AtCommonRate)}`),
  );
  console.log(`results: ${out} (${((Date.now() - startedAt) / 1000).toFixed(0)} s)`);
}

await main();

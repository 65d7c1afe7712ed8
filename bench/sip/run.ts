// `npm run bench:sip`: highest INVITE→BYE call rate that a proxy relays with no failed call
// and no retransmission, for Rampart and for Kamailio 5.6 under the same sipp load.
// Method and options: bench/README.md.
import { cpus } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startKamailio } from '../../test/helpers/kamailio.ts';
import { freePort, freePorts } from '../../test/helpers/ports.ts';
import { sleep } from '../../test/helpers/process.ts';
import { startRampartProxy } from '../../test/helpers/proxy-under-test.ts';
import type { ProxyFactory, RunningProxy } from '../../test/helpers/proxy-under-test.ts';
import { describeSummary, runSipp, startSipp } from '../../test/helpers/sipp.ts';
import type { SippSummary, SippTransport } from '../../test/helpers/sipp.ts';
import { findMaxRate } from './search.ts';
import type { RateSearchResult, StepResult } from './search.ts';

const HERE = import.meta.dirname;

const { values: args } = parseArgs({
  options: {
    candidate: { type: 'string', default: 'rampart' },
    baseline: { type: 'string', default: 'kamailio' },
    transports: { type: 'string', default: 'udp,tcp' },
    'step-seconds': { type: 'string', default: '5' },
    'budget-seconds': { type: 'string', default: '220' },
    'start-rate': { type: 'string', default: '200' },
    'max-rate': { type: 'string', default: '6400' },
    children: { type: 'string', default: String(Math.max(2, cpus().length)) },
    /** UDP uac: one socket per call (`-t un`, many clients) or one for all (`u1`). */
    'udp-socket': { type: 'string', default: 'per-call' },
    out: { type: 'string', default: resolve(HERE, '../results/latest.json') },
  },
});

const stepSeconds = Number(args['step-seconds']);

/**
 * Socket buffers of both sipp instances (`-buff_size`, capped by net.core.rmem_max/wmem_max).
 * sipp's default (64 KiB, 128 KiB granted) holds about 25 ms of the uas's traffic at 2,600 cps:
 * when the two cores are busy and sipp is not scheduled for that long, the kernel drops
 * datagrams at sipp's own socket (`ss -uamn`: `d` on sipp's socket, none on the proxy's) and the
 * step fails on retransmissions the proxy did not cause. The same for both proxies.
 */
const SIPP_BUFFERS = ['-buff_size', String(4 * 1024 * 1024)];
const budgetMs = Number(args['budget-seconds']) * 1000;
const children = Number(args.children);

/** Kamailio with bench/sip/kamailio.cfg (placeholders filled in). */
const startKamailioBaseline: ProxyFactory = async (options) => {
  const template = await readFile(resolve(HERE, 'kamailio.cfg'), 'utf8');
  const port = await freePort();
  const kamailio = await startKamailio({
    listen: [
      { proto: 'udp', port },
      { proto: 'tcp', port },
    ],
    sharedMemoryMb: 512,
    config: ({ listenLines }) =>
      template
        .replaceAll('__LISTEN__', listenLines)
        .replaceAll('__CHILDREN__', String(options.children ?? 2))
        .replaceAll('__NEXT_HOP__', options.nextHop),
  });
  const address = { host: '127.0.0.1', port };
  return {
    name: 'kamailio',
    udp: address,
    tcp: address,
    logs: () => kamailio.process.stderr().slice(-4000),
    stop: () => kamailio.stop(),
  };
};

/** No proxy: the uac calls the uas directly. Measures the load generator's own ceiling. */
const startDirect: ProxyFactory = (options) => {
  const port = Number(/:(\d+);/.exec(options.nextHop)?.[1]);
  const address = { host: '127.0.0.1', port };
  return Promise.resolve({
    name: 'direct',
    udp: address,
    tcp: address,
    logs: () => '',
    stop: () => Promise.resolve(),
  });
};

const FACTORIES: Readonly<Record<string, ProxyFactory>> = {
  rampart: startRampartProxy,
  kamailio: startKamailioBaseline,
  direct: startDirect,
};

function factory(name: string): ProxyFactory {
  const found = FACTORIES[name];
  if (found === undefined) {
    throw new Error(`unknown proxy "${name}"; known: ${Object.keys(FACTORIES).join(', ')}`);
  }
  return found;
}

/** Why a step did not pass, or 'ok'. */
function verdict(
  rate: number,
  calls: number,
  uac: SippSummary,
  uas: SippSummary,
  elapsedMs: number,
): string {
  const problems: string[] = [];
  if (uac.exitCode === 0 && uac.failedCalls === 0 && uac.outgoingCalls < calls) {
    problems.push(`sipp ended early (${uac.outgoingCalls}/${calls} calls placed)`);
  }
  if (uac.successfulCalls !== calls) problems.push(`${uac.successfulCalls}/${calls} calls ok`);
  if (uac.failedCalls > 0) problems.push(`${uac.failedCalls} failed`);
  if (uac.retransmissions > 0) problems.push(`uac retrans ${uac.retransmissions}`);
  if (uas.retransmissions > 0) problems.push(`uas retrans ${uas.retransmissions}`);
  if (uac.killedByHarness) problems.push('uac overran its timeout');
  // The generator must have offered the load: calls spread over (calls / rate) seconds.
  const offeredRate = calls / Math.max(0.001, elapsedMs / 1000);
  if (offeredRate < rate * 0.85) problems.push(`offered only ${offeredRate.toFixed(0)} cps`);
  return problems.length === 0 ? 'ok' : problems.join(', ');
}

/** The last sipp error line (why a call was aborted), for the step log. */
function lastError(diagnostics: string): string {
  const lines = diagnostics.split('\n').filter((line) => /Aborting|unexpected|failed/i.test(line));
  return (lines[lines.length - 1] ?? '').replace(/\s+/g, ' ').slice(0, 300);
}

/**
 * One step, retried once when sipp quit early on its own with no failed call (over TCP
 * sipp sometimes ends both sides when a connection closes): a harness hiccup, not a
 * verdict on the proxy.
 */
async function runStep(
  proxy: RunningProxy,
  transport: SippTransport,
  uasPort: number,
  rate: number,
): Promise<StepResult> {
  const first = await runStepOnce(proxy, transport, uasPort, rate);
  if (first.passed || !first.verdict.startsWith('sipp ended early')) return first;
  console.log('    retrying the step once');
  return runStepOnce(proxy, transport, uasPort, rate);
}

async function runStepOnce(
  proxy: RunningProxy,
  transport: SippTransport,
  uasPort: number,
  rate: number,
): Promise<StepResult> {
  const calls = Math.max(10, Math.round(rate * stepSeconds));
  const uas = await startSipp({
    name: 'uas',
    scenario: { builtin: 'uas' },
    transport,
    localPort: uasPort,
    timeoutSeconds: stepSeconds + 30,
    extraArgs: SIPP_BUFFERS,
  });
  let uac: SippSummary;
  const started = Date.now();
  try {
    uac = await runSipp({
      name: 'uac',
      scenario: { builtin: 'uac' },
      transport,
      localPort: await freePort(),
      remote: proxy[transport],
      calls,
      rate,
      socketPerCall: transport === 'udp' && args['udp-socket'] === 'per-call',
      timeoutSeconds: stepSeconds + 20,
      recvTimeoutMs: 5000,
      service: 'bench',
      // A multi-process proxy (Kamailio) may relay a 180 after the 200 over UDP: a UA ignores
      // such a late provisional, so sipp must not abort the call on it. A real error still
      // fails the call: the expected message never comes and -recv_timeout fires.
      extraArgs: [
        '-default_behaviors',
        'all,-abortunexp',
        '-max_recv_loops',
        '10000',
        // One socket per call: stay under the open-files limit.
        '-max_socket',
        '10000',
        ...SIPP_BUFFERS,
      ],
    });
  } finally {
    // Built-in uas holds each call 4 s after BYE (timewait); those are not failures here.
    // Wait for one more -fd 1 stat dump so the uas's retransmission count is final.
    await sleep(1100);
  }
  const elapsedMs = Date.now() - started;
  const uasSummary = await uas.stop();
  // Call creation lasts calls/rate s; the last calls then need ~ a round trip more.
  const result = verdict(rate, calls, uac, uasSummary, Math.max(elapsedMs - 1900, 1));
  console.log(
    `  ${proxy.name}/${transport} ${String(rate).padStart(5)} cps × ${calls}: ${result}` +
      (result === 'ok'
        ? ''
        : `\n    ${describeSummary(uac)}\n    ${describeSummary(uasSummary)}` +
          `\n    ${lastError(uac.diagnostics)}`),
  );
  await sleep(500); // let the proxy drain transactions before the next step
  return { rate, passed: result === 'ok', verdict: result };
}

async function measure(name: string, transport: SippTransport): Promise<RateSearchResult> {
  const uasPort = await freePort();
  const start = (): Promise<RunningProxy> =>
    factory(name)({
      nextHop: `sip:127.0.0.1:${uasPort};transport=${transport}`,
      domains: ['127.0.0.1'],
      children,
    });
  let proxy = await start();
  console.log(
    `${name}/${transport}: proxy ${proxy.udp.host}:${proxy[transport].port}, uas ${uasPort}`,
  );
  let lastFailed = false;
  // After a failed step the proxy is started afresh: the transactions of an overloaded
  // step's failed calls keep retransmitting for up to 64*T1 = 32 s, and the next step must
  // measure the proxy, not that backlog. Both proxies are treated the same.
  const step = async (rate: number): Promise<StepResult> => {
    if (lastFailed) {
      await proxy.stop();
      proxy = await start();
    }
    const result = await runStep(proxy, transport, uasPort, rate);
    lastFailed = !result.passed;
    return result;
  };
  try {
    return await findMaxRate(step, {
      startRate: Number(args['start-rate']),
      minRate: 10,
      maxRate: Number(args['max-rate']),
      precision: 0.05,
      budgetMs,
      granularity: 10,
    });
  } finally {
    await proxy.stop();
  }
}

async function main(): Promise<void> {
  const transports = args.transports.split(',') as SippTransport[];
  const candidate = args.candidate;
  const baseline = args.baseline;
  await freePorts(1); // fail early if 127.0.0.1 is unusable
  const results: Record<string, unknown> = {};
  const lines: string[] = [];
  for (const transport of transports) {
    const candidateResult = await measure(candidate, transport);
    const baselineResult = await measure(baseline, transport);
    const ratio =
      baselineResult.maxRate > 0 ? candidateResult.maxRate / baselineResult.maxRate : null;
    results[transport] = {
      candidate: { name: candidate, ...candidateResult },
      baseline: { name: baseline, ...baselineResult },
      ratio,
    };
    lines.push(
      `${transport.toUpperCase()}: ${candidate} ${candidateResult.maxRate} cps, ` +
        `${baseline} ${baselineResult.maxRate} cps, ratio ${ratio === null ? 'n/a' : ratio.toFixed(2)}`,
    );
  }
  const report = {
    date: new Date().toISOString(),
    host: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
    },
    method: {
      scenario: 'sipp built-in uac → proxy → sipp built-in uas (INVITE, 180, 200, ACK, BYE, 200)',
      pass: 'every call successful, zero retransmissions at uac and uas, offered rate ≥ 85% of target',
      sippSocketBuffers: SIPP_BUFFERS.join(' '),
      stepSeconds,
      budgetSecondsPerTransportPerProxy: budgetMs / 1000,
      workers: children,
      udpUacSocket:
        args['udp-socket'] === 'per-call'
          ? 'one per call (sipp -t un): many clients, spread across workers by SO_REUSEPORT'
          : 'one for all calls (sipp -t u1)',
    },
    results,
  };
  const out = args.out;
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\n${lines.join('\n')}\nresults: ${out}`);
}

await main();

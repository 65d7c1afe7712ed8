// `npm run bench:registrar`: highest rate of digest-authenticated REGISTERs and of
// authenticated MESSAGEs (looked up and relayed to the recipient's binding) that a registrar
// serves with no failed transaction and no retransmission, for Rampart and Kamailio one after
// the other under the same sipp load; then memory per registered binding at 100,000
// bindings. Method and options: bench/registrar/README.md.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../../test/helpers/ports.ts';
import { sleep } from '../../test/helpers/process.ts';
import { describeSummary, runSipp, startSipp } from '../../test/helpers/sipp.ts';
import type { SippOptions, SippSummary } from '../../test/helpers/sipp.ts';
import { findMaxRate } from '../sip/search.ts';
import { cpuSeconds } from '../turn/proc.ts';
import { waitUntilIdle } from './idle.ts';
import type { RateSearchResult, StepResult } from '../sip/search.ts';
import { sampleMemory } from './memory.ts';
import type { MemorySample } from './memory.ts';
import { benchUsers, injectionCsv, perBinding, stepVerdict, summaryLines } from './report.ts';
import type { BindingMemory, RegistrarUser, ServerFigures } from './report.ts';
import { REGISTRAR_FACTORIES } from './servers.ts';
import type { RegistrarSettings, RegistrarUnderTest } from './servers.ts';

const HERE = import.meta.dirname;
const SCENARIOS = resolve(HERE, 'scenarios');

const { values: args } = parseArgs({
  options: {
    /** Any of kamailio, kamailio-htable, rampart (rampart is the candidate of the ratios). */
    servers: { type: 'string', default: 'kamailio,rampart' },
    users: { type: 'string', default: '10000' },
    'step-seconds': { type: 'string', default: '5' },
    /** Per server and per method (REGISTER, MESSAGE). */
    'budget-seconds': { type: 'string', default: '120' },
    'start-rate': { type: 'string', default: '200' },
    'max-rate': { type: 'string', default: '25600' },
    children: { type: 'string', default: '2' },
    realm: { type: 'string', default: 'example.test' },
    'memory-bindings': { type: 'string', default: '100000' },
    /** 10 × 10,000 users: db_text scans its table per query, 100,000 users would crawl. */
    'contacts-per-user': { type: 'string', default: '10' },
    /** REGISTERs/s while filling the table; 0 = half the server's REGISTER max (≥ 100). */
    'memory-rate': { type: 'string', default: '0' },
    'skip-memory': { type: 'boolean', default: false },
    'skip-rates': { type: 'boolean', default: false },
    /**
     * Also CPU per call at this fixed rate (0 = not measured): one warm-up step, then one
     * measured step, per method; user + system time of the server's process tree, every
     * thread, divided by the calls.
     */
    'cpu-rate': { type: 'string', default: '0' },
    /** With --cpu-rate: measure CPU per call only, no rate search. */
    'cpu-only': { type: 'boolean', default: false },
    /** Which rate searches to run: register, message or both (comma-separated). */
    methods: { type: 'string', default: 'register,message' },
    /**
     * Wait before the second memory sample: longer than a UDP non-INVITE server transaction
     * lingers (Timer J = 64*T1 = 32 s), so the figure is bindings, not REGISTERs in flight.
     */
    'settle-seconds': { type: 'string', default: '40' },
    out: { type: 'string', default: resolve(HERE, 'results/latest.json') },
  },
});

const stepSeconds = Number(args['step-seconds']);
const budgetMs = Number(args['budget-seconds']) * 1000;
const settings: RegistrarSettings = { realm: args.realm, children: Number(args.children) };

/** Files and ports shared by every sipp run against one server. */
interface Harness {
  readonly server: RegistrarUnderTest;
  readonly users: readonly RegistrarUser[];
  /** Injection file with every user once (instance 0). */
  readonly csv: string;
  /** The first user only: warm-up, and registering the MESSAGE recipient. */
  readonly firstUserCsv: string;
  /** Where every binding points: the uas that answers relayed MESSAGEs. */
  readonly uasPort: number;
  readonly workDir: string;
}

function sippBase(harness: Harness, scenario: string, csv: string, authUri: string): SippOptions {
  return {
    name: scenario.replace('.xml', ''),
    scenario: { file: join(SCENARIOS, scenario), role: 'client' },
    transport: 'udp',
    localPort: 0, // replaced by the caller with a fresh port
    remote: { host: harness.server.host, port: harness.server.port },
    // One socket per call: many clients as a registrar sees them (and spread by the kernel
    // across SO_REUSEPORT workers, for a server that has them).
    socketPerCall: true,
    timeoutSeconds: stepSeconds + 30,
    recvTimeoutMs: 5000,
    keys: {
      domain: settings.realm,
      contact_host: `127.0.0.1:${harness.uasPort}`,
      recipient: harness.users[0]?.user ?? 'nobody',
    },
    extraArgs: [
      '-inf',
      csv,
      // RFC 3261 §22.4: the digest uri is the Request-URI (sipp's default is remote_ip:port).
      '-auth_uri',
      authUri,
      '-max_socket',
      '10000',
      ...SIPP_BUFFERS,
    ],
  };
}

/**
 * 4 MiB socket buffers for every sipp (capped by net.core.rmem_max/wmem_max), as in
 * bench:sip: with sipp's default 128 KiB the MESSAGE uas's one socket overflows whenever sipp
 * waits for a core, and the step fails on drops at the load generator.
 */
const SIPP_BUFFERS = ['-buff_size', String(4 * 1024 * 1024)];

/** Registers the first user once (its binding is the MESSAGE recipient); throws on failure. */
async function registerFirstUser(harness: Harness): Promise<void> {
  const summary = await runSipp({
    ...sippBase(harness, 'register-auth.xml', harness.firstUserCsv, settings.realm),
    localPort: await freePort(),
    calls: 1,
    rate: 1,
    timeoutSeconds: 20,
  });
  if (summary.successfulCalls !== 1) {
    throw new Error(
      `${harness.server.name}: the first registration failed\n${describeSummary(summary)}\n` +
        `${summary.diagnostics.slice(-1500)}\n${harness.server.logs?.() ?? ''}`,
    );
  }
}

function logStep(
  harness: Harness,
  method: string,
  rate: number,
  calls: number,
  verdict: string,
  summaries: readonly SippSummary[],
): void {
  console.log(
    `  ${harness.server.name} ${method} ${String(rate).padStart(5)}/s × ${calls}: ${verdict}` +
      (verdict === 'ok'
        ? ''
        : summaries.map((summary) => `\n    ${describeSummary(summary)}`).join('') +
          `\n    ${lastError(summaries[0]?.diagnostics ?? '')}` +
          (process.env.REG_DEBUG ? `\n${summaries[0]?.diagnostics ?? ''}` : '')),
  );
}

/** The last sipp error line (why a call was aborted), for the step log. */
function lastError(diagnostics: string): string {
  const lines = diagnostics.split('\n').filter((line) => /Aborting|unexpected|failed/i.test(line));
  return (lines[lines.length - 1] ?? '').replace(/\s+/g, ' ').slice(0, 300);
}

/**
 * Waits for the server to go quiet before the next step: an overloaded step leaves a backlog
 * (datagrams queued in its socket buffer, work in flight) that would fail the next step too.
 */
async function drained(harness: Harness): Promise<void> {
  await sleep(500);
  const { waitedMs, idle } = await waitUntilIdle(() => harness.server.pid());
  if (waitedMs > 1000 || !idle) {
    console.log(
      `    ${harness.server.name} ${idle ? 'went quiet after' : 'still busy after'} ${(waitedMs / 1000).toFixed(1)} s`,
    );
  }
}

async function registerStep(harness: Harness, rate: number): Promise<StepResult> {
  const calls = Math.max(10, Math.round(rate * stepSeconds));
  const started = Date.now();
  const uac = await runSipp({
    ...sippBase(harness, 'register-auth.xml', harness.csv, settings.realm),
    localPort: await freePort(),
    calls,
    rate,
  });
  // sipp's own start-up and the last call's round trip are not part of the offered load.
  const elapsedMs = Math.max(1, Date.now() - started - 200);
  const verdict = stepVerdict({ ...uac, calls, rate, elapsedMs });
  logStep(harness, 'REGISTER', rate, calls, verdict, [uac]);
  await drained(harness);
  return { rate, passed: verdict === 'ok', verdict };
}

async function messageStep(harness: Harness, rate: number): Promise<StepResult> {
  const calls = Math.max(10, Math.round(rate * stepSeconds));
  const recipient = harness.users[0]?.user ?? 'nobody';
  const uas = await startSipp({
    name: 'message-uas',
    scenario: { file: join(SCENARIOS, 'message-uas.xml'), role: 'server' },
    transport: 'udp',
    localPort: harness.uasPort,
    timeoutSeconds: stepSeconds + 40,
    extraArgs: SIPP_BUFFERS,
  });
  const started = Date.now();
  let uac: SippSummary;
  try {
    uac = await runSipp({
      ...sippBase(harness, 'message-auth.xml', harness.csv, `${recipient}@${settings.realm}`),
      localPort: await freePort(),
      calls,
      rate,
    });
  } finally {
    // One more -fd 1 stat dump so the uas's retransmission count is final.
    await sleep(1100);
  }
  const elapsedMs = Math.max(1, Date.now() - started - 1300);
  const uasSummary = await uas.stop();
  const verdict = stepVerdict({
    ...uac,
    retransmissions: uac.retransmissions + uasSummary.retransmissions,
    calls,
    rate,
    elapsedMs,
  });
  logStep(harness, 'MESSAGE', rate, calls, verdict, [uac, uasSummary]);
  await drained(harness);
  return { rate, passed: verdict === 'ok', verdict };
}

/** One retry when sipp quit early on its own with no failure: a harness hiccup. */
async function withRetry(
  step: (rate: number) => Promise<StepResult>,
  rate: number,
): Promise<StepResult> {
  const first = await step(rate);
  if (first.passed || !first.verdict.startsWith('sipp ended early')) return first;
  console.log('    retrying the step once');
  return step(rate);
}

function search(step: (rate: number) => Promise<StepResult>): Promise<RateSearchResult> {
  return findMaxRate((rate) => withRetry(step, rate), {
    startRate: Number(args['start-rate']),
    minRate: 10,
    maxRate: Number(args['max-rate']),
    precision: 0.05,
    budgetMs,
    granularity: 10,
  });
}

async function prepare(server: RegistrarUnderTest, users: readonly RegistrarUser[]) {
  const workDir = await mkdtemp(join(tmpdir(), 'bench-registrar-'));
  const csv = join(workDir, 'users.csv');
  const firstUserCsv = join(workDir, 'first.csv');
  await writeFile(csv, injectionCsv(users));
  await writeFile(firstUserCsv, injectionCsv(users.slice(0, 1)));
  const started = Date.now();
  await server.provision(users);
  console.log(`  provisioned ${users.length} users in ${Date.now() - started} ms`);
  const harness: Harness = {
    server,
    users,
    csv,
    firstUserCsv,
    uasPort: await freePort(),
    workDir,
  };
  await registerFirstUser(harness); // warm-up (lazy table loads) + the MESSAGE recipient
  return harness;
}

/** Rates, in their own server instance. */
/**
 * CPU time of the server's process tree (user + system, every thread) per call at a fixed
 * `rate`, after a warm-up step at the same rate (caches filled, code optimised); undefined
 * when either step fails.
 */
async function cpuPerCall(
  server: RegistrarUnderTest,
  method: string,
  rate: number,
  step: (rate: number) => Promise<StepResult>,
): Promise<number | undefined> {
  const warm = await step(rate);
  const before = cpuSeconds(server.pid());
  const measured = await step(rate);
  const seconds = cpuSeconds(server.pid()) - before;
  const calls = rate * stepSeconds;
  const perCall = (seconds * 1e6) / calls;
  // The warm-up step may fail (a cold server is slower); only the measured one must pass.
  const ok = measured.verdict === 'ok';
  console.log(
    `  ${server.name} ${method} CPU at ${String(rate)}/s: ` +
      (ok ? `${perCall.toFixed(1)} µs per call` : 'the measured step failed') +
      (warm.verdict === 'ok' ? '' : ' (warm-up step failed)'),
  );
  return ok ? Math.round(perCall * 10) / 10 : undefined;
}

async function measureRates(name: string, figures: Record<string, unknown>): Promise<void> {
  const factory = REGISTRAR_FACTORIES[name];
  if (factory === undefined) {
    throw new Error(
      `unknown server "${name}"; known: ${Object.keys(REGISTRAR_FACTORIES).join(', ')}`,
    );
  }
  const server = await factory(settings);
  let harness: Harness | undefined;
  try {
    console.log(
      `${name}: ${server.host}:${server.port}/${server.transport}, realm ${server.realm}`,
    );
    harness = await prepare(server, benchUsers(Number(args.users)));
    const ready = harness;
    const methods = args.methods.split(',');
    const cpuRate = Number(args['cpu-rate']);
    if (cpuRate > 0 && methods.includes('register'))
      figures.registerCpuMicrosPerCall = await cpuPerCall(server, 'REGISTER', cpuRate, (rate) =>
        registerStep(ready, rate),
      );
    if (cpuRate > 0 && methods.includes('message')) {
      await registerFirstUser(ready);
      figures.messageCpuMicrosPerCall = await cpuPerCall(server, 'MESSAGE', cpuRate, (rate) =>
        messageStep(ready, rate),
      );
    }
    if (args['cpu-only']) return;
    if (methods.includes('register')) {
      const register = await search((rate) => registerStep(ready, rate));
      figures.registerPerSecond = register.maxRate;
      figures.register = register;
    }
    if (methods.includes('message')) {
      await registerFirstUser(ready); // the recipient's binding, whatever the search did
      const message = await search((rate) => messageStep(ready, rate));
      figures.messagePerSecond = message.maxRate;
      figures.message = message;
    }
  } finally {
    await server.stop();
    if (harness !== undefined) await rm(harness.workDir, { recursive: true, force: true });
  }
}

/**
 * Memory per binding, in a fresh server instance: provision the users, register one (warm-up),
 * sample, register every other binding once, sample again.
 */
async function measureMemory(
  name: string,
  registerPerSecond: number | undefined,
  figures: Record<string, unknown>,
): Promise<BindingMemory> {
  const factory = REGISTRAR_FACTORIES[name];
  if (factory === undefined) throw new Error(`unknown server "${name}"`);
  const contactsPerUser = Number(args['contacts-per-user']);
  const userCount = Math.ceil(Number(args['memory-bindings']) / contactsPerUser);
  const requested = Number(args['memory-rate']);
  const rate =
    requested > 0
      ? requested
      : Math.max(100, Math.round(((registerPerSecond ?? 200) * 0.5) / 10) * 10);
  const server = await factory(settings);
  let harness: Harness | undefined;
  try {
    console.log(`${name}: memory, ${userCount} users × ${contactsPerUser} contacts at ${rate}/s`);
    harness = await prepare(server, benchUsers(userCount));
    const restCsv = join(harness.workDir, 'rest.csv');
    // Every line but the warm-up one: each call creates exactly one new binding.
    const allLines = injectionCsv(harness.users, contactsPerUser).split('\n');
    await writeFile(restCsv, [allLines[0], ...allLines.slice(2)].join('\n'));
    const lines = userCount * contactsPerUser - 1;
    await sleep(1000);
    const before = await sampleMemory(server);
    const started = Date.now();
    const summary = await runSipp({
      ...sippBase(harness, 'register-auth.xml', restCsv, settings.realm),
      localPort: await freePort(),
      calls: lines,
      rate,
      timeoutSeconds: Math.ceil(lines / rate) + 60,
    });
    const seconds = (Date.now() - started) / 1000;
    // Transactions end (Timer J, 32 s over UDP) before the sample, for every server alike.
    await sleep(Number(args['settle-seconds']) * 1000);
    const after = await sampleMemory(server);
    const added = summary.successfulCalls;
    console.log(
      `  ${describeSummary(summary)} in ${seconds.toFixed(0)} s; ` +
        `server count ${String(before.bindings)} → ${String(after.bindings)}`,
    );
    const memory: BindingMemory = {
      bindings: added + 1,
      rssBytesPerBinding: perBinding(before.rssBytes, after.rssBytes, added),
      pssBytesPerBinding: perBinding(before.pssBytes, after.pssBytes, added),
      shmBytesPerBinding: perBinding(before.sharedPoolBytes, after.sharedPoolBytes, added),
    };
    figures.memoryRun = {
      users: userCount,
      contactsPerUser,
      rate,
      seconds,
      sipp: { successful: summary.successfulCalls, failed: summary.failedCalls },
      before: describeSample(before),
      after: describeSample(after),
    };
    return memory;
  } finally {
    await server.stop();
    if (harness !== undefined) await rm(harness.workDir, { recursive: true, force: true });
  }
}

function describeSample(sample: MemorySample): Record<string, number | null> {
  return {
    processes: sample.processes,
    rssBytes: sample.rssBytes,
    pssBytes: sample.pssBytes,
    sharedPoolBytes: sample.sharedPoolBytes ?? null,
    bindings: sample.bindings ?? null,
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
}

async function main(): Promise<void> {
  const names = args.servers
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const servers: ServerFigures[] = [];
  const details: Record<string, Record<string, unknown>> = {};
  for (const name of names) {
    const figures: Record<string, unknown> = {};
    details[name] = figures;
    let memory: BindingMemory | undefined;
    const errors: string[] = [];
    try {
      if (!args['skip-rates']) await measureRates(name, figures);
    } catch (error) {
      console.error(`${name}: rates failed: ${String(error)}`);
      errors.push(`rates: ${errorText(error)}`);
    }
    const registerPerSecond = figures.registerPerSecond as number | undefined;
    if (!args['skip-memory'] && errors.length === 0) {
      try {
        memory = await measureMemory(name, registerPerSecond, figures);
      } catch (error) {
        console.error(`${name}: memory failed: ${String(error)}`);
        errors.push(`memory: ${errorText(error)}`);
      }
    }
    const messagePerSecond = figures.messagePerSecond as number | undefined;
    const registerCpuMicrosPerCall = figures.registerCpuMicrosPerCall as number | undefined;
    const messageCpuMicrosPerCall = figures.messageCpuMicrosPerCall as number | undefined;
    servers.push({
      name,
      ...(registerPerSecond === undefined ? {} : { registerPerSecond }),
      ...(messagePerSecond === undefined ? {} : { messagePerSecond }),
      ...(registerCpuMicrosPerCall === undefined ? {} : { registerCpuMicrosPerCall }),
      ...(messageCpuMicrosPerCall === undefined ? {} : { messageCpuMicrosPerCall }),
      ...(memory === undefined ? {} : { memory }),
      ...(errors.length === 0 ? {} : { error: errors.join('; ') }),
    });
  }
  const report = {
    date: new Date().toISOString(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
    method: {
      register:
        'REGISTER → 401 → REGISTER with Authorization (qop=auth, MD5) → 200; one user per call',
      message: 'MESSAGE → 407 → MESSAGE with Proxy-Authorization → lookup → relay to the uas → 200',
      pass: 'every transaction successful, zero retransmissions (uac and uas), offered ≥ 85 % of target',
      users: Number(args.users),
      stepSeconds,
      budgetSecondsPerMethodPerServer: budgetMs / 1000,
      workers: settings.children,
      realm: settings.realm,
    },
    servers,
    details,
  };
  await mkdir(dirname(args.out), { recursive: true });
  await writeFile(args.out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\n${summaryLines(servers).join('\n')}\nresults: ${args.out}`);
}

await main();

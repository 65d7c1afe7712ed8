import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { requireProgram, startProcess, waitUntil } from './process.ts';
import type { ManagedProcess } from './process.ts';
import { tcpAccepts, udpBound } from './ports.ts';

/** Folder of the XML scenarios written for these tests. */
export const SCENARIO_DIR = resolve(import.meta.dirname, '../interop/scenarios');

/** A sipp built-in scenario (`-sn`) or an XML file (`-sf`, relative to {@link SCENARIO_DIR}). */
export type SippScenario =
  | { readonly builtin: 'uac' | 'uas' }
  | { readonly file: string; readonly role: 'client' | 'server' };

/** SIP transport as sipp speaks it (no TLS here: use a socat bridge). */
export type SippTransport = 'udp' | 'tcp';

/** Options of {@link startSipp}. */
export interface SippOptions {
  readonly scenario: SippScenario;
  readonly transport: SippTransport;
  /** Local port on 127.0.0.1 (`-p`). */
  readonly localPort: number;
  /** Where a client sends its requests (the proxy under test). Omit for a server. */
  readonly remote?: { readonly host: string; readonly port: number };
  /** Number of calls after which sipp exits (`-m`). Omit for a server that runs until stopped. */
  readonly calls?: number;
  /** Calls per second (`-r`). */
  readonly rate?: number;
  /** Maximum simultaneous calls (`-l`). */
  readonly concurrentLimit?: number;
  /** sipp's own global timeout in seconds (`-timeout`); the process is killed 5 s later. */
  readonly timeoutSeconds: number;
  /** Per-message receive timeout in ms (`-recv_timeout`); a call fails when it expires. */
  readonly recvTimeoutMs?: number;
  /** User part of the Request-URI (`-s`). */
  readonly service?: string;
  /** Generic `[keyword]` values (`-key`). */
  readonly keys?: Readonly<Record<string, string>>;
  /**
   * One socket (UDP) or connection (TCP) per call (`-t un` / `-t tn`) instead of one for all
   * calls: many clients, as an edge sees them, rather than one busy peer.
   */
  readonly socketPerCall?: boolean;
  /** Extra raw arguments, appended last. */
  readonly extraArgs?: readonly string[];
  /** Name used in error messages. */
  readonly name?: string;
}

/** What sipp reported at the end of a run. */
export interface SippSummary {
  readonly name: string;
  /** sipp's exit code: 0 all calls succeeded, 1 some failed, 99 none processed, -1/-2 fatal. */
  readonly exitCode: number | null;
  /** True when we had to kill sipp because it overran `timeoutSeconds`. */
  readonly killedByHarness: boolean;
  readonly outgoingCalls: number;
  readonly incomingCalls: number;
  readonly successfulCalls: number;
  readonly failedCalls: number;
  /** Retransmissions sipp sent or received (max of stat CSV and `-trace_counts`). */
  readonly retransmissions: number;
  readonly failedMaxUdpRetrans: number;
  readonly failedTimeoutOnRecv: number;
  readonly failedUnexpectedMessage: number;
  readonly deadCallMessages: number;
  readonly outOfCallMessages: number;
  /** Mean response time 1 (INVITE → final) in ms, when the scenario measures it. */
  readonly responseTimeMs: number;
  /** Last lines of sipp's screen and of the unexpected-messages log, for diagnostics. */
  readonly diagnostics: string;
}

/** A running sipp. */
export interface SippProcess {
  readonly name: string;
  readonly process: ManagedProcess;
  /** Settles with the summary once sipp has exited (by itself or through `stop()`). */
  readonly done: Promise<SippSummary>;
  /** Asks sipp to quit (SIGUSR1 = the `q` key), SIGKILL after 3 s; returns the summary. */
  stop(): Promise<SippSummary>;
}

/**
 * Parses the `-trace_stat` CSV (header line of `;`-separated names, one line per dump) and
 * returns the last dump as name → value. Time cells contain tabs; they stay strings.
 */
export function parseSippStatCsv(text: string): Map<string, string> {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const header = lines[0];
  const last = lines[lines.length - 1];
  const values = new Map<string, string>();
  if (header === undefined || last === undefined || lines.length < 2) return values;
  const names = header.split(';');
  const cells = last.split(';');
  names.forEach((name, index) => {
    if (name !== '') values.set(name, cells[index] ?? '');
  });
  return values;
}

/** Sum of the `*_Retrans` columns of the last line of a `-trace_counts` CSV. */
export function sumCountsRetransmissions(text: string): number {
  const stats = parseSippStatCsv(text);
  let total = 0;
  for (const [name, value] of stats) {
    if (name.endsWith('_Retrans')) total += Number(value) || 0;
  }
  return total;
}

/** Parses sipp's `HH:MM:SS:micros` durations into milliseconds. */
export function parseSippDurationMs(value: string | undefined): number {
  if (value === undefined) return 0;
  const parts = value.split(':').map(Number);
  if (parts.length !== 4 || parts.some((n) => Number.isNaN(n))) return 0;
  const [hours = 0, minutes = 0, seconds = 0, micros = 0] = parts;
  return ((hours * 60 + minutes) * 60 + seconds) * 1000 + micros / 1000;
}

function counter(stats: Map<string, string>, name: string): number {
  return Number(stats.get(`${name}(C)`) ?? '0') || 0;
}

function buildArgs(options: SippOptions, statFile: string): string[] {
  const args: string[] = [];
  if (options.remote !== undefined) args.push(`${options.remote.host}:${options.remote.port}`);
  if ('builtin' in options.scenario) args.push('-sn', options.scenario.builtin);
  else args.push('-sf', resolve(SCENARIO_DIR, options.scenario.file));
  args.push(
    '-t',
    (options.transport === 'udp' ? 'u' : 't') + (options.socketPerCall === true ? 'n' : '1'),
    '-i',
    '127.0.0.1',
    '-p',
    String(options.localPort),
    '-bind_local',
    '-nostdin',
    '-timeout',
    `${options.timeoutSeconds}s`,
    '-trace_stat',
    '-stf',
    statFile,
    '-fd',
    '1',
    '-trace_counts',
    '-trace_err',
    '-trace_screen',
  );
  if (options.calls !== undefined) args.push('-m', String(options.calls));
  if (options.rate !== undefined) args.push('-r', String(options.rate));
  if (options.concurrentLimit !== undefined) args.push('-l', String(options.concurrentLimit));
  if (options.recvTimeoutMs !== undefined)
    args.push('-recv_timeout', String(options.recvTimeoutMs));
  if (options.service !== undefined) args.push('-s', options.service);
  for (const [key, value] of Object.entries(options.keys ?? {})) args.push('-key', key, value);
  args.push(...(options.extraArgs ?? []));
  return args;
}

async function readIfPresent(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

async function summarize(
  name: string,
  workDir: string,
  statFile: string,
  managed: ManagedProcess,
  killedByHarness: boolean,
): Promise<SippSummary> {
  const exit = await managed.exited;
  const stats = parseSippStatCsv(await readIfPresent(statFile));
  const files = await readdir(workDir);
  let countedRetrans = 0;
  let diagnostics = '';
  for (const file of files) {
    const content = await readIfPresent(join(workDir, file));
    if (file.endsWith('_counts.csv')) countedRetrans += sumCountsRetransmissions(content);
    if (file.endsWith('_errors.log') || file.endsWith('_screen.log')) {
      diagnostics += `--- ${file}\n${content.slice(-3000)}\n`;
    }
  }
  diagnostics += `--- stderr\n${managed.stderr().slice(-2000)}`;
  return {
    name,
    exitCode: exit.code,
    killedByHarness,
    outgoingCalls: counter(stats, 'OutgoingCall'),
    incomingCalls: counter(stats, 'IncomingCall'),
    successfulCalls: counter(stats, 'SuccessfulCall'),
    failedCalls: counter(stats, 'FailedCall'),
    retransmissions: Math.max(counter(stats, 'Retransmissions'), countedRetrans),
    failedMaxUdpRetrans: counter(stats, 'FailedMaxUDPRetrans'),
    failedTimeoutOnRecv: counter(stats, 'FailedTimeoutOnRecv'),
    failedUnexpectedMessage: counter(stats, 'FailedUnexpectedMessage'),
    deadCallMessages: counter(stats, 'DeadCallMsgs'),
    outOfCallMessages: counter(stats, 'OutOfCallMsgs'),
    responseTimeMs: parseSippDurationMs(stats.get('ResponseTime1(C)')),
    diagnostics,
  };
}

/**
 * Starts sipp on 127.0.0.1 in its own temp dir (traces land there and are removed after
 * the summary is read). A server is ready when this resolves (its port is bound).
 */
export async function startSipp(options: SippOptions): Promise<SippProcess> {
  const sipp = requireProgram('sipp', 'sip-tester');
  const name =
    options.name ??
    `sipp ${'builtin' in options.scenario ? options.scenario.builtin : options.scenario.file}`;
  const workDir = await mkdtemp(join(tmpdir(), 'rampart-sipp-'));
  const statFile = join(workDir, 'stat.csv');
  const managed = startProcess(name, sipp, buildArgs(options, statFile), { cwd: workDir });
  let killedByHarness = false;
  const hardLimit = setTimeout(
    () => {
      killedByHarness = true;
      managed.child.kill('SIGKILL');
    },
    (options.timeoutSeconds + 5) * 1000,
  );
  const done = (async (): Promise<SippSummary> => {
    try {
      await managed.exited;
      return await summarize(name, workDir, statFile, managed, killedByHarness);
    } finally {
      clearTimeout(hardLimit);
      await rm(workDir, { recursive: true, force: true });
    }
  })();
  const isServer =
    'builtin' in options.scenario
      ? options.scenario.builtin === 'uas'
      : options.scenario.role === 'server';
  if (isServer) {
    try {
      await waitUntil(
        async () =>
          managed.hasExited ||
          (options.transport === 'udp'
            ? await udpBound(options.localPort)
            : await tcpAccepts(options.localPort)),
        5000,
        () => `${name} did not bind 127.0.0.1:${options.localPort}\n${managed.stderr()}`,
      );
    } catch (error) {
      managed.child.kill('SIGKILL');
      await done;
      throw error;
    }
    if (managed.hasExited) {
      const summary = await done;
      throw new Error(
        `${name} exited at start (code ${String(summary.exitCode)})\n${summary.diagnostics}`,
      );
    }
  }
  return {
    name,
    process: managed,
    done,
    async stop(): Promise<SippSummary> {
      await managed.stop('SIGUSR1', 3000);
      return done;
    },
  };
}

/** Runs a client sipp to completion and returns its summary. */
export async function runSipp(options: SippOptions): Promise<SippSummary> {
  const sipp = await startSipp(options);
  return sipp.done;
}

/** One line describing a summary, for assertion messages and logs. */
export function describeSummary(summary: SippSummary): string {
  return (
    `${summary.name}: exit=${String(summary.exitCode)} ok=${summary.successfulCalls} ` +
    `failed=${summary.failedCalls} retrans=${summary.retransmissions} ` +
    `out=${summary.outgoingCalls} in=${summary.incomingCalls}` +
    (summary.killedByHarness ? ' (killed by harness)' : '')
  );
}

// Builds a network of Linux network namespaces from a plan (roles, bridges, veth links,
// addresses, routes, nftables rulesets), one network per test process, each namespace named
// `rt-<pid>-<role>`; runs commands inside them; and deletes them all afterwards, also when
// the test process exits early or is interrupted. netns.ts builds plan.ts's topology with
// it; federation-plan.ts describes another.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { requireProgram, sleep, startProcess } from '../helpers/process.ts';
import type { ManagedProcess, ProcessExit } from '../helpers/process.ts';

/** Repository root. */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');

/**
 * The Node.js that runs code inside a namespace: the project's pinned Node 24 when
 * installed, else the one running the tests.
 */
export const NODE_BINARY = existsSync(join(REPO_ROOT, 'node_modules/.bin/node'))
  ? join(REPO_ROOT, 'node_modules/.bin/node')
  : process.execPath;

/** How a command run to completion ended. */
export interface RunResult extends ProcessExit {
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link Network.exec} and {@link Network.run}. */
export interface ExecOptions {
  /** Extra environment, on top of the test process's. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Name in error messages; defaults to `<role>:<program>`. */
  readonly name?: string;
}

/** Options of {@link Network.run}. */
export interface RunOptions extends ExecOptions {
  /** The command is killed after this long and the result says so (default 10 s). */
  readonly timeoutMs?: number;
}

/** A built network of namespaces. Every method names a namespace by its role. */
export interface Network<R extends string> {
  /** `rt-<pid>-`: every namespace name starts with it. */
  readonly prefix: string;
  /** Namespace names, e.g. `ns.dmz === 'rt-1234-dmz'`. */
  readonly ns: Readonly<Record<R, string>>;
  /**
   * Starts `argv` inside the namespace (`ip netns exec`, which execs: signals reach the
   * program itself). The process is stopped by {@link Network.destroy} if still running.
   */
  exec(role: R, argv: readonly string[], options?: ExecOptions): ManagedProcess;
  /** Runs `argv` inside the namespace to completion; never rejects on a non-zero exit. */
  run(role: R, argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Like {@link Network.run}, but throws with the output unless the exit code is 0. */
  runOk(role: R, argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** True once {@link Network.destroy} has started. */
  readonly destroyed: boolean;
  /**
   * Stops the processes started with {@link Network.exec}, then deletes every namespace
   * (deleting a namespace deletes its veths and bridges). Idempotent.
   */
  destroy(): Promise<void>;
}

const EXECUTABLES = [
  ['ip', 'iproute2'],
  ['nft', 'nftables'],
  ['sysctl', 'procps'],
  ['tshark', 'tshark'],
  ['dumpcap', 'wireshark-common'],
] as const;

/**
 * Throws unless the harness can run: root, and iproute2, nftables, procps and tshark
 * installed. Topology tests fail rather than skip: a missing tool is a broken environment.
 */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'topology tests need root (network namespaces, veth, nftables, packet capture) and ' +
        `the Debian packages ${[...new Set(EXECUTABLES.map(([, pkg]) => pkg))].join(', ')}: ` +
        'run them as root, e.g. in the CI container or with sudo',
    );
  }
  for (const [program, debianPackage] of EXECUTABLES) requireProgram(program, debianPackage);
}

/** Environment for commands inside a namespace: the runner's, minus node:test's marker. */
function childEnv(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  // A child Node that sees this believes it is a test file reporting to our runner.
  delete env['NODE_TEST_CONTEXT'];
  return env;
}

/** Runs a command in the root namespace; resolves with its output whatever the exit code. */
function runHost(argv: readonly string[], input?: string, timeoutMs = 10_000): Promise<RunResult> {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('empty argv');
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolvePromise({ code: -1, signal: null, stdout, stderr: `${stderr}${error.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    // A command that exits before reading its input is reported by its exit code.
    child.stdin?.on('error', () => undefined).end(input);
  });
}

/** Like runHost, but throws with stderr unless the exit code is 0. */
async function runHostOk(argv: readonly string[], input?: string): Promise<RunResult> {
  const result = await runHost(argv, input);
  if (result.code !== 0) {
    throw new Error(
      `${argv.join(' ')} failed (code ${String(result.code)}): ${result.stderr.trim()}`,
    );
  }
  return result;
}

/** Names from `ip netns list` (each line is `<name> (id: N)` or just `<name>`). */
export function listNamespaces(): string[] {
  const result = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip netns list failed: ${result.stderr}`);
  return result.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * SIGKILLs every process still inside namespace `name` (children of what the test started,
 * such as tshark's dumpcap or Rampart's workers): a namespace whose name is deleted lives
 * on, unreachable, as long as one process is inside.
 */
function killNamespaceProcesses(name: string): void {
  const result = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' });
  for (const pid of result.stdout.split(/\s+/).filter((text) => /^\d+$/.test(text))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function deleteNamespaceSync(name: string): void {
  killNamespaceProcesses(name);
  spawnSync('ip', ['netns', 'del', name]);
}

/**
 * Deletes namespaces left by test processes that died without cleaning up (SIGKILL, a
 * crashed runner): any `rt-<pid>-*` whose pid is no longer running. Returns their names.
 */
export function sweepStaleNamespaces(): string[] {
  const stale = listNamespaces().filter((name) => {
    const match = /^rt-(\d+)-/.exec(name);
    return match !== null && Number(match[1]) !== process.pid && !processAlive(Number(match[1]));
  });
  for (const name of stale) deleteNamespaceSync(name);
  return stale;
}

// Namespaces of every live topology of this process, deleted synchronously on exit.
const liveTopologies = new Set<{ cleanupSync(): void }>();
let exitHooksInstalled = false;

function cleanupAllSync(): void {
  for (const topology of liveTopologies) topology.cleanupSync();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', cleanupAllSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      cleanupAllSync();
      // Only we listen: the default action (termination) must still happen.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** One veth pair: `hostIf` in `host`, `peerIf` in `peer`. */
export interface PlanLink<R extends string> {
  readonly host: R;
  readonly hostIf: string;
  readonly peer: R;
  readonly peerIf: string;
}

/** What {@link buildNetwork} builds. */
export interface NetworkPlan<R extends string> {
  /** Every namespace, by role. */
  readonly roles: readonly R[];
  /** Namespaces that hold a bridge named `bridge`; veth ends placed there become its ports. */
  readonly bridges: readonly R[];
  readonly bridge: string;
  readonly links: readonly PlanLink<R>[];
  /** `[role, interface, address/prefix]` of each host interface. */
  readonly hostAddresses: readonly (readonly [R, string, string])[];
  /** Namespaces with `net.ipv4.ip_forward=1`; every other one has 0. */
  readonly forwarding: readonly R[];
  /** `ip route add` arguments per namespace, e.g. `['default', 'via', '198.51.100.1']`. */
  readonly routes: readonly (readonly [R, readonly string[]])[];
  /** nftables rulesets loaded (`nft -f -`) into a namespace once its addresses are up. */
  readonly nftables: readonly (readonly [R, string])[];
}

/**
 * Waits until every interface is operationally up: the kernel reports a veth's carrier
 * asynchronously, and a packet sent before that is dropped.
 */
async function waitLinksUp<R extends string>(
  roles: readonly R[],
  ns: Readonly<Record<R, string>>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const down: string[] = [];
    for (const role of roles) {
      const { stdout } = await runHostOk(['ip', '-n', ns[role], '-br', 'link', 'show']);
      for (const line of stdout.split('\n')) {
        const [name, state] = line.trim().split(/\s+/);
        if (name === undefined || name === '' || name === 'lo') continue;
        if (state !== 'UP') down.push(`${role}:${name.replace(/@.*/, '')} ${state ?? '?'}`);
      }
    }
    if (down.length === 0) return;
    if (Date.now() > deadline) throw new Error(`links still down: ${down.join(', ')}`);
    await sleep(50);
  }
}

/**
 * Builds `plan`, in about a second (mostly waiting for carriers), and returns it with
 * `extra`'s properties. Throws (after deleting whatever it created) when a step fails. Call
 * `after(() => network.destroy())`.
 */
export async function buildNetwork<R extends string, X extends object>(
  plan: NetworkPlan<R>,
  extra: X,
): Promise<Network<R> & X> {
  requireRoot();
  sweepStaleNamespaces();
  installExitHooks();
  const prefix = `rt-${String(process.pid)}-`;
  const ns = Object.fromEntries(plan.roles.map((role) => [role, `${prefix}${role}`])) as Record<
    R,
    string
  >;
  const clash = listNamespaces().filter((name) => name.startsWith(prefix));
  if (clash.length > 0) {
    throw new Error(`namespaces ${clash.join(', ')} exist: one topology per test process`);
  }

  const created: string[] = [];
  const processes = new Set<ManagedProcess>();
  let destroyed = false;
  const cleanupSync = (): void => {
    for (const managed of processes) if (!managed.hasExited) managed.child.kill('SIGKILL');
    for (const name of created.splice(0)) deleteNamespaceSync(name);
  };
  const registration = { cleanupSync };
  liveTopologies.add(registration);

  const ip = (role: R, args: readonly string[]): Promise<RunResult> =>
    runHostOk(['ip', '-n', ns[role], ...args]);
  const inNs = (role: R, argv: readonly string[], input?: string): Promise<RunResult> =>
    runHostOk(['ip', 'netns', 'exec', ns[role], ...argv], input);

  const network: Network<R> & X = {
    ...extra,
    prefix,
    ns,
    get destroyed() {
      return destroyed;
    },
    exec(role, argv, options = {}) {
      if (destroyed) throw new Error(`topology ${prefix} is destroyed`);
      const [program] = argv;
      if (program === undefined) throw new Error('empty argv');
      const managed = startProcess(
        options.name ?? `${role}:${basename(program)}`,
        'ip',
        ['netns', 'exec', ns[role], ...argv],
        { env: childEnv(options.env), ...(options.cwd === undefined ? {} : { cwd: options.cwd }) },
      );
      processes.add(managed);
      void managed.exited.then(() => processes.delete(managed));
      return managed;
    },
    async run(role, argv, options = {}) {
      const managed = network.exec(role, argv, options);
      const timeoutMs = options.timeoutMs ?? 10_000;
      const timedOut = { value: false };
      const timer = setTimeout(() => {
        timedOut.value = true;
        void managed.stop('SIGKILL');
      }, timeoutMs);
      const exit = await managed.exited;
      clearTimeout(timer);
      const note = timedOut.value ? `\n(killed after ${String(timeoutMs)} ms)` : '';
      return { ...exit, stdout: managed.stdout(), stderr: `${managed.stderr()}${note}` };
    },
    async runOk(role, argv, options = {}) {
      const result = await network.run(role, argv, options);
      if (result.code !== 0) {
        throw new Error(
          `[${role}] ${argv.join(' ')} exited ${String(result.code)} (${String(result.signal)})` +
            `\n--- stdout\n${result.stdout.slice(-4000)}\n--- stderr\n${result.stderr.slice(-4000)}`,
        );
      }
      return result;
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await Promise.all([...processes].map((managed) => managed.stop('SIGTERM', 2000)));
      // Deleting a namespace also deletes the veth ends in it and, with them, their peers.
      for (const name of created.splice(0)) deleteNamespaceSync(name);
      liveTopologies.delete(registration);
    },
  };

  try {
    for (const role of plan.roles) {
      // Recorded first: if `add` half-succeeds, cleanup still tries to delete it.
      created.push(ns[role]);
      await runHostOk(['ip', 'netns', 'add', ns[role]]);
      // Set before any interface exists so that no veth gets IPv6 (no ND/MLD noise in
      // captures); loopback keeps ::1.
      await inNs(role, [
        'sysctl',
        '-q',
        '-w',
        'net.ipv6.conf.default.disable_ipv6=1',
        `net.ipv4.ip_forward=${plan.forwarding.includes(role) ? '1' : '0'}`,
      ]);
      await ip(role, ['link', 'set', 'lo', 'up']);
    }
    for (const role of plan.bridges) {
      await ip(role, ['link', 'add', plan.bridge, 'type', 'bridge']);
      await ip(role, ['link', 'set', plan.bridge, 'up']);
    }
    for (const link of plan.links) {
      // Created directly in both namespaces: no name is ever taken in the root namespace,
      // so concurrent test files cannot collide.
      const peer = ['peer', 'name', link.peerIf, 'netns', ns[link.peer]];
      await runHostOk([
        'ip',
        'link',
        'add',
        link.hostIf,
        'netns',
        ns[link.host],
        'type',
        'veth',
        ...peer,
      ]);
      if (plan.bridges.includes(link.peer)) {
        await ip(link.peer, ['link', 'set', link.peerIf, 'master', plan.bridge]);
      }
      await ip(link.peer, ['link', 'set', link.peerIf, 'up']);
    }
    for (const [role, ifName, cidr] of plan.hostAddresses) {
      await ip(role, ['addr', 'add', cidr, 'dev', ifName]);
      await ip(role, ['link', 'set', ifName, 'up']);
    }
    for (const [role, route] of plan.routes) await ip(role, ['route', 'add', ...route]);
    for (const [role, ruleset] of plan.nftables) await inNs(role, ['nft', '-f', '-'], ruleset);
    await waitLinksUp(plan.roles, ns);
  } catch (error) {
    cleanupSync();
    liveTopologies.delete(registration);
    throw error;
  }
  return network;
}

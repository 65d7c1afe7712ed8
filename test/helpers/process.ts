import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Directories searched for peer programs, beyond PATH (Debian puts daemons in sbin). */
const EXTRA_BIN_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

/**
 * Absolute path of `program`, or an Error naming the Debian package that provides it.
 * Interop tests never skip: a missing peer is a broken test environment.
 */
export function requireProgram(program: string, debianPackage: string): string {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), ...EXTRA_BIN_DIRS];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new Error(
    `${program} not found: install the Debian package "${debianPackage}" ` +
      `(apt-get install -y --no-install-recommends ${debianPackage}; scripts/test.sh does it as root)`,
  );
}

/** How a managed process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A spawned peer with captured output and one lifecycle: `stop()` is idempotent. */
export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything written to stdout so far (capped at `outputCapBytes`). */
  stdout(): string;
  /** Everything written to stderr so far (capped at `outputCapBytes`). */
  stderr(): string;
  /** Settles when the process has exited. */
  readonly exited: Promise<ProcessExit>;
  /** True once the process has exited. */
  readonly hasExited: boolean;
  /** Sends `signal`, then SIGKILL after `graceMs`; resolves on exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ProcessExit>;
  /** Resolves when `pattern` appears in stdout or stderr; rejects on exit or timeout. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void>;
}

/** Options of {@link startProcess}. */
export interface StartProcessOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Output kept per stream; older output is dropped. */
  readonly outputCapBytes?: number;
}

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last line of defence: a test process that dies must not leave peers behind.
  process.on('exit', () => {
    for (const managed of live) {
      if (!managed.hasExited) managed.child.kill('SIGKILL');
    }
  });
}

function appendCapped(current: string, chunk: string, cap: number): string {
  const next = current + chunk;
  return next.length > cap ? next.slice(next.length - cap) : next;
}

/** Spawns `command` with stdin closed and stdout/stderr captured. */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: StartProcessOptions = {},
): ManagedProcess {
  installExitHook();
  const cap = options.outputCapBytes ?? 1 << 20;
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let exitInfo: ProcessExit | undefined;
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const waiter of waiters) waiter();
  };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out = appendCapped(out, chunk, cap);
    notify();
  });
  child.stderr.on('data', (chunk: string) => {
    err = appendCapped(err, chunk, cap);
    notify();
  });
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('error', (error) => {
      err = appendCapped(err, `spawn error: ${error.message}\n`, cap);
      exitInfo = { code: -1, signal: null };
      resolve(exitInfo);
      notify();
    });
    child.once('close', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
      notify();
    });
  });

  const managed: ManagedProcess = {
    name,
    child,
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    exited,
    get hasExited() {
      return exitInfo !== undefined;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<ProcessExit> {
      if (exitInfo !== undefined) return exitInfo;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(out) || pattern.test(err)) {
            finish();
            resolve();
          } else if (exitInfo !== undefined) {
            finish();
            reject(
              new Error(
                `${name} exited (code ${String(exitInfo.code)}, signal ${String(exitInfo.signal)}) ` +
                  `before printing ${String(pattern)}\n--- stdout\n${out.slice(-4000)}\n--- stderr\n${err.slice(-4000)}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            new Error(
              `${name} did not print ${String(pattern)} within ${timeoutMs} ms\n--- stdout\n${out.slice(-4000)}\n--- stderr\n${err.slice(-4000)}`,
            ),
          );
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
  live.add(managed);
  void exited.then(() => live.delete(managed));
  return managed;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` every `intervalMs` until it returns true; throws `describe()` on timeout. */
export async function waitUntil(
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
  describe: () => string,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() >= deadline) throw new Error(describe());
    await sleep(intervalMs);
  }
}

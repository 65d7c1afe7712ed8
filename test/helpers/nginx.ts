import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireProgram, startProcess, waitUntil } from './process.ts';
import type { ManagedProcess } from './process.ts';
import { tcpAccepts } from './ports.ts';

/** What a config template gets to fill in. */
export interface NginxConfigContext {
  /** Temp dir of this instance: logs, pid, temp files, and any files written before start. */
  readonly workDir: string;
  /**
   * The lines every generated config needs at the top level (foreground, pid, error log,
   * user) and inside `http {}` (temp paths, access log): see {@link nginxCommon}.
   */
  readonly common: { readonly main: string; readonly http: string };
}

/** Options of {@link startNginx}. */
export interface NginxOptions {
  /** TCP ports on 127.0.0.1 the config listens on; start waits until each accepts. */
  readonly ports: readonly number[];
  /** Full nginx.conf text. */
  readonly config: (context: NginxConfigContext) => string;
  /** Extra files written into the work dir before start (name → content). */
  readonly files?: Readonly<Record<string, string | Buffer>>;
  /** Run under `taskset -c CPUS` (e.g. "0"). */
  readonly cpus?: string;
  readonly startTimeoutMs?: number;
}

/** A running nginx. */
export interface NginxInstance {
  readonly process: ManagedProcess;
  readonly workDir: string;
  readonly configFile: string;
  /** SIGQUIT (graceful), SIGKILL after 5 s, then removes the work dir. Idempotent. */
  stop(): Promise<void>;
}

/** The common lines of a generated config, with every path inside `workDir`. */
export function nginxCommon(workDir: string): NginxConfigContext['common'] {
  const running = process.getuid?.() === 0;
  return {
    main: [
      'daemon off;',
      'master_process on;',
      `pid ${join(workDir, 'nginx.pid')};`,
      `error_log ${join(workDir, 'error.log')} warn;`,
      ...(running ? ['user root;'] : []),
    ].join('\n'),
    http: [
      `access_log ${join(workDir, 'access.log')};`,
      `client_body_temp_path ${join(workDir, 'tmp', 'body')};`,
      `proxy_temp_path ${join(workDir, 'tmp', 'proxy')};`,
      `fastcgi_temp_path ${join(workDir, 'tmp', 'fastcgi')};`,
      `uwsgi_temp_path ${join(workDir, 'tmp', 'uwsgi')};`,
      `scgi_temp_path ${join(workDir, 'tmp', 'scgi')};`,
    ].join('\n'),
  };
}

/**
 * Starts Debian's nginx in the foreground with a generated config in a temp dir (package
 * "nginx"), and resolves once every port accepts TCP connections.
 */
export async function startNginx(options: NginxOptions): Promise<NginxInstance> {
  const nginx = requireProgram('nginx', 'nginx');
  const workDir = await mkdtemp(join(tmpdir(), 'rampart-nginx-'));
  await mkdir(join(workDir, 'tmp'), { recursive: true });
  for (const [name, content] of Object.entries(options.files ?? {})) {
    await writeFile(join(workDir, name), content);
  }
  const configFile = join(workDir, 'nginx.conf');
  await writeFile(configFile, options.config({ workDir, common: nginxCommon(workDir) }));
  const args = ['-c', configFile, '-p', workDir, '-e', join(workDir, 'error.log')];
  const managed =
    options.cpus === undefined
      ? startProcess('nginx', nginx, args, { cwd: workDir })
      : startProcess(
          'nginx',
          requireProgram('taskset', 'util-linux'),
          ['-c', options.cpus, nginx, ...args],
          { cwd: workDir },
        );
  let stopped = false;
  const instance: NginxInstance = {
    process: managed,
    workDir,
    configFile,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await managed.stop('SIGQUIT', 5000);
      await rm(workDir, { recursive: true, force: true });
    },
  };
  try {
    await waitUntil(
      async () => {
        if (managed.hasExited) return true;
        for (const port of options.ports) if (!(await tcpAccepts(port))) return false;
        return true;
      },
      options.startTimeoutMs ?? 10_000,
      () => `nginx did not listen in time\n${managed.stderr().slice(-4000)}`,
    );
    if (managed.hasExited) {
      throw new Error(`nginx exited at start\n${managed.stderr().slice(-6000)}`);
    }
  } catch (error) {
    await instance.stop();
    throw error;
  }
  return instance;
}

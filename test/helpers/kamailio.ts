import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireProgram, startProcess, waitUntil } from './process.ts';
import type { ManagedProcess } from './process.ts';
import { tcpAccepts, udpBound } from './ports.ts';

/** A socket Kamailio listens on (always 127.0.0.1). */
export interface KamailioListen {
  readonly proto: 'udp' | 'tcp' | 'tls';
  readonly port: number;
}

/** What a config template gets to fill in. */
export interface KamailioConfigContext {
  /** Temp dir of this instance (for tls.cfg, certificates, ...). */
  readonly workDir: string;
  /** `listen=` lines for every socket. */
  readonly listenLines: string;
}

/** Options of {@link startKamailio}. */
export interface KamailioOptions {
  readonly listen: readonly KamailioListen[];
  /** Full kamailio.cfg text; receives the listen lines to include. */
  readonly config: (context: KamailioConfigContext) => string;
  /** Extra files written into the work dir before start (name → content). */
  readonly files?: Readonly<Record<string, string>>;
  /** Shared / private memory in MB (`-m`, `-M`). */
  readonly sharedMemoryMb?: number;
  readonly privateMemoryMb?: number;
  readonly startTimeoutMs?: number;
}

/** A running Kamailio. */
export interface KamailioInstance {
  readonly process: ManagedProcess;
  readonly workDir: string;
  readonly configFile: string;
  /** SIGTERM, SIGKILL after 5 s, then removes the work dir. Idempotent. */
  stop(): Promise<void>;
}

/** `listen=` lines for `sockets`. */
export function kamailioListenLines(sockets: readonly KamailioListen[]): string {
  return sockets.map((s) => `listen=${s.proto}:127.0.0.1:${s.port}`).join('\n');
}

/**
 * Starts `kamailio -DD -E` (foreground, logs on stderr) with a generated config in a temp
 * dir, and resolves once every listen socket is bound (TCP/TLS accept connections).
 */
export async function startKamailio(options: KamailioOptions): Promise<KamailioInstance> {
  const kamailio = requireProgram('kamailio', 'kamailio');
  const workDir = await mkdtemp(join(tmpdir(), 'rampart-kamailio-'));
  for (const [name, content] of Object.entries(options.files ?? {})) {
    await writeFile(join(workDir, name), content);
  }
  const configFile = join(workDir, 'kamailio.cfg');
  await writeFile(
    configFile,
    options.config({ workDir, listenLines: kamailioListenLines(options.listen) }),
  );
  const args = [
    '-f',
    configFile,
    '-DD',
    '-E',
    '-Y',
    workDir,
    '-w',
    workDir,
    '-m',
    String(options.sharedMemoryMb ?? 64),
    '-M',
    String(options.privateMemoryMb ?? 8),
  ];
  const managed = startProcess('kamailio', kamailio, args, { cwd: workDir });
  let stopped = false;
  const instance: KamailioInstance = {
    process: managed,
    workDir,
    configFile,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await managed.stop('SIGTERM', 5000);
      await rm(workDir, { recursive: true, force: true });
    },
  };
  try {
    await waitUntil(
      async () => {
        if (managed.hasExited) return true;
        for (const socket of options.listen) {
          const ready =
            socket.proto === 'udp' ? await udpBound(socket.port) : await tcpAccepts(socket.port);
          if (!ready) return false;
        }
        return true;
      },
      options.startTimeoutMs ?? 10_000,
      () => `kamailio did not listen in time\n${managed.stderr().slice(-4000)}`,
    );
    if (managed.hasExited) {
      throw new Error(`kamailio exited at start\n${managed.stderr().slice(-6000)}`);
    }
  } catch (error) {
    await instance.stop();
    throw error;
  }
  return instance;
}

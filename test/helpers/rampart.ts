import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { Endpoint, EndpointTransport, ServiceName, Side } from '../../src/lib/endpoint.ts';
import { startProcess, waitUntil } from './process.ts';
import type { ManagedProcess } from './process.ts';

/** Repository root. */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');

const execFileAsync = promisify(execFile);

/**
 * Runs `rampart ARGS --data-dir DATA_DIR` (e.g. `user add …` against a running deployment's
 * directory) and resolves with its stdout; rejects with the exit code and output on failure.
 */
export async function rampartCli(dataDir: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [join(REPO_ROOT, 'bin/rampart.mjs'), ...args, '--data-dir', dataDir],
    { cwd: REPO_ROOT, timeout: 60_000 },
  );
  return stdout;
}

/** Options of {@link startRampart}. */
export interface RampartOptions {
  /** Config object written as YAML and passed with `--config`. */
  readonly config?: unknown;
  /** Extra CLI arguments after `start`. */
  readonly extraArgs?: readonly string[];
  readonly startTimeoutMs?: number;
  /** Extra environment for the server process. */
  readonly env?: Readonly<Record<string, string>>;
}

/** A running `rampart start`. */
export interface RampartInstance {
  readonly process: ManagedProcess;
  readonly dataDir: string;
  readonly endpoints: readonly Endpoint[];
  /** The endpoint of `service`/`side`/`transport`; throws, listing what exists, if absent. */
  endpoint(service: ServiceName, side: Side, transport: EndpointTransport): Endpoint;
  /** SIGTERM, await exit (SIGKILL after 10 s), remove the data dir. Idempotent. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const TRANSPORTS: readonly EndpointTransport[] = [
  'udp',
  'tcp',
  'tls',
  'ws',
  'wss',
  'http',
  'https',
];
const SIDES: readonly Side[] = ['external', 'internal'];

/** Validates the content of `<data-dir>/endpoints.json`. */
export function parseEndpointsJson(text: string): Endpoint[] {
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error('endpoints.json: expected an array');
  return data.map((item: unknown, index): Endpoint => {
    if (typeof item !== 'object' || item === null) {
      throw new Error(`endpoints.json[${index}]: expected an object`);
    }
    const record = item as Record<string, unknown>;
    const { service, side, transport, host, port } = record;
    if (
      typeof service !== 'string' ||
      typeof host !== 'string' ||
      typeof port !== 'number' ||
      !SIDES.includes(side as Side) ||
      !TRANSPORTS.includes(transport as EndpointTransport)
    ) {
      throw new Error(`endpoints.json[${index}]: bad endpoint ${JSON.stringify(item)}`);
    }
    return {
      service: service as ServiceName,
      side: side as Side,
      transport: transport as EndpointTransport,
      host,
      port,
    };
  });
}

async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).size > 0;
  } catch {
    return false;
  }
}

/**
 * Starts `node bin/rampart.mjs start --ephemeral-ports --data-dir <tmp> [--config <yaml>]`
 * on the Node running the tests, waits for `<data-dir>/endpoints.json` and parses it.
 */
export async function startRampart(options: RampartOptions = {}): Promise<RampartInstance> {
  const dataDir = await mkdtemp(join(tmpdir(), 'rampart-data-'));
  const args = [
    join(REPO_ROOT, 'bin/rampart.mjs'),
    'start',
    '--ephemeral-ports',
    '--data-dir',
    dataDir,
  ];
  if (options.config !== undefined) {
    const configFile = join(dataDir, 'rampart.test.yaml');
    await writeFile(configFile, stringify(options.config));
    args.push('--config', configFile);
  }
  args.push(...(options.extraArgs ?? []));
  const managed = startProcess('rampart', process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
  });
  const endpointsFile = join(dataDir, 'endpoints.json');
  let stopped = false;
  let endpoints: Endpoint[] = [];
  const stop = async (): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    const exit = await managed.stop('SIGTERM', 10_000);
    if (!stopped) {
      stopped = true;
      await rm(dataDir, { recursive: true, force: true });
    }
    return exit;
  };
  try {
    await waitUntil(
      async () => managed.hasExited || (await fileExists(endpointsFile)),
      options.startTimeoutMs ?? 20_000,
      () =>
        `rampart did not write ${endpointsFile} in time\n--- stdout\n${managed.stdout().slice(-4000)}` +
        `\n--- stderr\n${managed.stderr().slice(-4000)}`,
    );
    if (managed.hasExited) {
      throw new Error(
        `rampart exited at start\n--- stdout\n${managed.stdout().slice(-4000)}\n--- stderr\n${managed.stderr().slice(-4000)}`,
      );
    }
    // The file may be written in several chunks: retry parsing until it is complete JSON.
    await waitUntil(
      async () => {
        try {
          endpoints = parseEndpointsJson(await readFile(endpointsFile, 'utf8'));
          return true;
        } catch {
          return false;
        }
      },
      2000,
      () => `${endpointsFile} is not a valid endpoints array`,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    process: managed,
    dataDir,
    endpoints,
    endpoint(service, side, transport) {
      const found = endpoints.find(
        (e) => e.service === service && e.side === side && e.transport === transport,
      );
      if (found === undefined) {
        throw new Error(
          `rampart has no ${service}/${side}/${transport} endpoint; it has ` +
            endpoints.map((e) => `${e.service}/${e.side}/${e.transport}:${e.port}`).join(', '),
        );
      }
      return found;
    },
    stop,
  };
}

/**
 * The CA certificate Rampart generated in its data dir: `<data-dir>/tls/ca.pem`, the path
 * `rampart start` prints. Undefined when there is none.
 */
export async function findGeneratedCaFile(dataDir: string): Promise<string | undefined> {
  const path = join(dataDir, 'tls', 'ca.pem');
  try {
    return (await stat(path)).isFile() ? path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The `rampart` command: `start`, `config check`, `config example`, `--version`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import {
  CONFIG_EXAMPLE,
  formatConfigError,
  loadConfig,
  type RampartConfig,
} from '../config/index.ts';
import type { Endpoint, RunningService } from '../lib/endpoint.ts';
import type { Logger } from '../lib/logger.ts';
import { startAccessEdge } from '../services/access-edge/index.ts';
import { startAdmin } from '../services/admin/index.ts';
import { createServicesRegistry } from '../services/admin/registry.ts';
import { loadTlsMaterial } from '../store/tls-material.ts';
import { EXIT_CODES } from './exit-codes.ts';
import { createLogger } from './logger.ts';

const packageJson = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

interface CommonOptions {
  readonly config?: string;
  readonly dataDir?: string;
}

function loadOrExit(options: CommonOptions & { ephemeralPorts?: boolean }): RampartConfig {
  const loaded = loadConfig({
    ...(options.config === undefined ? {} : { file: options.config }),
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.ephemeralPorts === true ? { ephemeralPorts: true } : {}),
  });
  if (!loaded.ok) {
    process.stderr.write(`rampart: invalid configuration\n${formatConfigError(loaded.error)}\n`);
    process.exit(EXIT_CODES.CONFIG);
  }
  return loaded.value;
}

function endpointTable(endpoints: readonly Endpoint[]): string {
  const rows = endpoints.map((e) => [
    e.service,
    e.side,
    e.transport,
    e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`,
  ]);
  const header = ['SERVICE', 'SIDE', 'TRANSPORT', 'ADDRESS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

async function start(options: CommonOptions & { ephemeralPorts?: boolean }): Promise<void> {
  const config = loadOrExit(options);
  const logger: Logger = createLogger(config.log.level);
  mkdirSync(config.dataDir, { recursive: true });
  const tls = await loadTlsMaterial({
    dataDir: config.dataDir,
    certFile: config.tls.certFile,
    keyFile: config.tls.keyFile,
    caFile: config.tls.caFile,
    names: [...config.tls.names, ...config.domains],
  });
  const registry = createServicesRegistry();
  const services: RunningService[] = [];
  let ready = false;
  const stopAll = async (): Promise<void> => {
    const deadline = Date.now() + config.shutdown.drainTimeoutMs;
    await Promise.all([...services].reverse().map((service) => service.close(deadline)));
    tls.close();
  };
  try {
    if (config['access-edge'].enabled) {
      services.push(
        await startAccessEdge({
          config: config['access-edge'],
          domains: config.domains,
          tls,
          logger,
          registry,
        }),
      );
    }
    const allEndpoints = (): Endpoint[] => services.flatMap((s) => [...s.endpoints]);
    services.push(
      await startAdmin({
        host: config.admin.host,
        port: config.admin.port,
        registry,
        version: packageJson.version,
        getEndpoints: allEndpoints,
        getStatus: () => Object.fromEntries(services.map((s) => [s.name, s.status()])),
        isReady: () => ready,
        logger: logger.child({ service: 'admin' }),
      }),
    );
  } catch (error) {
    logger.error({ error: String(error) }, 'startup failed');
    await stopAll();
    process.exitCode = EXIT_CODES.FAILURE;
    return;
  }
  const endpoints = services.flatMap((s) => [...s.endpoints]);
  writeFileSync(join(config.dataDir, 'endpoints.json'), JSON.stringify(endpoints, null, 2) + '\n');
  process.stdout.write(`Rampart ${packageJson.version} started\n${endpointTable(endpoints)}\n`);
  if (tls.caPath !== undefined)
    process.stdout.write(`CA certificate (trust it in clients): ${tls.caPath}\n`);
  ready = true;
  logger.info({ event: 'started', endpoints: endpoints.length }, 'rampart started');

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    ready = false;
    logger.info({ event: 'stopping', signal }, 'stopping: draining in-flight transactions');
    stopAll().then(
      () => {
        logger.info({ event: 'stopped' }, 'stopped');
        process.exit(EXIT_CODES.OK);
      },
      (error: unknown) => {
        logger.error({ error: String(error) }, 'shutdown failed');
        process.exit(EXIT_CODES.FAILURE);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Builds the command-line program. */
export function buildProgram(): Command {
  const program = new Command('rampart')
    .description('Rampart: an open edge server for real-time communications')
    .version(packageJson.version, '-v, --version')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  const common = (command: Command): Command =>
    command
      .option('-c, --config <file>', 'configuration file (YAML)')
      .option('-d, --data-dir <dir>', 'data directory');

  common(program.command('start').description('start every enabled service'))
    .option('--ephemeral-ports', 'bind every listener to an ephemeral port (tests, tooling)')
    .action(async (options: CommonOptions & { ephemeralPorts?: boolean }) => {
      await start(options);
    });

  const configCommand = program.command('config').description('configuration tools');
  common(
    configCommand
      .command('check')
      .argument('[file]', 'configuration file')
      .description('validate a configuration file'),
  ).action((file: string | undefined, options: CommonOptions) => {
    const config = loadOrExit({ ...options, ...(file === undefined ? {} : { config: file }) });
    process.stdout.write(
      `configuration OK (${config['access-edge'].routes.length} routes, domains ${config.domains.join(', ')})\n`,
    );
  });
  common(
    configCommand
      .command('example')
      .description('print a complete, commented example configuration'),
  ).action(() => {
    process.stdout.write(CONFIG_EXAMPLE);
  });
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exit(error.exitCode === 0 ? EXIT_CODES.OK : EXIT_CODES.USAGE);
  }
  process.stderr.write(`rampart: internal error: ${String(error)}\n`);
  process.exit(EXIT_CODES.INTERNAL);
}

/**
 * The `rampart` command: `start`, `config check`, `config example`, `--version`.
 * Exit codes: {@link EXIT_CODES}.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import {
  CONFIG_EXAMPLE,
  formatConfigError,
  loadConfig,
  type RampartConfig,
} from '../config/index.ts';
import { loadTlsMaterial } from '../store/tls-material.ts';
import { EXIT_CODES } from './exit-codes.ts';
import { start } from './start.ts';

const packageJson = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

/** Options every command accepts. */
interface CommonOptions {
  readonly config?: string;
  readonly dataDir?: string;
}

interface StartOptions extends CommonOptions {
  readonly ephemeralPorts?: boolean;
}

function loadOrExit(options: StartOptions): RampartConfig {
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

async function check(options: CommonOptions): Promise<void> {
  const config = loadOrExit(options);
  if (config.tls.certFile !== null) {
    // Configured certificates must exist and pair; generated ones are made at start.
    try {
      const material = await loadTlsMaterial({ ...config.tls, dataDir: config.dataDir });
      material.close();
    } catch (error) {
      process.stderr.write(`rampart: invalid configuration\n${String(error)}\n`);
      process.exit(EXIT_CODES.CONFIG);
    }
  }
  const edge = config['access-edge'];
  process.stdout.write(
    `configuration OK: domains ${config.domains.join(', ')}; access-edge ` +
      (edge.enabled ? `enabled, ${edge.routes.length} routes` : 'disabled') +
      '\n',
  );
}

/** Builds the command-line program. */
export function buildProgram(): Command {
  const program = new Command('rampart')
    .description('Rampart: an open edge server for real-time communications')
    .version(packageJson.version, '-v, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError('(run `rampart --help` for usage)')
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  const common = (command: Command): Command =>
    command
      .option('-c, --config <file>', 'configuration file (YAML); none = the all-in-one defaults')
      .option('-d, --data-dir <dir>', 'data directory (overrides dataDir)');

  common(program.command('start').description('start every enabled service'))
    .option('--ephemeral-ports', 'bind every enabled listener, admin too, to an ephemeral port')
    .action(async (options: StartOptions) => {
      await start(loadOrExit(options), packageJson.version);
    });

  const configCommand = program.command('config').description('configuration tools');
  common(
    configCommand
      .command('check')
      .argument('[file]', 'configuration file (or --config)')
      .description('validate a configuration file; exit 78 when invalid'),
  ).action(async (file: string | undefined, options: CommonOptions) => {
    await check({ ...options, ...(file === undefined ? {} : { config: file }) });
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
  process.stderr.write(
    `rampart: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(EXIT_CODES.INTERNAL);
}

/**
 * The `rampart` command: `start`, `config check`, `config example`, `turn credentials`,
 * `turn sessions`, `turn disconnect`, `user add|remove|list|passwd|set-policy|import`,
 * `group add|remove|members`, `--version`.
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
import { registerFederationCommands } from './federation.ts';
import { registerAbsCommands } from './abs.ts';
import { registerGroupCommands } from './group.ts';
import { start } from './start.ts';
import { credentialsText, disconnect, sessionsText } from './turn.ts';
import { registerUpdatesCommands } from './updates.ts';
import { registerUserCommands } from './user.ts';

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
      await start(loadOrExit(options), packageJson.version, () => {
        const again = loadConfig({
          ...(options.config === undefined ? {} : { file: options.config }),
          ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
          ...(options.ephemeralPorts === true ? { ephemeralPorts: true } : {}),
        });
        return again.ok ? again.value : formatConfigError(again.error);
      });
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

  const turn = program.command('turn').description('A/V Edge (TURN) tools');
  common(
    turn
      .command('credentials')
      .argument('<user>', 'user name the credential is for')
      .option(
        '--ttl <seconds>',
        'lifetime of the credential (default: av-edge.auth.credentialTtlSeconds)',
      )
      .description('print a TURN REST username and password valid on this deployment'),
  ).action((user: string, options: CommonOptions & { ttl?: string }) => {
    const config = loadOrExit(options);
    const ttl =
      options.ttl === undefined ? config['av-edge'].auth.credentialTtlSeconds : Number(options.ttl);
    if (!Number.isSafeInteger(ttl) || ttl <= 0) {
      process.stderr.write('rampart: --ttl must be a positive number of seconds\n');
      process.exit(EXIT_CODES.USAGE);
    }
    try {
      process.stdout.write(credentialsText(config, user, ttl));
    } catch (error) {
      process.stderr.write(`rampart: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(EXIT_CODES.CONFIG);
    }
  });
  common(
    turn
      .command('sessions')
      .argument('[user]', 'only this user (a REST username matches on its user part)')
      .description('list live TURN allocations of the running deployment'),
  ).action(async (user: string | undefined, options: CommonOptions) => {
    process.stdout.write(await adminCall(() => sessionsText(loadOrExit(options), user)));
  });
  common(
    turn
      .command('disconnect')
      .argument('<user>', 'user whose allocations end')
      .description('end every TURN allocation of a user on the running deployment'),
  ).action(async (user: string, options: CommonOptions) => {
    const ended = await adminCall(() => disconnect(loadOrExit(options), user));
    process.stdout.write(`${String(ended)} allocation(s) ended\n`);
  });

  const directoryContext = { common, load: loadOrExit };
  registerUserCommands(program, directoryContext);
  registerGroupCommands(program, directoryContext);
  registerAbsCommands(program, directoryContext);
  registerUpdatesCommands(program, directoryContext);
  registerFederationCommands(program, directoryContext);
  return program;
}

/** Runs a call to the admin API; exits 1 with a message when the deployment is not reachable. */
async function adminCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    process.stderr.write(
      `rampart: cannot reach the admin API of a running deployment: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return process.exit(EXIT_CODES.FAILURE);
  }
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

/**
 * `rampart user add|remove|list|passwd|set-policy|import`: the directory's users, through
 * whichever backend the configuration names. Errors are one line on stderr and an exit code
 * per kind ({@link EXIT_CODES}): duplicate 73, malformed 65, unknown 67, directory down 69.
 */
import { readFileSync, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { RampartConfig } from '../config/index.ts';
import {
  DirectoryError,
  type Directory,
  type DirectoryErrorReason,
  type DirectoryUser,
  type UserUpdate,
} from '../store/directory.ts';
import { openDirectory } from '../store/open-directory.ts';
import { EXIT_CODES, type ExitCode } from './exit-codes.ts';
import { importUsers, MAX_IMPORT_BYTES } from './user-import.ts';

/** Options every command accepts. */
export interface DirectoryCommandOptions {
  readonly config?: string;
  readonly dataDir?: string;
}

/** What the directory commands need from `main`. */
export interface DirectoryCommandContext {
  /** Adds `--config` and `--data-dir`. */
  readonly common: (command: Command) => Command;
  /** The validated configuration, or exit 78. */
  readonly load: (options: DirectoryCommandOptions) => RampartConfig;
}

/** A refusal with its exit code; turned into one line on stderr by {@link action}. */
export class CliFailure extends Error {
  readonly exitCode: ExitCode;
  constructor(exitCode: ExitCode, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

const EXIT_BY_REASON: Record<DirectoryErrorReason, ExitCode> = {
  duplicate: EXIT_CODES.DUPLICATE,
  'invalid-address': EXIT_CODES.DATA,
  'invalid-name': EXIT_CODES.DATA,
  'unknown-user': EXIT_CODES.NOT_FOUND,
  'unknown-group': EXIT_CODES.NOT_FOUND,
  'unknown-member': EXIT_CODES.NOT_FOUND,
  'unknown-realm': EXIT_CODES.NOT_FOUND,
  backend: EXIT_CODES.UNAVAILABLE,
};

/** The message, and its cause's when that adds something (`cannot open x: EACCES ...`). */
function withCause(error: Error): string {
  const cause = error.cause instanceof Error ? error.cause.message : '';
  return cause === '' || error.message.includes(cause)
    ? error.message
    : `${error.message}: ${cause}`;
}

/** Wraps a command body: refusals become `rampart: <message>` and their exit code. */
export function action<Args extends unknown[]>(
  body: (...args: Args) => Promise<void>,
): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    try {
      await body(...args);
    } catch (error) {
      if (error instanceof CliFailure) {
        process.stderr.write(`rampart: ${error.message}\n`);
        process.exit(error.exitCode);
      }
      if (error instanceof DirectoryError) {
        process.stderr.write(`rampart: ${withCause(error)}\n`);
        process.exit(EXIT_BY_REASON[error.reason]);
      }
      throw error;
    }
  };
}

/** Opens the configured directory, runs `body`, and closes it whatever happens. */
export async function withDirectory<T>(
  config: RampartConfig,
  body: (directory: Directory) => Promise<T>,
): Promise<T> {
  let directory: Directory;
  try {
    directory = await openDirectory(config.directory, config.dataDir);
  } catch (error) {
    const detail = error instanceof Error ? withCause(error) : String(error);
    throw new CliFailure(EXIT_CODES.UNAVAILABLE, `cannot open the directory: ${detail}`);
  }
  try {
    return await body(directory);
  } finally {
    await directory.close();
  }
}

function onOff(value: string | undefined): boolean | undefined {
  return value === undefined ? undefined : value === 'on';
}

function requirePassword(password: string): string {
  if (password.length === 0) throw new CliFailure(EXIT_CODES.USAGE, '--password must not be empty');
  return password;
}

/** One line a person reads: the address, the state and the policy. */
export function describeUser(user: DirectoryUser): string {
  const on = (value: boolean): string => (value ? 'on' : 'off');
  const policy = user.policy;
  return (
    `${user.address}: ${user.enabled ? 'enabled' : 'disabled'}, ` +
    `remote-access ${on(policy.remoteAccess)}, federation ${on(policy.federation)}, ` +
    `public-im ${on(policy.publicIm)}, invite-anonymous ${on(policy.inviteAnonymous)}, ` +
    `max-endpoints ${policy.maxEndpoints}`
  );
}

/** `list` reads pages of this many users, so that output starts at once and memory stays flat. */
const LIST_PAGE = 1000;

async function listUsers(
  directory: Directory,
  prefix: string | undefined,
  json: boolean,
): Promise<void> {
  let offset = 0;
  let first = true;
  if (json) process.stdout.write('[');
  for (;;) {
    const page = await directory.listUsers({
      ...(prefix === undefined ? {} : { prefix }),
      limit: LIST_PAGE,
      offset,
    });
    const lines = page.map((user, index) => {
      if (json) return `${first && index === 0 ? '' : ','}\n  ${JSON.stringify(user)}`;
      // Tab-separated: address, state, display name, email ("-" when none).
      return `${user.address}\t${user.enabled ? 'enabled' : 'disabled'}\t${user.displayName ?? '-'}\t${user.email ?? '-'}\n`;
    });
    if (lines.length > 0) {
      first = false;
      process.stdout.write(lines.join(''));
    }
    if (page.length < LIST_PAGE) break;
    offset += page.length;
  }
  if (json) process.stdout.write(first ? ']\n' : '\n]\n');
}

/** Registers `rampart user ...`. */
export function registerUserCommands(program: Command, context: DirectoryCommandContext): void {
  const { common, load } = context;
  const user = program.command('user').description('users of the directory');

  common(
    user
      .command('add')
      .argument('<address>', 'SIP address: alice@example.test or sip:alice@example.test')
      .requiredOption('--password <password>', 'password (web sign-in and digest)')
      .option('--name <name>', 'display name')
      .option('--email <email>', 'email address')
      .description('add a user'),
  ).action(
    action(
      async (
        address: string,
        options: DirectoryCommandOptions & { password: string; name?: string; email?: string },
      ) => {
        const password = requirePassword(options.password);
        const added = await withDirectory(load(options), (directory) =>
          directory.addUser({
            address,
            password,
            displayName: options.name ?? null,
            email: options.email ?? null,
          }),
        );
        process.stdout.write(`added ${added.address}\n`);
      },
    ),
  );

  common(
    user.command('remove').argument('<address>', 'SIP address').description('remove a user'),
  ).action(
    action(async (address: string, options: DirectoryCommandOptions) => {
      await withDirectory(load(options), (directory) => directory.removeUser(address));
      process.stdout.write(`removed ${address}\n`);
    }),
  );

  common(
    user
      .command('list')
      .option('--prefix <prefix>', 'only addresses starting with this text')
      .option('--json', 'a JSON array of users instead of tab-separated lines')
      .description('list users, sorted by address (tab-separated: address, state, name, email)'),
  ).action(
    action(async (options: DirectoryCommandOptions & { prefix?: string; json?: boolean }) => {
      await withDirectory(load(options), (directory) =>
        listUsers(directory, options.prefix, options.json === true),
      );
    }),
  );

  common(
    user
      .command('passwd')
      .argument('<address>', 'SIP address')
      .requiredOption('--password <password>', 'the new password')
      .description("replace a user's password (web sign-in hash and every digest HA1)"),
  ).action(
    action(async (address: string, options: DirectoryCommandOptions & { password: string }) => {
      const password = requirePassword(options.password);
      await withDirectory(load(options), (directory) => directory.setPassword(address, password));
      process.stdout.write(`password changed for ${address}\n`);
    }),
  );

  const toggle = (flag: string, what: string): Option =>
    new Option(`--${flag} <on|off>`, what).choices(['on', 'off']);
  common(
    user
      .command('set-policy')
      .argument('<address>', 'SIP address')
      .addOption(new Option('--enable', 'allow the user to sign in').conflicts('disable'))
      .addOption(new Option('--disable', 'refuse every sign-in of the user'))
      .addOption(toggle('remote-access', 'sign-in from outside through the Access Edge'))
      .addOption(toggle('federation', 'talk to federated partner domains'))
      .addOption(toggle('public-im', 'talk to public IM providers'))
      .addOption(toggle('invite-anonymous', 'invite anonymous meeting participants'))
      .option('--max-endpoints <n>', 'endpoints registered at once (0..10000)')
      .description("change a user's enabled flag and policy; prints the result"),
  ).action(
    action(
      async (
        address: string,
        options: DirectoryCommandOptions & {
          enable?: boolean;
          disable?: boolean;
          remoteAccess?: string;
          federation?: string;
          publicIm?: string;
          inviteAnonymous?: string;
          maxEndpoints?: string;
        },
      ) => {
        let maxEndpoints: number | undefined;
        if (options.maxEndpoints !== undefined) {
          maxEndpoints = Number(options.maxEndpoints);
          if (!/^\d{1,5}$/.test(options.maxEndpoints) || maxEndpoints > 10_000) {
            throw new CliFailure(EXIT_CODES.USAGE, '--max-endpoints must be an integer 0..10000');
          }
        }
        const enabled =
          options.enable === true ? true : options.disable === true ? false : undefined;
        const update: UserUpdate = Object.fromEntries(
          Object.entries({
            enabled,
            remoteAccess: onOff(options.remoteAccess),
            federation: onOff(options.federation),
            publicIm: onOff(options.publicIm),
            inviteAnonymous: onOff(options.inviteAnonymous),
            maxEndpoints,
          }).filter(([, value]) => value !== undefined),
        );
        if (Object.keys(update).length === 0) {
          throw new CliFailure(
            EXIT_CODES.USAGE,
            'nothing to change: give --enable, --disable or a policy option',
          );
        }
        const updated = await withDirectory(load(options), (directory) =>
          directory.updateUser(address, update),
        );
        process.stdout.write(`${describeUser(updated)}\n`);
      },
    ),
  );

  common(
    user
      .command('import')
      .argument('<file>', 'CSV file with the header row address,password,name,email')
      .description(
        'add many users in one transaction; malformed lines are reported and skipped ' +
          '(exit 65 when any was)',
      ),
  ).action(
    action(async (file: string, options: DirectoryCommandOptions) => {
      const config = load(options);
      let text: string;
      try {
        if (statSync(file).size > MAX_IMPORT_BYTES) {
          throw new CliFailure(EXIT_CODES.DATA, `${file} is larger than ${MAX_IMPORT_BYTES} bytes`);
        }
        text = readFileSync(file, 'utf8');
      } catch (error) {
        if (error instanceof CliFailure) throw error;
        throw new CliFailure(
          EXIT_CODES.NO_INPUT,
          `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      const report = await withDirectory(config, (directory) => importUsers(directory, text));
      if (!report.ok) throw new CliFailure(EXIT_CODES.DATA, `${file}: ${report.error}`);
      const { imported, rejected, seconds } = report.value;
      process.stdout.write(
        `imported ${imported} user(s) in ${seconds.toFixed(1)} s; ${rejected.length} line(s) rejected\n`,
      );
      const shown = rejected.slice(0, 1000);
      for (const problem of shown) {
        process.stderr.write(`${file}:${problem.line}: ${problem.reason}\n`);
      }
      if (rejected.length > shown.length) {
        process.stderr.write(`... and ${rejected.length - shown.length} more rejected line(s)\n`);
      }
      if (rejected.length > 0) process.exit(EXIT_CODES.DATA);
    }),
  );
}

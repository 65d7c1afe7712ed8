/**
 * `rampart abs generate|fetch`: the address book. `generate` writes a new generation from
 * the directory now (the server also does it on its schedule); `fetch` is a small client
 * that keeps a local copy current from `/abs/` (deltas when it can, the full file else).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { RampartConfig } from '../config/index.ts';
import { RampartError } from '../lib/errors.ts';
import { syncAddressBook } from '../services/web-services/abs/client.ts';
import { generateAddressBook } from '../services/web-services/abs/generate.ts';
import { webServicesPaths } from '../services/web-services/files.ts';
import { EXIT_CODES } from './exit-codes.ts';
import {
  action,
  CliFailure,
  withDirectory,
  type DirectoryCommandContext,
  type DirectoryCommandOptions,
} from './user.ts';

/** A progress display on stderr: a bar on a terminal, nothing elsewhere. */
function progressBar(format: string): {
  update: (done: number, total: number) => void;
  stop: () => void;
} {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (done, total) => {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.setTotal(total);
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** The web services' own URL from the configuration. */
function configuredUrl(config: RampartConfig): string {
  const web = config['web-services'];
  const host = web.host.includes(':') ? `[${web.host}]` : web.host;
  return `https://${host}:${String(web.port ?? 443)}`;
}

/** The deployment CA file, when there is one. */
function configuredCa(config: RampartConfig): string | undefined {
  const path = config.tls.caFile ?? join(config.dataDir, 'tls', 'ca.pem');
  return existsSync(path) ? path : undefined;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliFailure(EXIT_CODES.NO_INPUT, `cannot read ${what} ${path}: ${String(error)}`);
  }
}

/** Turns a web-services error into a one-line failure (exit 1). */
async function failing<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof CliFailure) throw error;
    if (error instanceof RampartError || error instanceof Error)
      throw new CliFailure(EXIT_CODES.FAILURE, error.message);
    throw error;
  }
}

interface FetchOptions extends DirectoryCommandOptions {
  readonly url?: string;
  readonly dir: string;
  readonly ca?: string;
  readonly user?: string;
  readonly passwordFile?: string;
}

/** Registers `rampart abs ...`. */
export function registerAbsCommands(program: Command, context: DirectoryCommandContext): void {
  const { common, load } = context;
  const abs = program.command('abs').description('address book service');

  common(
    abs
      .command('generate')
      .option('--force', 'write a new generation even when nothing changed')
      .description('generate the address book from the directory now (full file + delta)'),
  ).action(
    action(async (options: DirectoryCommandOptions & { force?: boolean }) => {
      const config = load(options);
      const bar = progressBar('reading directory [{bar}] {percentage}% | {value}/{total} users');
      const report = await failing(() =>
        withDirectory(config, (directory) =>
          generateAddressBook(directory, {
            dir: webServicesPaths(config.dataDir).abs,
            keepDays: config['web-services'].abs.keepDays,
            force: options.force === true,
            onProgress: bar.update,
          }).finally(bar.stop),
        ),
      );
      const delta =
        report.delta === undefined
          ? ''
          : `; delta +${String(report.delta.added)} ~${String(report.delta.changed)} -${String(report.delta.removed)}`;
      process.stdout.write(
        `${report.outcome === 'unchanged' ? 'unchanged' : 'generated'} ${report.label} ` +
          `(serial ${String(report.serial)}, ${String(report.count)} entries${delta}` +
          `${report.pruned.length > 0 ? `; ${String(report.pruned.length)} old files removed` : ''})\n`,
      );
    }),
  );

  common(
    abs
      .command('fetch')
      .requiredOption('--dir <dir>', 'where the local copy is kept (address-book.ndjson)')
      .option('--url <url>', 'https://host:port of the web services or the reverse proxy')
      .option('--ca <file>', 'CA certificate (PEM) of the server; default: the deployment CA')
      .option(
        '--user <address>',
        'user for HTTP Basic (password: --password-file or RAMPART_PASSWORD)',
      )
      .option('--password-file <file>', 'file whose first line is the password')
      .description('bring a local copy of the address book up to date'),
  ).action(
    action(async (options: FetchOptions) => {
      const config = load(options);
      const caPath = options.ca ?? configuredCa(config);
      const password =
        options.passwordFile === undefined
          ? process.env.RAMPART_PASSWORD
          : readText(options.passwordFile, 'password file').split(/\r?\n/)[0];
      if (options.user !== undefined && password === undefined)
        throw new CliFailure(EXIT_CODES.USAGE, '--user needs --password-file or RAMPART_PASSWORD');
      const bar = progressBar('downloading [{bar}] {percentage}% | {value}/{total} bytes');
      const report = await failing(() =>
        syncAddressBook({
          baseUrl: options.url ?? configuredUrl(config),
          dir: options.dir,
          ...(caPath === undefined ? {} : { ca: readText(caPath, 'CA file') }),
          ...(options.user === undefined ? {} : { user: options.user, password: password ?? '' }),
          onProgress: bar.update,
        }).finally(bar.stop),
      );
      const how =
        report.outcome === 'deltas'
          ? `${String(report.deltasApplied)} delta(s) applied`
          : report.outcome === 'full'
            ? `full file downloaded${report.resumedFrom > 0 ? ` (resumed at byte ${String(report.resumedFrom)})` : ''}`
            : 'already current';
      process.stdout.write(
        `${report.label}: ${String(report.count)} entries, ${how}, ${String(report.receivedBytes)} bytes received\n`,
      );
    }),
  );
}

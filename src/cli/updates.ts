/**
 * `rampart updates publish|list`: device update packages. Publishing copies the package into
 * the data directory and approves it; devices of that model below that version are then
 * offered it by `POST /updates/check`.
 */
import type { Command } from 'commander';
import { webServicesPaths } from '../services/web-services/files.ts';
import { publishUpdate, readManifest } from '../services/web-services/updates/store.ts';
import { EXIT_CODES } from './exit-codes.ts';
import {
  action,
  CliFailure,
  type DirectoryCommandContext,
  type DirectoryCommandOptions,
} from './user.ts';

/** Registers `rampart updates ...`. */
export function registerUpdatesCommands(program: Command, context: DirectoryCommandContext): void {
  const { common, load } = context;
  const updates = program.command('updates').description('device update packages');

  common(
    updates
      .command('publish')
      .argument('<model>', 'device model it is for')
      .argument('<version>', 'version it installs (e.g. 4.0.7577.4420)')
      .argument('<file>', 'the package file')
      .option('--no-approve', 'store it without offering it to devices')
      .description('publish (and approve) an update package'),
  ).action(
    action(
      async (
        model: string,
        version: string,
        file: string,
        options: DirectoryCommandOptions & { approve: boolean },
      ) => {
        const config = load(options);
        let published;
        try {
          published = await publishUpdate(webServicesPaths(config.dataDir).updates, {
            source: file,
            model,
            version,
            maxBytes: config['web-services'].updates.maxPackageBytes,
            approved: options.approve,
          });
        } catch (error) {
          throw new CliFailure(
            EXIT_CODES.DATA,
            error instanceof Error ? error.message : String(error),
          );
        }
        process.stdout.write(
          `published ${published.model} ${published.version} as ${published.file} ` +
            `(${String(published.bytes)} bytes, sha256 ${published.sha256})` +
            `${published.approved ? '' : ', not approved'}\n`,
        );
      },
    ),
  );

  common(
    updates.command('list').option('--json', 'print JSON').description('list published packages'),
  ).action(
    action(async (options: DirectoryCommandOptions & { json?: boolean }) => {
      const config = load(options);
      const manifest = await readManifest(webServicesPaths(config.dataDir).updates);
      if (options.json === true) {
        process.stdout.write(JSON.stringify(manifest.packages, null, 2) + '\n');
        return;
      }
      for (const p of manifest.packages) {
        process.stdout.write(
          `${p.model}\t${p.version}\t${p.approved ? 'approved' : 'not-approved'}\t${String(p.bytes)}\t${p.file}\n`,
        );
      }
    }),
  );
}

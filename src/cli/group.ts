/**
 * `rampart group add|remove|members`: distribution lists. Members are user addresses or
 * names of other groups (nested lists); `--expand` lists the users they reach.
 */
import type { Command } from 'commander';
import { canonicalAddress } from '../store/directory.ts';
import { EXIT_CODES } from './exit-codes.ts';
import {
  action,
  CliFailure,
  withDirectory,
  type DirectoryCommandContext,
  type DirectoryCommandOptions,
} from './user.ts';

/** Registers `rampart group ...`. */
export function registerGroupCommands(program: Command, context: DirectoryCommandContext): void {
  const { common, load } = context;
  const group = program.command('group').description('distribution lists of the directory');

  common(
    group
      .command('add')
      .argument('<name>', 'group name')
      .option('--name <display>', 'display name')
      .description('add a group'),
  ).action(
    action(async (name: string, options: DirectoryCommandOptions & { name?: string }) => {
      await withDirectory(load(options), (directory) =>
        directory.addGroup(name, options.name ?? null),
      );
      process.stdout.write(`added group ${name}\n`);
    }),
  );

  common(
    group.command('remove').argument('<name>', 'group name').description('remove a group'),
  ).action(
    action(async (name: string, options: DirectoryCommandOptions) => {
      await withDirectory(load(options), (directory) => directory.removeGroup(name));
      process.stdout.write(`removed group ${name}\n`);
    }),
  );

  common(
    group
      .command('members')
      .argument('<name>', 'group name')
      .option('--add <member...>', 'add members: user addresses or group names')
      .option('--remove <member...>', 'remove members')
      .option('--expand', 'list the users reached through nested groups, each once')
      .description('change and print the members of a group (one per line, sorted)'),
  ).action(
    action(
      async (
        name: string,
        options: DirectoryCommandOptions & { add?: string[]; remove?: string[]; expand?: boolean },
      ) => {
        const members = await withDirectory(load(options), async (directory) => {
          for (const member of options.add ?? []) await directory.addMember(name, member);
          if ((options.remove ?? []).length > 0) {
            // The interface makes removing a non-member a no-op; an operator wants to know.
            const current = new Set(await directory.members(name));
            for (const member of options.remove ?? []) {
              if (!current.has(member) && !current.has(canonicalAddress(member) ?? member)) {
                throw new CliFailure(EXIT_CODES.NOT_FOUND, `${member} is not a member of ${name}`);
              }
              await directory.removeMember(name, member);
            }
          }
          return directory.members(name, { expand: options.expand === true });
        });
        process.stdout.write(members.map((member) => `${member}\n`).join(''));
      },
    ),
  );
}

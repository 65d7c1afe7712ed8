// `npm run bench:directory`: how fast `rampart user import` takes a 100,000-line CSV into a
// fresh SQLite directory. Generates the file in a temp dir, runs the real bin once (the
// elapsed time includes process start, CSV checks, HA1s and the one transaction), checks the
// count, prints users/s and the seconds, and exits 1 above the 60 s budget.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteDirectory } from '../../src/store/sqlite-directory.ts';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    'budget-seconds': { type: 'string', default: '60' },
    keep: { type: 'boolean', default: false },
  },
});
const users = Number(args.users);
const budgetSeconds = Number(args['budget-seconds']);
if (!Number.isSafeInteger(users) || users <= 0 || !(budgetSeconds > 0)) {
  process.stderr.write('usage: bench/directory/import.ts [--users N] [--budget-seconds S]\n');
  process.exit(2);
}

const BIN = new URL('../../bin/rampart.mjs', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'rampart-bench-directory-'));
const dataDir = join(root, 'data');
const file = join(root, 'users.csv');

const lines = ['address,password,name,email'];
for (let i = 0; i < users; i++) {
  const id = String(i).padStart(6, '0');
  // Realistic fields, one quoted with a comma, so the CSV reader does its full job.
  lines.push(`user${id}@example.test,pw-${id}-Xq9,"User ${id}, Bench",user${id}@mail.example.test`);
}
writeFileSync(file, `${lines.join('\n')}\n`);

const started = performance.now();
const result = spawnSync(process.execPath, [BIN, 'user', 'import', file, '--data-dir', dataDir], {
  encoding: 'utf8',
  timeout: (budgetSeconds + 120) * 1000,
  maxBuffer: 64 * 1024 * 1024,
});
const seconds = (performance.now() - started) / 1000;

let failed = result.status !== 0;
if (failed)
  process.stderr.write(`rampart user import exited ${String(result.status)}\n${result.stderr}`);
const directory = SqliteDirectory.open({ path: join(dataDir, 'directory.sqlite'), realms: [] });
const count = await directory.countUsers();
await directory.close();
if (count !== users) {
  process.stderr.write(`expected ${users} users in the directory, found ${count}\n`);
  failed = true;
}

process.stdout.write(result.stdout);
process.stdout.write(
  `users: ${users}\nelapsed: ${seconds.toFixed(2)} s\nrate: ${Math.round(users / seconds)} users/s\n` +
    `budget: ${budgetSeconds} s — ${seconds <= budgetSeconds ? 'PASS' : 'FAIL'}\n`,
);
if (args.keep) process.stdout.write(`kept ${root}\n`);
else rmSync(root, { recursive: true, force: true });
if (failed || seconds > budgetSeconds) process.exit(1);

#!/usr/bin/env node
// The `rampart` command. Rampart runs on the Node.js 24 pinned in this project
// (the `node` package); when started by an older system Node, re-run on it.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  const require = createRequire(import.meta.url);
  let pinned;
  try {
    pinned = require.resolve('node/bin/node');
  } catch {
    console.error(
      'rampart needs Node.js >= 22.13; run `npm install` to fetch the pinned Node.js 24.',
    );
    process.exit(70);
  }
  const result = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}
const main = new URL('../src/cli/main.ts', import.meta.url);
await import(pathToFileURL(fileURLToPath(main)).href);

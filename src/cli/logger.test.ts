import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { LOG_BATCH_BYTES, LOG_FLUSH_MS } from './logger.ts';

const LOGGER = new URL('./logger.ts', import.meta.url).href;

/** Runs `body` in a child Node with `createLogger('info')` as `logger`/`flush`; stderr lines. */
function child(body: string): { lines: Promise<string[]>; stderr: () => string } {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)};
const { logger, flush } = createLogger('info', { pretty: false });
${body}`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = new Promise<string[]>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => {
      if (code !== 0) reject(new Error(`child exited ${String(code)}\n${stderr}`));
      else resolve(stderr.split('\n').filter((line) => line !== ''));
    });
  });
  return { lines, stderr: () => stderr };
}

test('logger: a lone line shorter than a batch is written within the flush interval', async () => {
  // The child logs once, then stays alive (no flush, no exit) long enough for the periodic
  // flush, and reports on stdout-free stderr only what the logger wrote.
  const run = child(`logger.info({ event: 'one' }, 'lone line');
setTimeout(() => process.exit(0), ${String(LOG_FLUSH_MS * 10)});`);
  const started = Date.now();
  while (!run.stderr().includes('lone line') && Date.now() - started < LOG_FLUSH_MS * 8)
    await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(run.stderr().includes('lone line'), 'the line reached stderr before exit');
  assert.ok(LOG_BATCH_BYTES > 'lone line'.length);
  await run.lines;
});

test('logger: a burst of lines arrives whole and in order once flushed at exit', async () => {
  const count = 20_000;
  const run =
    child(`for (let i = 0; i < ${String(count)}; i++) logger.info({ event: 'n', i }, 'burst');
flush();
process.exit(0);`);
  const lines = await run.lines;
  const numbers = lines.map((line) => (JSON.parse(line) as { i: number }).i);
  assert.equal(numbers.length, count);
  assert.ok(numbers.every((value, index) => value === index));
});

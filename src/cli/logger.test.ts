import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { LOG_MAX_BUFFER_BYTES } from './logger.ts';

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

test('logger: a line reaches stderr while the process runs, not only at exit', async () => {
  // The child logs once, then stays alive (no flush, no exit) for 2 s.
  const run = child(`logger.info({ event: 'one' }, 'lone line');
setTimeout(() => process.exit(0), 2000);`);
  const started = Date.now();
  while (!run.stderr().includes('lone line') && Date.now() - started < 1500)
    await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(run.stderr().includes('lone line'), 'the line reached stderr before exit');
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

test('logger: lines beyond LOG_MAX_BUFFER_BYTES unwritten are dropped, not hoarded', async () => {
  // 100,000 lines of about 280 bytes (≈ 28 MB) logged without yielding: nothing can be
  // written meanwhile, so all but the first line wait in the buffer, which stops at the cap.
  const count = 100_000;
  const run = child(`const pad = 'x'.repeat(200);
for (let i = 0; i < ${String(count)}; i++) logger.info({ event: 'n', i, pad }, 'burst');
flush();
process.exit(0);`);
  const lines = await run.lines;
  const bytes = lines.reduce((sum, line) => sum + line.length + 1, 0);
  assert.ok(lines.length < count, `${String(lines.length)} of ${String(count)} lines written`);
  assert.ok(bytes <= LOG_MAX_BUFFER_BYTES + 64 * 1024, `${String(bytes)} bytes written`);
  assert.ok(bytes > LOG_MAX_BUFFER_BYTES / 2, 'what fitted under the cap was kept');
});

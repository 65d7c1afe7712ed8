import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { waitUntilIdle } from './idle.ts';

/** A child that spins for `busyMs`, then sleeps until killed. */
async function busyThenQuiet(busyMs: number): Promise<{ pid: number; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const end = Date.now() + ${busyMs}; while (Date.now() < end); setInterval(() => {}, 1000);`,
    ],
    { stdio: 'ignore' },
  );
  await once(child, 'spawn');
  return {
    pid: child.pid ?? 0,
    stop: async () => {
      child.kill();
      await once(child, 'exit');
    },
  };
}

test('waitUntilIdle waits while the process is busy, and no longer', async () => {
  const busy = await busyThenQuiet(1500);
  try {
    const result = await waitUntilIdle(() => [busy.pid], { windowMs: 200 });
    assert.equal(result.idle, true);
    // Its start-up and 1.5 s of spinning are not idle; the first quiet window is.
    assert.ok(result.waitedMs >= 1200, `waited only ${result.waitedMs.toFixed(0)} ms`);
    assert.ok(result.waitedMs < 5000, `waited ${result.waitedMs.toFixed(0)} ms`);
  } finally {
    await busy.stop();
  }
});

test('waitUntilIdle gives up after maxMs on a process that stays busy', async () => {
  const busy = await busyThenQuiet(60_000);
  try {
    const result = await waitUntilIdle(() => [busy.pid], { windowMs: 200, maxMs: 800 });
    assert.equal(result.idle, false);
    assert.ok(result.waitedMs >= 800 && result.waitedMs < 2000);
  } finally {
    await busy.stop();
  }
});

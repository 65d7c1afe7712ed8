/**
 * File helpers shared by the features: atomic writes, a lock file between the server and
 * the `rampart` commands that write the same directory, and the data directory layout.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';

/** Where each feature keeps its files, under `<dataDir>/web-services`. */
export function webServicesPaths(dataDir: string): {
  readonly root: string;
  readonly abs: string;
  readonly updates: string;
  readonly meetings: string;
} {
  const root = join(dataDir, 'web-services');
  return {
    root,
    abs: join(root, 'abs'),
    updates: join(root, 'updates'),
    meetings: join(root, 'meetings'),
  };
}

/** Writes `data` to `path` through a temporary file and a rename: readers see all or nothing. */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, data, { mode: 0o640 });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** A lock older than this is taken over (its holder died). */
const STALE_LOCK_MS = 10 * 60_000;
/** How long {@link withLock} waits for a held lock. */
const LOCK_WAIT_MS = 60_000;
const LOCK_POLL_MS = 100;

async function lockHolder(path: string): Promise<string> {
  return (await readFile(path, 'utf8').catch(() => '?')).trim();
}

/**
 * Runs `body` holding `<dir>/.lock` (created exclusively). A held lock is waited for up to a
 * minute, then an error naming the holder; a stale one is taken over.
 */
export async function withLock<T>(dir: string, body: () => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const path = join(dir, '.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o640);
      await handle.writeFile(`${String(process.pid)}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(path).then(
        (info) => Date.now() - info.mtimeMs,
        () => 0,
      );
      if (age >= STALE_LOCK_MS) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        throw new RampartError(
          ERROR_CODES.WEB_SERVICES,
          `${dir} is locked by process ${await lockHolder(path)} (${path})`,
        );
      }
      await delay(LOCK_POLL_MS);
    }
  }
  try {
    return await body();
  } finally {
    await rm(path, { force: true });
  }
}

/** Reads a JSON file; undefined when it does not exist. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as unknown;
}

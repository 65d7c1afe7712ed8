/**
 * Address book generation: reads the directory, writes the full file of the new generation
 * and the delta from the previous one (NDJSON and a gzip twin each, under immutable names),
 * then the index, then removes what fell out of the retention window. Used by the server's
 * schedule and by `rampart abs generate`; a lock file keeps the two from interleaving.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { Directory } from '../../../store/directory.ts';
import { readJsonFile, withLock, writeFileAtomic } from '../files.ts';
import {
  ABS_FORMAT,
  ABS_INDEX_FORMAT,
  ABS_VERSION,
  deltaName,
  diffEntries,
  fullName,
  isEmptyDelta,
  labelOf,
  labelTime,
  parseFull,
  parseIndex,
  retained,
  serializeDelta,
  serializeFull,
  sha256Hex,
  type AbsDeltaInfo,
  type AbsEntry,
  type AbsFullInfo,
  type AbsIndex,
} from './format.ts';

const gzip = promisify(gzipCallback);

/** Users read from the directory per call. */
const PAGE_SIZE = 1000;
/** The index file name, in the ABS directory and at `/abs/index.json`. */
export const ABS_INDEX_FILE = 'index.json';

/** Options of {@link generateAddressBook}. */
export interface GenerateOptions {
  /** The ABS directory (`<dataDir>/web-services/abs`). */
  readonly dir: string;
  readonly keepDays: number;
  /** The time of this generation; default now. */
  readonly nowMs?: number;
  /** Called after each page of users read: users read so far, and the total. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Write a new generation even when nothing changed. */
  readonly force?: boolean;
}

/** What a generation did. */
export interface GenerateReport {
  /** `unchanged`: the directory matched the newest generation; nothing was written. */
  readonly outcome: 'generated' | 'unchanged';
  readonly label: string;
  readonly serial: number;
  readonly count: number;
  /** The delta from the previous generation, when there was one. */
  readonly delta?: { readonly added: number; readonly changed: number; readonly removed: number };
  /** Files removed by retention. */
  readonly pruned: readonly string[];
}

/** Reads the index of `dir`; undefined when there is none yet. */
export async function readAbsIndex(dir: string): Promise<AbsIndex | undefined> {
  return parseIndex(await readJsonFile(join(dir, ABS_INDEX_FILE)));
}

/** The enabled users of the directory as address book entries, read page by page. */
export async function readEntries(
  directory: Directory,
  onProgress?: (done: number, total: number) => void,
): Promise<AbsEntry[]> {
  const total = await directory.countUsers();
  const entries: AbsEntry[] = [];
  let read = 0;
  for (;;) {
    const page = await directory.listUsers({ limit: PAGE_SIZE, offset: read });
    read += page.length;
    for (const user of page) {
      if (!user.enabled) continue;
      entries.push({
        sipUri: `sip:${user.address}`,
        displayName: user.displayName,
        email: user.email,
      });
    }
    onProgress?.(Math.min(read, total), total);
    if (page.length < PAGE_SIZE) return entries;
  }
}

async function previousEntries(
  dir: string,
  index: AbsIndex | undefined,
): Promise<AbsEntry[] | undefined> {
  if (index === undefined) return undefined;
  try {
    const parsed = parseFull(await readFile(join(dir, fullName(index.latest)), 'utf8'));
    return parsed.ok ? parsed.value.entries : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the NDJSON file and its gzip twin; returns their sizes and hash. */
async function writeTwins(
  dir: string,
  name: string,
  text: string,
): Promise<{ bytes: number; gzipBytes: number; sha256: string }> {
  const plain = Buffer.from(text, 'utf8');
  const compressed = await gzip(plain, { level: 9 });
  await writeFileAtomic(join(dir, `${name}.gz`), compressed);
  await writeFileAtomic(join(dir, name), plain);
  return { bytes: plain.length, gzipBytes: compressed.length, sha256: sha256Hex(plain) };
}

/** Generates a new address book generation in `options.dir` from the directory. */
export async function generateAddressBook(
  directory: Directory,
  options: GenerateOptions,
): Promise<GenerateReport> {
  const entries = await readEntries(directory, options.onProgress);
  const { dir } = options;
  return withLock(dir, async () => {
    const index = await readAbsIndex(dir);
    const previous = await previousEntries(dir, index);
    const delta = previous === undefined ? undefined : diffEntries(previous, entries);
    if (
      index !== undefined &&
      delta !== undefined &&
      isEmptyDelta(delta) &&
      options.force !== true
    ) {
      return {
        outcome: 'unchanged',
        label: index.latest,
        serial: index.serial,
        count: entries.length,
        pruned: [],
      };
    }
    const nowMs = options.nowMs ?? Date.now();
    let label = labelOf(nowMs);
    // Labels name immutable files: a second generation within one second takes the next one.
    const latestMs = index === undefined ? undefined : labelTime(index.latest);
    if (latestMs !== undefined && label <= (index?.latest ?? '')) label = labelOf(latestMs + 1000);
    const serial = (index?.serial ?? 0) + 1;
    const generatedAt = new Date(nowMs).toISOString();
    const full: AbsFullInfo = {
      name: fullName(label),
      label,
      serial,
      count: entries.length,
      ...(await writeTwins(
        dir,
        fullName(label),
        serializeFull(
          {
            format: ABS_FORMAT,
            version: ABS_VERSION,
            kind: 'full',
            label,
            serial,
            generatedAt,
            count: entries.length,
          },
          entries,
        ),
      )),
    };
    const deltas = [...(index?.deltas ?? [])];
    if (index !== undefined && delta !== undefined) {
      const counts = {
        added: delta.added.length,
        changed: delta.changed.length,
        removed: delta.removed.length,
      };
      const name = deltaName(index.latest, label);
      const info: AbsDeltaInfo = {
        name,
        from: index.latest,
        to: label,
        ...counts,
        ...(await writeTwins(
          dir,
          name,
          serializeDelta(
            {
              format: ABS_FORMAT,
              version: ABS_VERSION,
              kind: 'delta',
              from: index.latest,
              to: label,
              fromSerial: index.serial,
              toSerial: serial,
              generatedAt,
              ...counts,
            },
            delta,
          ),
        )),
      };
      deltas.push(info);
    }
    const all = { full: [...(index?.full ?? []), full], deltas, latest: label };
    const kept = retained(all, nowMs, options.keepDays);
    const next: AbsIndex = {
      format: ABS_INDEX_FORMAT,
      version: ABS_VERSION,
      latest: label,
      serial,
      generatedAt,
      full: kept.full,
      deltas: kept.deltas,
    };
    await writeFileAtomic(join(dir, ABS_INDEX_FILE), JSON.stringify(next, null, 1) + '\n');
    const keptNames = new Set([...kept.full, ...kept.deltas].map((f) => f.name));
    const pruned = [...all.full, ...all.deltas].map((f) => f.name).filter((n) => !keptNames.has(n));
    for (const name of pruned) {
      await rm(join(dir, name), { force: true });
      await rm(join(dir, `${name}.gz`), { force: true });
    }
    return {
      outcome: 'generated',
      label,
      serial,
      count: entries.length,
      ...(delta === undefined || index === undefined
        ? {}
        : {
            delta: {
              added: delta.added.length,
              changed: delta.changed.length,
              removed: delta.removed.length,
            },
          }),
      pruned,
    };
  });
}

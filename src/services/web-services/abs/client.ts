/**
 * The address book client behind `rampart abs fetch`: keeps `<dir>/address-book.ndjson`
 * current. It reads `/abs/index.json`, then applies the chain of deltas from its generation
 * or, when there is none, downloads the newest full file (gzip), resuming a broken download
 * with Range and If-Range. Every file is checked against the SHA-256 the index gives.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { Agent, request, type Dispatcher } from 'undici';
import { ERROR_CODES, RampartError } from '../../../lib/errors.ts';
import { writeFileAtomic } from '../files.ts';
import {
  ABS_FORMAT,
  ABS_VERSION,
  applyDelta,
  parseDelta,
  parseFull,
  parseIndex,
  planFetch,
  serializeFull,
  sha256Hex,
  type AbsFullInfo,
  type AbsIndex,
} from './format.ts';

/** The local copy. */
export const LOCAL_BOOK = 'address-book.ndjson';
const LOCAL_STATE = 'state.json';
/** Largest file the client accepts, compressed or not. */
const MAX_FILE_BYTES = 2 * 1024 ** 3;

/** Options of {@link syncAddressBook}. */
export interface SyncOptions {
  /** `https://host:port` of the web services (or of the reverse proxy). */
  readonly baseUrl: string;
  readonly dir: string;
  /** PEM CA the server's certificate chains to; undefined: the system's. */
  readonly ca?: string;
  /** HTTP Basic credentials. */
  readonly user?: string;
  readonly password?: string;
  /** Called with bytes received so far and the expected total, while a full file downloads. */
  readonly onProgress?: (received: number, total: number) => void;
}

/** What a sync did. */
export interface SyncReport {
  readonly outcome: 'up-to-date' | 'deltas' | 'full';
  readonly label: string;
  readonly count: number;
  /** Bytes received over the network (bodies). */
  readonly receivedBytes: number;
  /** Bytes of a broken download that were kept and resumed. */
  readonly resumedFrom: number;
  readonly deltasApplied: number;
}

function fail(message: string): never {
  throw new RampartError(ERROR_CODES.WEB_SERVICES, message);
}

/** Reads the local copy; undefined when absent or damaged. */
async function readLocal(
  dir: string,
): Promise<{ label: string; entries: ReturnType<typeof parseFull> } | undefined> {
  try {
    const state = JSON.parse(await readFile(join(dir, LOCAL_STATE), 'utf8')) as {
      label?: unknown;
      sha256?: unknown;
    };
    const text = await readFile(join(dir, LOCAL_BOOK), 'utf8');
    if (typeof state.label !== 'string' || state.sha256 !== sha256Hex(text)) return undefined;
    return { label: state.label, entries: parseFull(text) };
  } catch {
    return undefined;
  }
}

async function writeLocal(dir: string, label: string, text: string): Promise<void> {
  await writeFileAtomic(join(dir, LOCAL_BOOK), text);
  await writeFileAtomic(
    join(dir, LOCAL_STATE),
    JSON.stringify({ label, sha256: sha256Hex(text), updatedAt: new Date().toISOString() }) + '\n',
  );
}

/** Keeps `options.dir` current with the server's address book. */
export async function syncAddressBook(options: SyncOptions): Promise<SyncReport> {
  const dispatcher = new Agent({
    connect: options.ca === undefined ? {} : { ca: options.ca },
    bodyTimeout: 60_000,
    headersTimeout: 30_000,
  });
  try {
    return await sync(options, dispatcher);
  } finally {
    await dispatcher.close();
  }
}

async function sync(options: SyncOptions, dispatcher: Dispatcher): Promise<SyncReport> {
  const base = options.baseUrl.replace(/\/$/, '');
  const auth: Record<string, string> =
    options.user === undefined
      ? {}
      : {
          authorization: `Basic ${Buffer.from(`${options.user}:${options.password ?? ''}`).toString('base64')}`,
        };
  let receivedBytes = 0;
  const open: Open = (path, headers = {}) =>
    request(`${base}${path}`, { dispatcher, headers: { ...auth, ...headers } });
  const get = async (
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> => {
    const response = await open(path, headers);
    const body = Buffer.from(await response.body.arrayBuffer());
    receivedBytes += body.length;
    return { status: response.statusCode, headers: response.headers, body };
  };
  const decoded = (response: { headers: Record<string, unknown>; body: Buffer }): Buffer =>
    response.headers['content-encoding'] === 'gzip' ? gunzipSync(response.body) : response.body;

  const indexResponse = await get('/abs/index.json');
  if (indexResponse.status !== 200)
    fail(`GET /abs/index.json: HTTP ${String(indexResponse.status)}`);
  const index = parseIndex(JSON.parse(indexResponse.body.toString('utf8')));
  if (index === undefined) fail('/abs/index.json is not a version 1 address book index');
  await mkdir(options.dir, { recursive: true });
  const local = await readLocal(options.dir);
  const localEntries = local?.entries.ok === true ? local.entries.value.entries : undefined;
  const plan = planFetch(index, localEntries === undefined ? undefined : local?.label);
  if (plan === undefined) fail('the index lists no full file of its newest generation');
  if (plan.kind === 'up-to-date') {
    return {
      outcome: 'up-to-date',
      label: index.latest,
      count: localEntries?.length ?? 0,
      receivedBytes,
      resumedFrom: 0,
      deltasApplied: 0,
    };
  }
  if (plan.kind === 'deltas' && localEntries !== undefined) {
    let entries = localEntries;
    let ok = true;
    for (const info of plan.chain) {
      const response = await get(`/abs/${info.name}`, { 'accept-encoding': 'gzip' });
      if (response.status !== 200) {
        ok = false;
        break;
      }
      const text = decoded(response);
      const parsed =
        sha256Hex(text) === info.sha256 ? parseDelta(text.toString('utf8')) : undefined;
      const applied = parsed?.ok === true ? applyDelta(entries, parsed.value.delta) : undefined;
      if (applied?.ok !== true) {
        ok = false;
        break;
      }
      entries = applied.value;
    }
    if (ok) {
      const last = plan.chain.at(-1);
      const serial = index.full.find((f) => f.label === index.latest)?.serial ?? index.serial;
      const text = serializeFull(
        {
          format: ABS_FORMAT,
          version: ABS_VERSION,
          kind: 'full',
          label: last?.to ?? index.latest,
          serial,
          generatedAt: index.generatedAt,
          count: entries.length,
        },
        entries,
      );
      await writeLocal(options.dir, index.latest, text);
      return {
        outcome: 'deltas',
        label: index.latest,
        count: entries.length,
        receivedBytes,
        resumedFrom: 0,
        deltasApplied: plan.chain.length,
      };
    }
  }
  // No usable chain: the newest full file.
  const file = plan.kind === 'full' ? plan.file : newestFull(index);
  const download = await downloadFull(options, file, open);
  return { ...download, receivedBytes: receivedBytes + download.receivedBytes };
}

function newestFull(index: AbsIndex): AbsFullInfo {
  return index.full.find((f) => f.label === index.latest) ?? fail('no full file to fall back to');
}

/** Starts a GET of a path with extra headers. */
type Open = (path: string, headers?: Record<string, string>) => Promise<Dispatcher.ResponseData>;

/**
 * Downloads a full file's gzip form into `<dir>/<name>.gz.part` as it arrives, resuming what
 * an earlier, broken download left there (Range + If-Range with its ETag).
 */
async function downloadFull(
  options: SyncOptions,
  file: AbsFullInfo,
  open: Open,
): Promise<SyncReport> {
  const part = join(options.dir, `${file.name}.gz.part`);
  const etagFile = `${part}.etag`;
  const have = await stat(part).then(
    (info) => info.size,
    () => 0,
  );
  const etag = await readFile(etagFile, 'utf8').catch(() => undefined);
  const resuming = have > 0 && etag !== undefined && have < file.gzipBytes;
  const response = await open(`/abs/${file.name}`, {
    'accept-encoding': 'gzip',
    ...(resuming ? { range: `bytes=${String(have)}-`, 'if-range': etag } : {}),
  });
  const resumed = response.statusCode === 206 && resuming;
  if (!resumed && response.statusCode !== 200) {
    await response.body.dump();
    fail(`GET /abs/${file.name}: HTTP ${String(response.statusCode)}`);
  }
  if (response.headers['content-encoding'] !== 'gzip') {
    await response.body.dump();
    fail(`GET /abs/${file.name}: the server did not send gzip`);
  }
  const tag = response.headers.etag;
  if (typeof tag === 'string') await writeFile(etagFile, tag);
  let received = resumed ? have : 0;
  let receivedBytes = 0;
  const out = createWriteStream(part, { flags: resumed ? 'a' : 'w' });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      receivedBytes += chunk.length;
      if (received > MAX_FILE_BYTES) {
        callback(new RampartError(ERROR_CODES.WEB_SERVICES, `${file.name} is too large`));
        return;
      }
      options.onProgress?.(received, file.gzipBytes);
      callback(null, chunk);
    },
  });
  // A broken transfer leaves what arrived in the .part file for the next run.
  await pipeline(response.body, counter, out);
  const plain = gunzipSync(await readFile(part));
  if (sha256Hex(plain) !== file.sha256) {
    await rm(part, { force: true });
    await rm(etagFile, { force: true });
    fail(`${file.name}: SHA-256 mismatch (download discarded; run again)`);
  }
  const text = plain.toString('utf8');
  const parsed = parseFull(text);
  if (!parsed.ok) fail(`${file.name}: ${parsed.error}`);
  await writeLocal(options.dir, file.label, text);
  await rm(part, { force: true });
  await rm(etagFile, { force: true });
  return {
    outcome: 'full',
    label: file.label,
    count: parsed.value.entries.length,
    receivedBytes,
    resumedFrom: resumed ? have : 0,
    deltasApplied: 0,
  };
}

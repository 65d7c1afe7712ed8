/**
 * Device update packages on disk: `<dataDir>/web-services/updates/files/<file>` and the
 * manifest beside them. `rampart updates publish` writes here (under the lock); the server
 * reads the manifest on each check.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ERROR_CODES, RampartError } from '../../../lib/errors.ts';
import { readJsonFile, withLock, writeFileAtomic } from '../files.ts';
import {
  compareVersions,
  MODEL,
  VERSION,
  type UpdatePackage,
  type UpdatesManifest,
} from './select.ts';

/** Names of package files (what `/updates/files/<file>` accepts). */
export const PACKAGE_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,160}$/;
const EXTENSION = /^\.[A-Za-z0-9]{1,10}$/;

const EMPTY: UpdatesManifest = { version: 1, packages: [] };

/** The manifest of `dir`; empty when none was published. */
export async function readManifest(dir: string): Promise<UpdatesManifest> {
  const value = await readJsonFile(join(dir, 'manifest.json'));
  if (typeof value !== 'object' || value === null) return EMPTY;
  const packages = (value as { packages?: unknown }).packages;
  return Array.isArray(packages) ? { version: 1, packages: packages as UpdatePackage[] } : EMPTY;
}

/** What to publish. */
export interface PublishRequest {
  readonly source: string;
  readonly model: string;
  readonly version: string;
  readonly maxBytes: number;
  /** Publish without offering it (default: approved). */
  readonly approved?: boolean;
}

function refuse(message: string): never {
  throw new RampartError(ERROR_CODES.WEB_SERVICES, message);
}

/**
 * Copies a package into `dir/files` (hashing it on the way) and lists it in the manifest.
 * A package of the same model and version replaces the one listed before.
 */
export async function publishUpdate(dir: string, request: PublishRequest): Promise<UpdatePackage> {
  if (!MODEL.test(request.model)) refuse(`not a model name: ${request.model}`);
  if (!VERSION.test(request.version)) refuse(`not a version: ${request.version}`);
  const info = await stat(request.source).catch((error: unknown) =>
    refuse(`cannot read ${request.source}: ${String(error)}`),
  );
  if (!info.isFile()) refuse(`${request.source} is not a file`);
  if (info.size > request.maxBytes)
    refuse(`${request.source} is ${String(info.size)} bytes, over ${String(request.maxBytes)}`);
  const extension = EXTENSION.test(extname(request.source)) ? extname(request.source) : '.bin';
  const files = join(dir, 'files');
  await mkdir(files, { recursive: true, mode: 0o750 });
  return withLock(dir, async () => {
    const hash = createHash('sha256');
    let bytes = 0;
    const temporary = join(files, `.publish-${String(process.pid)}.tmp`);
    try {
      await pipeline(
        createReadStream(request.source),
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            bytes += chunk.length;
            hash.update(chunk);
            callback(null, chunk);
          },
        }),
        createWriteStream(temporary, { mode: 0o640 }),
      );
      const sha256 = hash.digest('hex');
      const file = `${request.model}-${request.version}-${sha256.slice(0, 12)}${extension}`;
      await rename(temporary, join(files, file));
      const published: UpdatePackage = {
        model: request.model,
        version: request.version,
        file,
        bytes,
        sha256,
        publishedAt: new Date().toISOString(),
        approved: request.approved ?? true,
      };
      const manifest = await readManifest(dir);
      const replaced = manifest.packages.filter(
        (p) =>
          p.model.toLowerCase() === published.model.toLowerCase() &&
          compareVersions(p.version, published.version) === 0,
      );
      const packages = [...manifest.packages.filter((p) => !replaced.includes(p)), published];
      await writeFileAtomic(
        join(dir, 'manifest.json'),
        JSON.stringify({ version: 1, packages }, null, 1) + '\n',
      );
      for (const old of replaced) {
        if (old.file !== file) await rm(join(files, old.file), { force: true });
      }
      return published;
    } finally {
      await rm(temporary, { force: true });
    }
  });
}

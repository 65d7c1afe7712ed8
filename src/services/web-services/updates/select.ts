/**
 * Device updates, pure parts: the manifest of published packages, version order, and which
 * package a device of a model at a version should install.
 */

/** One published package. */
export interface UpdatePackage {
  readonly model: string;
  readonly version: string;
  /** File name under `updates/files/` and in `/updates/files/<file>`. */
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly publishedAt: string;
  /** Only approved packages are offered. */
  readonly approved: boolean;
}

/** `<dataDir>/web-services/updates/manifest.json`. */
export interface UpdatesManifest {
  readonly version: 1;
  readonly packages: readonly UpdatePackage[];
}

/** A device model name: letters, digits, `.`, `_`, `-`; 1–64 characters. */
export const MODEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A version: dot-separated alphanumeric parts (`4.0.7577.4420`, `1.2.0-rc1`). */
export const VERSION = /^[A-Za-z0-9]+(?:[.-][A-Za-z0-9]+){0,15}$/;

/**
 * Orders versions part by part (split on `.` and `-`): numeric parts numerically, a numeric
 * part before an alphanumeric one, others by code unit; a missing part sorts first.
 */
export function compareVersions(a: string, b: string): number {
  const left = a.split(/[.-]/);
  const right = b.split(/[.-]/);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = left[i];
    const y = right[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const xNumeric = /^\d+$/.test(x);
    const yNumeric = /^\d+$/.test(y);
    if (xNumeric && yNumeric) {
      const difference = Number(x) - Number(y);
      if (difference !== 0) return Math.sign(difference);
      continue;
    }
    if (xNumeric !== yNumeric) return xNumeric ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * The package a device should install: the highest approved version of its model (model
 * compared case-insensitively) above the version it runs; undefined: none.
 */
export function selectUpdate(
  manifest: UpdatesManifest,
  model: string,
  currentVersion: string,
): UpdatePackage | undefined {
  let best: UpdatePackage | undefined;
  for (const candidate of manifest.packages) {
    if (!candidate.approved || candidate.model.toLowerCase() !== model.toLowerCase()) continue;
    if (compareVersions(candidate.version, currentVersion) <= 0) continue;
    if (best === undefined || compareVersions(candidate.version, best.version) > 0)
      best = candidate;
  }
  return best;
}

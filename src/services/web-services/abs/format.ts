/**
 * The address book format (version 1), documented in docs/address-book.md: NDJSON files, a
 * header object on the first line and one object per line after it. A full file lists every
 * entry; a delta file lists what changed between two generations. Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { err, ok, type Result } from '../../../lib/result.ts';

/** `format` of every address book file. */
export const ABS_FORMAT = 'rampart-abs';
/** `format` of the index. */
export const ABS_INDEX_FORMAT = 'rampart-abs-index';
/** The version this code writes and reads; a reader refuses another major version. */
export const ABS_VERSION = 1;

/** One person in the address book. */
export interface AbsEntry {
  readonly sipUri: string;
  readonly displayName: string | null;
  readonly email: string | null;
}

/** First line of a full file. */
export interface AbsFullHeader {
  readonly format: typeof ABS_FORMAT;
  readonly version: typeof ABS_VERSION;
  readonly kind: 'full';
  /** The generation, `YYYY-MM-DDTHHMMSSZ` (UTC); names and orders generations. */
  readonly label: string;
  /** Increases by one with every generation that changed something. */
  readonly serial: number;
  readonly generatedAt: string;
  readonly count: number;
}

/** First line of a delta file: from one generation to the next. */
export interface AbsDeltaHeader {
  readonly format: typeof ABS_FORMAT;
  readonly version: typeof ABS_VERSION;
  readonly kind: 'delta';
  readonly from: string;
  readonly to: string;
  readonly fromSerial: number;
  readonly toSerial: number;
  readonly generatedAt: string;
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
}

/** One line of a delta file after the header. */
export type AbsDeltaLine =
  | ({ readonly op: 'add' | 'change' } & AbsEntry)
  | { readonly op: 'remove'; readonly sipUri: string };

/** What changed between two generations. */
export interface AbsDelta {
  readonly added: readonly AbsEntry[];
  readonly changed: readonly AbsEntry[];
  readonly removed: readonly string[];
}

/** A full file as the index describes it. */
export interface AbsFullInfo {
  readonly name: string;
  readonly label: string;
  readonly serial: number;
  readonly count: number;
  /** Size of the NDJSON file, and of its gzip twin. */
  readonly bytes: number;
  readonly gzipBytes: number;
  /** SHA-256 of the NDJSON bytes, hex. */
  readonly sha256: string;
}

/** A delta file as the index describes it. */
export interface AbsDeltaInfo {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly sha256: string;
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
}

/** `/abs/index.json`: which files exist. Lists are oldest first. */
export interface AbsIndex {
  readonly format: typeof ABS_INDEX_FORMAT;
  readonly version: typeof ABS_VERSION;
  /** Label and serial of the newest generation. */
  readonly latest: string;
  readonly serial: number;
  readonly generatedAt: string;
  readonly full: readonly AbsFullInfo[];
  readonly deltas: readonly AbsDeltaInfo[];
}

const LABEL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const LABEL_TEXT = '\\d{4}-\\d{2}-\\d{2}T\\d{6}Z';
/** Names of the files the server publishes (and nothing else under /abs/). */
export const ABS_FILE_NAME = new RegExp(
  `^abs-(?:full-${LABEL_TEXT}|delta-${LABEL_TEXT}-${LABEL_TEXT})\\.ndjson$`,
);

/** The generation label of a time, to the second: `2026-11-29T013000Z`. */
export function labelOf(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-29T01:30:00.000Z
  return `${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** The time a label names, or undefined when it is not a label. */
export function labelTime(label: string): number | undefined {
  const m = LABEL.exec(label);
  if (m === null) return undefined;
  const ms = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
  );
  return labelOf(ms) === label ? ms : undefined;
}

/** `abs-full-<label>.ndjson`. */
export function fullName(label: string): string {
  return `abs-full-${label}.ndjson`;
}

/** `abs-delta-<from>-<to>.ndjson`. */
export function deltaName(from: string, to: string): string {
  return `abs-delta-${from}-${to}.ndjson`;
}

/** SHA-256 hex of text as UTF-8. */
export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function byUri(a: { readonly sipUri: string }, b: { readonly sipUri: string }): number {
  return a.sipUri < b.sipUri ? -1 : a.sipUri > b.sipUri ? 1 : 0;
}

function entryOf(entry: AbsEntry): AbsEntry {
  return { sipUri: entry.sipUri, displayName: entry.displayName, email: entry.email };
}

/** A full file: the header line, then the entries sorted by SIP URI. */
export function serializeFull(header: AbsFullHeader, entries: readonly AbsEntry[]): string {
  const lines = [JSON.stringify(header)];
  for (const entry of [...entries].sort(byUri)) lines.push(JSON.stringify(entryOf(entry)));
  return lines.join('\n') + '\n';
}

/** A delta file: the header line, then removals, changes and additions, each by SIP URI. */
export function serializeDelta(header: AbsDeltaHeader, delta: AbsDelta): string {
  const lines = [JSON.stringify(header)];
  for (const sipUri of [...delta.removed].sort())
    lines.push(JSON.stringify({ op: 'remove', sipUri }));
  for (const entry of [...delta.changed].sort(byUri))
    lines.push(JSON.stringify({ op: 'change', ...entryOf(entry) }));
  for (const entry of [...delta.added].sort(byUri))
    lines.push(JSON.stringify({ op: 'add', ...entryOf(entry) }));
  return lines.join('\n') + '\n';
}

/** What changed from `previous` to `next` (compared by SIP URI). */
export function diffEntries(previous: readonly AbsEntry[], next: readonly AbsEntry[]): AbsDelta {
  const before = new Map(previous.map((e) => [e.sipUri, e]));
  const added: AbsEntry[] = [];
  const changed: AbsEntry[] = [];
  for (const entry of next) {
    const old = before.get(entry.sipUri);
    before.delete(entry.sipUri);
    if (old === undefined) added.push(entry);
    else if (old.displayName !== entry.displayName || old.email !== entry.email)
      changed.push(entry);
  }
  return { added, changed, removed: [...before.keys()] };
}

/** True when a delta changes nothing. */
export function isEmptyDelta(delta: AbsDelta): boolean {
  return delta.added.length === 0 && delta.changed.length === 0 && delta.removed.length === 0;
}

/**
 * Applies a delta. Strict: an addition of a present entry, or a change or removal of an
 * absent one, means the copy diverged, and is an error (the client then takes a full file).
 */
export function applyDelta(
  entries: readonly AbsEntry[],
  delta: AbsDelta,
): Result<AbsEntry[], string> {
  const map = new Map(entries.map((e) => [e.sipUri, e]));
  for (const sipUri of delta.removed) {
    if (!map.delete(sipUri)) return err(`remove of absent ${sipUri}`);
  }
  for (const entry of delta.changed) {
    if (!map.has(entry.sipUri)) return err(`change of absent ${entry.sipUri}`);
    map.set(entry.sipUri, entryOf(entry));
  }
  for (const entry of delta.added) {
    if (map.has(entry.sipUri)) return err(`add of present ${entry.sipUri}`);
    map.set(entry.sipUri, entryOf(entry));
  }
  return ok([...map.values()].sort(byUri));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nullableString(value: unknown): value is string | null {
  return value === null || typeof value === 'string';
}

function readEntry(value: unknown): AbsEntry | undefined {
  if (!isRecord(value)) return undefined;
  const { sipUri, displayName, email } = value;
  if (typeof sipUri !== 'string' || !sipUri.startsWith('sip:')) return undefined;
  if (!nullableString(displayName) || !nullableString(email)) return undefined;
  return { sipUri, displayName, email };
}

function readLines(text: string): Result<unknown[], string> {
  const values: unknown[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const [index, line] of lines.entries()) {
    try {
      values.push(JSON.parse(line));
    } catch {
      return err(`line ${String(index + 1)}: not JSON`);
    }
  }
  return ok(values);
}

function checkHeader(
  value: unknown,
  kind: 'full' | 'delta',
): Result<Record<string, unknown>, string> {
  if (!isRecord(value) || value.format !== ABS_FORMAT) return err('line 1: not an address book');
  if (value.version !== ABS_VERSION)
    return err(`line 1: version ${String(value.version)}, expected ${String(ABS_VERSION)}`);
  if (value.kind !== kind) return err(`line 1: a ${String(value.kind)} file, expected ${kind}`);
  return ok(value);
}

/** Reads a full file; an error names the first bad line. */
export function parseFull(
  text: string,
): Result<{ header: AbsFullHeader; entries: AbsEntry[] }, string> {
  const values = readLines(text);
  if (!values.ok) return values;
  const header = checkHeader(values.value[0], 'full');
  if (!header.ok) return header;
  const entries: AbsEntry[] = [];
  for (const [index, value] of values.value.slice(1).entries()) {
    const entry = readEntry(value);
    if (entry === undefined) return err(`line ${String(index + 2)}: not an entry`);
    entries.push(entry);
  }
  if (header.value.count !== entries.length)
    return err(`header count ${String(header.value.count)}, ${String(entries.length)} entries`);
  return ok({ header: header.value as unknown as AbsFullHeader, entries });
}

/** Reads a delta file; an error names the first bad line. */
export function parseDelta(
  text: string,
): Result<{ header: AbsDeltaHeader; delta: AbsDelta }, string> {
  const values = readLines(text);
  if (!values.ok) return values;
  const header = checkHeader(values.value[0], 'delta');
  if (!header.ok) return header;
  const added: AbsEntry[] = [];
  const changed: AbsEntry[] = [];
  const removed: string[] = [];
  for (const [index, value] of values.value.slice(1).entries()) {
    const where = `line ${String(index + 2)}`;
    if (!isRecord(value)) return err(`${where}: not an object`);
    if (value.op === 'remove') {
      if (typeof value.sipUri !== 'string') return err(`${where}: no sipUri`);
      removed.push(value.sipUri);
      continue;
    }
    const entry = readEntry(value);
    if (entry === undefined || (value.op !== 'add' && value.op !== 'change'))
      return err(`${where}: not a delta line`);
    (value.op === 'add' ? added : changed).push(entry);
  }
  return ok({
    header: header.value as unknown as AbsDeltaHeader,
    delta: { added, changed, removed },
  });
}

/** How a client at generation `local` (undefined: none) gets to the newest one. */
export type FetchPlan =
  | { readonly kind: 'up-to-date' }
  | { readonly kind: 'deltas'; readonly chain: readonly AbsDeltaInfo[] }
  | { readonly kind: 'full'; readonly file: AbsFullInfo };

/**
 * The cheapest way to the newest generation: nothing, a chain of deltas from `local`, or
 * the newest full file (no local copy, or `local` no longer in the delta chain). Undefined
 * when the index lists no full file of the newest generation.
 */
export function planFetch(index: AbsIndex, local: string | undefined): FetchPlan | undefined {
  if (local === index.latest) return { kind: 'up-to-date' };
  const byFrom = new Map(index.deltas.map((d) => [d.from, d]));
  const chain: AbsDeltaInfo[] = [];
  for (let at = local; at !== undefined && at !== index.latest;) {
    const next = byFrom.get(at);
    if (next === undefined || chain.length >= index.deltas.length) {
      chain.length = 0;
      break;
    }
    chain.push(next);
    at = next.to;
  }
  if (chain.length > 0) return { kind: 'deltas', chain };
  const file = index.full.find((f) => f.label === index.latest);
  return file === undefined ? undefined : { kind: 'full', file };
}

/** Reads an index; undefined when it is not one of this version. */
export function parseIndex(value: unknown): AbsIndex | undefined {
  if (!isRecord(value) || value.format !== ABS_INDEX_FORMAT || value.version !== ABS_VERSION)
    return undefined;
  if (
    typeof value.latest !== 'string' ||
    !Array.isArray(value.full) ||
    !Array.isArray(value.deltas)
  )
    return undefined;
  return value as unknown as AbsIndex;
}

const DAY_MS = 86_400_000;

/**
 * What to keep after a generation at `nowMs`: the newest full file of each UTC day within
 * `keepDays` (always the newest of all), and the deltas whose target is within `keepDays`.
 */
export function retained(
  index: Pick<AbsIndex, 'full' | 'deltas' | 'latest'>,
  nowMs: number,
  keepDays: number,
): { full: AbsFullInfo[]; deltas: AbsDeltaInfo[] } {
  const oldest = nowMs - keepDays * DAY_MS;
  const newestOfDay = new Map<string, AbsFullInfo>();
  for (const file of index.full) {
    const day = file.label.slice(0, 10);
    const kept = newestOfDay.get(day);
    if (kept === undefined || kept.label < file.label) newestOfDay.set(day, file);
  }
  const full = index.full.filter(
    (f) =>
      f.label === index.latest ||
      (newestOfDay.get(f.label.slice(0, 10)) === f && (labelTime(f.label) ?? 0) >= oldest),
  );
  const deltas = index.deltas.filter((d) => (labelTime(d.to) ?? 0) >= oldest);
  return { full, deltas };
}

/**
 * `rampart user import FILE.csv`: a bounded CSV reader (RFC 4180, quoted fields with `""`
 * escapes and line breaks) and the import itself. Every line is checked before anything is
 * written, so that a malformed line is reported with its number and skipped; the good ones
 * then go in through `Directory.addUsers`, one transaction where the backend has one.
 */
import cliProgress from 'cli-progress';
import { canonicalAddress, type Directory, type NewUser } from '../store/directory.ts';
import { err, ok, type Result } from '../lib/result.ts';

/** Larger files are refused before reading: 1 GiB is ~10 million users. */
export const MAX_IMPORT_BYTES = 1024 * 1024 * 1024;
const MAX_FIELDS = 16;
const MAX_RECORD_CHARS = 64 * 1024;
const MAX_PASSWORD = 1024;
const MAX_NAME = 256;
const MAX_EMAIL = 254;
const COLUMNS = ['address', 'password', 'name', 'email'] as const;
type Column = (typeof COLUMNS)[number];

/** One CSV record and the line it starts on (1-based). */
export interface CsvRecord {
  readonly line: number;
  readonly fields: readonly string[];
}

/** A line that could not be read as a record, and why. */
export interface CsvProblem {
  readonly line: number;
  readonly error: string;
}

/**
 * Reads CSV records (RFC 4180 §2; LF, CRLF or CR line breaks; a leading BOM is ignored).
 * A malformed record is yielded as a problem and reading resumes at the next line; blank
 * lines are skipped. Records are bounded to {@link MAX_FIELDS} fields and
 * {@link MAX_RECORD_CHARS} characters.
 */
export function* readCsv(text: string): Generator<CsvRecord | CsvProblem> {
  const length = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < length) {
    const start = i;
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let wasQuoted = false;
    let error: string | undefined;
    for (;;) {
      if (i - start > MAX_RECORD_CHARS) {
        error = `record longer than ${MAX_RECORD_CHARS} characters`;
        break;
      }
      if (i >= length) {
        if (quoted) error = 'unterminated quoted field';
        break;
      }
      const c = text[i] ?? '';
      if (quoted) {
        if (c === '"') {
          // RFC 4180 §2 rule 7: a quote inside a quoted field is escaped by doubling it.
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          quoted = false;
          i++;
          continue;
        }
        if (c === '\n') line++;
        else if (c === '\r' && text[i + 1] !== '\n') line++;
        field += c;
        i++;
        continue;
      }
      if (c === ',') {
        fields.push(field);
        if (fields.length >= MAX_FIELDS) {
          error = `more than ${MAX_FIELDS} fields`;
          break;
        }
        field = '';
        wasQuoted = false;
        i++;
        continue;
      }
      if (c === '\n' || c === '\r') {
        i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
        line++;
        break;
      }
      if (wasQuoted) {
        error = 'text after a closing quote';
        break;
      }
      if (c === '"') {
        if (field === '') {
          quoted = true;
          wasQuoted = true;
          i++;
          continue;
        }
        error = 'a quote inside an unquoted field';
        break;
      }
      field += c;
      i++;
    }
    if (error !== undefined) {
      // Resume on the line after the one the record started on: an unterminated quote must
      // not swallow the rest of the file.
      i = start;
      while (i < length && text[i] !== '\n' && text[i] !== '\r') i++;
      if (i < length) i += text[i] === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line = startLine + 1;
      yield { line: startLine, error };
      continue;
    }
    fields.push(field);
    if (fields.length === 1 && field === '' && !wasQuoted) continue;
    yield { line: startLine, fields };
  }
}

/** What an import did. */
export interface ImportReport {
  readonly imported: number;
  readonly rejected: readonly { readonly line: number; readonly reason: string }[];
  readonly seconds: number;
}

/** Where progress goes: a bar on a terminal, a line now and then elsewhere. */
interface Progress {
  start(total: number): void;
  update(done: number): void;
  stop(): void;
}

function progressOnStderr(): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: 'importing [{bar}] {percentage}% | {value}/{total} users | {eta}s left',
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    return {
      start: (total) => {
        bar.start(total, 0);
      },
      update: (done) => {
        bar.update(done);
      },
      stop: () => {
        bar.stop();
      },
    };
  }
  // Not a terminal (a log, a pipe): a plain line every tenth of the way.
  let total = 0;
  let nextReport = 0;
  return {
    start: (count) => {
      total = count;
      nextReport = Math.max(1, Math.ceil(count / 10));
      process.stderr.write(`importing ${count} user(s)\n`);
    },
    update: (done) => {
      if (done < nextReport || done >= total) return;
      process.stderr.write(`imported ${done}/${total}\n`);
      nextReport += Math.max(1, Math.ceil(total / 10));
    },
    stop: () => {},
  };
}

/** True when `value` has a C0 control character or DEL (no such thing belongs in a name). */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** Maps the header row to column positions; an error when it is not a valid header. */
function readHeader(fields: readonly string[]): Result<Map<Column, number>, string> {
  const positions = new Map<Column, number>();
  for (const [index, raw] of fields.entries()) {
    const name = raw.trim().toLowerCase();
    if (!(COLUMNS as readonly string[]).includes(name)) {
      return err(`unknown column "${raw}" in the header (expected ${COLUMNS.join(',')})`);
    }
    if (positions.has(name as Column)) return err(`column "${name}" twice in the header`);
    positions.set(name as Column, index);
  }
  if (!positions.has('address') || !positions.has('password')) {
    return err(`the header row must name at least address and password (${COLUMNS.join(',')})`);
  }
  return ok(positions);
}

/**
 * Checks every record of `text`, then adds the good ones. An error (nothing imported) when
 * the file has no valid header row.
 */
export async function importUsers(
  directory: Directory,
  text: string,
  progress: Progress = progressOnStderr(),
): Promise<Result<ImportReport, string>> {
  const started = performance.now();
  const records = readCsv(text);
  const first = records.next();
  if (first.done === true)
    return err('empty file: expected the header row address,password,name,email');
  if ('error' in first.value) return err(`line ${first.value.line}: ${first.value.error}`);
  const header = readHeader(first.value.fields);
  if (!header.ok) return err(`line ${first.value.line}: ${header.error}`);
  const columns = header.value;
  const width = first.value.fields.length;

  const rejected: { line: number; reason: string }[] = [];
  const users: NewUser[] = [];
  const seen = new Map<string, number>();
  for (const record of records) {
    if ('error' in record) {
      rejected.push({ line: record.line, reason: record.error });
      continue;
    }
    // Trailing optional fields may be left out (`alice@example.test,pw`); extra ones may not.
    if (record.fields.length > width) {
      rejected.push({
        line: record.line,
        reason: `${record.fields.length} fields, the header has ${width}`,
      });
      continue;
    }
    const field = (column: Column): string | undefined => {
      const index = columns.get(column);
      return index === undefined ? undefined : record.fields[index];
    };
    const rawAddress = field('address') ?? '';
    const address = canonicalAddress(rawAddress);
    const password = field('password') ?? '';
    const name = field('name') ?? '';
    const email = field('email') ?? '';
    let reason: string | undefined;
    if (address === undefined)
      reason = `malformed address ${JSON.stringify(rawAddress.slice(0, 80))}`;
    else if (password.length === 0) reason = 'empty password';
    else if (password.length > MAX_PASSWORD) reason = `password longer than ${MAX_PASSWORD}`;
    else if (name.length > MAX_NAME || hasControlCharacter(name))
      reason = 'name too long or has control characters';
    else if (email.length > MAX_EMAIL || hasControlCharacter(email))
      reason = 'email too long or has control characters';
    else if (seen.has(address)) reason = `${address} already on line ${seen.get(address) ?? 0}`;
    else if ((await directory.getUser(address)) !== undefined) reason = `user ${address} exists`;
    if (reason !== undefined || address === undefined) {
      rejected.push({ line: record.line, reason: reason ?? 'malformed' });
      continue;
    }
    seen.set(address, record.line);
    users.push({
      address,
      password,
      displayName: name === '' ? null : name,
      email: email === '' ? null : email,
    });
  }

  progress.start(users.length);
  let imported: number;
  try {
    imported = await directory.addUsers(users, (done) => {
      progress.update(done);
    });
  } finally {
    progress.stop();
  }
  return ok({ imported, rejected, seconds: (performance.now() - started) / 1000 });
}

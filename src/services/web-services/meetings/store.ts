/**
 * Meeting content on disk: `<dataDir>/web-services/meetings/<id>/meeting.json` (organiser,
 * SHA-256 of the conference key, the files) and `<id>/files/<name>`. Changes to one meeting
 * are serialised in this process.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { readJsonFile, writeFileAtomic } from '../files.ts';
import { SNIFF_BYTES } from './content-check.ts';

/** Meeting ids are 128 random bits, hex. */
export const MEETING_ID = /^[0-9a-f]{32}$/;
/** File names: no path separators, no leading dot, at most 128 characters. */
export const MEETING_FILE = /^[A-Za-z0-9][A-Za-z0-9._ ()-]{0,127}$/;

/** One uploaded file. */
export interface MeetingFile {
  readonly name: string;
  readonly contentType: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly uploadedAt: string;
}

/** A meeting's content space. */
export interface Meeting {
  readonly id: string;
  /** The organiser's address (`alice@example.test`): the only one who may change it. */
  readonly organiser: string;
  /** SHA-256 of the conference key, hex. */
  readonly keySha256: string;
  readonly createdAt: string;
  readonly files: readonly MeetingFile[];
}

/** What {@link MeetingStore.receive} read. */
export type Received =
  | {
      readonly kind: 'stored';
      readonly temporary: string;
      readonly bytes: number;
      readonly sha256: string;
      readonly head: Buffer;
    }
  | { readonly kind: 'too-large' };

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The meetings directory. */
export class MeetingStore {
  readonly #dir: string;
  /** The tail of each meeting's chain of changes. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  #meetingDir(id: string): string {
    return join(this.#dir, id);
  }

  /** The path of a stored file. */
  filePath(id: string, name: string): string {
    return join(this.#meetingDir(id), 'files', name);
  }

  /** Creates a meeting; the key is random unless given. Returns the key in clear once. */
  async create(organiser: string, key?: string): Promise<{ meeting: Meeting; key: string }> {
    const id = randomBytes(16).toString('hex');
    const conferenceKey = key ?? randomBytes(24).toString('base64url');
    const meeting: Meeting = {
      id,
      organiser,
      keySha256: sha256(conferenceKey).toString('hex'),
      createdAt: new Date().toISOString(),
      files: [],
    };
    await mkdir(join(this.#meetingDir(id), 'files'), { recursive: true, mode: 0o750 });
    await this.#write(meeting);
    return { meeting, key: conferenceKey };
  }

  /** The meeting, or undefined. */
  async get(id: string): Promise<Meeting | undefined> {
    if (!MEETING_ID.test(id)) return undefined;
    return (await readJsonFile(join(this.#meetingDir(id), 'meeting.json'))) as Meeting | undefined;
  }

  /** Compares a presented key with the meeting's in constant time. */
  keyMatches(meeting: Meeting, key: string | undefined): boolean {
    if (key === undefined) return false;
    const expected = Buffer.from(meeting.keySha256, 'hex');
    const presented = sha256(key);
    return expected.length === presented.length && timingSafeEqual(expected, presented);
  }

  async #write(meeting: Meeting): Promise<void> {
    await writeFileAtomic(
      join(this.#meetingDir(meeting.id), 'meeting.json'),
      JSON.stringify(meeting, null, 1) + '\n',
    );
  }

  /** Applies `change` to the stored meeting, one change at a time per meeting. */
  update<T>(
    id: string,
    change: (meeting: Meeting) => Promise<{ meeting: Meeting; result: T }>,
  ): Promise<T | undefined> {
    const previous = this.#queues.get(id) ?? Promise.resolve();
    const next = previous.then(async () => {
      const meeting = await this.get(id);
      if (meeting === undefined) return undefined;
      const changed = await change(meeting);
      await this.#write(changed.meeting);
      return changed.result;
    });
    const tail = next.catch(() => undefined);
    this.#queues.set(id, tail);
    void tail.then(() => {
      if (this.#queues.get(id) === tail) this.#queues.delete(id);
    });
    return next;
  }

  /** Streams an upload into a temporary file, counting, hashing and keeping its first bytes. */
  async receive(id: string, body: AsyncIterable<Buffer>, maxBytes: number): Promise<Received> {
    const temporary = join(this.#meetingDir(id), `.upload-${randomBytes(8).toString('hex')}`);
    const out = createWriteStream(temporary, { mode: 0o640 });
    const hash = createHash('sha256');
    const head: Buffer[] = [];
    let headBytes = 0;
    let bytes = 0;
    try {
      for await (const chunk of body) {
        bytes += chunk.length;
        if (bytes > maxBytes) {
          out.destroy();
          await rm(temporary, { force: true });
          return { kind: 'too-large' };
        }
        if (headBytes < SNIFF_BYTES) {
          head.push(chunk.subarray(0, SNIFF_BYTES - headBytes));
          headBytes += Math.min(chunk.length, SNIFF_BYTES - headBytes);
        }
        hash.update(chunk);
        if (!out.write(chunk)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
    } catch (error) {
      out.destroy();
      await rm(temporary, { force: true });
      throw error;
    }
    return {
      kind: 'stored',
      temporary,
      bytes,
      sha256: hash.digest('hex'),
      head: Buffer.concat(head),
    };
  }

  /** Moves a received file into place under `name`. */
  async keep(id: string, temporary: string, name: string): Promise<void> {
    await rename(temporary, this.filePath(id, name));
  }

  /** Removes a stored file (absent: nothing). */
  async removeFile(id: string, name: string): Promise<void> {
    await rm(this.filePath(id, name), { force: true });
  }
}

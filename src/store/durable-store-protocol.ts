/**
 * Messages between {@link SqliteDurableStore} and the thread that owns its file
 * (`durable-store-worker.ts`). Every request carries a sequence number its reply repeats.
 */

/** The kinds of document kept. */
export type DocumentKind = 'binding' | 'contacts' | 'presence-rules';

/** What the worker is started with. */
export interface StoreWorkerData {
  readonly path: string;
  readonly minCommitIntervalMs: number;
}

/** A document write: its JSON text, or null to delete it. */
export type StoreWrite = readonly [kind: DocumentKind, id: string, text: string | null];

export type StoreRequest =
  | { readonly op: 'write'; readonly seq: number; readonly writes: readonly StoreWrite[] }
  | { readonly op: 'get'; readonly seq: number; readonly kind: DocumentKind; readonly id: string }
  | { readonly op: 'list'; readonly seq: number; readonly kind: DocumentKind }
  | { readonly op: 'close'; readonly seq: number };

/**
 * The answer to request `seq` (0: the worker opened the file, or failed to). A write's
 * carries the number of commits so far; a read's its value (JSON text) or rows.
 */
export interface StoreReply {
  readonly seq: number;
  readonly error?: string;
  /** With `error` on opening: another connection holds the file's lock. */
  readonly locked?: boolean;
  readonly commits?: number;
  readonly value?: string | null;
  readonly rows?: readonly (readonly [id: string, text: string])[];
}

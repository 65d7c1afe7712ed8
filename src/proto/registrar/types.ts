/**
 * The registrar's data: a binding of an address-of-record to a contact (RFC 3261 §10), the
 * durable store it is written through to, and what a REGISTER changed.
 */

/** A contact header parameter kept with a binding (feature tags, RFC 3840), name lower-cased. */
export type ContactParam = readonly [name: string, value: string | null];

/**
 * One registration binding. Plain data, JSON-safe, so a {@link BindingStore} can persist it as
 * is. Times are wall-clock epoch milliseconds (`Date.now()`): they survive a restart.
 */
export interface Binding {
  /** Stable identifier, kept across refreshes; the store's primary key. */
  readonly id: string;
  /** The canonical address-of-record, `sip:user@domain` (RFC 3261 §10.3 step 5). */
  readonly aor: string;
  /** The contact URI as the UA wrote it, without angle brackets. */
  readonly contact: string;
  /** Contact header parameters other than `expires` and `q` (e.g. `+sip.instance`, `methods`). */
  readonly params: readonly ContactParam[];
  /** q-value in thousandths (0-1000), RFC 3261 §20.10; 1000 when the UA sent none. */
  readonly qThousandths: number;
  readonly callId: string;
  readonly cseq: number;
  /** When the binding lapses (RFC 3261 §10.2.1). */
  readonly expiresAt: number;
  /** When this binding was first created. */
  readonly registeredAt: number;
  /** When it was last added or refreshed. */
  readonly updatedAt: number;
  /** `+sip.instance` as sent, e.g. `<urn:uuid:...>` (RFC 5626 §4.1, RFC 5627 §4.1). */
  readonly instance?: string;
  /** `reg-id` (RFC 5626 §4.2): set when the binding was registered with outbound. */
  readonly regId?: number;
  /**
   * The transport flow the REGISTER arrived on, as the driver named it. Requests for this
   * binding go back over that flow; {@link Registrar.flowFailed} removes the binding.
   */
  readonly flowId?: string;
  /** The Path header values of the REGISTER, top first (RFC 3327 §5.3). */
  readonly path: readonly string[];
  /** User-Agent of the registering client, for administration; truncated. */
  readonly userAgent?: string;
}

/**
 * Durable storage for bindings (the embedded deployment uses SQLite; a distributed one Redis).
 * The registrar keeps the live set in memory and writes through; `loadAll` rebuilds it at start.
 * Operations take effect in the order they are called, before the previous one has settled
 * (a store may commit several together).
 */
export interface BindingStore {
  /** Inserts or replaces the binding with `binding.id`. */
  save(binding: Binding): Promise<void>;
  /** Removes the binding with `id`; removing an absent one succeeds. */
  delete(id: string): Promise<void>;
  /** Every stored binding, expired ones included (the registrar drops those). */
  loadAll(): Promise<readonly Binding[]>;
}

/** What one operation changed, for presence and the registration event package (RFC 3680). */
export interface BindingChanges {
  readonly added: readonly Binding[];
  readonly refreshed: readonly Binding[];
  readonly removed: readonly Binding[];
}

/**
 * The event state compositor's store of presence publications (RFC 3903 §6). Each PUBLISH is
 * initial (body, no SIP-If-Match), refresh (SIP-If-Match, no body), modify (both) or remove
 * (SIP-If-Match, Expires: 0). Every success gets a fresh entity-tag (RFC 3903 §6 step 7).
 * The composed state of an entity merges the tuples of its live publications; with none it is
 * one closed tuple. Time is `now` in milliseconds; {@link PublicationStore.tick} expires.
 */
import type {
  PidfDocument,
  PidfNote,
  PidfPerson,
  PidfTuple,
  RpidActivity,
} from '../../codec/pidf/pidf.ts';
import type { HeaderLine } from '../../codec/sip/serialize.ts';
import { DeadlineHeap } from '../../lib/deadline-heap.ts';
import { randomToken } from '../../lib/ids.ts';

/** Options of {@link PublicationStore}. */
export interface PublicationStoreOptions {
  /** Expiry when the PUBLISH has no Expires. Default 3600 (RFC 3903 §4, RFC 3856). */
  readonly defaultExpiresSeconds?: number;
  /** Shorter non-zero expiries are answered 423 with Min-Expires (RFC 3903 §6 step 4). Default 60. */
  readonly minExpiresSeconds?: number;
  /** Longer expiries are shortened to this (RFC 3903 §6 step 4). Default 3600. */
  readonly maxExpiresSeconds?: number;
  /** Most live publications of one entity (one per device, typically). Default 16. */
  readonly maxPerEntity?: number;
  /** Most live publications in all. Default 100000. */
  readonly maxPublications?: number;
  /** Entity-tag generator; for tests. */
  readonly newEtag?: () => string;
}

/** One live publication. */
export interface Publication {
  readonly entity: string;
  etag: string;
  document: PidfDocument;
  expiresAt: number;
  /** When it was created or last modified; later publications win where states conflict. */
  modifiedAt: number;
}

/** A PUBLISH as the store sees it (event package, authorization and body parsing done). */
export interface PublishRequest {
  /** Canonical address of the presentity (the Request-URI's AOR). */
  readonly entity: string;
  /** SIP-If-Match (RFC 3903 §11.3.2), if present. */
  readonly ifMatch: string | undefined;
  /** The Expires header value; undefined when absent. */
  readonly expiresSeconds: number | undefined;
  /** The parsed body; undefined when the PUBLISH had none. */
  readonly document: PidfDocument | undefined;
  readonly now: number;
}

/** What a PUBLISH did. */
export type PublishResult =
  | {
      readonly ok: true;
      readonly operation: 'initial' | 'refresh' | 'modify' | 'remove';
      /** The new entity-tag (SIP-ETag, RFC 3903 §11.3.1); undefined after a removal. */
      readonly etag: string | undefined;
      readonly expiresSeconds: number;
      /** Whether the entity's composed state may have changed (watchers are then notified). */
      readonly changed: boolean;
      /** Headers of the 200: SIP-ETag and Expires. */
      readonly headers: readonly HeaderLine[];
    }
  | {
      readonly ok: false;
      readonly status: number;
      readonly reason: string;
      readonly headers: readonly HeaderLine[];
    };

function refuse(
  status: number,
  reason: string,
  headers: readonly HeaderLine[] = [],
): PublishResult {
  return { ok: false, status, reason, headers };
}

/** Live presence publications and their composition. */
export class PublicationStore {
  readonly defaultExpiresSeconds: number;
  readonly minExpiresSeconds: number;
  readonly maxExpiresSeconds: number;
  private readonly maxPerEntity: number;
  private readonly maxPublications: number;
  private readonly newEtag: () => string;
  private readonly byEtag = new Map<string, Publication>();
  private readonly byEntity = new Map<string, Publication[]>();
  private readonly deadlines = new DeadlineHeap<Publication>();

  constructor(options: PublicationStoreOptions = {}) {
    this.defaultExpiresSeconds = options.defaultExpiresSeconds ?? 3600;
    this.minExpiresSeconds = options.minExpiresSeconds ?? 60;
    this.maxExpiresSeconds = options.maxExpiresSeconds ?? 3600;
    this.maxPerEntity = options.maxPerEntity ?? 16;
    this.maxPublications = options.maxPublications ?? 100_000;
    this.newEtag = options.newEtag ?? (() => randomToken(20));
  }

  /** Number of live publications. */
  get size(): number {
    return this.byEtag.size;
  }

  /** The earliest expiry; the driver calls {@link tick} then. */
  get nextTimeoutAt(): number | undefined {
    return this.deadlines.next;
  }

  /** Live publications of `entity`, oldest first. */
  publicationsOf(entity: string): readonly Publication[] {
    return this.byEntity.get(entity) ?? [];
  }

  /** Processes one PUBLISH (RFC 3903 §6 steps 3-8). */
  publish(request: PublishRequest): PublishResult {
    const { entity, now } = request;
    let existing: Publication | undefined;
    if (request.ifMatch !== undefined) {
      // RFC 3903 §6 step 3: an unknown (or expired, or another entity's) entity-tag → 412.
      existing = this.byEtag.get(request.ifMatch);
      if (existing === undefined || existing.entity !== entity || existing.expiresAt <= now)
        return refuse(412, 'Conditional Request Failed');
    }
    const requested = request.expiresSeconds ?? this.defaultExpiresSeconds;
    if (requested === 0) {
      if (existing === undefined) return refuse(400, 'Bad Request');
      // RFC 3903 §6 step 6: Expires 0 with SIP-If-Match removes the publication.
      this.remove(existing);
      return {
        ok: true,
        operation: 'remove',
        etag: undefined,
        expiresSeconds: 0,
        changed: true,
        headers: [['Expires', '0']],
      };
    }
    // RFC 3903 §6 step 4: too short → 423 with Min-Expires; too long may be lowered.
    if (requested < this.minExpiresSeconds)
      return refuse(423, 'Interval Too Brief', [['Min-Expires', String(this.minExpiresSeconds)]]);
    const granted = Math.min(requested, this.maxExpiresSeconds);
    const expiresAt = now + granted * 1000;

    if (existing === undefined) {
      // RFC 3903 §6 step 5: an initial PUBLISH must carry a body.
      if (request.document === undefined) return refuse(400, 'Bad Request');
      const live = this.byEntity.get(entity) ?? [];
      if (live.length >= this.maxPerEntity || this.byEtag.size >= this.maxPublications) {
        const soonest = Math.min(
          ...live.map((p) => p.expiresAt),
          now + this.maxExpiresSeconds * 1000,
        );
        return refuse(503, 'Service Unavailable', [
          ['Retry-After', String(Math.max(1, Math.ceil((soonest - now) / 1000)))],
        ]);
      }
      const publication: Publication = {
        entity,
        etag: this.freshEtag(),
        document: request.document,
        expiresAt,
        modifiedAt: now,
      };
      live.push(publication);
      this.byEntity.set(entity, live);
      this.byEtag.set(publication.etag, publication);
      this.deadlines.schedule(publication, expiresAt);
      return this.success('initial', publication, granted, true);
    }
    // RFC 3903 §6 step 7: a refresh or a modification gets a new entity-tag.
    this.byEtag.delete(existing.etag);
    existing.etag = this.freshEtag();
    this.byEtag.set(existing.etag, existing);
    existing.expiresAt = expiresAt;
    this.deadlines.schedule(existing, expiresAt);
    if (request.document === undefined) return this.success('refresh', existing, granted, false);
    existing.document = request.document;
    existing.modifiedAt = now;
    return this.success('modify', existing, granted, true);
  }

  /** Removes every publication expired at `now`; returns the entities whose state changed. */
  tick(now: number): string[] {
    const entities = new Set<string>();
    for (const publication of this.deadlines.takeDue(now)) {
      this.remove(publication);
      entities.add(publication.entity);
    }
    return [...entities];
  }

  /** Removes every publication of `entity` (a user disabled); true when there were some. */
  removeAllFor(entity: string): boolean {
    const live = [...(this.byEntity.get(entity) ?? [])];
    for (const publication of live) this.remove(publication);
    return live.length > 0;
  }

  /**
   * The composed presence document of `entity` (RFC 3903 §1: the compositor's job): every
   * tuple of every live publication, newest publication first, ids made unique; one person
   * with the union of activities and the newest notes. With no live publication the entity
   * is offline: one closed tuple.
   */
  compose(entity: string, presentityUri: string): PidfDocument {
    const live = [...(this.byEntity.get(entity) ?? [])].sort((a, b) => b.modifiedAt - a.modifiedAt);
    if (live.length === 0) {
      return {
        entity: presentityUri,
        tuples: [{ id: 'offline', basic: 'closed', notes: [] }],
        persons: [],
        notes: [],
      };
    }
    const tuples: PidfTuple[] = [];
    const ids = new Set<string>();
    const activities: RpidActivity[] = [];
    let personNotes: readonly PidfNote[] | undefined;
    let personId: string | undefined;
    let notes: readonly PidfNote[] | undefined;
    for (const publication of live) {
      for (const tuple of publication.document.tuples) {
        let id = tuple.id;
        for (let n = 2; ids.has(id); n++) id = `${tuple.id}-${n}`;
        ids.add(id);
        tuples.push(id === tuple.id ? tuple : { ...tuple, id });
      }
      for (const person of publication.document.persons) {
        personId ??= person.id;
        for (const activity of person.activities)
          if (!activities.includes(activity)) activities.push(activity);
        if (personNotes === undefined && person.notes.length > 0) personNotes = person.notes;
      }
      if (notes === undefined && publication.document.notes.length > 0)
        notes = publication.document.notes;
    }
    const persons: PidfPerson[] = [];
    if (personId !== undefined) {
      let id = personId;
      for (let n = 2; ids.has(id); n++) id = `${personId}-${n}`;
      persons.push({ id, activities, notes: personNotes ?? [] });
    }
    return { entity: presentityUri, tuples, persons, notes: notes ?? [] };
  }

  private success(
    operation: 'initial' | 'refresh' | 'modify',
    publication: Publication,
    expiresSeconds: number,
    changed: boolean,
  ): PublishResult {
    return {
      ok: true,
      operation,
      etag: publication.etag,
      expiresSeconds,
      changed,
      headers: [
        ['SIP-ETag', publication.etag],
        ['Expires', String(expiresSeconds)],
      ],
    };
  }

  private freshEtag(): string {
    let etag = this.newEtag();
    while (this.byEtag.has(etag)) etag = this.newEtag();
    return etag;
  }

  private remove(publication: Publication): void {
    if (this.byEtag.get(publication.etag) === publication) this.byEtag.delete(publication.etag);
    this.deadlines.schedule(publication, undefined);
    const live = this.byEntity.get(publication.entity);
    if (live === undefined) return;
    const index = live.indexOf(publication);
    if (index >= 0) live.splice(index, 1);
    if (live.length === 0) this.byEntity.delete(publication.entity);
  }
}

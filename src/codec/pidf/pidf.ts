/**
 * PIDF, the Presence Information Data Format (RFC 3863), with the person element of the data
 * model (RFC 4479) and RPID activities (RFC 4480 §3.2). Parsing is bounded (see xml.ts) and
 * returns a value saying why a document was refused (the server answers 400); serialising
 * writes a document for an entity from a composed state.
 */
import { err, ok, type Result } from '../../lib/result.ts';
import {
  childrenNamed,
  DEFAULT_XML_LIMITS,
  parseXmlDocument,
  type XmlElement,
  type XmlErrorReason,
  type XmlLimits,
} from './xml.ts';
import { buildXmlDocument, xmlElement, xmlTextElement, type XmlBuildNode } from './xml-build.ts';

/** RFC 3863 §4.1: the PIDF namespace. */
export const PIDF_NAMESPACE = 'urn:ietf:params:xml:ns:pidf';
/** RFC 4479 §4: the data-model namespace (person, device, dm:note). */
export const DATA_MODEL_NAMESPACE = 'urn:ietf:params:xml:ns:pidf:data-model';
/** RFC 4480 §4: the RPID namespace. */
export const RPID_NAMESPACE = 'urn:ietf:params:xml:ns:pidf:rpid';
/** RFC 3863 §3: the media type. */
export const PIDF_CONTENT_TYPE = 'application/pidf+xml';

/**
 * RFC 4480 §3.2 activity tokens, kept as opaque known values. `other` stands for
 * `<rpid:other>` whatever its text; an unknown extension element is dropped.
 */
export const RPID_ACTIVITIES = [
  'appointment',
  'away',
  'breakfast',
  'busy',
  'dinner',
  'holiday',
  'in-transit',
  'looking-for-work',
  'meal',
  'meeting',
  'on-the-phone',
  'performance',
  'permanent-absence',
  'playing',
  'presentation',
  'shopping',
  'sleeping',
  'spectator',
  'steering',
  'travel',
  'tv',
  'unknown',
  'vacation',
  'working',
  'worship',
  'other',
] as const;

/** One RFC 4480 activity token. */
export type RpidActivity = (typeof RPID_ACTIVITIES)[number];

const ACTIVITY_SET: ReadonlySet<string> = new Set(RPID_ACTIVITIES);

/** Whether `token` is a known RPID activity. */
export function isRpidActivity(token: string): token is RpidActivity {
  return ACTIVITY_SET.has(token);
}

/** RFC 3863 §4.1.5 basic status. */
export type BasicStatus = 'open' | 'closed';

/** A human-readable note (RFC 3863 §4.1.6) with its language, if given. */
export interface PidfNote {
  readonly text: string;
  readonly lang?: string;
}

/** RFC 3863 §4.1.5 contact address with its priority (0 to 1). */
export interface PidfContact {
  readonly uri: string;
  readonly priority?: number;
}

/** RFC 3863 §4.1.2 tuple. */
export interface PidfTuple {
  /** xs:ID, unique in the document. */
  readonly id: string;
  /** Absent when the status element carried only extensions. */
  readonly basic: BasicStatus | undefined;
  readonly contact?: PidfContact;
  readonly notes: readonly PidfNote[];
  /** xs:dateTime as written (RFC 3863 §4.1.7). */
  readonly timestamp?: string;
}

/** RFC 4479 §3.2 person, with what Rampart reads of it: RPID activities and notes. */
export interface PidfPerson {
  readonly id: string;
  readonly activities: readonly RpidActivity[];
  readonly notes: readonly PidfNote[];
  readonly timestamp?: string;
}

/** A PIDF document, or a composed presence state to serialise. */
export interface PidfDocument {
  /** The presentity URI (RFC 3863 §4.1.1), e.g. `pres:alice@example.com`. */
  readonly entity: string;
  readonly tuples: readonly PidfTuple[];
  readonly persons: readonly PidfPerson[];
  /** Presence-level notes (children of `<presence>`). */
  readonly notes: readonly PidfNote[];
}

/** Bounds on a PIDF document beyond those of the XML reader. */
export interface PidfLimits extends XmlLimits {
  readonly maxTuples: number;
  readonly maxPersons: number;
  readonly maxNotesPerElement: number;
  readonly maxNoteChars: number;
  readonly maxUriChars: number;
}

/** Defaults: 64 KiB, 32 tuples, 8 persons, 16 notes of up to 1024 characters each. */
export const DEFAULT_PIDF_LIMITS: PidfLimits = {
  ...DEFAULT_XML_LIMITS,
  maxTuples: 32,
  maxPersons: 8,
  maxNotesPerElement: 16,
  maxNoteChars: 1024,
  maxUriChars: 512,
};

/** Why a PIDF body was refused; a server answers it with 400. */
export interface PidfError {
  readonly code: 'RAMPART_ERR_PIDF_PARSE';
  readonly reason: string;
  /** The XML-level cause when the document was refused before PIDF rules applied. */
  readonly xml?: XmlErrorReason;
}

function bad(reason: string): { ok: false; error: PidfError } {
  return err({ code: 'RAMPART_ERR_PIDF_PARSE', reason });
}

// xs:ID is an NCName; ASCII subset is enough for what clients send, and bounded.
const ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
const URI_PATTERN = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"]+$/;
// xs:dateTime, e.g. 2005-05-30T22:00:29Z or with fractional seconds and an offset.
const DATE_TIME_PATTERN =
  /^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$/;
const ENTITY_SCHEMES = new Set(['pres', 'sip', 'sips', 'im']);

/** Whether `entity` is acceptable as a presentity URI (pres:, sip:, sips: or im:). */
export function isPresentityUri(
  entity: string,
  maxChars = DEFAULT_PIDF_LIMITS.maxUriChars,
): boolean {
  if (entity.length > maxChars || !URI_PATTERN.test(entity)) return false;
  return ENTITY_SCHEMES.has(entity.slice(0, entity.indexOf(':')).toLowerCase());
}

function readNotes(
  element: XmlElement,
  ns: string,
  limits: PidfLimits,
): Result<PidfNote[], PidfError> {
  const found = childrenNamed(element, ns, 'note');
  if (found.length > limits.maxNotesPerElement)
    return bad(`more than ${limits.maxNotesPerElement} notes`);
  const notes: PidfNote[] = [];
  for (const note of found) {
    if (note.children.length > 0) return bad('note with child elements');
    const text = note.text.trim();
    if (text.length > limits.maxNoteChars) return bad('note too long');
    notes.push(note.lang === undefined ? { text } : { text, lang: note.lang });
  }
  return ok(notes);
}

function readTimestamp(element: XmlElement, ns: string): Result<string | undefined, PidfError> {
  const stamps = childrenNamed(element, ns, 'timestamp');
  if (stamps.length > 1) return bad('more than one timestamp');
  const stamp = stamps[0];
  if (stamp === undefined) return ok(undefined);
  const text = stamp.text.trim();
  if (!DATE_TIME_PATTERN.test(text)) return bad('timestamp is not an xs:dateTime');
  return ok(text);
}

function readTuple(element: XmlElement, limits: PidfLimits): Result<PidfTuple, PidfError> {
  const id = element.attributes.get('id');
  if (id === undefined || !ID_PATTERN.test(id)) return bad('tuple without a valid id');
  // RFC 3863 §4.1.4: a tuple MUST contain one status element.
  const statuses = childrenNamed(element, PIDF_NAMESPACE, 'status');
  const status = statuses[0];
  if (status === undefined || statuses.length !== 1) return bad('tuple without exactly one status');
  const basics = childrenNamed(status, PIDF_NAMESPACE, 'basic');
  if (basics.length > 1) return bad('more than one basic');
  let basic: BasicStatus | undefined;
  const basicElement = basics[0];
  if (basicElement !== undefined) {
    const value = basicElement.text.trim();
    // RFC 3863 §4.1.4: basic is "open" or "closed".
    if (value !== 'open' && value !== 'closed') return bad('basic is neither open nor closed');
    basic = value;
  }
  const contacts = childrenNamed(element, PIDF_NAMESPACE, 'contact');
  if (contacts.length > 1) return bad('more than one contact');
  let contact: PidfContact | undefined;
  const contactElement = contacts[0];
  if (contactElement !== undefined) {
    const uri = contactElement.text.trim();
    if (uri.length > limits.maxUriChars || !URI_PATTERN.test(uri))
      return bad('contact is not a URI');
    const priorityText = contactElement.attributes.get('priority');
    if (priorityText === undefined) {
      contact = { uri };
    } else {
      // RFC 3863 §4.1.5: qvalue, a decimal between 0 and 1 with up to three decimals.
      if (!/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(priorityText.trim()))
        return bad('bad contact priority');
      contact = { uri, priority: Number(priorityText.trim()) };
    }
  }
  const notes = readNotes(element, PIDF_NAMESPACE, limits);
  if (!notes.ok) return notes;
  const timestamp = readTimestamp(element, PIDF_NAMESPACE);
  if (!timestamp.ok) return timestamp;
  return ok({
    id,
    basic,
    ...(contact === undefined ? {} : { contact }),
    notes: notes.value,
    ...(timestamp.value === undefined ? {} : { timestamp: timestamp.value }),
  });
}

function readPerson(element: XmlElement, limits: PidfLimits): Result<PidfPerson, PidfError> {
  const id = element.attributes.get('id');
  if (id === undefined || !ID_PATTERN.test(id)) return bad('person without a valid id');
  const activities: RpidActivity[] = [];
  for (const group of childrenNamed(element, RPID_NAMESPACE, 'activities')) {
    for (const activity of group.children) {
      if (activity.ns !== RPID_NAMESPACE) continue;
      if (isRpidActivity(activity.local) && !activities.includes(activity.local))
        activities.push(activity.local);
    }
  }
  const notes = readNotes(element, DATA_MODEL_NAMESPACE, limits);
  if (!notes.ok) return notes;
  const timestamp = readTimestamp(element, DATA_MODEL_NAMESPACE);
  if (!timestamp.ok) return timestamp;
  return ok({
    id,
    activities,
    notes: notes.value,
    ...(timestamp.value === undefined ? {} : { timestamp: timestamp.value }),
  });
}

/**
 * Parses a PIDF body. Elements of unknown namespaces are ignored (RFC 3863 §4.1: extensions
 * a recipient does not understand are ignored unless marked mustUnderstand, and then the
 * document is refused).
 */
export function parsePidf(
  body: Uint8Array | string,
  limits: PidfLimits = DEFAULT_PIDF_LIMITS,
): Result<PidfDocument, PidfError> {
  const parsed = parseXmlDocument(body, limits);
  if (!parsed.ok)
    return err({
      code: 'RAMPART_ERR_PIDF_PARSE',
      reason: parsed.error.detail,
      xml: parsed.error.reason,
    });
  const root = parsed.value;
  if (root.ns !== PIDF_NAMESPACE || root.local !== 'presence')
    return bad('root is not pidf:presence');
  const entity = root.attributes.get('entity')?.trim();
  // RFC 3863 §4.1.1: the entity attribute MUST be present, the presentity's URI.
  if (entity === undefined || !isPresentityUri(entity, limits.maxUriChars))
    return bad('entity is missing or not a presentity URI');

  const tupleElements = childrenNamed(root, PIDF_NAMESPACE, 'tuple');
  if (tupleElements.length > limits.maxTuples) return bad(`more than ${limits.maxTuples} tuples`);
  const tuples: PidfTuple[] = [];
  const ids = new Set<string>();
  for (const element of tupleElements) {
    const tuple = readTuple(element, limits);
    if (!tuple.ok) return tuple;
    if (ids.has(tuple.value.id)) return bad('duplicate id');
    ids.add(tuple.value.id);
    tuples.push(tuple.value);
  }
  const personElements = childrenNamed(root, DATA_MODEL_NAMESPACE, 'person');
  if (personElements.length > limits.maxPersons)
    return bad(`more than ${limits.maxPersons} persons`);
  const persons: PidfPerson[] = [];
  for (const element of personElements) {
    const person = readPerson(element, limits);
    if (!person.ok) return person;
    if (ids.has(person.value.id)) return bad('duplicate id');
    ids.add(person.value.id);
    persons.push(person.value);
  }
  // RFC 3863 §4.1.2 / §7.1: mustUnderstand extensions cannot be honoured here.
  for (const child of root.children) {
    const flag = child.attributes.get('mustUnderstand');
    if ((flag === 'true' || flag === '1') && child.ns !== PIDF_NAMESPACE)
      return bad('mustUnderstand extension');
  }
  const notes = readNotes(root, PIDF_NAMESPACE, limits);
  if (!notes.ok) return notes;
  return ok({ entity, tuples, persons, notes: notes.value });
}

// ---------------------------------------------------------------------------------------------
// Serialisation

function noteNodes(name: string, notes: readonly PidfNote[]): XmlBuildNode[] {
  return notes.map((note) => xmlTextElement(name, note.text, { 'xml:lang': note.lang }));
}

/**
 * Serialises a PIDF document (RFC 3863 §4) for a composed presence state. Data-model and RPID
 * elements use the `dm:` and `rpid:` prefixes; notes are written per element as given.
 */
export function serializePidf(document: PidfDocument): string {
  const children: XmlBuildNode[] = [];
  for (const tuple of document.tuples) {
    const tupleChildren: XmlBuildNode[] = [
      xmlElement('status', tuple.basic === undefined ? [] : [xmlTextElement('basic', tuple.basic)]),
    ];
    if (tuple.contact !== undefined) {
      const priority = tuple.contact.priority;
      tupleChildren.push(
        xmlTextElement('contact', tuple.contact.uri, {
          priority: priority === undefined ? undefined : formatPriority(priority),
        }),
      );
    }
    tupleChildren.push(...noteNodes('note', tuple.notes));
    if (tuple.timestamp !== undefined)
      tupleChildren.push(xmlTextElement('timestamp', tuple.timestamp));
    children.push(xmlElement('tuple', tupleChildren, { id: tuple.id }));
  }
  for (const person of document.persons) {
    const personChildren: XmlBuildNode[] = [];
    if (person.activities.length > 0) {
      personChildren.push(
        xmlElement(
          'rpid:activities',
          person.activities.map((activity) => xmlElement(`rpid:${activity}`, [])),
        ),
      );
    }
    personChildren.push(...noteNodes('dm:note', person.notes));
    if (person.timestamp !== undefined)
      personChildren.push(xmlTextElement('dm:timestamp', person.timestamp));
    children.push(xmlElement('dm:person', personChildren, { id: person.id }));
  }
  children.push(...noteNodes('note', document.notes));
  return buildXmlDocument(
    xmlElement('presence', children, {
      xmlns: PIDF_NAMESPACE,
      'xmlns:dm': DATA_MODEL_NAMESPACE,
      'xmlns:rpid': RPID_NAMESPACE,
      entity: document.entity,
    }),
  );
}

/** A qvalue with at most three decimals (RFC 3261 §20.10 syntax, used by RFC 3863 §4.1.5). */
function formatPriority(priority: number): string {
  const clamped = Math.min(1, Math.max(0, priority));
  return String(Math.round(clamped * 1000) / 1000);
}

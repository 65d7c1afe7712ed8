/**
 * Watcher information documents (RFC 3858), the body of NOTIFYs for the `presence.winfo`
 * template package (RFC 3857): which watchers a resource has and the state of each.
 */
import { err, ok, type Result } from '../../lib/result.ts';
import { buildXmlDocument, xmlElement, xmlTextElement, type XmlBuildNode } from './xml-build.ts';
import { childrenNamed, parseXmlDocument, type XmlLimits, DEFAULT_XML_LIMITS } from './xml.ts';

/** RFC 3858 §4: the watcherinfo namespace. */
export const WATCHERINFO_NAMESPACE = 'urn:ietf:params:xml:ns:watcherinfo';
/** RFC 3858 §3: the media type. */
export const WATCHERINFO_CONTENT_TYPE = 'application/watcherinfo+xml';

/** RFC 3858 §4.3 / RFC 3857 §5.1: the watcher's subscription status. */
export type WatcherStatus = 'pending' | 'active' | 'waiting' | 'terminated';

/** RFC 3857 §5.2 / RFC 3858 §4.3: the event that moved the watcher to its status. */
export type WatcherEvent =
  | 'subscribe'
  | 'approved'
  | 'deactivated'
  | 'probation'
  | 'rejected'
  | 'timeout'
  | 'giveup'
  | 'noresource';

const STATUSES: ReadonlySet<string> = new Set(['pending', 'active', 'waiting', 'terminated']);
const EVENTS: ReadonlySet<string> = new Set([
  'subscribe',
  'approved',
  'deactivated',
  'probation',
  'rejected',
  'timeout',
  'giveup',
  'noresource',
]);

/** One `<watcher>` (RFC 3858 §4.3). */
export interface Watcher {
  /** Unique per watcher subscription, stable across notifications (RFC 3858 §4.3). */
  readonly id: string;
  /** The watcher's URI, the element's content. */
  readonly uri: string;
  readonly status: WatcherStatus;
  readonly event: WatcherEvent;
  readonly displayName?: string;
  /** Seconds the subscription has existed. */
  readonly durationSubscribedSeconds?: number;
  /** Seconds until the subscription expires. */
  readonly expirationSeconds?: number;
}

/** One `<watcher-list>`: the watchers of one resource for one package. */
export interface WatcherList {
  readonly resource: string;
  /** The watched event package, e.g. `presence`. */
  readonly package: string;
  readonly watchers: readonly Watcher[];
}

/** A watcherinfo document (RFC 3858 §4.1). */
export interface WatcherInfoDocument {
  /** Increments by one per document sent in the subscription (RFC 3858 §4.2). */
  readonly version: number;
  /** `full`: every watcher; `partial`: only those that changed (RFC 3858 §4.2). */
  readonly state: 'full' | 'partial';
  readonly lists: readonly WatcherList[];
}

/** Serialises a watcherinfo document (RFC 3858 §4). */
export function serializeWatcherInfo(document: WatcherInfoDocument): string {
  const lists: XmlBuildNode[] = document.lists.map((list) =>
    xmlElement(
      'watcher-list',
      list.watchers.map((watcher) =>
        xmlTextElement('watcher', watcher.uri, {
          id: watcher.id,
          status: watcher.status,
          event: watcher.event,
          'display-name': watcher.displayName,
          'duration-subscribed':
            watcher.durationSubscribedSeconds === undefined
              ? undefined
              : String(Math.max(0, Math.floor(watcher.durationSubscribedSeconds))),
          expiration:
            watcher.expirationSeconds === undefined
              ? undefined
              : String(Math.max(0, Math.floor(watcher.expirationSeconds))),
        }),
      ),
      { resource: list.resource, package: list.package },
    ),
  );
  return buildXmlDocument(
    xmlElement('watcherinfo', lists, {
      xmlns: WATCHERINFO_NAMESPACE,
      version: String(document.version),
      state: document.state,
    }),
  );
}

/** Why a watcherinfo body was refused. */
export interface WatcherInfoError {
  readonly code: 'RAMPART_ERR_WATCHERINFO_PARSE';
  readonly reason: string;
}

function bad(reason: string): { ok: false; error: WatcherInfoError } {
  return err({ code: 'RAMPART_ERR_WATCHERINFO_PARSE', reason });
}

/**
 * Parses a watcherinfo document (for a watcher-side client and for tests). Bounded like PIDF.
 */
export function parseWatcherInfo(
  body: Uint8Array | string,
  limits: XmlLimits = DEFAULT_XML_LIMITS,
): Result<WatcherInfoDocument, WatcherInfoError> {
  const parsed = parseXmlDocument(body, limits);
  if (!parsed.ok) return bad(parsed.error.detail);
  const root = parsed.value;
  if (root.ns !== WATCHERINFO_NAMESPACE || root.local !== 'watcherinfo')
    return bad('root is not watcherinfo');
  const versionText = root.attributes.get('version') ?? '';
  if (!/^\d{1,10}$/.test(versionText)) return bad('bad version');
  const state = root.attributes.get('state');
  if (state !== 'full' && state !== 'partial') return bad('bad state');
  const lists: WatcherList[] = [];
  for (const listElement of childrenNamed(root, WATCHERINFO_NAMESPACE, 'watcher-list')) {
    const resource = listElement.attributes.get('resource');
    const eventPackage = listElement.attributes.get('package');
    if (resource === undefined || eventPackage === undefined) return bad('watcher-list attributes');
    const watchers: Watcher[] = [];
    for (const element of childrenNamed(listElement, WATCHERINFO_NAMESPACE, 'watcher')) {
      const id = element.attributes.get('id');
      const status = element.attributes.get('status');
      const event = element.attributes.get('event');
      if (id === undefined || status === undefined || event === undefined)
        return bad('watcher attributes');
      if (!STATUSES.has(status) || !EVENTS.has(event)) return bad('watcher status or event');
      const displayName = element.attributes.get('display-name');
      const duration = element.attributes.get('duration-subscribed');
      const expiration = element.attributes.get('expiration');
      watchers.push({
        id,
        uri: element.text.trim(),
        status: status as WatcherStatus,
        event: event as WatcherEvent,
        ...(displayName === undefined ? {} : { displayName }),
        ...(duration === undefined ? {} : { durationSubscribedSeconds: Number(duration) }),
        ...(expiration === undefined ? {} : { expirationSeconds: Number(expiration) }),
      });
    }
    lists.push({ resource, package: eventPackage, watchers });
  }
  return ok({ version: Number(versionText), state, lists });
}

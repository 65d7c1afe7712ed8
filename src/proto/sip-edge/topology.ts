/**
 * Topology hiding for an edge proxy with two sides, sans-IO. What one side must not learn of
 * the other — Contact addresses, Record-Route values — crosses the edge sealed (AES-256-GCM,
 * a key only the edge holds) inside URIs of the edge itself:
 *
 * - a Contact becomes `sip:<token>@<edge interface>`; the token opens to the original URI and,
 *   for a client outside, the flow it arrived on (RFC 5626 §5.3 flow token), so a request for
 *   that Contact goes back over the client's connection;
 * - the Record-Route values of one side are removed and sealed into a parameter of the edge's
 *   own Record-Route value (`ext=` for values outside, `int=` for values inside); an in-dialog
 *   request that comes through the edge gets them back as Route values.
 *
 * - a Call-ID crossing is masked (a Call-ID often names the host that made it, RFC 3261
 *   §8.1.1.4): the same Call-ID always masks to the same value, so each side sees one
 *   consistent Call-ID per dialog, and a masked one coming back is unmasked.
 *
 * Tokens are authenticated: a forged or altered one opens to nothing.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import type { SipEdit } from '../../codec/sip/edit.ts';
import { parseNameAddr } from '../../codec/sip/headers.ts';
import type { HeaderField, SipMessage } from '../../codec/sip/message.ts';
import { headerFields, splitHeaderList } from '../../codec/sip/parse.ts';
import { formatHost, isSipUri, type SipUri } from '../../codec/sip/uri.ts';

/** The two sides of an edge. */
export type Side = 'external' | 'internal';

/** The other side. */
export function across(side: Side): Side {
  return side === 'external' ? 'internal' : 'external';
}

/** The Record-Route parameter that holds the sealed values of a side. */
export function routeParamOf(side: Side): 'ext' | 'int' {
  return side === 'external' ? 'ext' : 'int';
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Separates the sealed fields; never inside a SIP URI or a flow id. */
const SEP = '\n';

/** Seals and opens the edge's tokens. */
export class TopologySeal {
  // KeyObjects, made once: a raw Buffer key is imported again on every cipher (~10 µs).
  private readonly key: KeyObject;

  /** `secret`: the deployment's SIP secret; the key is derived from it (HKDF-SHA-256). */
  constructor(secret: string) {
    this.key = derivedKey(secret, 'access-edge topology hiding');
  }

  /** A URL-safe token holding `fields`. */
  seal(fields: readonly string[]): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(fields.join(SEP), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The fields of a token this edge sealed; undefined for anything else. */
  open(token: string): string[] | undefined {
    if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const text = Buffer.concat([
        decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
      return text.split(SEP);
    } catch {
      return undefined;
    }
  }
}

/** A 256-bit key for one purpose, derived from the secret (HKDF-SHA-256). */
function derivedKey(secret: string, info: string): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', secret, 'rampart', info, 32)));
}

/** Marks a masked Call-ID. */
const CALL_ID_PREFIX = 'rh-';
const SIV_BYTES = 16;

/**
 * Deterministic authenticated encryption of Call-IDs (SIV construction: the IV is an HMAC
 * of the plaintext, checked again on opening).
 */
export class CallIdMask {
  private readonly macKey: KeyObject;
  private readonly encKey: KeyObject;

  constructor(secret: string) {
    this.macKey = derivedKey(secret, 'call-id mac');
    this.encKey = derivedKey(secret, 'call-id enc');
  }

  /** The other side's view of a Call-ID: unmasked when it is one of ours, masked otherwise. */
  cross(callId: string): string {
    return this.unmask(callId) ?? this.mask(callId);
  }

  mask(callId: string): string {
    const iv = createHmac('sha256', this.macKey).update(callId).digest().subarray(0, SIV_BYTES);
    const cipher = createCipheriv('aes-256-ctr', this.encKey, iv);
    const body = Buffer.concat([cipher.update(callId, 'utf8'), cipher.final()]);
    return CALL_ID_PREFIX + Buffer.concat([iv, body]).toString('base64url');
  }

  /** The original of a Call-ID this edge masked; undefined for any other. */
  unmask(masked: string): string | undefined {
    if (!masked.startsWith(CALL_ID_PREFIX)) return undefined;
    const text = masked.slice(CALL_ID_PREFIX.length);
    if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
    const raw = Buffer.from(text, 'base64url');
    if (raw.length <= SIV_BYTES) return undefined;
    const iv = raw.subarray(0, SIV_BYTES);
    const decipher = createDecipheriv('aes-256-ctr', this.encKey, iv);
    const plain = Buffer.concat([decipher.update(raw.subarray(SIV_BYTES)), decipher.final()]);
    const check = createHmac('sha256', this.macKey).update(plain).digest().subarray(0, SIV_BYTES);
    return timingSafeEqual(check, iv) ? plain.toString('utf8') : undefined;
  }
}

/** The edit that shows a message's Call-ID as the other side sees it. */
export function crossCallId(message: SipMessage, mask: CallIdMask): SipEdit[] {
  const field = message.headers.find((h) => h.name === 'call-id');
  if (field === undefined) return [];
  return [
    { type: 'replace-header', field, name: 'Call-ID', value: mask.cross(field.value.trim()) },
  ];
}

/** An interface of the edge, as written in the URIs it issues. */
export interface EdgeInterface {
  readonly host: string;
  readonly port: number;
  readonly transport: string;
}

/** What a Contact token opens to. */
export interface ContactTarget {
  /** The side the Contact came from. */
  readonly side: Side;
  /** The original Contact URI. */
  readonly uri: string;
  /** The flow the Contact's owner is reachable on (a client outside), if any. */
  readonly flowId: string | undefined;
}

const CONTACT = 'c';

function edgeUri(iface: EdgeInterface, user: string, extra = ''): string {
  const transport = iface.transport === 'udp' ? '' : `;transport=${iface.transport}`;
  return `sip:${user}@${formatHost(iface.host)}:${String(iface.port)}${transport}${extra}`;
}

/** The header parameters of a name-addr / addr-spec value, as written (`;expires=60…`). */
function headerParamsText(value: string, angle: boolean): string {
  const text = value.trim();
  // The URI ends at the first '>' (a URI holds none); parameters may quote '<…>' themselves.
  if (angle) return text.slice(text.indexOf('>', text.indexOf('<')) + 1).trim();
  const semi = text.indexOf(';');
  return semi < 0 ? '' : text.slice(semi).trim();
}

/**
 * Replaces the Contact values of a message from `side` with URIs of the edge interface that
 * faces the other side (`facing`). GRUUs of the deployment's own domains (`gr` parameter) are
 * public names, not topology, and stay as they are; so does `*`.
 */
export function hideContacts(
  message: SipMessage,
  options: {
    readonly seal: TopologySeal;
    readonly side: Side;
    readonly flowId: string | undefined;
    readonly facing: EdgeInterface;
    readonly publicDomains: ReadonlySet<string>;
    /** Whether a URI names the edge (its tokens). */
    readonly isOurHost: (uri: SipUri) => boolean;
  },
): SipEdit[] {
  const edits: SipEdit[] = [];
  for (const field of headerFields(message, 'contact')) {
    const values = splitHeaderList(field.value);
    const rewritten = values.map((value) => {
      const parsed = parseNameAddr(value);
      if (!parsed.ok) return value.trim() === '*' ? '*' : undefined;
      const uri = parsed.value.parsedUri;
      if (!isSipUri(uri)) return undefined;
      if (uri.params.has('gr') && options.publicDomains.has(uri.host)) return value.trim();
      // One of our tokens going back to the side it came from: the original (a registrar's
      // 200 lists the client's own Contact, which the client looks for).
      if (uri.user !== undefined && options.isOurHost(uri)) {
        const original = openContact(options.seal, uri.user);
        if (original !== undefined && original.side === across(options.side))
          return `<${original.uri}>${headerParamsText(value, parsed.value.angle)}`;
      }
      const token = options.seal.seal([
        CONTACT,
        options.side,
        options.flowId ?? '',
        parsed.value.uri,
      ]);
      const ob = uri.params.has('ob') ? ';ob' : '';
      const display =
        parsed.value.displayName === undefined
          ? ''
          : `"${parsed.value.displayName.replace(/["\\]/g, '\\$&')}" `;
      const params = headerParamsText(value, parsed.value.angle);
      return `${display}<${edgeUri(options.facing, token, ob)}>${params}`;
    });
    // A Contact we cannot read is not passed on: it could only carry an address.
    const kept = rewritten.filter((v): v is string => v !== undefined);
    edits.push(
      kept.length === 0
        ? { type: 'remove-header', field }
        : { type: 'replace-header', field, name: 'Contact', value: kept.join(', ') },
    );
  }
  return edits;
}

/** Opens a Contact token (the user part of a Request-URI naming the edge). */
export function openContact(seal: TopologySeal, token: string): ContactTarget | undefined {
  const fields = seal.open(token);
  if (fields?.length !== 4 || fields[0] !== CONTACT) return undefined;
  const [, side, flowId, uri] = fields;
  if ((side !== 'external' && side !== 'internal') || uri === undefined) return undefined;
  return { side, uri, flowId: flowId === '' || flowId === undefined ? undefined : flowId };
}

const ROUTES = 'r';

/** Seals Route / Record-Route values of a side into a URI parameter value. */
export function sealRoutes(seal: TopologySeal, side: Side, values: readonly string[]): string {
  return seal.seal([ROUTES, side, ...values]);
}

/**
 * The Route values of `side` sealed in our consumed Route values (the `ext` / `int`
 * parameter), in the order they were sealed; empty when there are none.
 */
export function openRoutes(
  seal: TopologySeal,
  side: Side,
  consumedRoutes: readonly string[],
): string[] | undefined {
  const param = routeParamOf(side);
  for (const value of consumedRoutes) {
    const parsed = parseNameAddr(value);
    if (!parsed.ok || !isSipUri(parsed.value.parsedUri)) continue;
    const token = parsed.value.parsedUri.params.get(param);
    if (token === undefined || token === null) continue;
    const fields = seal.open(token);
    if (fields === undefined || fields[0] !== ROUTES || fields[1] !== side) return undefined;
    return fields.slice(2);
  }
  return [];
}

/** Every Record-Route value of a message, top first, with the line it is on. */
export function recordRouteValues(
  message: SipMessage,
): { readonly field: HeaderField; readonly value: string }[] {
  return headerFields(message, 'record-route').flatMap((field) =>
    splitHeaderList(field.value).map((value) => ({ field, value: value.trim() })),
  );
}

/**
 * A response crossing to `toward`. Each side sees only our Record-Route value that faces it:
 * the far side's values (above ours) are removed and sealed into our value facing `toward`
 * (`facingValue`, e.g. `<sip:192.0.2.1:5061;transport=tls;lr>`); the values of `toward`'s own
 * side, sealed into our value when the request crossed, are put back below ours. A response
 * without our value loses its Record-Route lines: they can only be the far side's.
 * Undefined: no Record-Route at all.
 */
export function hideResponseRecordRoutes(
  message: SipMessage,
  options: {
    readonly seal: TopologySeal;
    readonly toward: Side;
    readonly isOurs: (value: string) => boolean;
    readonly facingValue: string;
  },
): SipEdit[] | undefined {
  const all = recordRouteValues(message);
  if (all.length === 0) return undefined;
  const fields = [...new Set(all.map((v) => v.field))];
  const firstOurs = all.findIndex((v) => options.isOurs(v.value));
  if (firstOurs < 0) return fields.map((field): SipEdit => ({ type: 'remove-header', field }));
  let lastOurs = firstOurs;
  while (lastOurs + 1 < all.length && options.isOurs(all[lastOurs + 1]?.value ?? '')) lastOurs++;
  const ours = all.slice(firstOurs, lastOurs + 1).map((v) => v.value);
  const far = all.slice(0, firstOurs).map((v) => v.value);
  const below = all.slice(lastOurs + 1).map((v) => v.value);
  const restored = openRoutes(options.seal, options.toward, ours) ?? [];
  const farSide = across(options.toward);
  // The UAC on `toward` walks its route set bottom-up: the far values in reverse order.
  const facing =
    far.length === 0
      ? options.facingValue
      : options.facingValue.replace(
          />\s*$/,
          `;${routeParamOf(farSide)}=${sealRoutes(options.seal, farSide, [...far].reverse())}>`,
        );
  const values = [facing, ...restored, ...below];
  const edits: SipEdit[] = fields
    .slice(1)
    .map((field): SipEdit => ({ type: 'remove-header', field }));
  const first = fields[0];
  if (first !== undefined)
    edits.push({
      type: 'replace-header',
      field: first,
      name: 'Record-Route',
      value: values.join(', '),
    });
  return edits;
}

/** Our Record-Route value for an interface (as the proxy core writes it). */
export function recordRouteFor(iface: EdgeInterface): string {
  const transport = iface.transport === 'udp' ? '' : `;transport=${iface.transport}`;
  return `<sip:${formatHost(iface.host)}:${String(iface.port)}${transport};lr>`;
}

/**
 * Reading a PUBLISH or SUBSCRIBE into the agent's inputs. The driver authenticates first and
 * passes the canonical addresses it established; malformed headers come back as a status.
 */
import { callIdOf, fromTag, parseExpires, parseNameAddr } from '../../codec/sip/headers.ts';
import type { SipRequest } from '../../codec/sip/message.ts';
import { header, headerValues, splitHeaderList } from '../../codec/sip/parse.ts';
import { err, ok, type Result } from '../../lib/result.ts';
import type { PublishInput, SubscribeInput } from './presence-agent.ts';

/** A request the agent cannot take: answer it with `status`. */
export interface PresenceInputError {
  readonly status: number;
  readonly reason: string;
}

const MAX_ETAG_LENGTH = 128;
const MAX_ROUTE_SET = 16;

function badRequest(reason: string): { ok: false; error: PresenceInputError } {
  return err({ status: 400, reason });
}

/** The Event header's package, parameters removed, lower-cased (RFC 6665 §8.2.1). */
export function eventPackageOf(request: SipRequest): string | undefined {
  const value = header(request, 'event');
  if (value === undefined) return undefined;
  return (value.split(';')[0] ?? '').trim().toLowerCase();
}

function expiresOf(request: SipRequest): Result<number | undefined, PresenceInputError> {
  const value = header(request, 'expires');
  if (value === undefined) return ok(undefined);
  const parsed = parseExpires(value);
  return parsed.ok ? ok(parsed.value) : badRequest('bad Expires');
}

/** A PUBLISH as {@link PublishInput}. */
export function publishInputFrom(
  request: SipRequest,
  addresses: { readonly entity: string; readonly publisher: string },
  now: number,
): Result<PublishInput, PresenceInputError> {
  const expires = expiresOf(request);
  if (!expires.ok) return expires;
  const ifMatch = header(request, 'sip-if-match')?.trim();
  if (ifMatch !== undefined && (ifMatch.length === 0 || ifMatch.length > MAX_ETAG_LENGTH))
    return badRequest('bad SIP-If-Match');
  const contentType = header(request, 'content-type');
  return ok({
    entity: addresses.entity,
    publisher: addresses.publisher,
    event: eventPackageOf(request),
    body: request.body,
    now,
    ...(ifMatch === undefined ? {} : { ifMatch }),
    ...(expires.value === undefined ? {} : { expiresSeconds: expires.value }),
    ...(contentType === undefined ? {} : { contentType }),
  });
}

/**
 * A SUBSCRIBE as {@link SubscribeInput}. `localTag` is the To tag of the dialog: the request's
 * own for a refresh, a new one the driver chose for an initial SUBSCRIBE.
 */
export function subscribeInputFrom(
  request: SipRequest,
  dialog: { readonly localTag: string; readonly subscriber: string; readonly resource: string },
  now: number,
): Result<SubscribeInput, PresenceInputError> {
  const callId = callIdOf(request);
  const remoteTag = fromTag(request);
  if (callId === undefined || remoteTag === undefined) return badRequest('no Call-ID or From tag');
  const expires = expiresOf(request);
  if (!expires.ok) return expires;
  const fromValue = header(request, 'from');
  const from = fromValue === undefined ? undefined : parseNameAddr(fromValue);
  const contactValue = header(request, 'contact');
  // RFC 6665 §4.1.2.1 / RFC 3261 §8.1.1.8: a SUBSCRIBE carries one Contact, the remote target.
  const contact = contactValue === undefined ? undefined : parseNameAddr(contactValue);
  if (contact !== undefined && !contact.ok) return badRequest('bad Contact');
  const accept = headerValues(request, 'accept')
    .flatMap((v) => splitHeaderList(v))
    .map((v) => (v.split(';')[0] ?? '').trim().toLowerCase())
    .filter((v) => v.length > 0);
  const routeSet = headerValues(request, 'record-route');
  if (routeSet.length > MAX_ROUTE_SET) return badRequest('too many Record-Route');
  const displayName = from?.ok === true ? from.value.displayName : undefined;
  return ok({
    key: { callId, localTag: dialog.localTag, remoteTag },
    event: eventPackageOf(request),
    subscriber: dialog.subscriber,
    resource: dialog.resource,
    accept,
    routeSet,
    now,
    ...(expires.value === undefined ? {} : { expiresSeconds: expires.value }),
    ...(displayName === undefined ? {} : { displayName }),
    ...(contact === undefined ? {} : { remoteTarget: contact.value.uri }),
  });
}

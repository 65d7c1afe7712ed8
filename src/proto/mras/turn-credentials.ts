/**
 * The TURN credential service (what OCS called MRAS): an authenticated user asks, in a SIP
 * SERVICE request, for time-limited TURN credentials and the A/V Edge addresses to use them
 * on. The credentials are TURN REST credentials (src/proto/turn/credentials.ts), so the A/V
 * Edge checks them with the shared secret and no lookup. Protocol: docs/turn-credential-service.md.
 * Pure functions; time is `now` (wall-clock epoch ms, shared with the A/V Edge).
 */
import { z } from 'zod';
import type { SipRequest } from '../../codec/sip/message.ts';
import { header } from '../../codec/sip/parse.ts';
import type { HeaderLine } from '../../codec/sip/serialize.ts';
import { err, ok, type Result } from '../../lib/result.ts';
import { generateRestCredential } from '../turn/credentials.ts';

/** The media type of a request and of its answer. */
export const TURN_CREDENTIALS_CONTENT_TYPE = 'application/vnd.rampart.turn-credentials+json';
/** Largest request body read, in bytes. */
export const MAX_TURN_CREDENTIALS_REQUEST_BYTES = 1024;

/** Which side of the A/V Edge a client reaches it from. */
export type AvSide = 'internal' | 'external';

/** One A/V Edge listener a client may use. */
export interface TurnServer {
  /** Host name or IP address as the client must dial it. */
  readonly host: string;
  readonly port: number;
  /** `tls` is TURN over TLS over TCP (RFC 7065 `turns:`). */
  readonly transport: 'udp' | 'tcp' | 'tls';
}

/** The A/V Edge listeners per side. */
export interface AvEdgeAddresses {
  readonly external: readonly TurnServer[];
  readonly internal: readonly TurnServer[];
}

/** The request body, all fields optional. */
const requestSchema = z
  .object({
    /** Where the client believes it is; advisory, the server knows where it came from. */
    location: z.enum(['internal', 'external']).optional(),
  })
  .strict();

/** A parsed request. */
export interface TurnCredentialRequest {
  readonly location?: AvSide;
}

/** The 200 body. */
export interface TurnCredentialResponse {
  /** `<expiry-unix-seconds>:<user>`. */
  readonly username: string;
  /** base64(HMAC-SHA1(secret, username)). */
  readonly password: string;
  /** Lifetime in seconds from issue. */
  readonly ttl: number;
  /** RFC 7065 TURN URIs, in the order the administrator configured the listeners. */
  readonly uris: readonly string[];
}

/** A refusal: the status and reason phrase to answer with. */
export interface TurnCredentialError {
  readonly status: 400 | 403 | 413 | 415 | 503;
  readonly reason: string;
  /** Headers to add (415: Accept). */
  readonly headers: readonly HeaderLine[];
}

function refuse(
  status: TurnCredentialError['status'],
  reason: string,
  headers: readonly HeaderLine[] = [],
): { ok: false; error: TurnCredentialError } {
  return err({ status, reason, headers });
}

/**
 * Reads a SERVICE request's body: Content-Type must be {@link TURN_CREDENTIALS_CONTENT_TYPE}
 * (RFC 3261 §21.4.13: otherwise 415 with Accept), the body at most 1 KiB of JSON (empty means
 * `{}`). Never throws.
 */
export function parseTurnCredentialRequest(
  request: SipRequest,
): Result<TurnCredentialRequest, TurnCredentialError> {
  const contentType = header(request, 'content-type');
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (request.body.length > 0 || contentType !== undefined) {
    if (mediaType !== TURN_CREDENTIALS_CONTENT_TYPE) {
      return refuse(415, 'Unsupported Media Type', [['Accept', TURN_CREDENTIALS_CONTENT_TYPE]]);
    }
  }
  if (request.body.length > MAX_TURN_CREDENTIALS_REQUEST_BYTES) {
    return refuse(413, 'Request Entity Too Large');
  }
  if (request.body.length === 0) return ok({});
  let json: unknown;
  try {
    json = JSON.parse(request.body.toString('utf8'));
  } catch {
    return refuse(400, 'Invalid JSON Body');
  }
  const parsed = requestSchema.safeParse(json);
  if (!parsed.success) return refuse(400, 'Invalid TURN Credential Request');
  return ok(parsed.data.location === undefined ? {} : { location: parsed.data.location });
}

/** Inputs of {@link issueTurnCredentials}. */
export interface IssueTurnCredentialsInput {
  /** The authenticated user, e.g. `alice@example.com` (no scheme). */
  readonly user: string;
  /** Where the request came from, as the server knows it (not what the client claims). */
  readonly cameFrom: AvSide;
  /** Whether the user's policy allows audio/video through the A/V Edge. */
  readonly allowed: boolean;
  /** The TURN REST secret shared with the A/V Edge. */
  readonly secret: string | Uint8Array;
  readonly lifetimeSeconds: number;
  /** Wall-clock epoch milliseconds. */
  readonly now: number;
  readonly avEdge: AvEdgeAddresses;
}

/** Formats a host for a URI: IPv6 literals in brackets (RFC 7065 §3.1 host from RFC 3986). */
function uriHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** RFC 7065 §3.1: `turn:host:port?transport=udp|tcp`, `turns:host:port?transport=tcp`. */
export function turnUri(server: TurnServer): string {
  const scheme = server.transport === 'tls' ? 'turns' : 'turn';
  const transport = server.transport === 'udp' ? 'udp' : 'tcp';
  return `${scheme}:${uriHost(server.host)}:${server.port}?transport=${transport}`;
}

/**
 * Issues TURN credentials for `user`: a REST credential that expires `lifetimeSeconds` from
 * `now`, and the URIs of the A/V Edge side the request came from (a client inside the
 * network uses the internal side). Refuses with 403 when policy forbids, 503 when that side
 * has no listener. Throws only on a bad lifetime or clock (programmer errors).
 */
export function issueTurnCredentials(
  input: IssueTurnCredentialsInput,
): Result<TurnCredentialResponse, TurnCredentialError> {
  if (!input.allowed) return refuse(403, 'Audio/Video Not Allowed By Policy');
  const servers = input.cameFrom === 'internal' ? input.avEdge.internal : input.avEdge.external;
  if (servers.length === 0) return refuse(503, 'No A/V Edge Available');
  const credential = generateRestCredential(
    input.secret,
    input.user,
    input.lifetimeSeconds,
    input.now,
  );
  return ok({
    username: credential.username,
    password: credential.password,
    ttl: credential.ttlSeconds,
    uris: servers.map(turnUri),
  });
}

/** What the driver sends back for a SERVICE request. */
export interface TurnCredentialAnswer {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly HeaderLine[];
  readonly body?: Buffer;
}

/**
 * Answers a TURN credential SERVICE request end to end: parses and validates the body, issues
 * the credentials, and gives the 200 (with its JSON body and Content-Type) or the refusal.
 */
export function answerTurnCredentialRequest(
  request: SipRequest,
  input: IssueTurnCredentialsInput,
): TurnCredentialAnswer {
  const parsed = parseTurnCredentialRequest(request);
  if (!parsed.ok) return parsed.error;
  const issued = issueTurnCredentials(input);
  if (!issued.ok) return issued.error;
  return {
    status: 200,
    reason: 'OK',
    headers: [['Content-Type', TURN_CREDENTIALS_CONTENT_TYPE]],
    body: Buffer.from(JSON.stringify(issued.value), 'utf8'),
  };
}

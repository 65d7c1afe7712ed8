/**
 * Globally Routable User Agent URIs (RFC 5627).
 *
 * Public GRUU (§3.1.1): the AOR plus `gr=<instance URN>`, e.g.
 * `sip:alice@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6`.
 *
 * Temporary GRUU (§3.1.2): `sip:tgruu.<token>@<domain>;gr`, the token an authenticated
 * encryption of (AOR, instance, a hash of the registration's Call-ID):
 *
 *   token = base64url( version(1) ‖ iv(16) ‖ AES-256-CTR(kEnc, iv, plaintext) ‖ tag(16) )
 *   tag   = HMAC-SHA-256(kMac, version ‖ iv ‖ ciphertext), first 16 bytes
 *   plaintext = H(Call-ID)(8) ‖ len(aor)(2) ‖ aor ‖ instance
 *
 * Any registrar node holding the secret opens a temporary GRUU without state. The AOR is not
 * readable (§3.2: a temporary GRUU does not reveal the AOR), a new random iv makes each
 * registration refresh return a new one (§5.4: "a new temporary GRUU" on each refresh, all
 * remaining valid), and binding the Call-ID invalidates them all when the UA registers with a
 * new Call-ID (§3.2, §5.1: temporary GRUUs "are invalidated" when the Call-ID changes).
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { hmac } from '../../lib/hmac.ts';
import { parseSipUri } from '../../codec/sip/uri.ts';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import { canonicalAor } from './aor.ts';

/** Shortest GRUU secret accepted, in bytes. */
export const MIN_GRUU_SECRET_BYTES = 16;
/** User-part prefix of the temporary GRUUs Rampart issues. */
export const TEMP_GRUU_PREFIX = 'tgruu.';

const TOKEN_VERSION = 1;
const IV_BYTES = 16;
const TAG_BYTES = 16;
const CALL_ID_HASH_BYTES = 8;
/** Longest temporary GRUU token opened (bounds work on hostile input). */
const MAX_TOKEN_CHARS = 1024;

/** The instance URN inside `<...>` of a `+sip.instance` value, or undefined when not a URN. */
export function instanceUrn(instance: string): string | undefined {
  // RFC 5626 §4.1 / RFC 5627 §4.1: the instance ID is a URN in angle brackets.
  const match = /^<(urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[^<>"\s]+)>$/.exec(instance);
  return match?.[1];
}

/**
 * The `gr` parameter value of a URN: characters outside RFC 3261 paramchar are %-escaped
 * (RFC 5627 §3.1.1: "the value of the gr parameter ... is the instance ID, escaped").
 */
function escapeParamValue(value: string): string {
  return value.replace(/[^A-Za-z0-9[\]/:&+$\-_.!~*'()]/g, (ch) =>
    [...Buffer.from(ch, 'utf8')]
      .map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );
}

/** The public GRUU of a binding (RFC 5627 §3.1.1), or undefined when the instance is no URN. */
export function publicGruu(aor: string, instance: string): string | undefined {
  const urn = instanceUrn(instance);
  if (urn === undefined) return undefined;
  return `${aor};gr=${escapeParamValue(urn)}`;
}

/** What a GRUU names. */
export interface GruuTarget {
  readonly kind: 'public' | 'temporary';
  /** Canonical AOR. */
  readonly aor: string;
  /** `+sip.instance` value, `<urn:...>`. */
  readonly instance: string;
  /** Temporary GRUUs: the hash of the Call-ID they were issued under; match with {@link callIdHash}. */
  readonly callIdHash?: string;
}

/** The short hash of a Call-ID a temporary GRUU carries (hex). */
export function callIdHash(callId: string): string {
  return createHash('sha256')
    .update(callId, 'utf8')
    .digest()
    .subarray(0, CALL_ID_HASH_BYTES)
    .toString('hex');
}

/** Issues and opens temporary GRUUs under one secret. */
export class GruuCodec {
  private readonly encKey: Buffer;
  private readonly macKey: Buffer;
  private readonly random: (size: number) => Uint8Array;

  /** Throws RAMPART_ERR_INVALID_ARGUMENT on a secret shorter than 16 bytes. */
  constructor(
    secret: string | Uint8Array,
    options: { randomBytes?: (size: number) => Uint8Array } = {},
  ) {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
    if (bytes.length < MIN_GRUU_SECRET_BYTES) {
      throw new RampartError(
        ERROR_CODES.INVALID_ARGUMENT,
        `GRUU secret must be at least ${MIN_GRUU_SECRET_BYTES} bytes`,
      );
    }
    // Separate keys for encryption and authentication, derived from the one secret (RFC 5869).
    this.encKey = Buffer.from(
      hkdfSync('sha256', bytes, Buffer.alloc(0), 'rampart temp-gruu enc', 32),
    );
    this.macKey = Buffer.from(
      hkdfSync('sha256', bytes, Buffer.alloc(0), 'rampart temp-gruu mac', 32),
    );
    this.random = options.randomBytes ?? randomBytes;
  }

  /** A new temporary GRUU for a binding (RFC 5627 §5.4); differs on every call. */
  temporary(aor: string, instance: string, callId: string, domain: string): string {
    const aorBytes = Buffer.from(aor, 'utf8');
    const plaintext = Buffer.concat([
      Buffer.from(callIdHash(callId), 'hex'),
      Buffer.from([aorBytes.length >> 8, aorBytes.length & 0xff]),
      aorBytes,
      Buffer.from(instance, 'utf8'),
    ]);
    const iv = Buffer.from(this.random(IV_BYTES));
    const cipher = createCipheriv('aes-256-ctr', this.encKey, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const head = Buffer.concat([Buffer.from([TOKEN_VERSION]), iv, ciphertext]);
    const tag = this.tag(head);
    const token = Buffer.concat([head, tag]).toString('base64url');
    return `sip:${TEMP_GRUU_PREFIX}${token}@${domain};gr`;
  }

  /**
   * What a GRUU names: a public GRUU is read from its `gr` value, a temporary one is opened
   * and authenticated. Undefined for anything else (not a GRUU, forged, altered). Whether a
   * live binding still answers to it is the registrar's question. Never throws.
   */
  open(uriText: string): GruuTarget | undefined {
    if (uriText.length > MAX_TOKEN_CHARS + 300) return undefined;
    const parsed = parseSipUri(uriText);
    if (!parsed.ok) return undefined;
    const uri = parsed.value;
    const gr = uri.params.get('gr');
    if (gr === undefined || uri.user === undefined) return undefined;
    if (gr !== null) {
      const urn = safeUnescape(gr);
      if (urn === undefined || instanceUrn(`<${urn}>`) === undefined) return undefined;
      return { kind: 'public', aor: canonicalAor(uri), instance: `<${urn}>` };
    }
    if (!uri.user.startsWith(TEMP_GRUU_PREFIX)) return undefined;
    return this.openToken(uri.user.slice(TEMP_GRUU_PREFIX.length));
  }

  private openToken(token: string): GruuTarget | undefined {
    if (token.length > MAX_TOKEN_CHARS) return undefined;
    const raw = Buffer.from(token, 'base64url');
    if (raw.toString('base64url') !== token) return undefined;
    if (raw.length < 1 + IV_BYTES + CALL_ID_HASH_BYTES + 2 + TAG_BYTES) return undefined;
    if (raw[0] !== TOKEN_VERSION) return undefined;
    const head = raw.subarray(0, raw.length - TAG_BYTES);
    if (!timingSafeEqual(this.tag(head), raw.subarray(raw.length - TAG_BYTES))) return undefined;
    const iv = head.subarray(1, 1 + IV_BYTES);
    const decipher = createDecipheriv('aes-256-ctr', this.encKey, iv);
    const plaintext = Buffer.concat([
      decipher.update(head.subarray(1 + IV_BYTES)),
      decipher.final(),
    ]);
    const aorLength =
      ((plaintext[CALL_ID_HASH_BYTES] ?? 0) << 8) | (plaintext[CALL_ID_HASH_BYTES + 1] ?? 0);
    const aorStart = CALL_ID_HASH_BYTES + 2;
    if (aorStart + aorLength > plaintext.length) return undefined;
    return {
      kind: 'temporary',
      callIdHash: plaintext.subarray(0, CALL_ID_HASH_BYTES).toString('hex'),
      aor: plaintext.toString('utf8', aorStart, aorStart + aorLength),
      instance: plaintext.toString('utf8', aorStart + aorLength),
    };
  }

  private tag(head: Buffer): Buffer {
    return hmac('sha256', this.macKey, head).subarray(0, TAG_BYTES);
  }
}

function safeUnescape(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

import { err, ok, type Result } from '../../lib/result.ts';
import type { IpAddress, IpParseFailure } from './ip.ts';
import {
  parseIpRange,
  rangeSets,
  rangeSetsHave,
  type IpRange,
  type IpRangeFailure,
  type IpRangeSets,
} from './ip-range.ts';
import {
  canonicalPeerAddress,
  rfc6052Embedded,
  RFC6052_PREFIX_LENGTHS,
  type CanonicalPeerAddress,
  type Rfc6052PrefixLength,
} from './peer-address.ts';
import {
  ipv4Category,
  ipv6Category,
  NEVER_RELAYABLE,
  type PeerCategory,
} from './peer-categories.ts';

/** Why a peer was refused. Stable literals for logs and metrics. */
export type PeerDenyReason =
  | IpParseFailure
  | PeerCategory
  | 'invalid-port'
  | 'denied-by-config'
  | 'not-in-allow-list'
  | 'own-address-port';

/** A decision on one peer transport address. */
export type PeerDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly reason: PeerDenyReason };

/**
 * A decision on a peer IP, made once per permission. `ownAddress` marks one of the server's
 * own addresses, relayable only at relay ports; {@link PeerPolicy.decidePort} finishes it.
 */
export type PeerClassification =
  | { readonly allowed: true; readonly ownAddress: boolean; readonly peer: CanonicalPeerAddress }
  | { readonly allowed: false; readonly reason: PeerDenyReason };

/** Configuration of {@link createPeerPolicy}. Range texts are as {@link parseIpRange} reads. */
export interface PeerPolicyConfig {
  /** Ranges relayed even inside a default-refused category (never `unspecified`/`broadcast`). */
  readonly allow?: readonly string[];
  /** Ranges never relayed; wins over everything. Matches the IPv6 literal and what it embeds. */
  readonly deny?: readonly string[];
  /** Refuse everything not in `allow` (reason `not-in-allow-list`). Default false. */
  readonly denyUnlisted?: boolean;
  /** Relay to 127/8 and ::1 (the all-in-one demo on loopback). Default false. */
  readonly allowLoopback?: boolean;
  /** Relay to RFC 1918, CGNAT 100.64/10, ULA fc00::/7 and site-local. Default false. */
  readonly allowPrivate?: boolean;
  /** Relay to 169.254/16 and fe80::/10 (cloud metadata lives there). Default false. */
  readonly allowLinkLocal?: boolean;
  /** Relay to 224/4 and ff00::/8. Default false. */
  readonly allowMulticast?: boolean;
  /** Relay to the documentation ranges (test rigs). Default false. */
  readonly allowDocumentation?: boolean;
  /** Relay to the reserved blocks listed in {@link PeerCategory}. Default false. */
  readonly allowReserved?: boolean;
  /**
   * The server's own addresses (every interface address when it listens on a wildcard). A
   * peer on one of them is relayed only at a port inside `relayPorts`, so a client can reach
   * another allocation on this server but never its listeners or admin ports.
   */
  readonly ownAddresses?: readonly string[];
  /** Inclusive relay port range; default 50000–59999. */
  readonly relayPorts?: { readonly min: number; readonly max: number };
  /**
   * Ports the server's own listeners are bound to. An own-address peer at one of them is
   * refused even inside `relayPorts`: a listener port may lie in the relay range (a port the
   * kernel chose, or a wide range), and a relayed datagram must never reach a listener.
   */
  readonly ownListenerPorts?: readonly number[];
  /**
   * The operator's NAT64 prefixes (RFC 6052 §2.2 lengths), judged by exactly their embedded
   * IPv4. List the prefix in use when it lies inside 64:ff9b:1::/48 and is shorter than /96:
   * without it every well-formed reading is judged and any refused reading refuses the peer
   * (the /96 reading of such an address is 0.0.0.0, which is never relayable).
   */
  readonly nat64Prefixes?: readonly string[];
}

/** Which configuration entry was refused, and why. */
export interface PeerPolicyConfigError {
  readonly field: 'allow' | 'deny' | 'ownAddresses' | 'relayPorts' | 'nat64Prefixes';
  readonly entry: string;
  readonly reason: IpRangeFailure | 'not-an-address' | 'unusable-address' | 'invalid-range';
  readonly message: string;
}

const ALLOWED: PeerDecision = Object.freeze({ allowed: true });

interface Nat64Prefix {
  readonly start: bigint;
  readonly end: bigint;
  readonly length: Rfc6052PrefixLength;
}

function configError(
  field: PeerPolicyConfigError['field'],
  entry: string,
  reason: PeerPolicyConfigError['reason'],
  message: string,
): { ok: false; error: PeerPolicyConfigError } {
  return err({ field, entry, reason, message });
}

function parseRanges(
  field: 'allow' | 'deny',
  entries: readonly string[],
): Result<IpRangeSets, PeerPolicyConfigError> {
  const ranges: IpRange[] = [];
  for (const entry of entries) {
    const range = parseIpRange(entry);
    if (!range.ok) return configError(field, entry, range.error.reason, range.error.message);
    ranges.push(range.value);
  }
  return ok(rangeSets(ranges));
}

/**
 * Which peers a relay may send to: the SSRF defence of the A/V Edge (RFC 8656 §10.2 and
 * §12.2: "The server MAY impose restrictions on the IP address and port values allowed in the
 * XOR-PEER-ADDRESS attribute"; refusals are 403). Order: `deny` → never-relayable → own
 * address (port rule) → `allow` → default categories → `denyUnlisted`.
 *
 * All ranges are numeric and precomputed; `classify` parses the text once and costs a few
 * binary searches, `decidePort` is two comparisons — cache the classification per permission.
 */
export class PeerPolicy {
  private readonly allow: IpRangeSets;
  private readonly deny: IpRangeSets;
  private readonly own: IpRangeSets;
  private readonly enabled: ReadonlySet<PeerCategory>;
  private readonly denyUnlisted: boolean;
  private readonly relayPortMin: number;
  private readonly relayPortMax: number;
  private readonly ownListenerPorts: ReadonlySet<number>;
  private readonly nat64: readonly Nat64Prefix[];

  /** Use {@link createPeerPolicy}, which validates the configuration. */
  constructor(
    parts: {
      allow: IpRangeSets;
      deny: IpRangeSets;
      own: IpRangeSets;
      nat64: readonly Nat64Prefix[];
    },
    config: PeerPolicyConfig,
  ) {
    this.allow = parts.allow;
    this.deny = parts.deny;
    this.own = parts.own;
    this.nat64 = parts.nat64;
    const enabled = new Set<PeerCategory>();
    if (config.allowLoopback === true) enabled.add('loopback');
    if (config.allowPrivate === true) enabled.add('private');
    if (config.allowLinkLocal === true) enabled.add('link-local');
    if (config.allowMulticast === true) enabled.add('multicast');
    if (config.allowDocumentation === true) enabled.add('documentation');
    if (config.allowReserved === true) enabled.add('reserved');
    this.enabled = enabled;
    this.denyUnlisted = config.denyUnlisted ?? false;
    this.relayPortMin = config.relayPorts?.min ?? 50000;
    this.relayPortMax = config.relayPorts?.max ?? 59999;
    this.ownListenerPorts = new Set(config.ownListenerPorts ?? []);
  }

  /** Decides on a peer transport address: {@link classify} then {@link decidePort}. */
  decide(peer: { readonly address: string; readonly port: number }): PeerDecision {
    return this.decidePort(this.classify(peer.address), peer.port);
  }

  /** Finishes a cached classification for one port: the hot path, no parsing. */
  decidePort(classification: PeerClassification, port: number): PeerDecision {
    if (!classification.allowed) return classification;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return { allowed: false, reason: 'invalid-port' };
    }
    if (
      classification.ownAddress &&
      (port < this.relayPortMin || port > this.relayPortMax || this.ownListenerPorts.has(port))
    ) {
      return { allowed: false, reason: 'own-address-port' };
    }
    return ALLOWED;
  }

  /** Classifies a peer IP (text, any RFC 4291 form); what CreatePermission needs. */
  classify(address: string): PeerClassification {
    const canonical = canonicalPeerAddress(address);
    if (!canonical.ok) return { allowed: false, reason: canonical.error };
    return this.classifyCanonical(canonical.value);
  }

  /** Classifies an already canonical peer (e.g. from {@link canonicalPeerFromBytes}). */
  classifyCanonical(peer: CanonicalPeerAddress): PeerClassification {
    const subjects = this.subjectsOf(peer);
    if (rangeSetsHave(this.deny, peer.ip)) return { allowed: false, reason: 'denied-by-config' };
    for (const subject of subjects) {
      if (rangeSetsHave(this.deny, subject)) return { allowed: false, reason: 'denied-by-config' };
    }
    for (const subject of subjects) {
      const category = categoryOf(subject);
      if (category !== undefined && NEVER_RELAYABLE.has(category)) {
        return { allowed: false, reason: category };
      }
    }
    if (rangeSetsHave(this.own, peer.ip) || subjects.some((s) => rangeSetsHave(this.own, s))) {
      return { allowed: true, ownAddress: true, peer };
    }
    if (
      rangeSetsHave(this.allow, peer.ip) ||
      subjects.every((subject) => rangeSetsHave(this.allow, subject))
    ) {
      return { allowed: true, ownAddress: false, peer };
    }
    for (const subject of subjects) {
      const category = categoryOf(subject);
      if (category !== undefined && !this.enabled.has(category)) {
        return { allowed: false, reason: category };
      }
    }
    if (this.denyUnlisted) return { allowed: false, reason: 'not-in-allow-list' };
    return { allowed: true, ownAddress: false, peer };
  }

  /** The addresses judged for `peer`: what it embeds, else itself. */
  private subjectsOf(peer: CanonicalPeerAddress): readonly IpAddress[] {
    // The operator's own NAT64 prefixes are exact, so they win over the generic readings.
    if (peer.ip.family === 6 && this.nat64.length > 0) {
      const value = peer.ip.value;
      for (const prefix of this.nat64) {
        if (value >= prefix.start && value <= prefix.end) {
          return [{ family: 4, value: rfc6052Embedded(value, prefix.length) }];
        }
      }
    }
    if (peer.embeddedIpv4.length > 0) {
      return peer.embeddedIpv4.map((value) => ({ family: 4, value }) as const);
    }
    return [peer.ip];
  }
}

function categoryOf(address: IpAddress): PeerCategory | undefined {
  return address.family === 4 ? ipv4Category(address.value) : ipv6Category(address.value);
}

function parseNat64(entries: readonly string[]): Result<Nat64Prefix[], PeerPolicyConfigError> {
  const prefixes: Nat64Prefix[] = [];
  for (const entry of entries) {
    const range = parseIpRange(entry);
    if (!range.ok)
      return configError('nat64Prefixes', entry, range.error.reason, range.error.message);
    const length = Number(entry.slice(entry.indexOf('/') + 1));
    const rfcLength = RFC6052_PREFIX_LENGTHS.find((allowed) => allowed === length);
    if (range.value.family !== 6 || !entry.includes('/') || rfcLength === undefined) {
      return configError(
        'nat64Prefixes',
        entry,
        'invalid-prefix-length',
        `'${entry}': a NAT64 prefix is IPv6 /32, /40, /48, /56, /64 or /96 (RFC 6052 §2.2)`,
      );
    }
    prefixes.push({ start: range.value.start, end: range.value.end, length: rfcLength });
  }
  return ok(prefixes);
}

/**
 * Builds a {@link PeerPolicy}, refusing a bad entry with the field, the entry and a message
 * (a CIDR with host bits set is refused, not silently widened or narrowed).
 */
export function createPeerPolicy(
  config: PeerPolicyConfig = {},
): Result<PeerPolicy, PeerPolicyConfigError> {
  const allow = parseRanges('allow', config.allow ?? []);
  if (!allow.ok) return allow;
  const deny = parseRanges('deny', config.deny ?? []);
  if (!deny.ok) return deny;
  const ownRanges: IpRange[] = [];
  for (const entry of config.ownAddresses ?? []) {
    const canonical = canonicalPeerAddress(entry);
    if (!canonical.ok) {
      return configError('ownAddresses', entry, 'not-an-address', `'${entry}': not an IP address`);
    }
    const category = categoryOf(canonical.value.ip);
    if (category !== undefined && NEVER_RELAYABLE.has(category)) {
      return configError(
        'ownAddresses',
        entry,
        'unusable-address',
        `'${entry}': list each interface address, not a wildcard or broadcast address`,
      );
    }
    const ip = canonical.value.ip;
    ownRanges.push(
      ip.family === 4
        ? { family: 4, start: ip.value, end: ip.value }
        : { family: 6, start: ip.value, end: ip.value },
    );
  }
  const ports = config.relayPorts;
  if (
    ports !== undefined &&
    !(
      Number.isInteger(ports.min) &&
      Number.isInteger(ports.max) &&
      ports.min >= 1 &&
      ports.min <= ports.max &&
      ports.max <= 65535
    )
  ) {
    return configError(
      'relayPorts',
      `${ports.min}-${ports.max}`,
      'invalid-range',
      'relay ports must be 1 <= min <= max <= 65535',
    );
  }
  const nat64 = parseNat64(config.nat64Prefixes ?? []);
  if (!nat64.ok) return nat64;
  return ok(
    new PeerPolicy(
      { allow: allow.value, deny: deny.value, own: rangeSets(ownRanges), nat64: nat64.value },
      config,
    ),
  );
}

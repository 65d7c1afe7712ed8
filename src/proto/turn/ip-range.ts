import { err, ok, type Result } from '../../lib/result.ts';
import { formatIp, isIpv4Mapped, parseIp, type IpAddress, type IpParseFailure } from './ip.ts';

/**
 * An inclusive range of addresses of one family. Ranges need not be prefix-aligned: a
 * start–end pair covers exactly its members.
 */
export type IpRange =
  | { readonly family: 4; readonly start: number; readonly end: number }
  | { readonly family: 6; readonly start: bigint; readonly end: bigint };

/** Why a range text was refused. */
export type IpRangeFailure =
  IpParseFailure | 'invalid-prefix-length' | 'host-bits-set' | 'reversed-range' | 'mixed-families';

/** A refused range text, with a message for the operator (the text is config, not secret). */
export interface IpRangeError {
  readonly reason: IpRangeFailure;
  readonly message: string;
}

const PREFIX_LENGTH = /^(0|[1-9][0-9]{0,2})$/;

function failure(reason: IpRangeFailure, message: string): { ok: false; error: IpRangeError } {
  return err({ reason, message });
}

/** The range of one address. */
export function singleAddressRange(address: IpAddress): IpRange {
  return address.family === 4
    ? { family: 4, start: address.value, end: address.value }
    : { family: 6, start: address.value, end: address.value };
}

/** An IPv6 range inside ::ffff:0:0/96 is the IPv4 range it maps; anything else is unchanged. */
function unmap(range: IpRange): IpRange {
  if (range.family === 6 && isIpv4Mapped(range.start) && isIpv4Mapped(range.end)) {
    return {
      family: 4,
      start: Number(range.start & 0xffffffffn),
      end: Number(range.end & 0xffffffffn),
    };
  }
  return range;
}

function parseCidr(text: string, slash: number): Result<IpRange, IpRangeError> {
  const base = parseIp(text.slice(0, slash));
  if (!base.ok) return failure(base.error, `'${text}': not an IP address before '/'`);
  const lengthText = text.slice(slash + 1);
  const bits = base.value.family === 4 ? 32 : 128;
  const length = PREFIX_LENGTH.test(lengthText) ? Number(lengthText) : -1;
  if (length < 0 || length > bits) {
    return failure('invalid-prefix-length', `'${text}': prefix length must be 0 to ${bits}`);
  }
  if (base.value.family === 4) {
    const hostMask = length === 0 ? 0xffffffff : (2 ** (32 - length) - 1) >>> 0;
    const start = base.value.value;
    if ((start & hostMask) !== 0) {
      const network = formatIp({ family: 4, value: (start & ~hostMask) >>> 0 });
      return failure(
        'host-bits-set',
        `'${text}' has host bits set: write ${network}/${length} for the network or ` +
          `${formatIp(base.value)}/32 for the host`,
      );
    }
    return ok({ family: 4, start, end: start + hostMask });
  }
  const hostMask = (1n << BigInt(128 - length)) - 1n;
  const start = base.value.value;
  if ((start & hostMask) !== 0n) {
    const network = formatIp({ family: 6, value: start & ~hostMask });
    return failure(
      'host-bits-set',
      `'${text}' has host bits set: write ${network}/${length} for the network or ` +
        `${formatIp(base.value)}/128 for the host`,
    );
  }
  return ok(unmap({ family: 6, start, end: start | hostMask }));
}

/**
 * Parses one range: an address ('10.0.0.1', '2001:db8::1'), a CIDR prefix ('10.0.0.0/8') or
 * an inclusive start–end pair ('10.0.0.5-10.0.0.9'). A CIDR with host bits set is refused with
 * a message naming both readings rather than guessed. Ranges inside ::ffff:0:0/96 become the
 * IPv4 ranges they map, so they match the same peers.
 */
export function parseIpRange(input: string): Result<IpRange, IpRangeError> {
  const text = input.trim();
  const slash = text.indexOf('/');
  if (slash !== -1) return parseCidr(text, slash);
  const dash = text.indexOf('-');
  if (dash === -1) {
    const address = parseIp(text);
    if (!address.ok) return failure(address.error, `'${text}': not an IP address`);
    return ok(unmap(singleAddressRange(address.value)));
  }
  const first = parseIp(text.slice(0, dash).trim());
  const last = parseIp(text.slice(dash + 1).trim());
  if (!first.ok) return failure(first.error, `'${text}': range start is not an IP address`);
  if (!last.ok) return failure(last.error, `'${text}': range end is not an IP address`);
  if (first.value.family === 4 && last.value.family === 4) {
    if (first.value.value > last.value.value) {
      return failure('reversed-range', `'${text}': range start is after its end`);
    }
    return ok({ family: 4, start: first.value.value, end: last.value.value });
  }
  if (first.value.family === 6 && last.value.family === 6) {
    if (first.value.value > last.value.value) {
      return failure('reversed-range', `'${text}': range start is after its end`);
    }
    return ok(unmap({ family: 6, start: first.value.value, end: last.value.value }));
  }
  return failure('mixed-families', `'${text}': range mixes IPv4 and IPv6`);
}

/**
 * A set of addresses of one family as sorted, merged, disjoint intervals; membership is a
 * binary search, O(log n), with no allocation.
 */
export class RangeSet<T extends number | bigint> {
  private readonly starts: T[] = [];
  private readonly ends: T[] = [];

  constructor(ranges: Iterable<{ readonly start: T; readonly end: T }>) {
    const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (const range of sorted) {
      const last = this.ends.length - 1;
      const lastEnd = this.ends[last];
      if (lastEnd !== undefined && range.start <= lastEnd) {
        if (range.end > lastEnd) this.ends[last] = range.end;
      } else {
        this.starts.push(range.start);
        this.ends.push(range.end);
      }
    }
  }

  /** Number of disjoint intervals. */
  get intervals(): number {
    return this.starts.length;
  }

  /** Whether `value` lies in one of the intervals. */
  has(value: T): boolean {
    let low = 0;
    let high = this.starts.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const start = this.starts[mid];
      const end = this.ends[mid];
      if (start === undefined || end === undefined) return false;
      if (value < start) high = mid - 1;
      else if (value > end) low = mid + 1;
      else return true;
    }
    return false;
  }
}

/** IPv4 and IPv6 range sets built from range texts, for policy lists. */
export interface IpRangeSets {
  readonly v4: RangeSet<number>;
  readonly v6: RangeSet<bigint>;
}

/** Splits parsed ranges by family into two range sets. */
export function rangeSets(ranges: readonly IpRange[]): IpRangeSets {
  const v4: { start: number; end: number }[] = [];
  const v6: { start: bigint; end: bigint }[] = [];
  for (const range of ranges) {
    if (range.family === 4) v4.push(range);
    else v6.push(range);
  }
  return { v4: new RangeSet(v4), v6: new RangeSet(v6) };
}

/** Whether `sets` contains `address`. */
export function rangeSetsHave(sets: IpRangeSets, address: IpAddress): boolean {
  return address.family === 4 ? sets.v4.has(address.value) : sets.v6.has(address.value);
}

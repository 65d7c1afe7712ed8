import { randomBytes, randomInt } from 'node:crypto';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import { err, ok, type Result } from '../../lib/result.ts';

/** RFC 8656 §18.9: RESERVATION-TOKEN "contains a token that uniquely identifies a relayed
 * transport address being held in reserve by the server"; its value is 8 bytes. */
export const RESERVATION_TOKEN_BYTES = 8;

/** Options of {@link RelayPortAllocator}. */
export interface RelayPortOptions {
  /** Inclusive relay port range; default 50000–59999. */
  readonly min?: number;
  readonly max?: number;
  /** How long an EVEN-PORT R-bit reservation is held; RFC 8656 §7.2 "at least 30 seconds". */
  readonly reservationMs?: number;
  /** How long a port that failed to bind is skipped; default 60 000 ms. */
  readonly busyRetryMs?: number;
  /** Uniform integer in [0, max); default `crypto.randomInt`. For tests. */
  readonly randomInt?: (max: number) => number;
  /** Token source; default `crypto.randomBytes`. For tests. */
  readonly randomBytes?: (size: number) => Uint8Array;
}

/** What the EVEN-PORT attribute asks for (RFC 8656 §7.1). */
export interface PortRequest {
  /** EVEN-PORT present: the port must be even. */
  readonly even?: boolean;
  /** EVEN-PORT R bit: also reserve port + 1 for a later Allocate. Implies `even`. */
  readonly reserveNext?: boolean;
}

/** Ports handed out tentatively: bind them, then `commit` or `abort`. */
export interface PortClaim {
  readonly port: number;
  /** The port reserved behind a RESERVATION-TOKEN (port + 1); bind and hold it too. */
  readonly reservedPort: number | undefined;
  /** Claimed by redeeming a token: its socket was bound when the reservation was made. */
  readonly fromToken: boolean;
}

const FREE = 0;
const PENDING = 1;
const IN_USE = 2;
const RESERVED = 3;
const BUSY = 4;

/**
 * The relay port pool of one relay address set. It hands out numbers only — binding sockets
 * is the runtime's job, and a port may turn out busy — so every allocation is tentative:
 * `tryReserve`/`redeem` → bind → `commit` (or `abort` naming the ports that failed) → later
 * `release`. Ports are picked at random (RFC 8656 §7.2 SHOULD allocate from 49152–65535 and
 * SHOULD NOT from 0–1023, which this refuses). One byte of state per port.
 */
export class RelayPortAllocator {
  readonly min: number;
  readonly max: number;
  private readonly state: Uint8Array;
  private readonly reservationMs: number;
  private readonly busyRetryMs: number;
  private readonly pick: (max: number) => number;
  private readonly tokenBytes: (size: number) => Uint8Array;
  /** Reservation tokens (hex) in expiry order (constant hold, monotonic clock). */
  private readonly tokens = new Map<
    string,
    { readonly port: number; readonly expiresAt: number }
  >();
  private readonly tokenByPort = new Map<number, string>();
  private readonly busyUntil = new Map<number, number>();
  private used = 0;

  /** Throws RAMPART_ERR_INVALID_ARGUMENT on a range outside 1024–65535 or a hold under 30 s. */
  constructor(options: RelayPortOptions = {}) {
    this.min = options.min ?? 50000;
    this.max = options.max ?? 59999;
    if (
      !Number.isInteger(this.min) ||
      !Number.isInteger(this.max) ||
      this.min < 1024 ||
      this.max > 65535 ||
      this.min > this.max
    ) {
      throw new RampartError(
        ERROR_CODES.INVALID_ARGUMENT,
        'relay ports must satisfy 1024 <= min <= max <= 65535',
      );
    }
    this.reservationMs = options.reservationMs ?? 30_000;
    // RFC 8656 §7.2: "The server MUST hold this reservation for at least 30 seconds".
    if (this.reservationMs < 30_000) {
      throw new RampartError(ERROR_CODES.INVALID_ARGUMENT, 'reservationMs must be at least 30000');
    }
    this.busyRetryMs = options.busyRetryMs ?? 60_000;
    this.pick = options.randomInt ?? ((max) => randomInt(max));
    this.tokenBytes = options.randomBytes ?? randomBytes;
    this.state = new Uint8Array(this.max - this.min + 1);
  }

  /** Ports not free (pending, in use, reserved or busy). */
  get usedCount(): number {
    return this.used;
  }

  /** Ports free now. */
  get freeCount(): number {
    return this.state.length - this.used;
  }

  /** When `sweep` has work: the earliest reservation or busy-port expiry. */
  get nextTimeoutAt(): number | undefined {
    const token = this.tokens.values().next();
    const busy = this.busyUntil.values().next();
    const a = token.done === true ? undefined : token.value.expiresAt;
    const b = busy.done === true ? undefined : busy.value;
    if (a === undefined) return b;
    return b === undefined || a < b ? a : b;
  }

  /**
   * Claims a free port at random: even when asked (RFC 8656 §7.2 "the server allocates a
   * relayed transport address with an even port number"), and with R "a pair of port numbers
   * N and N+1 on the same IP address, where N is even". `exhausted` → 508.
   */
  tryReserve(request: PortRequest = {}): Result<PortClaim, 'exhausted'> {
    const pair = request.reserveNext === true;
    const step = pair || request.even === true ? 2 : 1;
    const first = step === 2 ? this.min + (this.min % 2) : this.min;
    const lastStart = pair ? this.max - 1 : this.max;
    if (first > lastStart) return err('exhausted');
    const slots = Math.floor((lastStart - first) / step) + 1;
    const start = this.pick(slots);
    for (let i = 0; i < slots; i++) {
      const port = first + ((start + i) % slots) * step;
      if (this.stateOf(port) !== FREE || (pair && this.stateOf(port + 1) !== FREE)) continue;
      this.setState(port, PENDING);
      if (pair) this.setState(port + 1, PENDING);
      return ok({ port, reservedPort: pair ? port + 1 : undefined, fromToken: false });
    }
    return err('exhausted');
  }

  /**
   * Redeems a RESERVATION-TOKEN once (RFC 8656 §7.2 step 5: valid if "the token is in range
   * and has not expired, and the corresponding relayed transport address is still
   * available", else 508). The token is spent even if the allocation then fails.
   */
  redeem(token: Uint8Array, now: number): Result<PortClaim, 'invalid-token'> {
    if (token.length !== RESERVATION_TOKEN_BYTES) return err('invalid-token');
    const key = Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString('hex');
    const entry = this.tokens.get(key);
    // An expired reservation stays for `sweep`, which frees it and reports the held socket.
    if (entry === undefined || entry.expiresAt <= now) return err('invalid-token');
    this.tokens.delete(key);
    this.tokenByPort.delete(entry.port);
    this.expect(entry.port, RESERVED);
    this.setState(entry.port, PENDING);
    return ok({ port: entry.port, reservedPort: undefined, fromToken: true });
  }

  /**
   * Makes a claim final once its sockets are bound. Returns the RESERVATION-TOKEN for the
   * reserved port, held until `now + reservationMs`.
   */
  commit(claim: PortClaim, now: number): { readonly reservationToken: Buffer | undefined } {
    this.expect(claim.port, PENDING);
    this.setState(claim.port, IN_USE);
    if (claim.reservedPort === undefined) return { reservationToken: undefined };
    this.expect(claim.reservedPort, PENDING);
    this.setState(claim.reservedPort, RESERVED);
    const token = Buffer.from(this.tokenBytes(RESERVATION_TOKEN_BYTES));
    const key = token.toString('hex');
    if (token.length !== RESERVATION_TOKEN_BYTES || this.tokens.has(key)) {
      throw new RampartError(ERROR_CODES.INVALID_STATE, 'reservation token source misbehaved');
    }
    this.tokens.set(key, { port: claim.reservedPort, expiresAt: now + this.reservationMs });
    this.tokenByPort.set(claim.reservedPort, key);
    return { reservationToken: token };
  }

  /**
   * Gives a claim back when binding failed; `busyPorts` (EADDRINUSE) are skipped for
   * `busyRetryMs`, the others are free at once.
   */
  abort(claim: PortClaim, now: number, busyPorts: readonly number[] = []): void {
    for (const port of [claim.port, claim.reservedPort]) {
      if (port === undefined) continue;
      this.expect(port, PENDING);
      if (busyPorts.includes(port)) {
        this.setState(port, BUSY);
        this.busyUntil.set(port, now + this.busyRetryMs);
      } else {
        this.setState(port, FREE);
      }
    }
  }

  /** Frees a port in use (its allocation ended) or a reserved one; idempotent. */
  release(port: number): void {
    const state = this.stateOf(port);
    if (state !== IN_USE && state !== RESERVED) return;
    const key = this.tokenByPort.get(port);
    if (key !== undefined) {
      this.tokens.delete(key);
      this.tokenByPort.delete(port);
    }
    this.setState(port, FREE);
  }

  /**
   * Expires reservations and busy marks due at `now`. Returns the reserved ports freed, whose
   * held sockets the runtime must close.
   */
  sweep(now: number): number[] {
    const freed: number[] = [];
    for (const [key, entry] of this.tokens) {
      if (entry.expiresAt > now) break;
      this.tokens.delete(key);
      this.tokenByPort.delete(entry.port);
      if (this.stateOf(entry.port) === RESERVED) {
        this.setState(entry.port, FREE);
        freed.push(entry.port);
      }
    }
    for (const [port, until] of this.busyUntil) {
      if (until > now) break;
      this.busyUntil.delete(port);
      if (this.stateOf(port) === BUSY) this.setState(port, FREE);
    }
    return freed;
  }

  /** Whether `port` is in use by an allocation. */
  isInUse(port: number): boolean {
    return this.stateOf(port) === IN_USE;
  }

  private stateOf(port: number): number {
    return this.state[port - this.min] ?? -1;
  }

  private setState(port: number, next: number): void {
    const previous = this.stateOf(port);
    if (previous === FREE && next !== FREE) this.used++;
    else if (previous !== FREE && next === FREE) this.used--;
    this.state[port - this.min] = next;
  }

  private expect(port: number, wanted: number): void {
    if (this.stateOf(port) !== wanted) {
      throw new RampartError(
        ERROR_CODES.INVALID_STATE,
        `relay port ${port} in an unexpected state`,
      );
    }
  }
}

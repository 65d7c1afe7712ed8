/**
 * RFC 8656 §7.2: receiving an Allocate request, after authentication. Checks run in the
 * RFC's order; the relay socket is bound on a port of the pool (retrying busy ports), and
 * the success response is kept to answer retransmissions of the same request.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import {
  AdditionalAddressFamily,
  AddressErrorCode,
  AlternateServer,
  DontFragment,
  EvenPort,
  Lifetime,
  RequestedAddressFamily,
  RequestedTransport,
  ReservationToken,
  STUN_ATTR,
  TRANSPORT_PROTOCOL,
  XorMappedAddress,
  XorRelayedAddress,
  type StunAttributeWriter,
  type StunMessage,
} from '../../codec/stun/index.ts';
import {
  Allocation,
  canonicalPeerAddress,
  desiredLifetimeSeconds,
  resolveAllocationLimits,
  type AuthOutcome,
  type PortClaim,
} from '../../proto/turn/index.ts';
import type { ClientFlow } from './client-flow.ts';
import { bindUdp } from './listeners.ts';
import { RelaySession } from './relay-session.ts';
import { TcpRelay } from './tcp-relay.ts';
import { sendConnectionAttempt } from './tcp-requests.ts';
import { errorResponse, successResponse, type Signing } from './responses.ts';
import type { TurnContext } from './context.ts';

/** How many busy ports an Allocate skips before giving up with 508. */
const BIND_ATTEMPTS = 8;

let alternateCursor = 0;

/** Handles one authenticated Allocate request. */
export async function handleAllocate(
  ctx: TurnContext,
  flow: ClientFlow,
  request: StunMessage,
  auth: Extract<AuthOutcome, { ok: true }>,
  signing: Signing,
): Promise<void> {
  const options = ctx.options;
  const now = ctx.now();
  const fail = (code: number, attributes: readonly StunAttributeWriter[] = []): void => {
    ctx.send(flow, errorResponse(request, code, attributes, signing));
  };
  // RFC 8489 §10 (ALTERNATE-SERVER): past the configured load, send clients elsewhere.
  const alternates = options.alternateServers;
  if (alternates.length > 0 && ctx.sessions.size >= options.redirectAbove) {
    const target = alternates[alternateCursor++ % alternates.length];
    if (target !== undefined) {
      const family = isIPv6(target.address) ? 6 : 4;
      fail(300, [AlternateServer.of({ family, address: target.address, port: target.port })]);
      return;
    }
  }
  // §7.2 step 3: "the server checks if the request contains a REQUESTED-TRANSPORT attribute.
  // If the attribute is not included or is malformed, the server rejects the request with the
  // error 400 (Bad Request). If the value ... is unsupported ... 442".
  const requested = RequestedTransport.get(request);
  if (requested?.ok !== true) {
    fail(400);
    return;
  }
  const tcp = requested.value === TRANSPORT_PROTOCOL.TCP;
  if (!tcp && requested.value !== TRANSPORT_PROTOCOL.UDP) {
    fail(442);
    return;
  }
  // RFC 6062 §5.1: a TCP allocation needs a TCP/TLS control connection, and takes none of
  // DONT-FRAGMENT, EVEN-PORT, RESERVATION-TOKEN → 400.
  if (
    tcp &&
    (flow.framing !== 'stream' ||
      DontFragment.get(request) !== undefined ||
      EvenPort.get(request) !== undefined ||
      ReservationToken.get(request) !== undefined)
  ) {
    fail(400);
    return;
  }
  // §7.2 step 4: DONT-FRAGMENT without the means to set DF (Node.js cannot) is treated as an
  // unknown comprehension-required attribute → 420.
  if (DontFragment.get(request) !== undefined) {
    ctx.send(flow, errorResponse(request, 420, [], signing, [STUN_ATTR.DONT_FRAGMENT]));
    return;
  }
  const token = ReservationToken.get(request);
  const even = EvenPort.get(request);
  const family = RequestedAddressFamily.get(request);
  const additional = AdditionalAddressFamily.get(request);
  if (token?.ok === false || even?.ok === false || additional?.ok === false) {
    fail(400);
    return;
  }
  // §7.2 step 5/6: RESERVATION-TOKEN with EVEN-PORT, or with REQUESTED-ADDRESS-FAMILY → 400.
  if (token !== undefined && (even !== undefined || family !== undefined)) {
    fail(400);
    return;
  }
  // §7.2 step 7: both REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY → 400.
  if (family !== undefined && additional !== undefined) {
    fail(400);
    return;
  }
  // RFC 8656 §18.6: an unknown family value → 440.
  if (family?.ok === false) {
    fail(440);
    return;
  }
  // The relayed address's family: the one asked (RFC 8656 §7.2, RFC 6156), else IPv4.
  const hostFamily = isIPv6(options.host) ? 6 : 4;
  const relayFamily = family?.value ?? hostFamily;
  const relayHost =
    relayFamily === hostFamily ? options.host : relayFamily === 6 ? options.relayHostV6 : undefined;
  // "If the server does not support the address family requested ... 440".
  if (relayHost === undefined) {
    fail(440);
    return;
  }
  // §18.11: "The attribute value of 0x02 (IPv6 address) is the only valid value".
  if (additional !== undefined && additional.value !== 6) {
    fail(400);
    return;
  }
  const additionalHost =
    additional !== undefined && hostFamily === 4 ? options.relayHostV6 : undefined;

  const check = ctx.table.checkAllocate(flow.fiveTuple, request.transactionId, auth.username, now);
  switch (check.kind) {
    case 'retransmission':
      // §7.2: a retransmitted Allocate is answered with the same response.
      ctx.send(flow, Buffer.from(check.response));
      return;
    case 'in-progress':
      return;
    case 'reject': {
      fail(check.code);
      return;
    }
    case 'proceed':
      break;
  }
  const bound = tcp
    ? await bindTcpRelay(ctx)
    : await bindRelay(ctx, relayHost, token?.value, even?.value.reserveNext, even !== undefined);
  if (bound === undefined) {
    ctx.table.abandon(check.key);
    fail(508);
    return;
  }
  const { reservationToken } = options.ports.commit(bound.claim, ctx.now());
  // RFC 8656 §7.2 (ADDITIONAL-ADDRESS-FAMILY): a second relay, IPv6, when we have one.
  const second =
    additionalHost === undefined
      ? undefined
      : await bindRelay(ctx, additionalHost, undefined, undefined, false);
  if (second !== undefined) options.ports.commit(second.claim, ctx.now());
  const limits = resolveAllocationLimits(options.allocationLimits);
  let lifetime = desiredLifetimeSeconds(
    Lifetime.get(request)?.ok === true
      ? (Lifetime.get(request) as { value: number }).value
      : undefined,
    limits,
  );
  lifetime = capByCredential(lifetime, auth.expiresAt, options.strictExpiry, ctx.now());
  const relayed = {
    address: relayHost === options.host ? options.relayAdvertisedHost : relayHost,
    port: bound.claim.port,
  };
  const additionalRelayed =
    second === undefined || additionalHost === undefined
      ? undefined
      : { address: additionalHost, port: second.claim.port };
  const allocation = new Allocation(
    {
      fiveTuple: flow.fiveTuple,
      username: auth.username,
      realm: options.authenticator.realm,
      integrityKey: auth.key,
      relayed,
      ...(additionalRelayed === undefined ? {} : { additionalRelayed }),
      lifetimeSeconds: lifetime,
      limits,
    },
    ctx.now(),
  );
  const attributes: StunAttributeWriter[] = [
    XorRelayedAddress.of({ family: relayFamily, address: relayed.address, port: relayed.port }),
  ];
  if (additionalRelayed !== undefined) {
    attributes.push(
      XorRelayedAddress.of({
        family: 6,
        address: additionalRelayed.address,
        port: additionalRelayed.port,
      }),
    );
  }
  attributes.push(Lifetime.of(lifetime));
  if (reservationToken !== undefined) attributes.push(ReservationToken.of(reservationToken));
  attributes.push(
    XorMappedAddress.of({
      family: flow.family,
      address: flow.clientAddress,
      port: flow.clientPort,
    }),
  );
  // RFC 8656 §7.2: a second family we cannot serve is reported, not fatal (440 when we have
  // no IPv6 relay address, 508 when none could be bound).
  if (additional !== undefined && additionalRelayed === undefined) {
    attributes.push(AddressErrorCode.of(6, additionalHost === undefined ? 440 : 508));
  }
  const response = successResponse(request, attributes, signing);
  ctx.table.add(allocation, response, ctx.now());
  const session = new RelaySession(
    allocation,
    flow,
    bound.socket,
    ctx.relayHost,
    ctx.bucket(),
    auth.expiresAt,
    second?.socket,
  );
  if (bound.tcp !== undefined) {
    session.tcp = bound.tcp.relay;
    bound.tcp.attach(session);
  }
  ctx.addSession(flow, session);
  ctx.send(flow, response);
}

/**
 * Strict expiry: an allocation made with a REST credential lives no longer than the
 * credential (at least one second, so the response is meaningful).
 */
export function capByCredential(
  lifetimeSeconds: number,
  expiresAt: number | undefined,
  strict: boolean,
  nowMs: number,
): number {
  if (!strict || expiresAt === undefined || lifetimeSeconds === 0) return lifetimeSeconds;
  const left = Math.floor(expiresAt - nowMs / 1000);
  return Math.max(1, Math.min(lifetimeSeconds, left));
}

/** A bound relay: the UDP socket, or (RFC 6062) the TCP listener. */
interface BoundRelay {
  readonly claim: PortClaim;
  readonly socket: UdpSocket | undefined;
  readonly tcp?: { readonly relay: TcpRelay; attach(session: RelaySession): void };
}

/** RFC 6062 §5.1: a TCP listener on a port of the pool, for a TCP allocation. */
async function bindTcpRelay(ctx: TurnContext): Promise<BoundRelay | undefined> {
  const { ports, host } = ctx.options;
  for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
    const claim = ports.tryReserve({});
    if (!claim.ok) return undefined;
    let owner: RelaySession | undefined;
    try {
      const relay = await TcpRelay.listen(
        host,
        claim.value.port,
        {
          hasPermission: (address) => {
            const canonical = canonicalPeerAddress(address);
            return (
              owner !== undefined &&
              canonical.ok &&
              owner.allocation.hasPermission(canonical.value.address, ctx.now())
            );
          },
          connectionAttempt: (connection) => {
            if (owner !== undefined) sendConnectionAttempt(ctx, owner, connection);
          },
        },
        ctx.peerConnections,
      );
      return {
        claim: claim.value,
        socket: undefined,
        tcp: {
          relay,
          attach: (session) => {
            owner = session;
          },
        },
      };
    } catch {
      ports.abort(claim.value, ctx.now(), [claim.value.port]);
    }
  }
  return undefined;
}

/** Claims a relay port and binds its socket, skipping ports another process holds. */
async function bindRelay(
  ctx: TurnContext,
  host: string,
  token: Buffer | undefined,
  reserveNext: boolean | undefined,
  even: boolean,
): Promise<BoundRelay | undefined> {
  const { ports } = ctx.options;
  for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
    const claim =
      token === undefined
        ? ports.tryReserve({ even, reserveNext: reserveNext === true })
        : ports.redeem(token, ctx.now());
    // §7.2: an invalid RESERVATION-TOKEN, or no port left → 508 Insufficient Capacity.
    if (!claim.ok) return undefined;
    try {
      const { socket } = await bindUdp(host, claim.value.port, false);
      return { claim: claim.value, socket };
    } catch {
      ports.abort(claim.value, ctx.now(), [claim.value.port]);
      if (token !== undefined) return undefined;
    }
  }
  return undefined;
}

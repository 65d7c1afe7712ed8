/**
 * RFC 6062 requests: Connect (§5.2) on the control connection, ConnectionBind (§5.4) on a
 * new data connection, and the ConnectionAttempt indication (§5.3) the server sends when a
 * peer connects to a TCP allocation's relayed address.
 */
import {
  ConnectionId,
  encodeStun,
  newTransactionId,
  STUN_METHOD,
  XorPeerAddress,
  type StunMessage,
} from '../../codec/stun/index.ts';
import { canonicalPeerAddress, type AuthOutcome } from '../../proto/turn/index.ts';
import type { ClientFlow } from './client-flow.ts';
import type { TurnContext } from './context.ts';
import type { RelaySession } from './relay-session.ts';
import { allocationOf } from './requests.ts';
import { errorResponse, successResponse, type Signing } from './responses.ts';
import type { PeerConnection } from './tcp-relay.ts';

type Authenticated = Extract<AuthOutcome, { ok: true }>;

/** §5.3: tells the client on its control connection that a peer connected. */
export function sendConnectionAttempt(
  ctx: TurnContext,
  session: RelaySession,
  connection: PeerConnection,
): void {
  const { address, port } = connection.peer;
  ctx.send(
    session.client,
    encodeStun({
      method: STUN_METHOD.ConnectionAttempt,
      cls: 'indication',
      transactionId: newTransactionId(),
      attributes: [
        XorPeerAddress.of({ family: address.includes(':') ? 6 : 4, address, port }),
        ConnectionId.of(connection.id),
      ],
    }),
  );
}

/** §5.2: Connect — the server opens a TCP connection to the peer. */
export async function handleConnect(
  ctx: TurnContext,
  flow: ClientFlow,
  request: StunMessage,
  auth: Authenticated,
  signing: Signing,
): Promise<void> {
  const fail = (code: number): void => {
    ctx.send(flow, errorResponse(request, code, [], signing));
  };
  // "If the request is received on a connection that has no TCP allocation → 437 / 400".
  const session = allocationOf(ctx, flow, request, signing);
  if (session === undefined) return;
  const tcp = session.tcp;
  const peer = XorPeerAddress.get(request);
  if (tcp === undefined || peer?.ok !== true) {
    fail(400);
    return;
  }
  const canonical = canonicalPeerAddress(peer.value.address);
  if (!canonical.ok) {
    fail(400);
    return;
  }
  const decision = ctx.options.peerPolicy.decide({
    address: canonical.value.address,
    port: peer.value.port,
  });
  if (!decision.allowed) {
    ctx.countDenied(decision.reason);
    fail(403);
    return;
  }
  // "If the server is already connected or connecting to the peer ... 446".
  if (tcp.hasPeer(canonical.value.address, peer.value.port)) {
    fail(446);
    return;
  }
  // The peer's IP gets a permission, as CreatePermission would install.
  const actions = session.allocation.handle(
    { type: 'create-permission', username: auth.username, peers: [canonical.value.address] },
    ctx.now(),
  );
  const refused = actions.find((action) => action.type === 'error');
  if (refused !== undefined && 'code' in refused) {
    fail(refused.code);
    return;
  }
  ctx.settle(session, actions);
  const connection = await tcp.connect(canonical.value.address, peer.value.port);
  // "If the connection attempt fails or times out, the server MUST return 447".
  if (connection === undefined) {
    fail(447);
    return;
  }
  ctx.send(flow, successResponse(request, [ConnectionId.of(connection.id)], signing));
}

/** §5.4: ConnectionBind on a new client connection joins it to a peer connection. */
export function handleConnectionBind(
  ctx: TurnContext,
  flow: ClientFlow,
  request: StunMessage,
  auth: Authenticated,
  signing: Signing,
): void {
  const fail = (code: number): void => {
    ctx.send(flow, errorResponse(request, code, [], signing));
  };
  const id = ConnectionId.get(request);
  const entry = id?.ok === true ? ctx.peerConnections.get(id.value) : undefined;
  // "If the client connection transport is not TCP or TLS, or the CONNECTION-ID is unknown
  // or already bound → 400". The data connection must hold no allocation of its own.
  if (
    flow.framing !== 'stream' ||
    flow.detach === undefined ||
    entry === undefined ||
    entry.connection.bound ||
    ctx.sessionOf(flow) !== undefined
  ) {
    fail(400);
    return;
  }
  // The data connection authenticates as the allocation's user (RFC 8656 §5: else 441).
  const owner = [...ctx.sessions.values()].find((s) => s.tcp === entry.relay);
  if (owner === undefined || owner.allocation.username !== auth.username) {
    fail(owner === undefined ? 400 : 441);
    return;
  }
  ctx.send(flow, successResponse(request, [], signing));
  // "After sending this response, the server MUST ... relay data between the two".
  const socket = flow.detach();
  if (socket === undefined || !entry.relay.bind(entry.connection.id, socket)) {
    socket?.destroy();
  }
}

/**
 * Refresh (RFC 8656 §8), CreatePermission (§10), ChannelBind (§12) and the Send indication
 * (§11.2), on an existing allocation. Every peer address passes the peer policy (SSRF
 * defence) before it reaches the allocation machine; a refused peer gets 403.
 */
import {
  ChannelNumber,
  Data,
  Lifetime,
  XorPeerAddress,
  type StunAttributeWriter,
  type StunMessage,
} from '../../codec/stun/index.ts';
import {
  canonicalPeerAddress,
  type AllocationAction,
  type AuthOutcome,
} from '../../proto/turn/index.ts';
import type { ClientFlow } from './client-flow.ts';
import { errorResponse, successResponse, type Signing } from './responses.ts';
import type { TurnContext } from './context.ts';
import type { RelaySession } from './relay-session.ts';

type Authenticated = Extract<AuthOutcome, { ok: true }>;

/** A peer after policy: its canonical address (the permission key) and port. */
type PeerCheck =
  | { readonly ok: true; readonly address: string; readonly port: number }
  | { readonly ok: false; readonly code: 400 | 403 };

/**
 * Canonicalises a peer and applies the policy: one function for every permission, channel
 * and Send indication, so no encoding of a denied address slips through.
 */
function checkPeer(ctx: TurnContext, address: string, port: number): PeerCheck {
  const canonical = canonicalPeerAddress(address);
  if (!canonical.ok) {
    ctx.countDenied('invalid-address');
    return { ok: false, code: 400 };
  }
  const decision = ctx.options.peerPolicy.decide({ address: canonical.value.address, port });
  if (!decision.allowed) {
    ctx.countDenied(decision.reason);
    return { ok: false, code: 403 };
  }
  return { ok: true, address: canonical.value.address, port };
}

/**
 * Answers a request from the allocation machine's actions (its success, or the error it
 * chose), then lets the server act on the rest (expiry, deletion).
 */
function answer(
  ctx: TurnContext,
  flow: ClientFlow,
  request: StunMessage,
  signing: Signing,
  session: RelaySession,
  actions: readonly AllocationAction[],
  success: (action: AllocationAction) => readonly StunAttributeWriter[] | undefined,
): void {
  for (const action of actions) {
    if (action.type === 'error') {
      ctx.send(flow, errorResponse(request, action.code, [], signing));
      continue;
    }
    const attributes = success(action);
    if (attributes !== undefined) ctx.send(flow, successResponse(request, attributes, signing));
  }
  ctx.settle(session, actions);
}

/**
 * The allocation on the request's 5-tuple; without one, answers 437 (Allocation Mismatch,
 * RFC 8656 §8.2, §10.2, §12.2) and returns undefined.
 */
export function allocationOf(
  ctx: TurnContext,
  flow: ClientFlow,
  request: StunMessage,
  signing: Signing,
): RelaySession | undefined {
  const session = ctx.sessionOf(flow);
  if (session === undefined) ctx.send(flow, errorResponse(request, 437, [], signing));
  return session;
}

/** RFC 8656 §8: Refresh. */
export function handleRefresh(
  ctx: TurnContext,
  flow: ClientFlow,
  request: StunMessage,
  auth: Authenticated,
  signing: Signing,
): void {
  const session = allocationOf(ctx, flow, request, signing);
  if (session === undefined) return;
  const lifetime = Lifetime.get(request);
  if (lifetime?.ok === false) {
    ctx.send(flow, errorResponse(request, 400, [], signing));
    return;
  }
  const actions = session.allocation.handle(
    { type: 'refresh', username: auth.username, lifetimeSeconds: lifetime?.value },
    ctx.now(),
  );
  answer(ctx, flow, request, signing, session, actions, (action) =>
    action.type === 'refresh-success' ? [Lifetime.of(action.lifetimeSeconds)] : undefined,
  );
}

/** RFC 8656 §10: CreatePermission, one or more XOR-PEER-ADDRESS. */
export function handleCreatePermission(
  ctx: TurnContext,
  flow: ClientFlow,
  request: StunMessage,
  auth: Authenticated,
  signing: Signing,
): void {
  const session = allocationOf(ctx, flow, request, signing);
  if (session === undefined) return;
  const peers: string[] = [];
  const all = XorPeerAddress.getAll(request);
  if (!all.ok) {
    ctx.send(flow, errorResponse(request, 400, [], signing));
    return;
  }
  for (const peer of all.value) {
    // RFC 8656 §10.2: permissions are per IP address; the policy also sees the port, which
    // only the own-address rule (relay range only) cares about.
    const checked = checkPeer(ctx, peer.address, peer.port);
    if (!checked.ok) {
      ctx.send(flow, errorResponse(request, checked.code, [], signing));
      return;
    }
    peers.push(checked.address);
  }
  const actions = session.allocation.handle(
    { type: 'create-permission', username: auth.username, peers },
    ctx.now(),
  );
  answer(ctx, flow, request, signing, session, actions, (action) =>
    action.type === 'create-permission-success' ? [] : undefined,
  );
}

/** RFC 8656 §12.2: ChannelBind, a CHANNEL-NUMBER and one XOR-PEER-ADDRESS. */
export function handleChannelBind(
  ctx: TurnContext,
  flow: ClientFlow,
  request: StunMessage,
  auth: Authenticated,
  signing: Signing,
): void {
  const session = allocationOf(ctx, flow, request, signing);
  if (session === undefined) return;
  const channel = ChannelNumber.get(request);
  const peer = XorPeerAddress.get(request);
  // §12.2: a missing or out-of-range channel number, or no peer → 400.
  if (channel?.ok !== true || peer?.ok !== true) {
    ctx.send(flow, errorResponse(request, 400, [], signing));
    return;
  }
  const checked = checkPeer(ctx, peer.value.address, peer.value.port);
  if (!checked.ok) {
    ctx.send(flow, errorResponse(request, checked.code, [], signing));
    return;
  }
  const actions = session.allocation.handle(
    {
      type: 'channel-bind',
      username: auth.username,
      channel: channel.value,
      peer: { address: checked.address, port: checked.port },
    },
    ctx.now(),
  );
  answer(ctx, flow, request, signing, session, actions, (action) =>
    action.type === 'channel-bind-success' ? [] : undefined,
  );
}

/**
 * RFC 8656 §11.2: a Send indication. Indications are not authenticated; the 5-tuple names
 * the allocation, and anything wrong is "silently discarded".
 */
export function handleSend(ctx: TurnContext, flow: ClientFlow, indication: StunMessage): void {
  const session = ctx.sessionOf(flow);
  if (session === undefined) return;
  const peer = XorPeerAddress.get(indication);
  const data = Data.get(indication);
  if (peer?.ok !== true || data?.ok !== true) return;
  const now = ctx.now();
  // A permission is per IP address (RFC 8656 §9), but the policy also judges the port: the
  // server's own address is relayable at relay ports only, so the port is checked here too.
  const checked = checkPeer(ctx, peer.value.address, peer.value.port);
  if (!checked.ok) return;
  // "If there is no permission for the peer's IP address, the indication is discarded."
  if (!session.allocation.hasPermission(checked.address, now)) return;
  session.toPeer(data.value, checked.address, peer.value.port, now);
}

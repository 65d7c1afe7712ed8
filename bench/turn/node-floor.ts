/**
 * `node-floor`: the least work any Node.js TURN server does for the benchmark's load — the
 * floor under Rampart's A/V Edge on this runtime, not a server to deploy. It answers exactly
 * what `load.ts` asks (Binding; Allocate with one 401 first; CreatePermission; ChannelBind;
 * Refresh) without checking credentials, integrity, lifetimes, quotas or peer policy, and
 * relays ChannelData through one UDP socket per allocation with a map lookup and a send, as
 * the A/V Edge's relay path does (IPv4 literals sent without dns.lookup, the client side
 * gathered from a 4-byte header and the payload without a copy). Whatever it costs per
 * relayed packet is the cost of Node's dgram receive and send on this machine; a TURN server
 * in Node can only cost more.
 *
 * Run by `servers.ts` (`--candidate node-floor`): `node bench/turn/node-floor.ts --port P
 * --host H --realm R`. Loopback only; it never answers an address other than a datagram's
 * source.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { parseArgs } from 'node:util';
import {
  ChannelNumber,
  ErrorCode,
  Lifetime,
  Nonce,
  Realm,
  STUN_HEADER_LENGTH,
  STUN_METHOD,
  Username,
  XorMappedAddress,
  XorPeerAddress,
  XorRelayedAddress,
  decodeStun,
  encodeBindingSuccess,
  encodeStun,
  isStun,
  type StunAttributeWriter,
  type StunMessage,
} from '../../src/codec/stun/index.ts';
import { literalLookup } from '../../src/lib/udp-lookup.ts';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '3478' },
    host: { type: 'string', default: '127.0.0.1' },
    realm: { type: 'string', default: 'bench.test' },
  },
});

/** The same socket buffers as the A/V Edge's listeners (src/runtime/turn/listeners.ts). */
const LISTENER_BUFFER_BYTES = 4 * 1024 * 1024;
/** Message type of a Binding request (RFC 8489 §5). */
const BINDING_REQUEST = 0x0001;
/** Bounds the floor's own memory whatever arrives. */
const MAX_ALLOCATIONS = 20_000;

interface Peer {
  readonly address: string;
  readonly port: number;
}

interface FloorAllocation {
  readonly relay: Socket;
  readonly clientAddress: string;
  readonly clientPort: number;
  /** Channel number → peer. */
  readonly channels: Map<number, Peer>;
  /** `address port` of a peer → its channel number. */
  readonly channelOfPeer: Map<string, number>;
}

const host = args.host;
const listener = createSocket({
  type: 'udp4',
  recvBufferSize: LISTENER_BUFFER_BYTES,
  sendBufferSize: LISTENER_BUFFER_BYTES,
  lookup: literalLookup,
});
const allocations = new Map<string, FloorAllocation>();

function reply(
  request: StunMessage,
  cls: 'success' | 'error',
  attributes: readonly StunAttributeWriter[],
  to: RemoteInfo,
): void {
  const response = encodeStun({
    method: request.method,
    cls,
    transactionId: request.transactionId,
    attributes,
  });
  listener.send(response, to.port, to.address);
}

function allocate(request: StunMessage, from: RemoteInfo, key: string): void {
  const existing = allocations.get(key);
  if (existing !== undefined || Username.get(request) === undefined) {
    // The first Allocate gets the challenge the generator expects (it then retries with
    // credentials, which the floor takes without checking).
    if (existing === undefined) {
      reply(request, 'error', [ErrorCode.of(401), Realm.of(args.realm), Nonce.of('floor')], from);
      return;
    }
    const address = existing.relay.address();
    reply(request, 'success', allocationAttributes(address.address, address.port, from), from);
    return;
  }
  if (allocations.size >= MAX_ALLOCATIONS) {
    reply(request, 'error', [ErrorCode.of(508)], from);
    return;
  }
  const relay = createSocket({ type: 'udp4', lookup: literalLookup });
  const allocation: FloorAllocation = {
    relay,
    clientAddress: from.address,
    clientPort: from.port,
    channels: new Map(),
    channelOfPeer: new Map(),
  };
  allocations.set(key, allocation);
  relay.on('message', (data: Buffer, peer: RemoteInfo) => {
    const channel = allocation.channelOfPeer.get(`${peer.address} ${peer.port}`);
    if (channel === undefined) return;
    const header = Buffer.allocUnsafe(4);
    header.writeUInt16BE(channel, 0);
    header.writeUInt16BE(data.length, 2);
    // RFC 8656 §12.5: over UDP the ChannelData needs no padding.
    listener.send([header, data], allocation.clientPort, allocation.clientAddress);
  });
  relay.on('error', () => undefined);
  relay.bind(0, host, () => {
    const address = relay.address();
    reply(request, 'success', allocationAttributes(address.address, address.port, from), from);
  });
}

function allocationAttributes(
  relayAddress: string,
  relayPort: number,
  from: RemoteInfo,
): StunAttributeWriter[] {
  return [
    XorRelayedAddress.of({ family: 4, address: relayAddress, port: relayPort }),
    XorMappedAddress.of({ family: 4, address: from.address, port: from.port }),
    Lifetime.of(600),
  ];
}

function onStun(datagram: Buffer, from: RemoteInfo): void {
  const decoded = decodeStun(datagram);
  if (!decoded.ok || decoded.value.cls !== 'request') return;
  const request = decoded.value;
  const key = `${from.address} ${from.port}`;
  switch (request.method) {
    case STUN_METHOD.Binding:
      reply(
        request,
        'success',
        [XorMappedAddress.of({ family: 4, address: from.address, port: from.port })],
        from,
      );
      return;
    case STUN_METHOD.Allocate:
      allocate(request, from, key);
      return;
    case STUN_METHOD.CreatePermission:
      reply(request, 'success', [], from);
      return;
    case STUN_METHOD.ChannelBind: {
      const allocation = allocations.get(key);
      const channel = ChannelNumber.get(request);
      const peer = XorPeerAddress.get(request);
      if (allocation === undefined || channel?.ok !== true || peer?.ok !== true) {
        reply(request, 'error', [ErrorCode.of(400)], from);
        return;
      }
      allocation.channels.set(channel.value, peer.value);
      allocation.channelOfPeer.set(`${peer.value.address} ${peer.value.port}`, channel.value);
      reply(request, 'success', [], from);
      return;
    }
    case STUN_METHOD.Refresh: {
      const lifetime = Lifetime.get(request);
      if (lifetime?.ok === true && lifetime.value === 0) {
        allocations.get(key)?.relay.close();
        allocations.delete(key);
      }
      reply(request, 'success', [], from);
      return;
    }
    default:
      reply(request, 'error', [ErrorCode.of(400)], from);
  }
}

listener.on('message', (datagram: Buffer, from: RemoteInfo) => {
  // The A/V Edge's routing: a channel number (0x40–0x4F first byte) before anything else.
  if (((datagram[0] as number) & 0xc0) === 0x40 && datagram.length >= 4) {
    const allocation = allocations.get(`${from.address} ${from.port}`);
    if (allocation === undefined) return;
    const peer = allocation.channels.get(datagram.readUInt16BE(0));
    if (peer === undefined) return;
    const length = datagram.readUInt16BE(2);
    allocation.relay.send(datagram.subarray(4, 4 + length), peer.port, peer.address);
    return;
  }
  // The answer to an attribute-less Binding request built in one buffer, as the A/V Edge does.
  if (datagram.length === STUN_HEADER_LENGTH && datagram.readUInt16BE(0) === BINDING_REQUEST) {
    const mapped = { family: 4, address: from.address, port: from.port } as const;
    listener.send(encodeBindingSuccess(datagram, mapped), from.port, from.address);
    return;
  }
  if (isStun(datagram)) onStun(datagram, from);
});
listener.on('error', (error) => {
  console.error(`node-floor: ${error.message}`);
});
listener.bind(Number(args.port), host, () => {
  console.log(`node-floor listening on ${host}:${listener.address().port}`);
});
process.on('SIGTERM', () => {
  process.exit(0);
});

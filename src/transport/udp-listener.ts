import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { ERROR_CODES, RampartError } from '../lib/errors.ts';
import { literalLookup } from '../lib/udp-lookup.ts';
import { normalizeAddress, type Flow, type FlowAddress, type Rejection } from './flow.ts';
import type { ListenOptions, SipListener } from './stream-listener.ts';

/** Options of a UDP listener. */
export type UdpListenOptions = ListenOptions;

/** What a UDP listener reports to the layer that owns it. */
export interface UdpHost {
  readonly maxMessageBytes: number;
  message(data: Buffer, flow: Flow): void;
  rejected(rejection: Rejection): void;
}

const UDP_FLOW_PREFIX = 'udp/';

/**
 * The id of the UDP flow (listener, remote address, remote port). UDP flows are not kept
 * in a table (a spoofed source would grow it); the id itself says where to send.
 */
export function udpFlowId(listenerId: string, remote: FlowAddress): string {
  return `${UDP_FLOW_PREFIX}${listenerId}/${remote.address}/${remote.port}`;
}

/** Splits a UDP flow id back into listener id and remote address, or undefined. */
export function parseUdpFlowId(
  flowId: string,
): { readonly listenerId: string; readonly remote: FlowAddress } | undefined {
  if (!flowId.startsWith(UDP_FLOW_PREFIX)) return undefined;
  // Read on every datagram sent: two searches, no intermediate array.
  const slash1 = flowId.indexOf('/', UDP_FLOW_PREFIX.length);
  const slash2 = slash1 < 0 ? -1 : flowId.indexOf('/', slash1 + 1);
  if (slash2 < 0 || flowId.indexOf('/', slash2 + 1) >= 0) return undefined;
  const portText = flowId.slice(slash2 + 1);
  const port = portText.length === 0 ? NaN : Number(portText);
  if (!Number.isInteger(port)) return undefined;
  return {
    listenerId: flowId.slice(UDP_FLOW_PREFIX.length, slash1),
    remote: { address: flowId.slice(slash1 + 1, slash2), port },
  };
}

/** Requested kernel buffer size of each UDP listener socket. */
const UDP_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/** A UDP socket receiving and sending SIP datagrams (RFC 3261 §18.1, §18.2). */

export class UdpListener implements SipListener {
  readonly id: string;
  readonly transport = 'udp' as const;
  private bound: FlowAddress = { address: '', port: 0 };
  private readonly socket: UdpSocket;
  private readonly host: UdpHost;
  private closing: Promise<void> | undefined;

  constructor(id: string, options: UdpListenOptions, host: UdpHost) {
    this.id = id;
    this.host = host;
    this.socket = createSocket({
      type: isIPv6(options.host) ? 'udp6' : 'udp4',
      ...(options.reusePort === true ? { reusePort: true } : {}),
      // Bursts must not overflow the kernel's default ~200 KiB socket buffers (the kernel caps
      // these at net.core.rmem_max / wmem_max).
      recvBufferSize: UDP_SOCKET_BUFFER_BYTES,
      sendBufferSize: UDP_SOCKET_BUFFER_BYTES,
      lookup: literalLookup,
    });
    this.socket.on('message', (data, info) => {
      this.onMessage(data, info);
    });
    // Send failures (ICMP unreachable and the like) are not the listener's end.
    this.socket.on('error', () => undefined);
  }

  get local(): FlowAddress {
    return this.bound;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Binds; resolves with the bound address. */
  bind(options: ListenOptions): Promise<FlowAddress> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(
          new RampartError(ERROR_CODES.TRANSPORT, `cannot bind: ${error.message}`, {
            cause: error,
          }),
        );
      };
      this.socket.once('error', onError);
      // exclusive: a node:cluster worker owns its socket (with reusePort, the kernel spreads
      // sources across workers) instead of sharing the primary's handle.
      this.socket.bind({ address: options.host, port: options.port, exclusive: true }, () => {
        this.socket.off('error', onError);
        const address = this.socket.address();
        this.bound = { address: normalizeAddress(address.address), port: address.port };
        resolve(this.bound);
      });
    });
  }

  /** Sends one datagram; false when the listener is closed. */
  send(data: Buffer, remote: FlowAddress): boolean {
    if (this.closing !== undefined) return false;
    this.socket.send(data, remote.port, remote.address);
    return true;
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      try {
        this.socket.close(() => {
          resolve();
        });
      } catch {
        // Never bound.
        resolve();
      }
    });
    return this.closing;
  }

  private onMessage(data: Buffer, info: RemoteInfo): void {
    const remote = { address: normalizeAddress(info.address), port: info.port };
    if (data.length > this.host.maxMessageBytes) {
      this.host.rejected({ reason: 'too-large', transport: 'udp', remote, listenerId: this.id });
      return;
    }
    if (isKeepAlive(data)) return;
    this.host.message(data, {
      id: udpFlowId(this.id, remote),
      transport: 'udp',
      local: this.bound,
      remote,
      direction: 'inbound',
      listenerId: this.id,
    });
  }
}

/** Empty datagrams and bare CRLFs that NAT keep-alive senders use carry nothing. */
function isKeepAlive(data: Buffer): boolean {
  for (const byte of data) if (byte !== 0x0d && byte !== 0x0a && byte !== 0x20) return false;
  return true;
}

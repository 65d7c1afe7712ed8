/**
 * The vocabulary of the SIP transport layer: flows, limits, rejections and close reasons.
 * A flow (RFC 5626 §3.1 sense) is what a message arrived on and what a reply goes out on.
 */
import { isIPv6 } from 'node:net';
import type { PeerCertificate } from 'node:tls';

/** SIP transports (RFC 3261 §18, RFC 7118 for ws/wss). */
export type SipTransport = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

/** Connection-oriented SIP transports. */
export type StreamTransport = Exclude<SipTransport, 'udp'>;

/** An IP address and port. Addresses are plain (no brackets, no IPv4-mapped prefix). */
export interface FlowAddress {
  readonly address: string;
  readonly port: number;
}

/** The parts of a peer's X.509 certificate the upper layers look at. */
export interface PeerCertificateInfo {
  /** The DER encoding, for anything not extracted below. */
  readonly raw: Buffer;
  /** Subject attributes as node reports them (e.g. `{ CN: 'edge.example.com', O: ... }`). */
  readonly subject: Readonly<Record<string, string | readonly string[]>>;
  readonly issuer: Readonly<Record<string, string | readonly string[]>>;
  /** e.g. `'DNS:edge.example.com, DNS:sip.example.com'`. */
  readonly subjectAltName?: string;
  readonly serialNumber: string;
  /** SHA-256 fingerprint, colon-separated hex. */
  readonly fingerprint256: string;
  readonly validFrom: string;
  readonly validTo: string;
  /** Whether the certificate chain verified against the configured CAs. */
  readonly authorized: boolean;
  /** Why verification failed, when it did. */
  readonly authorizationError?: string;
}

/** Where a message came from and how to answer it. */
export interface Flow {
  /** Unique within the transport layer; pass it to `send`. */
  readonly id: string;
  readonly transport: SipTransport;
  readonly local: FlowAddress;
  readonly remote: FlowAddress;
  /** `'inbound'` when the peer connected to us (always for UDP). */
  readonly direction: 'inbound' | 'outbound';
  /** The id of the listener that accepted the flow (inbound only). */
  readonly listenerId?: string;
  /** TLS and WSS: the certificate the peer presented, if any. */
  readonly peerCertificate?: PeerCertificateInfo;
}

/** Why an input or a connection was refused or cut; each becomes a log line and a counter. */
export type RejectReason =
  | 'too-large'
  | 'bad-content-length'
  | 'missing-content-length'
  | 'per-ip-cap'
  | 'max-connections'
  | 'handshake-timeout'
  | 'tls-handshake-failed'
  | 'idle-timeout'
  | 'message-timeout'
  | 'write-backlog'
  | 'ws-protocol'
  | 'ws-not-upgrade'
  | 'ws-bad-frame';

/** A refused input or connection, as reported on the `rejected` event. */
export interface Rejection {
  readonly reason: RejectReason;
  readonly transport: SipTransport;
  readonly remote: FlowAddress;
  /** The listener that received the input, when there is one. */
  readonly listenerId?: string;
  /** The flow that was cut, when one had been established. */
  readonly flowId?: string;
}

/** Why a flow closed. */
export type FlowCloseReason =
  | RejectReason
  | 'remote-closed'
  | 'socket-error'
  | 'local-close'
  | 'listener-closed'
  | 'layer-closed';

/** Limits that keep hostile peers from exhausting memory, sockets and timers. */
export interface TransportLimits {
  /** Largest SIP message, any transport. */
  readonly maxMessageBytes: number;
  /** Inbound connections (including ones still handshaking) from one IP address. */
  readonly maxConnectionsPerIp: number;
  /** Inbound connections in total (including ones still handshaking). */
  readonly maxInboundConnections: number;
  /** Time from TCP accept to an established TLS session and/or WebSocket upgrade. */
  readonly handshakeTimeoutMs: number;
  /** A stream flow with no traffic in either direction for this long is closed. */
  readonly idleTimeoutMs: number;
  /** A message once started on a stream must be complete within this time (slow-send defence). */
  readonly messageTimeoutMs: number;
  /** Outgoing `connect()` must be established (TCP, TLS and WS handshakes) within this time. */
  readonly connectTimeoutMs: number;
  /** A flow whose peer does not read and lets this many bytes queue up is closed. */
  readonly maxWriteBufferBytes: number;
}

/** Defaults for {@link TransportLimits}. */
export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = Object.freeze({
  maxMessageBytes: 65536,
  maxConnectionsPerIp: 50,
  maxInboundConnections: 10000,
  handshakeTimeoutMs: 5000,
  idleTimeoutMs: 10 * 60 * 1000,
  messageTimeoutMs: 30000,
  connectTimeoutMs: 10000,
  maxWriteBufferBytes: 1024 * 1024,
});

/** Strips IPv4-mapped IPv6 prefixes so that one peer has one address. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** `host:port`, with brackets around IPv6 literals. */
export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The exposed subset of a node peer certificate, or undefined when none was presented. */
export function toPeerCertificateInfo(
  certificate: PeerCertificate | Record<string, never>,
  authorized: boolean,
  authorizationError: Error | null | undefined,
): PeerCertificateInfo | undefined {
  if (!('raw' in certificate)) return undefined;
  const info: PeerCertificateInfo = {
    raw: certificate.raw,
    subject: { ...(certificate.subject as unknown as Record<string, string | string[]>) },
    issuer: { ...(certificate.issuer as unknown as Record<string, string | string[]>) },
    serialNumber: certificate.serialNumber,
    fingerprint256: certificate.fingerprint256,
    validFrom: certificate.valid_from,
    validTo: certificate.valid_to,
    authorized,
    ...(certificate.subjectaltname === undefined
      ? {}
      : { subjectAltName: certificate.subjectaltname }),
    ...(authorizationError ? { authorizationError: String(authorizationError) } : {}),
  };
  return info;
}

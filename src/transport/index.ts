/**
 * SIP transports: UDP, TCP, TLS, WS and WSS listeners and connections that deliver raw
 * SIP messages with the flow they arrived on.
 */
export {
  DEFAULT_TRANSPORT_LIMITS,
  type Flow,
  type FlowAddress,
  type FlowCloseReason,
  type PeerCertificateInfo,
  type RejectReason,
  type Rejection,
  type SipTransport,
  type StreamTransport,
  type TransportLimits,
} from './flow.ts';
export type {
  ListenOptions,
  SecureSipListener,
  SipListener,
  TlsCredentials,
  TlsListenOptions,
} from './stream-listener.ts';
export type { UdpListenOptions } from './udp-listener.ts';
export {
  SipTransportLayer,
  type ConnectOptions,
  type SipTransportEvents,
  type SipTransportLayerOptions,
  type SipTransportStats,
} from './transport-layer.ts';
export { SIP_WS_SUBPROTOCOL } from './ws-connection.ts';

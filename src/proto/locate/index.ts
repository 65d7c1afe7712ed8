/** RFC 3263 SIP server location, sans-IO: DNS questions out, answers in, targets out. */
export {
  DEFAULT_PORTS,
  ServerLocator,
  normaliseHost,
  type LocateAction,
  type LocateEvent,
  type LocatorState,
  type LocatorOptions,
} from './locator.ts';
export { orderSrvRecords } from './srv.ts';
export { matchStaticRoute, type StaticRoute } from './static-route.ts';
export type {
  AddressRecord,
  DnsAnswer,
  DnsFailure,
  DnsQuery,
  DnsRecordType,
  LocateError,
  LocatedTarget,
  NaptrRecord,
  SipLocateUri,
  SipTransport,
  SrvRecord,
} from './types.ts';

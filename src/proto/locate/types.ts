/** Transports RFC 3263 location can select (RFC 7118 adds ws/wss via NAPTR). */
export type SipTransport = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

/**
 * The part of a SIP or SIPS URI that RFC 3263 location reads. Built by the caller from
 * its parsed URI; host names are compared case-insensitively.
 */
export interface SipLocateUri {
  readonly scheme: 'sip' | 'sips';
  /** Domain name, IPv4 address, or IPv6 address with or without brackets. */
  readonly host: string;
  readonly port?: number;
  /** The `transport` URI parameter, if any (`udp`, `tcp`, `tls`, `ws`, `sctp`, ...). */
  readonly transport?: string;
  /** The `maddr` URI parameter, if any. */
  readonly maddr?: string;
}

/** One place to send the request, in failover order (RFC 3263 §4.3). */
export interface LocatedTarget {
  readonly transport: SipTransport;
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** DNS record types location asks for. */
export type DnsRecordType = 'NAPTR' | 'SRV' | 'A' | 'AAAA';

/** One DNS question. */
export interface DnsQuery {
  readonly type: DnsRecordType;
  /** Lower-case, without a trailing dot. */
  readonly name: string;
}

/** A NAPTR record as `node:dns` returns it (RFC 3403 §4.1). */
export interface NaptrRecord {
  readonly order: number;
  readonly preference: number;
  readonly flags: string;
  readonly service: string;
  readonly regexp: string;
  readonly replacement: string;
}

/** An SRV record as `node:dns` returns it (RFC 2782). */
export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly name: string;
}

/** An A or AAAA record. */
export interface AddressRecord {
  readonly address: string;
  /** Seconds, when the resolver told. */
  readonly ttl?: number;
}

/** Why a DNS question got no records. */
export type DnsFailure =
  /** NOERROR with no records of the type (NODATA). */
  | 'no-data'
  /** NXDOMAIN. */
  | 'not-found'
  | 'timeout'
  /** SERVFAIL, REFUSED, malformed answer, resolver closed, ... */
  | 'server-failure';

/** The answer to one {@link DnsQuery}. */
export type DnsAnswer =
  | { readonly type: 'NAPTR'; readonly records: readonly NaptrRecord[] }
  | { readonly type: 'SRV'; readonly records: readonly SrvRecord[] }
  | { readonly type: 'A' | 'AAAA'; readonly records: readonly AddressRecord[] }
  | { readonly type: 'failure'; readonly failure: DnsFailure };

/** Why no target was found. */
export interface LocateError {
  readonly code: 'RAMPART_ERR_DNS';
  readonly reason: 'unsupported-transport' | 'invalid-uri' | 'no-targets';
  /** The DNS questions that failed, for logs. */
  readonly failures: readonly { readonly query: DnsQuery; readonly failure: DnsFailure }[];
}

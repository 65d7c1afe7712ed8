/** DNS I/O for RFC 3263 server location. */
export {
  CachingDnsResolver,
  type CachingDnsResolverOptions,
  type DnsBackend,
  type DnsQuerier,
} from './resolver.ts';
export { locateSipServer, type LocateSipServerOptions } from './locate.ts';

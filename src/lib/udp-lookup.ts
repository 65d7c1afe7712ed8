/**
 * A `lookup` for dgram sockets that answers IP literals synchronously. Node's default goes
 * through dns.lookup, which defers even a literal to the next tick: one closure and one tick
 * per datagram sent. Every address Rampart sends UDP to is a literal (peers, resolved next
 * hops); names (a bind host in the configuration) still go to dns.lookup.
 */
import { lookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import { ipv4Value } from './ipv4.ts';

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string,
  family: number,
) => void;

/** Drop-in for dgram's `lookup` option (dns.lookup's signature, one address). */
export function literalLookup(
  hostname: string,
  options: number | LookupOneOptions | undefined,
  callback: LookupCallback,
): void {
  // Every datagram sent asks: the common case (IPv4) without isIP's regular expression.
  if (ipv4Value(hostname) >= 0) {
    callback(null, hostname, 4);
    return;
  }
  const family = isIP(hostname);
  if (family !== 0) {
    callback(null, hostname, family);
    return;
  }
  const wanted = typeof options === 'number' ? options : (options?.family ?? 0);
  lookup(hostname, { family: wanted === 6 ? 6 : wanted === 4 ? 4 : 0 }, callback);
}

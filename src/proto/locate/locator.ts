import { isIPv4, isIPv6 } from 'node:net';
import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import { orderSrvRecords } from './srv.ts';
import type {
  DnsAnswer,
  DnsFailure,
  DnsQuery,
  LocateError,
  LocatedTarget,
  NaptrRecord,
  SipLocateUri,
  SipTransport,
} from './types.ts';

/** Default ports: RFC 3261 §19.1.2 (5060, 5061 for TLS); WebSocket's own (RFC 6455 §3). */
export const DEFAULT_PORTS: Readonly<Record<SipTransport, number>> = {
  udp: 5060,
  tcp: 5060,
  tls: 5061,
  ws: 80,
  wss: 443,
};

/** NAPTR service field → transport (RFC 3263 §4.1; `D2W` registered by RFC 7118). */
const NAPTR_SERVICES: Readonly<Record<string, SipTransport>> = {
  'SIP+D2U': 'udp',
  'SIP+D2T': 'tcp',
  'SIPS+D2T': 'tls',
  'SIP+D2W': 'ws',
  'SIPS+D2W': 'wss',
};

/** SRV owner-name prefix per transport (RFC 3263 §4.1); ws/wss have none. */
const SRV_PREFIX: Readonly<Partial<Record<SipTransport, string>>> = {
  udp: '_sip._udp.',
  tcp: '_sip._tcp.',
  // RFC 3263 §4.2: for TLS the service identifier is "_sips", also for a SIP URI.
  tls: '_sips._tcp.',
};

/** Options of {@link ServerLocator}. */
export interface LocatorOptions {
  /** Transports this client supports, in its order of preference. */
  readonly transports: readonly SipTransport[];
  /** Uniform random in [0, 1) for RFC 2782 weighting. Default `Math.random`. */
  readonly random?: () => number;
  /** Address families to look up, in the order their addresses are tried. Default [4, 6]. */
  readonly families?: readonly (4 | 6)[];
}

/** What the driver must do next. */
export type LocateAction =
  | { readonly type: 'query'; readonly queries: readonly DnsQuery[] }
  | { readonly type: 'done'; readonly targets: readonly LocatedTarget[] }
  | { readonly type: 'failed'; readonly error: LocateError };

/** An answer for one query of the current batch. */
export interface LocateEvent {
  readonly type: 'answer';
  readonly query: DnsQuery;
  readonly answer: DnsAnswer;
}

/** States of {@link ServerLocator}. */
export type LocatorState = 'idle' | 'naptr' | 'srv' | 'address' | 'finished';

interface SrvLeg {
  readonly transport: SipTransport;
  readonly name: string;
}

interface HostLeg {
  readonly transport: SipTransport;
  readonly host: string;
  readonly port: number;
}

/** Lower-cases a DNS name and removes a trailing dot and IPv6 brackets. */
export function normaliseHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

function queryKey(q: DnsQuery): string {
  return `${q.type} ${q.name}`;
}

function ipFamily(host: string): 4 | 6 | undefined {
  if (isIPv4(host)) return 4;
  if (isIPv6(host)) return 6;
  return undefined;
}

/**
 * RFC 3263 §4 server location as a sans-IO machine: it says which DNS questions to ask,
 * the driver asks them (in parallel, per batch) and hands back each answer, and the
 * machine ends with the ordered failover list of §4.3. One instance per lookup.
 *
 * ```ts
 * let actions = locator.start();
 * // for each {type:'query'} action: answer every query with locator.handle(...)
 * ```
 */
export class ServerLocator {
  private readonly uri: SipLocateUri;
  private readonly transports: readonly SipTransport[];
  private readonly random: () => number;
  private readonly families: readonly (4 | 6)[];
  private readonly target: string;
  private state: LocatorState = 'idle';
  private readonly pending = new Map<string, DnsQuery>();
  private readonly answers = new Map<string, DnsAnswer>();
  private readonly failures: { query: DnsQuery; failure: DnsFailure }[] = [];
  private explicitTransport: SipTransport | undefined;
  private srvLegs: SrvLeg[] = [];
  private hostLegs: HostLeg[] = [];
  /** Transport for the A/AAAA fallback when no SRV record exists (§4.1, §4.2). */
  private fallbackTransport: SipTransport | undefined;

  constructor(uri: SipLocateUri, options: LocatorOptions) {
    this.uri = uri;
    this.transports = options.transports;
    this.random = options.random ?? Math.random;
    this.families = options.families ?? [4, 6];
    // RFC 3263 §4: "TARGET [is] the value of the maddr parameter of the URI, if present,
    // otherwise, the host value of the hostport component of the URI."
    this.target = normaliseHost(uri.maddr ?? uri.host);
  }

  /** The machine's state, for logs and tests. */
  get currentState(): LocatorState {
    return this.state;
  }

  /** Starts location; call once. */
  start(): readonly LocateAction[] {
    if (this.state !== 'idle') {
      throw new RampartError(ERROR_CODES.INVALID_STATE, 'ServerLocator.start called twice');
    }
    if (this.target === '') return [this.fail('invalid-uri')];
    if (
      this.uri.port !== undefined &&
      !(Number.isInteger(this.uri.port) && this.uri.port > 0 && this.uri.port < 65536)
    ) {
      return [this.fail('invalid-uri')];
    }
    if (this.uri.transport !== undefined) {
      const transport = this.transportFromParam(this.uri.transport);
      if (transport === undefined || !this.transports.includes(transport)) {
        return [this.fail('unsupported-transport')];
      }
      // RFC 3263 §4.1: "If the URI specifies a transport protocol in the transport
      // parameter, that transport protocol SHOULD be used."
      this.explicitTransport = transport;
    }
    const family = ipFamily(this.target);
    if (family !== undefined) {
      // RFC 3263 §4.1: numeric TARGET without transport: "UDP for a SIP URI, and TCP for a
      // SIPS URI"; §4.2: "the client uses that address ... [and] the port in the URI,
      // if present, otherwise the default port for the particular transport protocol."
      const transport = this.explicitTransport ?? this.defaultTransport();
      if (transport === undefined) return [this.fail('unsupported-transport')];
      const port = this.uri.port ?? DEFAULT_PORTS[transport];
      return [this.finish([{ transport, address: this.target, port, family }])];
    }
    if (this.uri.port !== undefined) {
      // RFC 3263 §4.1: not numeric but an explicit port → "UDP for a SIP URI, and TCP for
      // a SIPS URI"; §4.2: "the client performs an A or AAAA record lookup".
      const transport = this.explicitTransport ?? this.defaultTransport();
      if (transport === undefined) return [this.fail('unsupported-transport')];
      this.hostLegs = [{ transport, host: this.target, port: this.uri.port }];
      return this.askAddresses();
    }
    if (this.explicitTransport !== undefined) {
      // RFC 3263 §4.2: transport given explicitly → "an SRV query for that specific
      // transport" (no NAPTR).
      this.fallbackTransport = this.explicitTransport;
      const prefix = SRV_PREFIX[this.explicitTransport];
      if (prefix === undefined) return this.askHostFallback();
      this.srvLegs = [{ transport: this.explicitTransport, name: prefix + this.target }];
      return this.ask(
        'srv',
        this.srvLegs.map((leg) => ({ type: 'SRV', name: leg.name })),
      );
    }
    // RFC 3263 §4.1: otherwise "the client performs a NAPTR query for the domain".
    return this.ask('naptr', [{ type: 'NAPTR', name: this.target }]);
  }

  /** Feeds the answer to one query of the current batch. */
  handle(event: LocateEvent): readonly LocateAction[] {
    const key = queryKey(event.query);
    if (!this.pending.has(key)) {
      throw new RampartError(ERROR_CODES.INVALID_STATE, `no pending query ${key}`);
    }
    this.pending.delete(key);
    this.answers.set(key, event.answer);
    if (event.answer.type === 'failure') {
      this.failures.push({ query: event.query, failure: event.answer.failure });
    }
    if (this.pending.size > 0) return [];
    switch (this.state) {
      case 'naptr':
        return this.onNaptr();
      case 'srv':
        return this.onSrv();
      case 'address':
        return this.onAddresses();
      case 'idle':
      case 'finished':
        throw new RampartError(ERROR_CODES.INVALID_STATE, `answer in state ${this.state}`);
    }
  }

  private transportFromParam(param: string): SipTransport | undefined {
    const p = param.toLowerCase();
    if (this.uri.scheme === 'sips') {
      // A SIPS URI is carried over TLS (RFC 3261 §26.2.2); transport=tcp means TLS over TCP.
      if (p === 'tcp' || p === 'tls') return 'tls';
      if (p === 'ws' || p === 'wss') return 'wss';
      return undefined;
    }
    if (p === 'udp' || p === 'tcp' || p === 'tls' || p === 'ws' || p === 'wss') return p;
    return undefined;
  }

  /** RFC 3263 §4.1: UDP for SIP, TCP (TLS) for SIPS, when nothing else says. */
  private defaultTransport(): SipTransport | undefined {
    const order: readonly SipTransport[] =
      this.uri.scheme === 'sips' ? ['tls'] : ['udp', 'tcp', 'tls'];
    return order.find((t) => this.transports.includes(t));
  }

  private ask(state: LocatorState, queries: readonly DnsQuery[]): readonly LocateAction[] {
    this.state = state;
    const unique = new Map<string, DnsQuery>();
    for (const q of queries) unique.set(queryKey(q), q);
    for (const [key, q] of unique) this.pending.set(key, q);
    return [{ type: 'query', queries: [...unique.values()] }];
  }

  private onNaptr(): readonly LocateAction[] {
    const answer = this.answers.get(queryKey({ type: 'NAPTR', name: this.target }));
    const records = answer?.type === 'NAPTR' ? answer.records : [];
    const legs = this.usableNaptr(records);
    if (legs.length > 0) {
      this.srvLegs = legs;
      this.fallbackTransport = legs[0]?.transport;
    } else {
      // RFC 3263 §4.1: "If no NAPTR records are found, the client constructs SRV queries
      // for those transport protocols it supports, and does a query for each." (A NAPTR
      // set with nothing usable is treated the same way.)
      const allowed = this.transports.filter(
        (t) => SRV_PREFIX[t] !== undefined && (this.uri.scheme === 'sip' || t === 'tls'),
      );
      this.srvLegs = allowed.map((t) => ({
        transport: t,
        name: `${SRV_PREFIX[t] ?? ''}${this.target}`,
      }));
      this.fallbackTransport = this.defaultTransport();
      if (this.srvLegs.length === 0) return this.askHostFallback();
    }
    return this.ask(
      'srv',
      this.srvLegs.map((leg) => ({ type: 'SRV', name: leg.name })),
    );
  }

  private usableNaptr(records: readonly NaptrRecord[]): SrvLeg[] {
    const sorted = [...records].sort((a, b) => a.order - b.order || a.preference - b.preference);
    const legs: SrvLeg[] = [];
    for (const r of sorted) {
      // Only terminal "S" records lead to SRV (RFC 3263 §4.1, RFC 3403 §4.1 flags).
      if (r.flags.toLowerCase() !== 's' || r.regexp !== '') continue;
      const service = r.service.toUpperCase();
      const transport = NAPTR_SERVICES[service];
      if (transport === undefined) continue;
      // RFC 3263 §4.1: "a client resolving a SIPS URI MUST discard any services that do
      // not contain "SIPS" as the protocol in the service field."
      if (this.uri.scheme === 'sips' && !service.startsWith('SIPS+')) continue;
      // RFC 3263 §4.1: "a client MUST discard any service fields that identify a
      // resolution service whose value is not "D2X", for values of X that indicate
      // transport protocols supported by the client."
      if (!this.transports.includes(transport)) continue;
      const name = normaliseHost(r.replacement);
      if (name === '') continue;
      if (!legs.some((l) => l.name === name && l.transport === transport)) {
        legs.push({ transport, name });
      }
    }
    return legs;
  }

  private onSrv(): readonly LocateAction[] {
    const hostLegs: HostLeg[] = [];
    let anySrvRecord = false;
    for (const leg of this.srvLegs) {
      const answer = this.answers.get(queryKey({ type: 'SRV', name: leg.name }));
      if (answer?.type !== 'SRV' || answer.records.length === 0) continue;
      anySrvRecord = true;
      for (const r of orderSrvRecords(answer.records, this.random)) {
        hostLegs.push({ transport: leg.transport, host: normaliseHost(r.name), port: r.port });
      }
    }
    if (!anySrvRecord) return this.askHostFallback();
    this.hostLegs = hostLegs;
    return this.askAddresses();
  }

  /**
   * RFC 3263 §4.2: "If no SRV records were found, the client performs an A or AAAA record
   * lookup of the domain name ... at the default port for that transport."
   */
  private askHostFallback(): readonly LocateAction[] {
    const transport = this.fallbackTransport ?? this.defaultTransport();
    if (transport === undefined) return [this.fail('unsupported-transport')];
    this.hostLegs = [{ transport, host: this.target, port: DEFAULT_PORTS[transport] }];
    return this.askAddresses();
  }

  private askAddresses(): readonly LocateAction[] {
    const queries: DnsQuery[] = [];
    for (const leg of this.hostLegs) {
      if (ipFamily(leg.host) !== undefined) continue;
      for (const family of this.families) {
        queries.push({ type: family === 4 ? 'A' : 'AAAA', name: leg.host });
      }
    }
    if (queries.length === 0) return this.onAddresses();
    return this.ask('address', queries);
  }

  private onAddresses(): readonly LocateAction[] {
    const targets: LocatedTarget[] = [];
    const seen = new Set<string>();
    const add = (t: LocatedTarget): void => {
      const key = `${t.transport}|${t.address}|${t.port}`;
      if (seen.has(key)) return;
      seen.add(key);
      targets.push(t);
    };
    for (const leg of this.hostLegs) {
      const literal = ipFamily(leg.host);
      if (literal !== undefined) {
        add({ transport: leg.transport, address: leg.host, port: leg.port, family: literal });
        continue;
      }
      for (const family of this.families) {
        const answer = this.answers.get(
          queryKey({ type: family === 4 ? 'A' : 'AAAA', name: leg.host }),
        );
        if (answer?.type !== 'A' && answer?.type !== 'AAAA') continue;
        for (const r of answer.records) {
          add({ transport: leg.transport, address: r.address, port: leg.port, family });
        }
      }
    }
    if (targets.length === 0) return [this.fail('no-targets')];
    return [this.finish(targets)];
  }

  private finish(targets: readonly LocatedTarget[]): LocateAction {
    this.state = 'finished';
    return { type: 'done', targets };
  }

  private fail(reason: LocateError['reason']): LocateAction {
    this.state = 'finished';
    return {
      type: 'failed',
      error: { code: ERROR_CODES.DNS, reason, failures: [...this.failures] },
    };
  }
}

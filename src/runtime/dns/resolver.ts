import { Resolver } from 'node:dns/promises';
import { systemClock, type Clock } from '../../lib/clock.ts';
import type {
  AddressRecord,
  DnsAnswer,
  DnsFailure,
  DnsQuery,
  NaptrRecord,
  SrvRecord,
} from '../../proto/locate/types.ts';

/** The resolver calls used; `node:dns/promises` `Resolver` provides them. Tests fake them. */
export interface DnsBackend {
  resolveNaptr(name: string): Promise<NaptrRecord[]>;
  resolveSrv(name: string): Promise<SrvRecord[]>;
  resolve4(name: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  resolve6(name: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  cancel(): void;
}

/** Anything that answers DNS questions without rejecting. */
export interface DnsQuerier {
  query(query: DnsQuery): Promise<DnsAnswer>;
}

/** Options of {@link CachingDnsResolver}. */
export interface CachingDnsResolverOptions {
  /** Servers as `ip` or `ip:port`, e.g. `['127.0.0.1:5353']`. Default: the system's. */
  readonly servers?: readonly string[];
  /** Timeout of one attempt, ms (c-ares). Default 2000. */
  readonly attemptTimeoutMs?: number;
  /** Attempts per server (c-ares). Default 2. */
  readonly tries?: number;
  /** Hard limit on one lookup, cache miss included, ms. Default 5000. */
  readonly lookupTimeoutMs?: number;
  /** Upper bound on caching A/AAAA answers whatever their TTL, ms. Default 300000. */
  readonly maxTtlMs?: number;
  /**
   * How long SRV and NAPTR answers are cached, ms: `node:dns` does not report their TTL,
   * so this caps it. Default 60000. 0 disables.
   */
  readonly recordTtlMs?: number;
  /** How long NXDOMAIN / NODATA answers are cached, ms. Default 10000. 0 disables. */
  readonly negativeTtlMs?: number;
  /** Most cached answers; the oldest are dropped first. Default 10000. */
  readonly maxEntries?: number;
  /** Time source for cache expiry. Default: the monotonic system clock. */
  readonly clock?: Clock;
  /** Replaces `node:dns` (tests). `servers`, `attemptTimeoutMs` and `tries` then do nothing. */
  readonly backend?: DnsBackend;
}

interface CacheEntry {
  readonly answer: DnsAnswer;
  readonly expiresAt: number;
}

const FAILURE_BY_CODE: Readonly<Record<string, DnsFailure>> = {
  ENODATA: 'no-data',
  ENOTFOUND: 'not-found',
  ETIMEOUT: 'timeout',
};

function failureOf(error: unknown): DnsFailure {
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  return FAILURE_BY_CODE[code] ?? 'server-failure';
}

function queryKey(q: DnsQuery): string {
  return `${q.type} ${q.name.toLowerCase()}`;
}

/**
 * DNS for RFC 3263 location: a `node:dns` Resolver pointed at configurable servers, with
 * a TTL-honouring answer cache, coalescing of identical lookups in flight, and a hard
 * timeout. {@link query} never rejects: failures come back as `{type: 'failure'}`.
 */
export class CachingDnsResolver implements DnsQuerier {
  private readonly backend: DnsBackend;
  private readonly clock: Clock;
  private readonly lookupTimeoutMs: number;
  private readonly maxTtlMs: number;
  private readonly recordTtlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<DnsAnswer>>();
  private isClosed = false;

  constructor(options: CachingDnsResolverOptions = {}) {
    if (options.backend !== undefined) {
      this.backend = options.backend;
    } else {
      const resolver = new Resolver({
        timeout: options.attemptTimeoutMs ?? 2000,
        tries: options.tries ?? 2,
      });
      if (options.servers !== undefined) resolver.setServers([...options.servers]);
      this.backend = resolver;
    }
    this.clock = options.clock ?? systemClock;
    this.lookupTimeoutMs = options.lookupTimeoutMs ?? 5000;
    this.maxTtlMs = options.maxTtlMs ?? 300_000;
    this.recordTtlMs = options.recordTtlMs ?? 60_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 10_000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Number of cached answers (expired ones included until next touched). */
  get cacheSize(): number {
    return this.cache.size;
  }

  /** Forgets every cached answer. */
  clearCache(): void {
    this.cache.clear();
  }

  /** Cancels lookups in flight (they answer `server-failure`) and refuses new ones. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.backend.cancel();
    this.cache.clear();
  }

  /** Answers one question, from the cache when fresh. Never rejects. */
  query(query: DnsQuery): Promise<DnsAnswer> {
    if (this.isClosed) return Promise.resolve({ type: 'failure', failure: 'server-failure' });
    const key = queryKey(query);
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      if (cached.expiresAt > this.clock.now()) return Promise.resolve(cached.answer);
      this.cache.delete(key);
    }
    const running = this.inFlight.get(key);
    if (running !== undefined) return running;
    const lookup = this.lookup(query).then((answer) => {
      this.inFlight.delete(key);
      this.store(key, answer);
      return answer;
    });
    this.inFlight.set(key, lookup);
    return lookup;
  }

  private async lookup(query: DnsQuery): Promise<DnsAnswer> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<DnsAnswer>((resolve) => {
      timer = setTimeout(() => {
        resolve({ type: 'failure', failure: 'timeout' });
      }, this.lookupTimeoutMs);
    });
    try {
      return await Promise.race([this.ask(query), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async ask(query: DnsQuery): Promise<DnsAnswer> {
    const name = query.name;
    try {
      switch (query.type) {
        case 'NAPTR':
          return { type: 'NAPTR', records: await this.backend.resolveNaptr(name) };
        case 'SRV':
          return { type: 'SRV', records: await this.backend.resolveSrv(name) };
        case 'A':
          return { type: 'A', records: await this.backend.resolve4(name, { ttl: true }) };
        case 'AAAA':
          return { type: 'AAAA', records: await this.backend.resolve6(name, { ttl: true }) };
      }
    } catch (error) {
      return { type: 'failure', failure: failureOf(error) };
    }
  }

  private ttlMs(answer: DnsAnswer): number {
    switch (answer.type) {
      case 'failure':
        return answer.failure === 'no-data' || answer.failure === 'not-found'
          ? this.negativeTtlMs
          : 0;
      case 'NAPTR':
      case 'SRV':
        return this.recordTtlMs;
      case 'A':
      case 'AAAA': {
        const ttls = answer.records.map((r: AddressRecord) => (r.ttl ?? 0) * 1000);
        return Math.min(this.maxTtlMs, ...ttls);
      }
    }
  }

  private store(key: string, answer: DnsAnswer): void {
    if (this.isClosed) return;
    const ttl = this.ttlMs(answer);
    if (ttl <= 0) return;
    this.cache.delete(key);
    this.cache.set(key, { answer, expiresAt: this.clock.now() + ttl });
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next();
      if (oldest.done === true) break;
      this.cache.delete(oldest.value);
    }
  }
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../lib/clock.ts';
import type { NaptrRecord, SrvRecord } from '../../proto/locate/types.ts';
import { locateSipServer } from './locate.ts';
import { CachingDnsResolver, type DnsBackend } from './resolver.ts';

class FakeBackend implements DnsBackend {
  calls: string[] = [];
  a = new Map<string, { address: string; ttl: number }[]>();
  srv = new Map<string, SrvRecord[]>();
  hang = false;
  cancelled = 0;

  private answer<T>(kind: string, name: string, table?: Map<string, T[]>): Promise<T[]> {
    this.calls.push(`${kind} ${name}`);
    if (this.hang) return new Promise(() => undefined);
    const records = table?.get(name);
    if (records !== undefined) return Promise.resolve(records);
    const code = name.startsWith('servfail')
      ? 'ESERVFAIL'
      : this.a.has(name)
        ? 'ENODATA'
        : 'ENOTFOUND';
    return Promise.reject(Object.assign(new Error(code), { code }));
  }

  resolveNaptr(name: string): Promise<NaptrRecord[]> {
    return this.answer<NaptrRecord>('NAPTR', name);
  }
  resolveSrv(name: string): Promise<SrvRecord[]> {
    return this.answer('SRV', name, this.srv);
  }
  resolve4(name: string): Promise<{ address: string; ttl: number }[]> {
    return this.answer('A', name, this.a);
  }
  resolve6(name: string): Promise<{ address: string; ttl: number }[]> {
    return this.answer('AAAA', name);
  }
  cancel(): void {
    this.cancelled++;
  }
}

describe('CachingDnsResolver', () => {
  it('caches A answers for their TTL, capped by maxTtlMs', async () => {
    const backend = new FakeBackend();
    backend.a.set('a.test', [
      { address: '192.0.2.1', ttl: 30 },
      { address: '192.0.2.2', ttl: 20 },
    ]);
    const clock = new FakeClock();
    const resolver = new CachingDnsResolver({ backend, clock });
    const q = { type: 'A', name: 'a.test' } as const;
    const first = await resolver.query(q);
    assert.equal(first.type, 'A');
    await resolver.query(q);
    assert.equal(backend.calls.length, 1);
    clock.advance(19_999);
    await resolver.query(q);
    assert.equal(backend.calls.length, 1);
    clock.advance(1);
    await resolver.query(q);
    assert.equal(backend.calls.length, 2, 'expired at the smallest TTL');
    const capped = new CachingDnsResolver({ backend, clock, maxTtlMs: 5 });
    await capped.query(q);
    clock.advance(5);
    await capped.query(q);
    assert.equal(backend.calls.length, 4);
  });

  it('caches SRV for recordTtlMs and negative answers for negativeTtlMs, not server failures', async () => {
    const backend = new FakeBackend();
    backend.srv.set('_sip._udp.x.test', [{ name: 'a.test', port: 5060, priority: 1, weight: 1 }]);
    const clock = new FakeClock();
    const resolver = new CachingDnsResolver({
      backend,
      clock,
      recordTtlMs: 100,
      negativeTtlMs: 50,
    });
    const srv = { type: 'SRV', name: '_sip._udp.x.test' } as const;
    const missing = { type: 'NAPTR', name: 'nope.test' } as const;
    const broken = { type: 'NAPTR', name: 'servfail.test' } as const;
    assert.deepEqual(await resolver.query(missing), { type: 'failure', failure: 'not-found' });
    assert.deepEqual(await resolver.query(broken), { type: 'failure', failure: 'server-failure' });
    await resolver.query(srv);
    await resolver.query(srv);
    await resolver.query(missing);
    await resolver.query(broken);
    assert.deepEqual(backend.calls, [
      'NAPTR nope.test',
      'NAPTR servfail.test',
      'SRV _sip._udp.x.test',
      'NAPTR servfail.test',
    ]);
    clock.advance(50);
    await resolver.query(missing);
    clock.advance(50);
    await resolver.query(srv);
    assert.equal(backend.calls.length, 6);
  });

  it('coalesces identical lookups in flight', async () => {
    const backend = new FakeBackend();
    backend.a.set('a.test', [{ address: '192.0.2.1', ttl: 0 }]);
    const resolver = new CachingDnsResolver({ backend });
    const q = { type: 'A', name: 'A.test' } as const;
    const [x, y] = await Promise.all([
      resolver.query(q),
      resolver.query({ type: 'A', name: 'a.test' }),
    ]);
    assert.deepEqual(x, y);
    assert.equal(backend.calls.length, 1);
  });

  it('times out a lookup that never answers, and close() cancels', async () => {
    const backend = new FakeBackend();
    backend.hang = true;
    const resolver = new CachingDnsResolver({ backend, lookupTimeoutMs: 20 });
    const started = performance.now();
    assert.deepEqual(await resolver.query({ type: 'SRV', name: 'slow.test' }), {
      type: 'failure',
      failure: 'timeout',
    });
    assert.ok(performance.now() - started >= 15);
    resolver.close();
    resolver.close();
    assert.equal(backend.cancelled, 1);
    assert.equal(resolver.closed, true);
    assert.deepEqual(await resolver.query({ type: 'A', name: 'a.test' }), {
      type: 'failure',
      failure: 'server-failure',
    });
  });
});

describe('locateSipServer with a fake backend', () => {
  it('drives the locator batch by batch', async () => {
    const backend = new FakeBackend();
    backend.srv.set('_sip._udp.x.test', [
      { name: 'pbx.x.test', port: 5070, priority: 1, weight: 0 },
    ]);
    backend.a.set('pbx.x.test', [{ address: '192.0.2.8', ttl: 60 }]);
    const resolver = new CachingDnsResolver({ backend });
    const r = await locateSipServer(
      { scheme: 'sip', host: 'x.test' },
      { resolver, transports: ['udp'] },
    );
    assert.ok(r.ok);
    assert.deepEqual(r.value, [{ transport: 'udp', address: '192.0.2.8', port: 5070, family: 4 }]);
    assert.deepEqual(backend.calls, [
      'NAPTR x.test',
      'SRV _sip._udp.x.test',
      'A pbx.x.test',
      'AAAA pbx.x.test',
    ]);
  });
});

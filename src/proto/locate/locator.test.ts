import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerLocator, type LocatorOptions } from './locator.ts';
import { orderSrvRecords } from './srv.ts';
import { matchStaticRoute } from './static-route.ts';
import type {
  DnsAnswer,
  DnsQuery,
  LocateError,
  LocatedTarget,
  SipLocateUri,
  SrvRecord,
} from './types.ts';

/** Canned zone: "TYPE name" → answer; anything else is NXDOMAIN. */
type Zone = Record<string, DnsAnswer>;

interface Run {
  readonly asked: string[][];
  readonly targets?: readonly LocatedTarget[];
  readonly error?: LocateError;
}

function run(uri: SipLocateUri, zone: Zone, options?: Partial<LocatorOptions>): Run {
  const locator = new ServerLocator(uri, {
    transports: ['udp', 'tcp', 'tls'],
    random: () => 0,
    ...options,
  });
  const asked: string[][] = [];
  let actions = locator.start();
  for (let rounds = 0; rounds < 10; rounds++) {
    const action = actions[0];
    assert.ok(action !== undefined && actions.length === 1);
    if (action.type === 'done') return { asked, targets: action.targets };
    if (action.type === 'failed') return { asked, error: action.error };
    asked.push(action.queries.map((q) => `${q.type} ${q.name}`));
    let next: readonly ReturnType<ServerLocator['start']>[number][] = [];
    for (const query of action.queries) {
      const answer: DnsAnswer = zone[`${query.type} ${query.name}`] ?? {
        type: 'failure',
        failure: 'not-found',
      };
      next = locator.handle({ type: 'answer', query, answer });
    }
    actions = next;
  }
  assert.fail('locator did not finish');
}

const a = (...addresses: string[]): DnsAnswer => ({
  type: 'A',
  records: addresses.map((address) => ({ address, ttl: 60 })),
});
const aaaa = (...addresses: string[]): DnsAnswer => ({
  type: 'AAAA',
  records: addresses.map((address) => ({ address, ttl: 60 })),
});
const srv = (...records: [string, number, number?, number?][]): DnsAnswer => ({
  type: 'SRV',
  records: records.map(([name, port, priority = 10, weight = 0]) => ({
    name,
    port,
    priority,
    weight,
  })),
});
const naptr = (...records: [number, number, string, string][]): DnsAnswer => ({
  type: 'NAPTR',
  records: records.map(([order, preference, service, replacement]) => ({
    order,
    preference,
    flags: 'S',
    service,
    regexp: '',
    replacement,
  })),
});
const t = (
  transport: LocatedTarget['transport'],
  address: string,
  port: number,
  family: 4 | 6 = 4,
): LocatedTarget => ({
  transport,
  address,
  port,
  family,
});

describe('RFC 3263 §4.1/§4.2 selection', () => {
  it('numeric IPv4 target: no DNS, UDP default port for sip', () => {
    const r = run({ scheme: 'sip', host: '192.0.2.7' }, {});
    assert.deepEqual(r.asked, []);
    assert.deepEqual(r.targets, [t('udp', '192.0.2.7', 5060)]);
  });

  it('numeric IPv6 target in brackets, sips: TLS on 5061; port and transport honoured', () => {
    assert.deepEqual(run({ scheme: 'sips', host: '[2001:DB8::1]' }, {}).targets, [
      t('tls', '2001:db8::1', 5061, 6),
    ]);
    assert.deepEqual(
      run({ scheme: 'sip', host: '192.0.2.7', port: 5080, transport: 'TCP' }, {}).targets,
      [t('tcp', '192.0.2.7', 5080)],
    );
  });

  it('maddr replaces the host as TARGET (§4)', () => {
    const r = run({ scheme: 'sip', host: 'example.com', maddr: '198.51.100.1' }, {});
    assert.deepEqual(r.targets, [t('udp', '198.51.100.1', 5060)]);
  });

  it('explicit port: A/AAAA only, UDP for sip and TLS for sips', () => {
    const zone = { 'A example.com': a('192.0.2.1'), 'AAAA example.com': aaaa('2001:db8::1') };
    const r = run({ scheme: 'sip', host: 'Example.COM.', port: 5070 }, zone);
    assert.deepEqual(r.asked, [['A example.com', 'AAAA example.com']]);
    assert.deepEqual(r.targets, [t('udp', '192.0.2.1', 5070), t('udp', '2001:db8::1', 5070, 6)]);
    const s = run({ scheme: 'sips', host: 'example.com', port: 5071 }, zone, { families: [6] });
    assert.deepEqual(s.targets, [t('tls', '2001:db8::1', 5071, 6)]);
  });

  it('explicit transport without port: SRV for that transport only, no NAPTR', () => {
    const zone = {
      'SRV _sip._tcp.example.com': srv(['pbx.example.com', 5090]),
      'A pbx.example.com': a('192.0.2.9'),
    };
    const r = run({ scheme: 'sip', host: 'example.com', transport: 'tcp' }, zone);
    assert.deepEqual(r.asked, [
      ['SRV _sip._tcp.example.com'],
      ['A pbx.example.com', 'AAAA pbx.example.com'],
    ]);
    assert.deepEqual(r.targets, [t('tcp', '192.0.2.9', 5090)]);
    // A SIP URI with transport=tls uses "_sips" (§4.2).
    const tls = run(
      { scheme: 'sip', host: 'example.com', transport: 'tls' },
      {
        'A example.com': a('192.0.2.1'),
      },
    );
    assert.deepEqual(tls.asked[0], ['SRV _sips._tcp.example.com']);
    assert.deepEqual(tls.targets, [t('tls', '192.0.2.1', 5061)]);
  });

  it('NAPTR → SRV → A, in NAPTR order then preference, SRV priority within', () => {
    const zone = {
      'NAPTR example.com': naptr(
        [20, 10, 'SIP+D2U', '_sip._udp.example.com'],
        [10, 20, 'SIP+D2T', '_sip._tcp.example.com'],
        [10, 10, 'SIPS+D2T', '_sips._tcp.example.com'],
      ),
      'SRV _sips._tcp.example.com': srv(['b.example.com', 5061, 20], ['a.example.com', 5061, 10]),
      'SRV _sip._tcp.example.com': srv(['a.example.com', 5060]),
      'SRV _sip._udp.example.com': srv(['a.example.com', 5060]),
      'A a.example.com': a('192.0.2.1'),
      'A b.example.com': a('192.0.2.2'),
    };
    const r = run({ scheme: 'sip', host: 'example.com' }, zone);
    assert.deepEqual(r.asked, [
      ['NAPTR example.com'],
      ['SRV _sips._tcp.example.com', 'SRV _sip._tcp.example.com', 'SRV _sip._udp.example.com'],
      ['A a.example.com', 'AAAA a.example.com', 'A b.example.com', 'AAAA b.example.com'],
    ]);
    assert.deepEqual(r.targets, [
      t('tls', '192.0.2.1', 5061),
      t('tls', '192.0.2.2', 5061),
      t('tcp', '192.0.2.1', 5060),
      t('udp', '192.0.2.1', 5060),
    ]);
  });

  it('NAPTR filtering: sips keeps only SIPS services; unsupported D2X discarded', () => {
    const zone = {
      'NAPTR example.com': naptr(
        [10, 10, 'SIP+D2U', '_sip._udp.example.com'],
        [20, 10, 'SIPS+D2T', '_sips._tcp.example.com'],
        [30, 10, 'SIP+D2S', '_sip._sctp.example.com'],
      ),
      'SRV _sips._tcp.example.com': srv(['a.example.com', 5061]),
      'SRV _sip._udp.example.com': srv(['a.example.com', 5060]),
      'A a.example.com': a('192.0.2.1'),
    };
    const sips = run({ scheme: 'sips', host: 'example.com' }, zone);
    assert.deepEqual(sips.asked[1], ['SRV _sips._tcp.example.com']);
    assert.deepEqual(sips.targets, [t('tls', '192.0.2.1', 5061)]);
    const udpOnly = run({ scheme: 'sip', host: 'example.com' }, zone, { transports: ['udp'] });
    assert.deepEqual(udpOnly.asked[1], ['SRV _sip._udp.example.com']);
    assert.deepEqual(udpOnly.targets, [t('udp', '192.0.2.1', 5060)]);
  });

  it('no NAPTR: SRV for each supported transport (sips: _sips._tcp only)', () => {
    const zone = {
      'SRV _sip._udp.example.com': srv(['a.example.com', 5062]),
      'A a.example.com': a('192.0.2.1'),
    };
    const r = run({ scheme: 'sip', host: 'example.com' }, zone, {
      transports: ['tcp', 'udp', 'tls'],
    });
    assert.deepEqual(r.asked.slice(0, 2), [
      ['NAPTR example.com'],
      ['SRV _sip._tcp.example.com', 'SRV _sip._udp.example.com', 'SRV _sips._tcp.example.com'],
    ]);
    assert.deepEqual(r.targets, [t('udp', '192.0.2.1', 5062)]);
    const s = run({ scheme: 'sips', host: 'example.com' }, { 'A example.com': a('192.0.2.3') });
    assert.deepEqual(s.asked[1], ['SRV _sips._tcp.example.com']);
    assert.deepEqual(s.targets, [t('tls', '192.0.2.3', 5061)]);
  });

  it('no NAPTR and no SRV: A/AAAA with the default port, UDP for sip', () => {
    const zone = { 'A example.com': a('192.0.2.5'), 'AAAA example.com': aaaa('2001:db8::5') };
    const r = run({ scheme: 'sip', host: 'example.com' }, zone);
    assert.deepEqual(r.asked.at(-1), ['A example.com', 'AAAA example.com']);
    assert.deepEqual(r.targets, [t('udp', '192.0.2.5', 5060), t('udp', '2001:db8::5', 5060, 6)]);
    const v6first = run({ scheme: 'sip', host: 'example.com' }, zone, { families: [6, 4] });
    assert.deepEqual(v6first.targets?.[0], t('udp', '2001:db8::5', 5060, 6));
  });

  it('NAPTR whose SRV is empty falls back to A with the NAPTR transport', () => {
    const zone = {
      'NAPTR example.com': naptr([10, 10, 'SIP+D2T', '_sip._tcp.example.com']),
      'A example.com': a('192.0.2.5'),
    };
    assert.deepEqual(run({ scheme: 'sip', host: 'example.com' }, zone).targets, [
      t('tcp', '192.0.2.5', 5060),
    ]);
  });

  it('SRV target "." means not available: no A fallback', () => {
    const zone = {
      'SRV _sip._udp.example.com': srv(['.', 0]),
      'A example.com': a('192.0.2.5'),
    };
    const r = run({ scheme: 'sip', host: 'example.com' }, zone, { transports: ['udp'] });
    assert.equal(r.error?.reason, 'no-targets');
  });

  it('fails with the DNS failures when nothing resolves', () => {
    const r = run({ scheme: 'sip', host: 'nowhere.example' }, {}, { transports: ['udp'] });
    assert.ok(r.error !== undefined);
    assert.equal(r.error.code, 'RAMPART_ERR_DNS');
    assert.equal(r.error.reason, 'no-targets');
    assert.deepEqual(
      r.error.failures.map((f) => `${f.query.type} ${f.query.name} ${f.failure}`),
      [
        'NAPTR nowhere.example not-found',
        'SRV _sip._udp.nowhere.example not-found',
        'A nowhere.example not-found',
        'AAAA nowhere.example not-found',
      ],
    );
  });

  it('refuses transports it does not support or that sips cannot use', () => {
    for (const uri of [
      { scheme: 'sip', host: 'example.com', transport: 'sctp' },
      { scheme: 'sips', host: 'example.com', transport: 'udp' },
      { scheme: 'sip', host: 'example.com', transport: 'ws' },
    ] as const) {
      assert.equal(run(uri, {}).error?.reason, 'unsupported-transport', JSON.stringify(uri));
    }
    assert.equal(
      run({ scheme: 'sips', host: '192.0.2.1' }, {}, { transports: ['udp'] }).error?.reason,
      'unsupported-transport',
    );
    assert.equal(
      run({ scheme: 'sip', host: 'example.com', port: 70000 }, {}).error?.reason,
      'invalid-uri',
    );
  });

  it('throws on answers to questions it did not ask (driver bug)', () => {
    const locator = new ServerLocator(
      { scheme: 'sip', host: 'example.com' },
      { transports: ['udp'] },
    );
    locator.start();
    const query: DnsQuery = { type: 'A', name: 'other.example' };
    assert.throws(() => locator.handle({ type: 'answer', query, answer: a('192.0.2.1') }), {
      code: 'RAMPART_ERR_INVALID_STATE',
    });
  });
});

describe('RFC 2782 SRV ordering', () => {
  const rec = (name: string, priority: number, weight: number): SrvRecord => ({
    name,
    priority,
    weight,
    port: 5060,
  });

  it('orders by priority, then weighted random; weight 0 first in the running sum', () => {
    const records = [rec('c', 20, 0), rec('a', 10, 10), rec('b', 10, 30), rec('z', 10, 0)];
    // random 0 → pick 0 → the first weight-0 record, then sum 40: pick 0 → a, then b.
    assert.deepEqual(
      orderSrvRecords(records, () => 0).map((r) => r.name),
      ['z', 'a', 'b', 'c'],
    );
    // random ~1 → the last running sum: b (weight 30) before a.
    assert.deepEqual(
      orderSrvRecords(records, () => 0.999).map((r) => r.name),
      ['b', 'a', 'z', 'c'],
    );
  });

  it('approximates the weights over many draws', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const records = [rec('light', 1, 10), rec('heavy', 1, 90)];
    let heavyFirst = 0;
    for (let i = 0; i < 10_000; i++) {
      if (orderSrvRecords(records, random)[0]?.name === 'heavy') heavyFirst++;
    }
    assert.ok(heavyFirst > 8700 && heavyFirst < 9300, `heavy first ${heavyFirst} times`);
  });

  it('drops "." targets', () => {
    assert.deepEqual(orderSrvRecords([rec('.', 0, 0)], Math.random), []);
  });
});

describe('matchStaticRoute', () => {
  const routes = [
    { domain: '*', hop: 'default' },
    { domain: '*.example.com', hop: 'wild' },
    { domain: '*.eu.example.com', hop: 'eu' },
    { domain: 'Example.com.', hop: 'exact' },
  ];

  it('prefers exact, then longest wildcard, then *', () => {
    assert.equal(matchStaticRoute(routes, 'example.com')?.hop, 'exact');
    assert.equal(matchStaticRoute(routes, 'sip.EU.example.com')?.hop, 'eu');
    assert.equal(matchStaticRoute(routes, 'us.example.com')?.hop, 'wild');
    assert.equal(matchStaticRoute(routes, 'example.org')?.hop, 'default');
    assert.equal(matchStaticRoute(routes.slice(1), 'example.org'), undefined);
    assert.equal(matchStaticRoute(routes.slice(1, 2), 'example.com'), undefined);
  });
});

/**
 * RFC 3263 location against a real DNS server: Debian's dnsmasq on 127.0.0.1, started
 * here with the test zone on its command line and killed afterwards.
 * Needs the Debian package `dnsmasq`; without it the test fails (it never skips).
 */

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { after, before, describe, it } from 'node:test';
import type { Result } from '../../src/lib/result.ts';
import type {
  DnsAnswer,
  DnsQuery,
  LocateError,
  LocatedTarget,
  SipLocateUri,
  SipTransport,
} from '../../src/proto/locate/types.ts';
import { locateSipServer } from '../../src/runtime/dns/locate.ts';
import { CachingDnsResolver, type DnsQuerier } from '../../src/runtime/dns/resolver.ts';

const ZONE = [
  '--local=/test/',
  '--local-ttl=60',
  // NAPTR → SRV → A/AAAA. dnsmasq: <name>,<order>,<preference>,<flags>,<service>,<regexp>,<replacement>
  '--naptr-record=naptr.test,20,10,s,SIP+D2U,,_sip._udp.naptr.test',
  '--naptr-record=naptr.test,10,10,S,SIPS+D2T,,_sips._tcp.naptr.test',
  '--naptr-record=naptr.test,30,10,S,SIP+D2T,,_sip._tcp.naptr.test',
  // srv-host: <name>,<target>,<port>,<priority>,<weight>
  '--srv-host=_sips._tcp.naptr.test,tls2.naptr.test,5063,20,0',
  '--srv-host=_sips._tcp.naptr.test,tls1.naptr.test,5061,10,0',
  '--srv-host=_sip._udp.naptr.test,udp.naptr.test,5060,10,0',
  '--srv-host=_sip._tcp.naptr.test,udp.naptr.test,5062,10,0',
  '--host-record=tls1.naptr.test,127.0.0.11',
  '--host-record=tls2.naptr.test,127.0.0.13',
  '--host-record=udp.naptr.test,127.0.0.12,::1',
  // SRV without NAPTR.
  '--srv-host=_sip._tcp.srvonly.test,pbx.srvonly.test,5080,10,0',
  '--srv-host=_sip._udp.srvonly.test,pbx.srvonly.test,5090,10,0',
  '--host-record=pbx.srvonly.test,127.0.0.21',
  // A only.
  '--host-record=aonly.test,127.0.0.31',
  '--host-record=ready.test,127.0.0.99',
];

function findDnsmasq(): string {
  for (const candidate of ['dnsmasq', '/usr/sbin/dnsmasq', '/sbin/dnsmasq']) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  assert.fail(
    'dnsmasq is not installed: this integration test needs the Debian package "dnsmasq" ' +
      '(apt-get install -y dnsmasq)',
  );
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => {
    socket.close(() => {
      resolve();
    });
  });
  return port;
}

interface RunningDnsmasq {
  readonly child: ChildProcess;
  readonly port: number;
  readonly log: () => string;
}

async function startDnsmasq(binary: string): Promise<RunningDnsmasq> {
  let lastLog = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freeUdpPort();
    const child = spawn(
      binary,
      [
        `--port=${port}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--no-resolv',
        '--no-hosts',
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        '--pid-file=',
        '--log-facility=-',
        ...ZONE,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const probe = new Resolver({ timeout: 200, tries: 1 });
    probe.setServers([`127.0.0.1:${port}`]);
    for (let i = 0; i < 50 && child.exitCode === null; i++) {
      try {
        const ready = await probe.resolve4('ready.test');
        if (ready[0] === '127.0.0.99') return { child, port, log: () => log };
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    child.kill('SIGKILL');
    lastLog = log;
  }
  assert.fail(`dnsmasq did not start:\n${lastLog}`);
}

async function stopDnsmasq(server: RunningDnsmasq): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/** Records every question asked, to check which RFC 3263 branch ran. */
class RecordingQuerier implements DnsQuerier {
  readonly asked: string[] = [];
  private readonly inner: DnsQuerier;

  constructor(inner: DnsQuerier) {
    this.inner = inner;
  }

  query(query: DnsQuery): Promise<DnsAnswer> {
    this.asked.push(`${query.type} ${query.name}`);
    return this.inner.query(query);
  }
}

const t = (
  transport: LocatedTarget['transport'],
  address: string,
  port: number,
  family: 4 | 6 = 4,
): LocatedTarget => ({ transport, address, port, family });

describe('RFC 3263 location against dnsmasq on 127.0.0.1', () => {
  let server: RunningDnsmasq;
  let resolver: CachingDnsResolver;

  before(async () => {
    server = await startDnsmasq(findDnsmasq());
    resolver = new CachingDnsResolver({
      servers: [`127.0.0.1:${server.port}`],
      attemptTimeoutMs: 500,
      tries: 1,
      lookupTimeoutMs: 2000,
    });
  });

  after(async () => {
    resolver.close();
    await stopDnsmasq(server);
  });

  async function locate(
    uri: SipLocateUri,
    transports: readonly SipTransport[] = ['udp', 'tcp', 'tls'],
  ): Promise<{ result: Result<readonly LocatedTarget[], LocateError>; asked: string[] }> {
    const recorder = new RecordingQuerier(resolver);
    const result = await locateSipServer(uri, { resolver: recorder, transports, random: () => 0 });
    return { result, asked: recorder.asked };
  }

  it('NAPTR → SRV → A/AAAA in NAPTR order, SRV priority within', async () => {
    const { result, asked } = await locate({ scheme: 'sip', host: 'naptr.test' });
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.value, [
      t('tls', '127.0.0.11', 5061),
      t('tls', '127.0.0.13', 5063),
      t('udp', '127.0.0.12', 5060),
      t('udp', '::1', 5060, 6),
      t('tcp', '127.0.0.12', 5062),
      t('tcp', '::1', 5062, 6),
    ]);
    assert.equal(asked[0], 'NAPTR naptr.test');
  });

  it('sips keeps only SIPS+D2T', async () => {
    const { result } = await locate({ scheme: 'sips', host: 'naptr.test' });
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.value, [t('tls', '127.0.0.11', 5061), t('tls', '127.0.0.13', 5063)]);
  });

  it('SRV only (no NAPTR): _sip._udp and _sip._tcp for the transports supported', async () => {
    const { result, asked } = await locate({ scheme: 'sip', host: 'srvonly.test' }, ['udp', 'tcp']);
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.value, [t('udp', '127.0.0.21', 5090), t('tcp', '127.0.0.21', 5080)]);
    assert.deepEqual(asked.slice(0, 3), [
      'NAPTR srvonly.test',
      'SRV _sip._udp.srvonly.test',
      'SRV _sip._tcp.srvonly.test',
    ]);
  });

  it('A only: default port, UDP for sip and TLS for sips', async () => {
    const sip = await locate({ scheme: 'sip', host: 'aonly.test' });
    assert.ok(sip.result.ok, JSON.stringify(sip.result));
    assert.deepEqual(sip.result.value, [t('udp', '127.0.0.31', 5060)]);
    assert.deepEqual(sip.asked.slice(-2), ['A aonly.test', 'AAAA aonly.test']);
    const sips = await locate({ scheme: 'sips', host: 'aonly.test' });
    assert.ok(sips.result.ok, JSON.stringify(sips.result));
    assert.deepEqual(sips.result.value, [t('tls', '127.0.0.31', 5061)]);
  });

  it('explicit port: A/AAAA only, no NAPTR or SRV', async () => {
    const { result, asked } = await locate({ scheme: 'sip', host: 'udp.naptr.test', port: 5999 });
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.value, [t('udp', '127.0.0.12', 5999), t('udp', '::1', 5999, 6)]);
    assert.deepEqual(asked, ['A udp.naptr.test', 'AAAA udp.naptr.test']);
  });

  it('an unknown domain fails with NXDOMAIN reported', async () => {
    const { result } = await locate({ scheme: 'sip', host: 'missing.test' }, ['udp']);
    assert.ok(!result.ok);
    assert.equal(result.error.reason, 'no-targets');
    assert.ok(result.error.failures.some((f) => f.failure === 'not-found'));
  });

  it('answers from its cache once the server is gone; a cold resolver times out', async () => {
    await stopDnsmasq(server);
    const cached = await locate({ scheme: 'sip', host: 'naptr.test' });
    assert.ok(cached.result.ok, JSON.stringify(cached.result));
    assert.equal(cached.result.value.length, 6);
    const cold = new CachingDnsResolver({
      servers: [`127.0.0.1:${server.port}`],
      attemptTimeoutMs: 200,
      tries: 1,
      lookupTimeoutMs: 1000,
    });
    try {
      const result = await locateSipServer(
        { scheme: 'sip', host: 'aonly.test', port: 5060 },
        { resolver: cold, transports: ['udp'] },
      );
      assert.ok(!result.ok);
      assert.ok(
        result.error.failures.every(
          (f) => f.failure === 'timeout' || f.failure === 'server-failure',
        ),
        JSON.stringify(result.error),
      );
    } finally {
      cold.close();
    }
  });
});

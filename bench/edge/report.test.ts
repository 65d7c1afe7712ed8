import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  countPongs,
  isClientReport,
  perConnection,
  resultsDate,
  sourceAddress,
  summaryLines,
  usersCsv,
} from './report.ts';
import { kamailioEdgeConfig, rampartEdgeConfig } from './servers.ts';

test('sourceAddress spreads connections round robin over 127.0.0.2…', () => {
  assert.equal(sourceAddress(0, 100), '127.0.0.2');
  assert.equal(sourceAddress(99, 100), '127.0.0.101');
  assert.equal(sourceAddress(100, 100), '127.0.0.2');
  assert.equal(sourceAddress(7, 1), '127.0.0.2');
  assert.equal(sourceAddress(249, 250), '127.0.0.251');
  assert.throws(() => sourceAddress(0, 0), RangeError);
  assert.throws(() => sourceAddress(0, 251), RangeError, 'would leave 127.0.0.0/24');
  assert.throws(() => sourceAddress(-1, 10), RangeError);
});

test('usersCsv: a SEQUENTIAL injection file of padded user names', () => {
  assert.equal(usersCsv(3), 'SEQUENTIAL\nu000000\nu000001\nu000002\n');
  assert.equal(usersCsv(10_000).trimEnd().split('\n').at(-1), 'u009999');
  assert.throws(() => usersCsv(0), RangeError);
  assert.throws(() => usersCsv(1.5), RangeError);
});

test('countPongs counts CRLFs, not bytes (RFC 5626 §4.4.1 pong = one CRLF)', () => {
  assert.equal(countPongs(''), 0);
  assert.equal(countPongs('\r\n'), 1);
  assert.equal(countPongs('\r\n\r\n'), 2);
  assert.equal(countPongs('\r'), 0);
  assert.equal(countPongs('\n\r\n\r'), 1);
});

test('perConnection divides the growth and refuses to divide by nothing', () => {
  assert.equal(perConnection(1000, 51_000, 1000), 50);
  assert.equal(perConnection(1000, 500, 10), -50, 'a shrink is reported as it is');
  assert.equal(perConnection(1000, 51_000, 0), null);
  assert.equal(perConnection(undefined, 51_000, 10), null);
  assert.equal(perConnection(1000, undefined, 10), null);
});

test('isClientReport accepts only the two report types', () => {
  assert.ok(isClientReport({ type: 'checked', open: 1, ponged: 1, closedByServer: 0 }));
  assert.ok(isClientReport({ type: 'opened' }));
  assert.ok(isClientReport({ type: 'status', open: 1, closedByServer: 0 }));
  assert.ok(!isClientReport({ type: 'open', count: 1 }));
  assert.ok(!isClientReport(null));
  assert.ok(!isClientReport('opened'));
});

test('resultsDate is the UTC day', () => {
  assert.equal(resultsDate(new Date('2026-11-29T23:59:59Z')), '2026-11-29');
});

test('summaryLines prints each edge, then rampart/other ratios', () => {
  const lines = summaryLines([
    {
      name: 'rampart',
      registerPerSecond: 3000,
      messagePerSecond: 1500,
      memory: {
        connections: 5000,
        baselinePssBytes: 300 * 1048576,
        pssBytesPerConnection: 40_000.4,
        rssBytesPerConnection: 41_000,
        shmBytesPerConnection: null,
      },
      errors: [],
    },
    {
      name: 'kamailio',
      registerPerSecond: 2000,
      messagePerSecond: 3000,
      memory: {
        connections: 5000,
        baselinePssBytes: 17.25 * 1048576,
        pssBytesPerConnection: 50_000,
        rssBytesPerConnection: 120_000,
        shmBytesPerConnection: 74_000,
      },
      errors: ['memory: 3 connections closed, 0 silent'],
    },
  ]);
  assert.deepEqual(lines, [
    'rampart: REGISTER 3000/s, MESSAGE 1500/s, per idle TLS connection (5000): PSS 40000 B, RSS 41000 B, ' +
      'PSS at rest 300.0 MiB',
    'kamailio: REGISTER 2000/s, MESSAGE 3000/s, per idle TLS connection (5000): PSS 50000 B, ' +
      'RSS 120000 B, PSS at rest 17.3 MiB, shm pool 74000 B [errors: memory: 3 connections closed, 0 silent]',
    'ratio rampart/kamailio: REGISTER 1.50, MESSAGE 0.50 (higher is better); PSS per connection ' +
      '0.80 (lower is better)',
  ]);
  assert.deepEqual(summaryLines([{ name: 'kamailio', registerPerSecond: 1, errors: [] }]), [
    'kamailio: REGISTER 1/s, MESSAGE n/a/s',
  ]);
  assert.match(
    summaryLines([
      { name: 'rampart', errors: ['rates: boom'] },
      { name: 'kamailio', registerPerSecond: 10, messagePerSecond: 10, errors: [] },
    ])[2] ?? '',
    /REGISTER n\/a, MESSAGE n\/a .* PSS per connection n\/a/,
  );
});

test('kamailioEdgeConfig fills every placeholder of kamailio-edge.cfg', async () => {
  const text = await readFile(join(import.meta.dirname, 'kamailio-edge.cfg'), 'utf8');
  const values = {
    listenLines: 'listen=tls:127.0.0.1:5061\nlisten=tcp:127.0.0.1:5062',
    children: 2,
    domain: 'bench.test',
    nextHop: 'sip:127.0.0.1:5090;transport=tcp',
    maxConnections: 6024,
    tlsConfigFile: '/tmp/x/tls.cfg',
    ctlSocket: '/tmp/x/ctl.sock',
    topologyHiding: false,
    secret: 'k',
  };
  const filled = kamailioEdgeConfig(text, values);
  assert.doesNotMatch(filled, /__[A-Z_]+__/);
  assert.match(filled, /^tcp_children=2$/m);
  assert.match(filled, /^tcp_max_connections=6024$/m);
  assert.match(filled, /^tls_max_connections=6024$/m);
  assert.match(filled, /^open_files_limit=13072$/m);
  assert.match(filled, /\$du = "sip:127\.0\.0\.1:5090;transport=tcp";/);
  assert.match(filled, /if \(\$rd != "bench\.test"\)/);
  assert.doesNotMatch(filled, /^#!define WITH_TOPOH/m);
  assert.match(
    kamailioEdgeConfig(text, { ...values, topologyHiding: true }),
    /^#!define WITH_TOPOH$/m,
  );
  assert.throws(() => kamailioEdgeConfig(`${text}\n__UNKNOWN__`, values), /__UNKNOWN__/);
});

type Section = Readonly<Record<string, unknown>>;

test('rampartEdgeConfig: edge alone, next hop as asked, caps above what the bench opens', () => {
  const settings = {
    domain: 'bench.test',
    nextHop: 'sip:127.0.0.1:5090;transport=tcp',
    children: 2,
    connections: 5000,
    sourceAddresses: 100,
    certFile: '/c.pem',
    keyFile: '/k.pem',
    caFile: '/ca.pem',
  };
  const internal = rampartEdgeConfig(settings, 'internal.nextHop', true);
  assert.deepEqual(internal['director'], { enabled: false });
  assert.deepEqual(internal['front-end'], { enabled: false });
  assert.deepEqual(internal['av-edge'], { enabled: false });
  assert.deepEqual(internal['domains'], ['bench.test']);
  assert.equal(internal['workers'], 2);
  const edge = internal['access-edge'] as Readonly<Record<string, Section | undefined>>;
  assert.equal(edge['internal']?.['nextHop'], settings.nextHop);
  assert.equal(edge['routes'], undefined);
  const external = edge['external'] ?? {};
  assert.equal(external['tls'], 0);
  assert.equal(external['tcp'], null);
  const limits = edge['limits'] ?? {};
  assert.equal(limits['maxConnectionsPerIp'], 100);
  assert.equal(limits['maxConnections'], 6024);
  assert.equal(limits['messagesPerSecondPerIp'], 1_000_000);

  const routes = rampartEdgeConfig(settings, 'routes', false);
  const plain = routes['access-edge'] as Readonly<Record<string, unknown>>;
  assert.deepEqual(plain['routes'], [{ domain: 'bench.test', nextHop: settings.nextHop }]);
  assert.equal(plain['internal'], undefined);
  assert.equal(
    (plain['external'] as Section)['tcp'],
    0,
    'a plain proxy sends TCP from its listener',
  );
  assert.equal((plain['limits'] as Section)['messagesPerSecondPerIp'], undefined);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTable, parseWrk, ratios } from './report.ts';

const OUTPUT = `Running 10s test @ https://127.0.0.1:40001/bench/small
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.12ms    1.02ms  20.00ms   90.00%
    Req/Sec    12.50k     1.00k   14.00k    80.00%
  Latency Distribution
     50%  850.00us
     75%    5.50ms
     90%    6.00ms
     99%    1.20s
  125000 requests in 10.00s, 30.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 5
  Non-2xx or 3xx responses: 3
Requests/sec:  12500.50
Transfer/sec:      3.00MB
`;

test('parseWrk reads rate, percentiles with their units, transfer and errors', () => {
  assert.deepEqual(parseWrk(OUTPUT), {
    requestsPerSecond: 12500.5,
    p99Ms: 1200,
    p50Ms: 0.85,
    transferBytesPerSecond: 3 * 1024 * 1024,
    requests: 125000,
    errors: 6,
    non2xx: 3,
  });
});

test('parseWrk: missing figures are NaN, not zero', () => {
  const parsed = parseWrk('unable to connect to 127.0.0.1:1 Connection refused');
  assert.ok(Number.isNaN(parsed.requestsPerSecond));
  assert.ok(Number.isNaN(parsed.p99Ms));
});

test('ratios: ≥ 1 means rampart is at least as good, latency inverted', () => {
  const fig = (rps: number, p99: number, transfer: number) => ({
    small: { ...parseWrk(OUTPUT), requestsPerSecond: rps, p99Ms: p99 },
    big: { ...parseWrk(OUTPUT), transferBytesPerSecond: transfer },
  });
  const rampart = fig(5000, 20, 100);
  const nginx = fig(10000, 10, 400);
  assert.deepEqual(ratios(rampart, nginx), {
    smallRequestsPerSecond: 0.5,
    smallP99: 0.5,
    bigTransfer: 0.25,
  });
  assert.match(formatTable(rampart, nginx), /small: req\/s\s+5000\s+10000\s+0\.50/);
});

test('ratios: CPU per request is inverted and reported only when both sides measured it', () => {
  const fig = (cpu?: number) => ({
    small: parseWrk(OUTPUT),
    big: parseWrk(OUTPUT),
    ...(cpu === undefined ? {} : { smallCpuMicrosPerRequest: cpu }),
  });
  assert.equal(ratios(fig(100), fig(25)).smallCpuPerRequest, 0.25);
  assert.equal(ratios(fig(100), fig()).smallCpuPerRequest, undefined);
  assert.match(
    formatTable(fig(66), fig(25), ['node-floor', 'nginx']),
    /small: CPU per request\s+66\.0 µs\s+25\.0 µs\s+0\.38/,
  );
  assert.match(
    formatTable(fig(66), fig(25), ['node-floor', 'nginx']),
    /^metric\s+node-floor\s+nginx/,
  );
  assert.doesNotMatch(formatTable(fig(), fig()), /CPU per request/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSippDurationMs, parseSippStatCsv, sumCountsRetransmissions } from './sipp.ts';
import { parseEndpointsJson } from './rampart.ts';
import { freePorts } from './ports.ts';

const STAT_CSV =
  'StartTime;CurrentTime;SuccessfulCall(P);SuccessfulCall(C);FailedCall(C);Retransmissions(C);ResponseTime1(C);\n' +
  '2026-11-28\t17:59:41.320524\t1795888781.320524;2026-11-28\t17:59:42.3\t1.3;5;5;0;0;00:00:00:000000;\n' +
  '2026-11-28\t17:59:41.320524\t1795888781.320524;2026-11-28\t17:59:43.3\t1.3;3;8;2;7;00:00:01:250000;\n';

test('parseSippStatCsv returns the last dump by column name, tabs kept in time cells', () => {
  const stats = parseSippStatCsv(STAT_CSV);
  assert.equal(stats.get('SuccessfulCall(C)'), '8');
  assert.equal(stats.get('FailedCall(C)'), '2');
  assert.equal(stats.get('Retransmissions(C)'), '7');
  assert.equal(stats.get('CurrentTime'), '2026-11-28\t17:59:43.3\t1.3');
  assert.equal(parseSippDurationMs(stats.get('ResponseTime1(C)')), 1250);
});

test('parseSippStatCsv of a file with no dump yet is empty', () => {
  assert.equal(parseSippStatCsv('').size, 0);
  assert.equal(parseSippStatCsv('A;B;\n').size, 0);
});

test('sumCountsRetransmissions adds every *_Retrans column of the last line', () => {
  const counts =
    'CurrentTime;ElapsedTime;0_INVITE_Sent;0_INVITE_Retrans;4_200_Recv;4_200_Retrans;7_BYE_Retrans;\n' +
    't;e;10;0;10;0;0;\n' +
    't;e;20;3;19;1;2;\n';
  assert.equal(sumCountsRetransmissions(counts), 6);
});

test('parseEndpointsJson accepts endpoints and rejects malformed ones', () => {
  const endpoints = parseEndpointsJson(
    '[{"service":"access-edge","side":"external","transport":"udp","host":"127.0.0.1","port":5060}]',
  );
  assert.deepEqual(endpoints, [
    { service: 'access-edge', side: 'external', transport: 'udp', host: '127.0.0.1', port: 5060 },
  ]);
  assert.throws(() => parseEndpointsJson('{}'), /expected an array/);
  assert.throws(
    () =>
      parseEndpointsJson(
        '[{"service":"access-edge","side":"up","transport":"udp","host":"h","port":1}]',
      ),
    /bad endpoint/,
  );
});

test('freePorts hands out distinct ports', async () => {
  const ports = await freePorts(5);
  assert.equal(new Set(ports).size, 5);
});

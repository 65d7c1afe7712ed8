import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSmapsRollupPss } from './memory.ts';
import {
  benchUsers,
  dbTextSubscriberTable,
  digestHa1,
  injectionCsv,
  perBinding,
  rateRatio,
  stepVerdict,
  summaryLines,
} from './report.ts';
import { parseKamailioStat, parseShmRealUsed } from './servers.ts';

test('digestHa1 is MD5(user:realm:password) as in RFC 2617 §3.2.2.2', () => {
  // RFC 2617 §3.5 example credentials; MD5("Mufasa:testrealm@host.com:Circle Of Life").
  assert.equal(
    digestHa1('Mufasa', 'testrealm@host.com', 'Circle Of Life'),
    '939e7578ed9e3c518a452acee763bce9',
  );
});

test('benchUsers are distinct, padded, and never start a password with 0x', () => {
  const users = benchUsers(2000);
  assert.equal(users.length, 2000);
  assert.equal(users[0]?.user, 'u000000');
  assert.equal(users[1999]?.user, 'u001999');
  assert.equal(new Set(users.map((u) => u.user)).size, 2000);
  assert.equal(new Set(users.map((u) => u.password)).size, 2000);
  // sipp reads a password starting with 0x as hex: that broke one user in 1000 before.
  assert.ok(users.every((u) => u.password.startsWith('p') && !/[;:\]]/.test(u.password)));
  assert.deepEqual(benchUsers(3), benchUsers(3), 'deterministic');
  assert.throws(() => benchUsers(-1), RangeError);
});

test('dbTextSubscriberTable stores HA1 only, one row per user', () => {
  const users = [{ user: 'alice', password: 'secret' }];
  const table = dbTextSubscriberTable(users, 'example.test', 'example.test');
  const lines = table.trimEnd().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? '', /^id\(int,auto\) username\(string\) domain\(string\) password/);
  assert.equal(lines[1], `1:alice:example.test::${digestHa1('alice', 'example.test', 'secret')}:`);
  assert.ok(!table.includes('secret'), 'no plaintext password');
  assert.throws(() => dbTextSubscriberTable([{ user: 'a:b', password: 'x' }], 'd', 'r'));
});

test('injectionCsv carries the authentication keyword in field 1, n contacts per user', () => {
  const csv = injectionCsv(
    [
      { user: 'u1', password: 'p1' },
      { user: 'u2', password: 'p2' },
    ],
    2,
  );
  assert.deepEqual(csv.trimEnd().split('\n'), [
    'SEQUENTIAL',
    'u1;[authentication username=u1 password=p1];0',
    'u1;[authentication username=u1 password=p1];1',
    'u2;[authentication username=u2 password=p2];0',
    'u2;[authentication username=u2 password=p2];1',
  ]);
  assert.throws(() => injectionCsv([{ user: 'u;1', password: 'p' }]));
  assert.throws(() => injectionCsv([{ user: 'u', password: 'p]' }]));
  assert.throws(() => injectionCsv([], 0), RangeError);
});

const clean = {
  calls: 1000,
  rate: 200,
  successfulCalls: 1000,
  failedCalls: 0,
  outgoingCalls: 1000,
  retransmissions: 0,
  exitCode: 0,
  killedByHarness: false,
  elapsedMs: 5000,
};

test('stepVerdict passes a clean step and names every problem of a bad one', () => {
  assert.equal(stepVerdict(clean), 'ok');
  assert.equal(stepVerdict({ ...clean, retransmissions: 3 }), '3 retransmissions');
  assert.equal(
    stepVerdict({ ...clean, successfulCalls: 990, failedCalls: 10, exitCode: 1 }),
    '990/1000 calls ok, 10 failed',
  );
  assert.equal(stepVerdict({ ...clean, elapsedMs: 10_000 }), 'offered only 100/s');
  assert.match(
    stepVerdict({ ...clean, outgoingCalls: 400, successfulCalls: 400 }),
    /^sipp ended early \(400\/1000 calls placed\)/,
  );
  assert.match(stepVerdict({ ...clean, killedByHarness: true }), /overran/);
});

test('rateRatio and perBinding refuse to divide by nothing', () => {
  assert.equal(rateRatio(300, 200), 1.5);
  assert.equal(rateRatio(300, 0), null);
  assert.equal(rateRatio(undefined, 200), null);
  assert.equal(rateRatio(300, undefined), null);
  assert.equal(perBinding(1000, 3000, 10), 200);
  assert.equal(perBinding(1000, 3000, 0), null);
  assert.equal(perBinding(undefined, 3000, 10), null);
});

test('summaryLines prints each server, and ratios only against servers measured', () => {
  const lines = summaryLines([
    {
      name: 'kamailio',
      registerPerSecond: 4000,
      messagePerSecond: 2000,
      memory: {
        bindings: 100_000,
        rssBytesPerBinding: 3000.4,
        pssBytesPerBinding: 1200,
        shmBytesPerBinding: 1100,
      },
    },
    { name: 'kamailio-htable', registerPerSecond: 5000, messagePerSecond: 2500 },
    {
      name: 'rampart',
      registerPerSecond: 5000,
      memory: {
        bindings: 100_000,
        rssBytesPerBinding: 700,
        pssBytesPerBinding: 600,
        shmBytesPerBinding: null,
      },
      error: 'message: boom',
    },
  ]);
  assert.deepEqual(lines, [
    'kamailio: REGISTER 4000/s, MESSAGE 2000/s, memory per binding (100000): RSS 3000 B, ' +
      'PSS 1200 B, shm pool 1100 B',
    'kamailio-htable: REGISTER 5000/s, MESSAGE 2500/s',
    'rampart: REGISTER 5000/s, MESSAGE n/a/s, memory per binding (100000): RSS 700 B, ' +
      'PSS 600 B [error: message: boom]',
    'ratio rampart/kamailio (goal ≥ 1.0): REGISTER 1.25, MESSAGE n/a; PSS per binding 0.50',
    'ratio rampart/kamailio-htable (goal ≥ 1.0): REGISTER 1.00, MESSAGE n/a; PSS per binding n/a',
  ]);
  assert.equal(summaryLines([{ name: 'kamailio', registerPerSecond: 1 }]).length, 1);
});

test('parsers of kamcmd and smaps_rollup output', () => {
  const shm =
    '{\n\ttotal: 536870912\n\tfree: 530000000\n\tused: 6000000\n\treal_used: 6500000\n}\n';
  assert.equal(parseShmRealUsed(shm), 6_500_000);
  assert.equal(parseShmRealUsed('error: 500'), undefined);
  const stats = 'usrloc:location_contacts = 42\nusrloc:location_users = 40\n';
  assert.equal(parseKamailioStat(stats, 'usrloc:location_contacts'), 42);
  assert.equal(parseKamailioStat(stats, 'usrloc:nothing'), undefined);
  assert.equal(parseSmapsRollupPss('Rss:   1696 kB\nPss:    307 kB\n'), 307 * 1024);
  assert.equal(parseSmapsRollupPss('garbage'), undefined);
});

test('summaryLines: CPU per call and its ratio (other / candidate) when measured', () => {
  const lines = summaryLines([
    { name: 'rampart', registerCpuMicrosPerCall: 240 },
    { name: 'kamailio-htable', registerCpuMicrosPerCall: 120 },
  ]);
  assert.match(lines[0] ?? '', /CPU per call REGISTER 240 µs, MESSAGE n\/a µs/);
  assert.match(lines[2] ?? '', /CPU per call \(other \/ rampart\) REGISTER 0\.50, MESSAGE n\/a/);
  assert.doesNotMatch(summaryLines([{ name: 'rampart' }, { name: 'k' }]).join('\n'), /CPU/);
});

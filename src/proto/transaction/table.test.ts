import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../lib/clock.ts';
import { NonInviteClientTransaction } from './non-invite-client.ts';
import { TransactionTable, type TimedTransaction } from './table.ts';
import { fakeRequest, fakeResponse } from './test-messages.ts';

class Stub implements TimedTransaction {
  nextTimeoutAt: number | undefined;
  state = 'running';
  constructor(at: number | undefined) {
    this.nextTimeoutAt = at;
  }
}

describe('TransactionTable', () => {
  test('get/set/delete/size', () => {
    const table = new TransactionTable<Stub>();
    const a = new Stub(undefined);
    table.set('a', a);
    assert.equal(table.size, 1);
    assert.equal(table.get('a'), a);
    assert.equal(table.has('b'), false);
    assert.equal(table.delete('a'), true);
    assert.equal(table.delete('a'), false);
    assert.equal(table.size, 0);
  });

  test('nextTimeoutAt is the earliest deadline across transactions', () => {
    const table = new TransactionTable<Stub>();
    assert.equal(table.nextTimeoutAt, undefined);
    table.set('a', new Stub(300));
    table.set('b', new Stub(100));
    table.set('c', new Stub(undefined));
    table.set('d', new Stub(200));
    assert.equal(table.nextTimeoutAt, 100);
    table.delete('b');
    assert.equal(table.nextTimeoutAt, 200);
  });

  test('takeDue returns due transactions earliest first and unfiles them', () => {
    const table = new TransactionTable<Stub>();
    table.set('a', new Stub(300));
    table.set('b', new Stub(100));
    table.set('c', new Stub(200));
    assert.deepEqual(
      table.takeDue(250).map(([key]) => key),
      ['b', 'c'],
    );
    assert.equal(table.nextTimeoutAt, 300);
    assert.deepEqual(table.takeDue(250), []);
  });

  test('touch re-files a moved deadline and drops terminated transactions', () => {
    const table = new TransactionTable<Stub>();
    const a = new Stub(100);
    table.set('a', a);
    a.nextTimeoutAt = 500;
    assert.equal(table.touch('a'), true);
    assert.equal(table.nextTimeoutAt, 500, 'the stale 100 entry is skipped');
    assert.deepEqual(table.takeDue(100), []);
    a.state = 'terminated';
    assert.equal(table.touch('a'), false);
    assert.equal(table.size, 0);
    assert.equal(table.nextTimeoutAt, undefined);
  });

  test('replacing a key forgets the old transaction deadline', () => {
    const table = new TransactionTable<Stub>();
    table.set('a', new Stub(100));
    table.set('a', new Stub(900));
    assert.equal(table.nextTimeoutAt, 900);
  });

  test('many re-files keep the heap bounded and ordered', () => {
    const table = new TransactionTable<Stub>();
    const stubs = Array.from({ length: 50 }, (_, i) => new Stub(1000 + i));
    stubs.forEach((s, i) => {
      table.set(String(i), s);
    });
    for (let round = 0; round < 20; round++) {
      stubs.forEach((s, i) => {
        s.nextTimeoutAt = 2000 + round * 100 + ((i * 7) % 50);
        table.touch(String(i));
      });
    }
    const due = table.takeDue(10_000);
    assert.equal(due.length, 50);
    const times = due.map(([, s]) => s.nextTimeoutAt ?? -1);
    assert.deepEqual(
      times,
      [...times].sort((x, y) => x - y),
    );
  });

  test('one driver timer serves real transactions', () => {
    const clock = new FakeClock();
    const table = new TransactionTable<NonInviteClientTransaction>();
    const sent: string[] = [];
    for (const name of ['a', 'b']) {
      const tx = new NonInviteClientTransaction({
        request: fakeRequest('OPTIONS'),
        reliable: false,
      });
      tx.handle({ type: 'start' }, clock.now());
      table.set(name, tx);
    }
    clock.advance(100);
    table.get('b')?.handle({ type: 'response', response: fakeResponse(200) }, clock.now());
    table.touch('b');
    for (let at = table.nextTimeoutAt; at !== undefined && at <= 40_000; at = table.nextTimeoutAt) {
      clock.advance(at - clock.now());
      for (const [key, tx] of table.takeDue(clock.now())) {
        for (const action of tx.handle({ type: 'timer' }, clock.now()))
          sent.push(`${key}@${at}:${action.type}`);
        table.touch(key);
      }
    }
    assert.equal(table.size, 0);
    assert.ok(sent.includes('b@5100:terminated'));
    assert.ok(sent.includes('a@32000:timeout'));
    assert.equal(sent.filter((s) => s.startsWith('b@') && s.endsWith(':send')).length, 0);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../lib/clock.ts';
import type { ClientTransactionAction } from './events.ts';
import { NonInviteClientTransaction } from './non-invite-client.ts';
import { fakeRequest, fakeResponse } from './test-messages.ts';

const OPTIONS_BYTES = Buffer.from('OPTIONS sip:b@example.com SIP/2.0\r\n\r\n');

function make(reliable: boolean, t2Ms?: number): NonInviteClientTransaction {
  return new NonInviteClientTransaction({
    request: fakeRequest('OPTIONS', OPTIONS_BYTES),
    reliable,
    ...(t2Ms === undefined ? {} : { timers: { t2Ms } }),
  });
}

function types(actions: readonly ClientTransactionAction[]): string[] {
  return actions.map((a) => (a.type === 'send' ? `send:${a.reason}` : a.type));
}

/** Drives the transaction's timer on a fake clock up to `until`; returns when it fired. */
function runTimers(
  tx: NonInviteClientTransaction,
  clock: FakeClock,
  until: number,
): { at: number; actions: string[] }[] {
  const fired: { at: number; actions: string[] }[] = [];
  for (;;) {
    const at = tx.nextTimeoutAt;
    if (at === undefined || at > until) return fired;
    clock.advance(at - clock.now());
    fired.push({ at, actions: types(tx.handle({ type: 'timer' }, clock.now())) });
  }
}

describe('non-INVITE client transaction (RFC 3261 §17.1.2)', () => {
  test('start sends the request in Trying with Timers E (T1) and F (64*T1)', () => {
    const tx = make(false);
    assert.deepEqual(tx.handle({ type: 'start' }, 0), [
      { type: 'send', data: OPTIONS_BYTES, reason: 'initial' },
    ]);
    assert.equal(tx.state, 'trying');
    assert.equal(tx.nextTimeoutAt, 500);
  });

  test('Timer E doubles up to T2 in Trying, then Timer F times out at 64*T1', () => {
    const clock = new FakeClock();
    const tx = make(false);
    tx.handle({ type: 'start' }, clock.now());
    const fired = runTimers(tx, clock, 100_000);
    // 500, +1000, +2000, +4000 (T2 cap), +4000 ... until F at 32000.
    assert.deepEqual(
      fired.map((f) => f.at),
      [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500, 32000],
    );
    for (const f of fired.slice(0, -1)) assert.deepEqual(f.actions, ['send:retransmit']);
    assert.deepEqual(fired.at(-1)?.actions, ['timeout', 'terminated']);
    assert.equal(tx.state, 'terminated');
  });

  test('T2 is configurable and caps Timer E', () => {
    const clock = new FakeClock();
    const tx = make(false, 1000);
    tx.handle({ type: 'start' }, 0);
    const fired = runTimers(tx, clock, 4000);
    assert.deepEqual(
      fired.map((f) => f.at),
      [500, 1500, 2500, 3500],
    );
  });

  test('Trying -> Terminated on Timer F with timeout to the TU', () => {
    const tx = make(true);
    tx.handle({ type: 'start' }, 0);
    assert.equal(tx.nextTimeoutAt, 32_000);
    assert.deepEqual(tx.handle({ type: 'timer' }, 32_000), [
      { type: 'timeout', reason: 'timer-f' },
      { type: 'terminated', reason: 'timer-f' },
    ]);
  });

  test('Trying -> Proceeding on 1xx, delivered to the TU', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    const trying = fakeResponse(100);
    assert.deepEqual(tx.handle({ type: 'response', response: trying }, 100), [
      { type: 'deliver-response', response: trying },
    ]);
    assert.equal(tx.state, 'proceeding');
    assert.deepEqual(types(tx.handle({ type: 'response', response: fakeResponse(180) }, 200)), [
      'deliver-response',
    ]);
  });

  test('Proceeding: Timer E fires and is reset to T2', () => {
    const clock = new FakeClock();
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: fakeResponse(100) }, 100);
    const fired = runTimers(tx, clock, 13_000);
    assert.deepEqual(
      fired.map((f) => f.at),
      [500, 4500, 8500, 12500],
    );
    assert.equal(tx.state, 'proceeding');
  });

  test('Proceeding -> Terminated on Timer F', () => {
    const tx = make(true);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: fakeResponse(100) }, 100);
    assert.deepEqual(types(tx.handle({ type: 'timer' }, 32_000)), ['timeout', 'terminated']);
  });

  test('Trying -> Completed on 200-699, Timer K = T4', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    const ok = fakeResponse(200);
    assert.deepEqual(tx.handle({ type: 'response', response: ok }, 300), [
      { type: 'deliver-response', response: ok },
    ]);
    assert.equal(tx.state, 'completed');
    assert.equal(tx.nextTimeoutAt, 5300);
  });

  test('Proceeding -> Completed on 200-699', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: fakeResponse(100) }, 100);
    assert.deepEqual(types(tx.handle({ type: 'response', response: fakeResponse(404) }, 200)), [
      'deliver-response',
    ]);
    assert.equal(tx.state, 'completed');
  });

  test('Completed absorbs retransmitted responses and sends nothing', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: fakeResponse(200) }, 100);
    assert.deepEqual(tx.handle({ type: 'response', response: fakeResponse(200) }, 600), []);
    assert.deepEqual(tx.handle({ type: 'timer' }, 600), []);
  });

  test('Completed -> Terminated when Timer K fires', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: fakeResponse(200) }, 0);
    assert.deepEqual(tx.handle({ type: 'timer' }, 5000), [
      { type: 'terminated', reason: 'timer-k' },
    ]);
  });

  test('reliable transport: no Timer E; Timer K is zero so a final terminates at once', () => {
    const tx = make(true);
    tx.handle({ type: 'start' }, 0);
    assert.equal(tx.nextTimeoutAt, 32_000);
    assert.deepEqual(types(tx.handle({ type: 'response', response: fakeResponse(202) }, 10)), [
      'deliver-response',
      'terminated',
    ]);
    assert.equal(tx.state, 'terminated');
  });

  test('Trying and Proceeding -> Terminated on transport error', () => {
    const trying = make(false);
    trying.handle({ type: 'start' }, 0);
    assert.deepEqual(trying.handle({ type: 'transport-error' }, 1), [
      { type: 'transport-error' },
      { type: 'terminated', reason: 'transport-error' },
    ]);
    const proceeding = make(false);
    proceeding.handle({ type: 'start' }, 0);
    proceeding.handle({ type: 'response', response: fakeResponse(100) }, 0);
    assert.deepEqual(types(proceeding.handle({ type: 'transport-error' }, 1)), [
      'transport-error',
      'terminated',
    ]);
  });

  test('programmer errors throw: INVITE or ACK, events before start', () => {
    for (const method of ['INVITE', 'ACK']) {
      assert.throws(
        () => new NonInviteClientTransaction({ request: fakeRequest(method), reliable: false }),
        {
          code: 'RAMPART_ERR_INVALID_ARGUMENT',
        },
      );
    }
    assert.throws(() => make(false).handle({ type: 'response', response: fakeResponse(200) }, 0), {
      code: 'RAMPART_ERR_INVALID_STATE',
    });
    assert.throws(() => make(false, 100), { code: 'RAMPART_ERR_INVALID_ARGUMENT' });
  });
});

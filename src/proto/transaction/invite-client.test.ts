import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientTransactionAction } from './events.ts';
import { InviteClientTransaction } from './invite-client.ts';
import { fakeRequest, fakeResponse } from './test-messages.ts';

const INVITE_BYTES = Buffer.from('INVITE sip:bob@example.com SIP/2.0\r\n\r\n');
const ACK_BYTES = Buffer.from('ACK sip:bob@example.com SIP/2.0\r\n\r\n');

const request = fakeRequest;
const response = fakeResponse;

function make(reliable: boolean): InviteClientTransaction {
  return new InviteClientTransaction({
    request: request('INVITE', INVITE_BYTES),
    reliable,
    buildAck: (invite, final) => {
      assert.equal(invite.method, 'INVITE');
      assert.ok(final.status >= 300);
      return ACK_BYTES;
    },
  });
}

function types(actions: readonly ClientTransactionAction[]): string[] {
  return actions.map((a) => (a.type === 'send' ? `send:${a.reason}` : a.type));
}

/** Fires the transaction's timer until `until`, returning the times it retransmitted at. */
function runTimers(
  tx: InviteClientTransaction,
  until: number,
): { at: number; actions: string[] }[] {
  const fired: { at: number; actions: string[] }[] = [];
  for (;;) {
    const at = tx.nextTimeoutAt;
    if (at === undefined || at > until) return fired;
    fired.push({ at, actions: types(tx.handle({ type: 'timer' }, at)) });
  }
}

describe('INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2)', () => {
  test('start sends the INVITE and enters Calling with Timers A and B', () => {
    const tx = make(false);
    const actions = tx.handle({ type: 'start' }, 0);
    assert.deepEqual(actions, [{ type: 'send', data: INVITE_BYTES, reason: 'initial' }]);
    assert.equal(tx.state, 'calling');
    assert.equal(tx.nextTimeoutAt, 500);
  });

  test('Timer A retransmits at 500, 1500, 3500 ... ms, then Timer B times out at 64*T1', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    const fired = runTimers(tx, 100_000);
    assert.deepEqual(
      fired.map((f) => f.at),
      [500, 1500, 3500, 7500, 15500, 31500, 32000],
    );
    for (const f of fired.slice(0, -1)) assert.deepEqual(f.actions, ['send:retransmit']);
    assert.deepEqual(fired.at(-1)?.actions, ['timeout', 'terminated']);
    assert.equal(tx.state, 'terminated');
    assert.equal(tx.nextTimeoutAt, undefined);
  });

  test('Timer B terminates with reason timer-b and no ACK', () => {
    const tx = make(true);
    tx.handle({ type: 'start' }, 0);
    assert.equal(tx.nextTimeoutAt, 32_000);
    const actions = tx.handle({ type: 'timer' }, 32_000);
    assert.deepEqual(actions, [
      { type: 'timeout', reason: 'timer-b' },
      { type: 'terminated', reason: 'timer-b' },
    ]);
  });

  test('a timer call before the deadline does nothing', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    assert.deepEqual(tx.handle({ type: 'timer' }, 499), []);
    assert.equal(tx.nextTimeoutAt, 500);
  });

  test('reliable transport: no Timer A, only Timer B', () => {
    const tx = make(true);
    tx.handle({ type: 'start' }, 0);
    assert.deepEqual(runTimers(tx, 31_999), []);
    assert.equal(tx.nextTimeoutAt, 32_000);
  });

  test('Calling -> Proceeding on 1xx: delivered, retransmissions stop, Timer B disarmed', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    const ringing = response(180);
    assert.deepEqual(tx.handle({ type: 'response', response: ringing }, 100), [
      { type: 'deliver-response', response: ringing },
    ]);
    assert.equal(tx.state, 'proceeding');
    assert.equal(tx.nextTimeoutAt, undefined);
    assert.deepEqual(tx.handle({ type: 'timer' }, 40_000), []);
  });

  test('Proceeding -> Proceeding on further 1xx: each passed to the TU', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: response(100) }, 10);
    const progress = response(183);
    assert.deepEqual(tx.handle({ type: 'response', response: progress }, 20), [
      { type: 'deliver-response', response: progress },
    ]);
    assert.equal(tx.state, 'proceeding');
  });

  test('Calling -> Completed on 300-699: delivered, ACK sent, Timer D at 32 s', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    const busy = response(486);
    assert.deepEqual(tx.handle({ type: 'response', response: busy }, 700), [
      { type: 'deliver-response', response: busy },
      { type: 'send', data: ACK_BYTES, reason: 'ack' },
    ]);
    assert.equal(tx.state, 'completed');
    assert.equal(tx.nextTimeoutAt, 32_700);
  });

  test('Proceeding -> Completed on 300-699', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: response(180) }, 10);
    assert.deepEqual(types(tx.handle({ type: 'response', response: response(603) }, 20)), [
      'deliver-response',
      'send:ack',
    ]);
    assert.equal(tx.state, 'completed');
  });

  test('Completed: a retransmitted final re-sends the ACK and is not delivered', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: response(404) }, 10);
    assert.deepEqual(tx.handle({ type: 'response', response: response(404) }, 600), [
      { type: 'send', data: ACK_BYTES, reason: 'ack' },
    ]);
    assert.deepEqual(tx.handle({ type: 'response', response: response(180) }, 700), []);
    assert.equal(tx.state, 'completed');
  });

  test('Completed -> Terminated when Timer D fires', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: response(500) }, 0);
    assert.deepEqual(tx.handle({ type: 'timer' }, 31_999), []);
    assert.deepEqual(tx.handle({ type: 'timer' }, 32_000), [
      { type: 'terminated', reason: 'timer-d' },
    ]);
    assert.equal(tx.state, 'terminated');
  });

  test('reliable transport: Timer D is zero, Completed terminates at once', () => {
    const tx = make(true);
    tx.handle({ type: 'start' }, 0);
    assert.deepEqual(types(tx.handle({ type: 'response', response: response(500) }, 5)), [
      'deliver-response',
      'send:ack',
      'terminated',
    ]);
    assert.equal(tx.state, 'terminated');
  });

  test('Timer D is configurable', () => {
    const tx = new InviteClientTransaction({
      request: request('INVITE', INVITE_BYTES),
      reliable: false,
      timers: { timerDUnreliableMs: 40_000 },
      buildAck: () => ACK_BYTES,
    });
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: response(500) }, 0);
    assert.equal(tx.nextTimeoutAt, 40_000);
  });

  test('Calling -> Accepted on 2xx: delivered, no ACK, Timer M at 64*T1', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    const ok = response(200);
    assert.deepEqual(tx.handle({ type: 'response', response: ok }, 1000), [
      { type: 'deliver-response', response: ok },
    ]);
    assert.equal(tx.state, 'accepted');
    assert.equal(tx.nextTimeoutAt, 33_000);
  });

  test('Proceeding -> Accepted on 2xx', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: response(180) }, 10);
    assert.deepEqual(types(tx.handle({ type: 'response', response: response(200) }, 20)), [
      'deliver-response',
    ]);
    assert.equal(tx.state, 'accepted');
  });

  test('Accepted: retransmitted 2xx passed to the TU, other responses absorbed', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: response(200) }, 0);
    const again = response(200);
    assert.deepEqual(tx.handle({ type: 'response', response: again }, 500), [
      { type: 'deliver-response', response: again },
    ]);
    assert.deepEqual(tx.handle({ type: 'response', response: response(180) }, 600), []);
    assert.deepEqual(tx.handle({ type: 'response', response: response(486) }, 700), []);
    assert.equal(tx.state, 'accepted');
  });

  test('Accepted -> Terminated when Timer M fires', () => {
    const tx = make(true);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: response(200) }, 0);
    assert.deepEqual(tx.handle({ type: 'timer' }, 32_000), [
      { type: 'terminated', reason: 'timer-m' },
    ]);
    assert.equal(tx.state, 'terminated');
  });

  test('Calling -> Terminated on transport error, informing the TU', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    assert.deepEqual(tx.handle({ type: 'transport-error' }, 1), [
      { type: 'transport-error' },
      { type: 'terminated', reason: 'transport-error' },
    ]);
  });

  test('Completed -> Terminated on transport error (sending the ACK)', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: response(404) }, 0);
    assert.deepEqual(types(tx.handle({ type: 'transport-error' }, 1)), [
      'transport-error',
      'terminated',
    ]);
  });

  test('Proceeding and Accepted ignore transport errors (they send nothing)', () => {
    const tx = make(false);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'response', response: response(180) }, 0);
    assert.deepEqual(tx.handle({ type: 'transport-error' }, 1), []);
    tx.handle({ type: 'response', response: response(200) }, 2);
    assert.deepEqual(tx.handle({ type: 'transport-error' }, 3), []);
    assert.equal(tx.state, 'accepted');
  });

  test('Terminated absorbs everything', () => {
    const tx = make(true);
    tx.handle({ type: 'start' }, 0);
    tx.handle({ type: 'timer' }, 32_000);
    assert.deepEqual(tx.handle({ type: 'response', response: response(200) }, 32_001), []);
    assert.deepEqual(tx.handle({ type: 'timer' }, 99_000), []);
  });

  test('programmer errors throw: wrong method, events before start, double start', () => {
    assert.throws(
      () =>
        new InviteClientTransaction({
          request: request('OPTIONS', INVITE_BYTES),
          reliable: false,
          buildAck: () => ACK_BYTES,
        }),
      { code: 'RAMPART_ERR_INVALID_ARGUMENT' },
    );
    const tx = make(false);
    assert.throws(() => tx.handle({ type: 'timer' }, 0), { code: 'RAMPART_ERR_INVALID_STATE' });
    tx.handle({ type: 'start' }, 0);
    assert.throws(() => tx.handle({ type: 'start' }, 0), { code: 'RAMPART_ERR_INVALID_STATE' });
  });
});

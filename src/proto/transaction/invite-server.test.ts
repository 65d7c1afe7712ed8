import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest } from '../../codec/sip/message.ts';
import type { ServerTransactionAction } from './events.ts';
import { InviteServerTransaction } from './invite-server.ts';
import type { TransactionTimerConfig } from './timers.ts';
import { fakeRequest } from './test-messages.ts';

const TRYING = Buffer.from('SIP/2.0 100 Trying\r\n\r\n');
const RINGING = Buffer.from('SIP/2.0 180 Ringing\r\n\r\n');
const OK = Buffer.from('SIP/2.0 200 OK\r\n\r\n');
const BUSY = Buffer.from('SIP/2.0 486 Busy Here\r\n\r\n');

function make(
  reliable: boolean,
  timers: Partial<TransactionTimerConfig> = {},
): { tx: InviteServerTransaction; invite: SipRequest } {
  const invite = fakeRequest('INVITE');
  const tx = new InviteServerTransaction({
    request: invite,
    reliable,
    timers,
    buildTrying: () => TRYING,
  });
  return { tx, invite };
}

/** A started transaction: the creating INVITE already fed. */
function started(reliable: boolean, timers: Partial<TransactionTimerConfig> = {}) {
  const made = make(reliable, timers);
  made.tx.handle({ type: 'request', request: made.invite }, 0);
  return made;
}

function types(actions: readonly ServerTransactionAction[]): string[] {
  return actions.map((a) => (a.type === 'send' ? `send:${a.reason}` : a.type));
}

describe('INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1)', () => {
  test('the creating INVITE is passed to the TU in Proceeding; no 100 by default', () => {
    const { tx, invite } = make(false);
    assert.deepEqual(tx.handle({ type: 'request', request: invite }, 0), [
      { type: 'deliver-request', request: invite },
    ]);
    assert.equal(tx.state, 'proceeding');
    assert.equal(tx.nextTimeoutAt, undefined);
  });

  test('auto 100 Trying after 200 ms when the TU has not responded', () => {
    const { tx } = started(false, { autoTryingAfterMs: 200 });
    assert.equal(tx.nextTimeoutAt, 200);
    assert.deepEqual(tx.handle({ type: 'timer' }, 200), [
      { type: 'send', data: TRYING, reason: 'trying' },
    ]);
    assert.equal(tx.nextTimeoutAt, undefined);
    // The 100 is now the most recent provisional: a retransmitted INVITE re-sends it.
    assert.deepEqual(types(tx.handle({ type: 'request', request: fakeRequest('INVITE') }, 300)), [
      'send:retransmit',
    ]);
  });

  test('auto 100 Trying is cancelled by a TU response within 200 ms', () => {
    const { tx } = started(false, { autoTryingAfterMs: 200 });
    tx.handle({ type: 'send-response', data: RINGING, status: 180 }, 50);
    assert.equal(tx.nextTimeoutAt, undefined);
    assert.deepEqual(tx.handle({ type: 'timer' }, 200), []);
  });

  test('auto 100 Trying with 0 ms is sent with the delivery', () => {
    const { tx, invite } = make(false, { autoTryingAfterMs: 0 });
    assert.deepEqual(types(tx.handle({ type: 'request', request: invite }, 0)), [
      'deliver-request',
      'send:trying',
    ]);
  });

  test('Proceeding: 1xx from the TU is sent; a retransmitted INVITE re-sends the latest 1xx', () => {
    const { tx } = started(false);
    assert.deepEqual(tx.handle({ type: 'request', request: fakeRequest('INVITE') }, 10), []);
    assert.deepEqual(tx.handle({ type: 'send-response', data: RINGING, status: 180 }, 20), [
      { type: 'send', data: RINGING, reason: 'response' },
    ]);
    assert.deepEqual(tx.handle({ type: 'request', request: fakeRequest('INVITE') }, 500), [
      { type: 'send', data: RINGING, reason: 'retransmit' },
    ]);
    assert.equal(tx.state, 'proceeding');
  });

  test('Proceeding -> Completed on 300-699 from the TU: Timers G (T1) and H (64*T1)', () => {
    const { tx } = started(false);
    assert.deepEqual(tx.handle({ type: 'send-response', data: BUSY, status: 486 }, 1000), [
      { type: 'send', data: BUSY, reason: 'response' },
    ]);
    assert.equal(tx.state, 'completed');
    assert.equal(tx.nextTimeoutAt, 1500);
  });

  test('Completed: Timer G retransmits at T1, 2*T1 ... capped at T2; Timer H times out', () => {
    const { tx } = started(false);
    tx.handle({ type: 'send-response', data: BUSY, status: 486 }, 0);
    const fired: { at: number; actions: string[] }[] = [];
    for (let at = tx.nextTimeoutAt; at !== undefined; at = tx.nextTimeoutAt) {
      fired.push({ at, actions: types(tx.handle({ type: 'timer' }, at)) });
    }
    assert.deepEqual(
      fired.map((f) => f.at),
      [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500, 32000],
    );
    for (const f of fired.slice(0, -1)) assert.deepEqual(f.actions, ['send:retransmit']);
    assert.deepEqual(fired.at(-1)?.actions, ['timeout', 'terminated']);
  });

  test('Completed -> Terminated on Timer H informs the TU', () => {
    const { tx } = started(true);
    tx.handle({ type: 'send-response', data: BUSY, status: 486 }, 0);
    assert.equal(tx.nextTimeoutAt, 32_000);
    assert.deepEqual(tx.handle({ type: 'timer' }, 32_000), [
      { type: 'timeout', reason: 'timer-h' },
      { type: 'terminated', reason: 'timer-h' },
    ]);
  });

  test('Completed: a retransmitted INVITE re-sends the final; later TU responses are dropped', () => {
    const { tx } = started(false);
    tx.handle({ type: 'send-response', data: BUSY, status: 486 }, 0);
    assert.deepEqual(tx.handle({ type: 'request', request: fakeRequest('INVITE') }, 100), [
      { type: 'send', data: BUSY, reason: 'retransmit' },
    ]);
    assert.deepEqual(tx.handle({ type: 'send-response', data: OK, status: 200 }, 100), []);
  });

  test('Completed -> Confirmed on ACK: G stops, Timer I = T4', () => {
    const { tx } = started(false);
    tx.handle({ type: 'send-response', data: BUSY, status: 486 }, 0);
    assert.deepEqual(tx.handle({ type: 'request', request: fakeRequest('ACK') }, 700), []);
    assert.equal(tx.state, 'confirmed');
    assert.equal(tx.nextTimeoutAt, 5700);
  });

  test('Confirmed absorbs ACKs and INVITEs; Timer I terminates', () => {
    const { tx } = started(false);
    tx.handle({ type: 'send-response', data: BUSY, status: 486 }, 0);
    tx.handle({ type: 'request', request: fakeRequest('ACK') }, 0);
    assert.deepEqual(tx.handle({ type: 'request', request: fakeRequest('ACK') }, 1), []);
    assert.deepEqual(tx.handle({ type: 'request', request: fakeRequest('INVITE') }, 2), []);
    assert.deepEqual(tx.handle({ type: 'timer' }, 5000), [
      { type: 'terminated', reason: 'timer-i' },
    ]);
  });

  test('reliable transport: no Timer G, and Timer I is zero (ACK terminates at once)', () => {
    const { tx } = started(true);
    tx.handle({ type: 'send-response', data: BUSY, status: 486 }, 0);
    assert.equal(tx.nextTimeoutAt, 32_000);
    assert.deepEqual(tx.handle({ type: 'request', request: fakeRequest('ACK') }, 10), [
      { type: 'terminated', reason: 'timer-i' },
    ]);
    assert.equal(tx.state, 'terminated');
  });

  test('Proceeding -> Accepted on 2xx from the TU: sent once, Timer L at 64*T1', () => {
    const { tx } = started(false);
    assert.deepEqual(tx.handle({ type: 'send-response', data: OK, status: 200 }, 1000), [
      { type: 'send', data: OK, reason: 'response' },
    ]);
    assert.equal(tx.state, 'accepted');
    assert.equal(tx.nextTimeoutAt, 33_000);
  });

  test('Accepted: INVITE absorbed, ACK passed to the TU, TU 2xx retransmissions sent', () => {
    const { tx } = started(false);
    tx.handle({ type: 'send-response', data: OK, status: 200 }, 0);
    assert.deepEqual(tx.handle({ type: 'request', request: fakeRequest('INVITE') }, 500), []);
    const ack = fakeRequest('ACK');
    assert.deepEqual(tx.handle({ type: 'request', request: ack }, 600), [
      { type: 'deliver-request', request: ack },
    ]);
    assert.deepEqual(tx.handle({ type: 'send-response', data: OK, status: 200 }, 700), [
      { type: 'send', data: OK, reason: 'response' },
    ]);
    assert.deepEqual(tx.handle({ type: 'send-response', data: BUSY, status: 486 }, 800), []);
    assert.equal(tx.state, 'accepted');
  });

  test('Accepted -> Terminated when Timer L fires (reliable too)', () => {
    const { tx } = started(true);
    tx.handle({ type: 'send-response', data: OK, status: 200 }, 0);
    assert.deepEqual(tx.handle({ type: 'timer' }, 32_000), [
      { type: 'terminated', reason: 'timer-l' },
    ]);
  });

  test('transport errors inform the TU and keep Proceeding, Completed, Accepted (RFC 6026 Fig. 7)', () => {
    const proceeding = started(false).tx;
    assert.deepEqual(proceeding.handle({ type: 'transport-error' }, 1), [
      { type: 'transport-error' },
    ]);
    assert.equal(proceeding.state, 'proceeding');

    const completed = started(false).tx;
    completed.handle({ type: 'send-response', data: BUSY, status: 486 }, 0);
    assert.deepEqual(completed.handle({ type: 'transport-error' }, 1), [
      { type: 'transport-error' },
    ]);
    assert.equal(completed.state, 'completed');

    const accepted = started(false).tx;
    accepted.handle({ type: 'send-response', data: OK, status: 200 }, 0);
    assert.deepEqual(accepted.handle({ type: 'transport-error' }, 1), [
      { type: 'transport-error' },
    ]);
    assert.equal(accepted.state, 'accepted');
  });

  test('programmer errors throw', () => {
    assert.throws(
      () => new InviteServerTransaction({ request: fakeRequest('BYE'), reliable: false }),
      { code: 'RAMPART_ERR_INVALID_ARGUMENT' },
    );
    assert.throws(
      () =>
        new InviteServerTransaction({
          request: fakeRequest('INVITE'),
          reliable: false,
          timers: { autoTryingAfterMs: 200 },
        }),
      { code: 'RAMPART_ERR_INVALID_ARGUMENT' },
    );
    const { tx } = make(false);
    assert.throws(() => tx.handle({ type: 'send-response', data: OK, status: 200 }, 0), {
      code: 'RAMPART_ERR_INVALID_STATE',
    });
    const { tx: running } = started(false);
    assert.throws(() => running.handle({ type: 'send-response', data: OK, status: 99 }, 0), {
      code: 'RAMPART_ERR_INVALID_ARGUMENT',
    });
  });
});

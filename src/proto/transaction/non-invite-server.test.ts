import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest } from '../../codec/sip/message.ts';
import type { ServerTransactionAction } from './events.ts';
import { NonInviteServerTransaction } from './non-invite-server.ts';
import { fakeRequest } from './test-messages.ts';

const TRYING = Buffer.from('SIP/2.0 100 Trying\r\n\r\n');
const OK = Buffer.from('SIP/2.0 200 OK\r\n\r\n');
const NOT_FOUND = Buffer.from('SIP/2.0 404 Not Found\r\n\r\n');

function started(reliable: boolean): { tx: NonInviteServerTransaction; request: SipRequest } {
  const request = fakeRequest('REGISTER');
  const tx = new NonInviteServerTransaction({ request, reliable });
  tx.handle({ type: 'request', request }, 0);
  return { tx, request };
}

function types(actions: readonly ServerTransactionAction[]): string[] {
  return actions.map((a) => (a.type === 'send' ? `send:${a.reason}` : a.type));
}

describe('non-INVITE server transaction (RFC 3261 §17.2.2)', () => {
  test('the creating request is passed to the TU in Trying', () => {
    const request = fakeRequest('OPTIONS');
    const tx = new NonInviteServerTransaction({ request, reliable: false });
    assert.deepEqual(tx.handle({ type: 'request', request }, 0), [
      { type: 'deliver-request', request },
    ]);
    assert.equal(tx.state, 'trying');
    assert.equal(tx.nextTimeoutAt, undefined);
  });

  test('Trying discards request retransmissions', () => {
    const { tx } = started(false);
    assert.deepEqual(tx.handle({ type: 'request', request: fakeRequest('REGISTER') }, 500), []);
    assert.equal(tx.state, 'trying');
  });

  test('Trying -> Proceeding on 1xx from the TU; retransmissions re-send it', () => {
    const { tx } = started(false);
    assert.deepEqual(tx.handle({ type: 'send-response', data: TRYING, status: 100 }, 10), [
      { type: 'send', data: TRYING, reason: 'response' },
    ]);
    assert.equal(tx.state, 'proceeding');
    assert.deepEqual(tx.handle({ type: 'request', request: fakeRequest('REGISTER') }, 500), [
      { type: 'send', data: TRYING, reason: 'retransmit' },
    ]);
    assert.deepEqual(types(tx.handle({ type: 'send-response', data: TRYING, status: 100 }, 600)), [
      'send:response',
    ]);
  });

  test('Trying -> Completed on 200-699 from the TU: Timer J = 64*T1', () => {
    const { tx } = started(false);
    assert.deepEqual(tx.handle({ type: 'send-response', data: OK, status: 200 }, 100), [
      { type: 'send', data: OK, reason: 'response' },
    ]);
    assert.equal(tx.state, 'completed');
    assert.equal(tx.nextTimeoutAt, 32_100);
  });

  test('Proceeding -> Completed on 200-699 from the TU', () => {
    const { tx } = started(false);
    tx.handle({ type: 'send-response', data: TRYING, status: 100 }, 0);
    assert.deepEqual(types(tx.handle({ type: 'send-response', data: NOT_FOUND, status: 404 }, 5)), [
      'send:response',
    ]);
    assert.equal(tx.state, 'completed');
  });

  test('Completed: retransmission re-sends the final; other TU responses are discarded', () => {
    const { tx } = started(false);
    tx.handle({ type: 'send-response', data: NOT_FOUND, status: 404 }, 0);
    assert.deepEqual(tx.handle({ type: 'request', request: fakeRequest('REGISTER') }, 10), [
      { type: 'send', data: NOT_FOUND, reason: 'retransmit' },
    ]);
    assert.deepEqual(tx.handle({ type: 'send-response', data: OK, status: 200 }, 20), []);
    assert.deepEqual(tx.handle({ type: 'request', request: fakeRequest('ACK') }, 30), []);
  });

  test('Completed -> Terminated when Timer J fires', () => {
    const { tx } = started(false);
    tx.handle({ type: 'send-response', data: OK, status: 200 }, 0);
    assert.deepEqual(tx.handle({ type: 'timer' }, 31_999), []);
    assert.deepEqual(tx.handle({ type: 'timer' }, 32_000), [
      { type: 'terminated', reason: 'timer-j' },
    ]);
  });

  test('reliable transport: Timer J is zero, the final response terminates at once', () => {
    const { tx } = started(true);
    assert.deepEqual(types(tx.handle({ type: 'send-response', data: OK, status: 200 }, 0)), [
      'send:response',
      'terminated',
    ]);
    assert.equal(tx.state, 'terminated');
    assert.deepEqual(tx.handle({ type: 'send-response', data: OK, status: 200 }, 1), []);
  });

  test('Proceeding and Completed -> Terminated on transport error; Trying ignores it', () => {
    const trying = started(false).tx;
    assert.deepEqual(trying.handle({ type: 'transport-error' }, 0), []);
    const proceeding = started(false).tx;
    proceeding.handle({ type: 'send-response', data: TRYING, status: 100 }, 0);
    assert.deepEqual(proceeding.handle({ type: 'transport-error' }, 1), [
      { type: 'transport-error' },
      { type: 'terminated', reason: 'transport-error' },
    ]);
    const completed = started(false).tx;
    completed.handle({ type: 'send-response', data: OK, status: 200 }, 0);
    assert.deepEqual(types(completed.handle({ type: 'transport-error' }, 1)), [
      'transport-error',
      'terminated',
    ]);
  });

  test('programmer errors throw', () => {
    for (const method of ['INVITE', 'ACK']) {
      assert.throws(
        () => new NonInviteServerTransaction({ request: fakeRequest(method), reliable: true }),
        {
          code: 'RAMPART_ERR_INVALID_ARGUMENT',
        },
      );
    }
    const request = fakeRequest('BYE');
    const tx = new NonInviteServerTransaction({ request, reliable: true });
    assert.throws(() => tx.handle({ type: 'timer' }, 0), { code: 'RAMPART_ERR_INVALID_STATE' });
    assert.throws(() => tx.handle({ type: 'request', request: fakeRequest('BYE') }, 0), {
      code: 'RAMPART_ERR_INVALID_STATE',
    });
  });
});

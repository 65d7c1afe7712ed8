import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertTransition, TRANSACTION_TRANSITIONS, type TransactionMachine } from './states.ts';

describe('assertTransition (RFC 3261 Figures 5-8, RFC 6026 Figures 5 and 7)', () => {
  test('every listed edge is allowed', () => {
    for (const [machine, table] of Object.entries(TRANSACTION_TRANSITIONS)) {
      for (const [from, targets] of Object.entries(table)) {
        for (const to of targets as readonly string[]) {
          assert.doesNotThrow(() => {
            assertTransition(machine as TransactionMachine, from as never, to as never);
          });
        }
      }
    }
  });

  test('edges the figures do not draw throw RAMPART_ERR_INVALID_STATE', () => {
    const illegal: Array<[TransactionMachine, string, string]> = [
      ['invite-client', 'terminated', 'calling'],
      ['invite-client', 'completed', 'accepted'],
      ['invite-client', 'accepted', 'completed'],
      ['invite-client', 'proceeding', 'calling'],
      ['invite-client', 'proceeding', 'terminated'],
      ['non-invite-client', 'completed', 'proceeding'],
      ['non-invite-client', 'proceeding', 'trying'],
      ['invite-server', 'proceeding', 'confirmed'],
      ['invite-server', 'proceeding', 'terminated'],
      ['invite-server', 'accepted', 'confirmed'],
      ['invite-server', 'confirmed', 'completed'],
      ['non-invite-server', 'trying', 'terminated'],
      ['non-invite-server', 'completed', 'proceeding'],
    ];
    for (const [machine, from, to] of illegal) {
      assert.throws(
        () => {
          assertTransition(machine, from as never, to as never);
        },
        { code: 'RAMPART_ERR_INVALID_STATE' },
      );
    }
  });

  test('the edge counts match the figures', () => {
    const count = (machine: TransactionMachine): number => {
      const table: Readonly<Record<string, readonly string[]>> = TRANSACTION_TRANSITIONS[machine];
      return Object.values(table).reduce((n, to) => n + to.length, 0);
    };
    assert.equal(count('invite-client'), 8);
    assert.equal(count('non-invite-client'), 6);
    assert.equal(count('invite-server'), 6);
    assert.equal(count('non-invite-server'), 5);
  });
});

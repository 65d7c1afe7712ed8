import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipResponse } from '../../codec/sip/message.ts';
import { parseSipMessage } from '../../codec/sip/parse.ts';
import { ResponseContext, TIMER_C_MS, type ResponseContextAction } from './response-context.ts';

function response(status: number, extra = ''): SipResponse {
  const parsed = parseSipMessage(
    Buffer.from(
      `SIP/2.0 ${status} X\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\nFrom: <sip:a@x>;tag=1\r\n` +
        `To: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n${extra}Content-Length: 0\r\n\r\n`,
    ),
  );
  assert.ok(parsed.ok && parsed.value.kind === 'response');
  return parsed.value;
}

function types(actions: readonly ResponseContextAction[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case 'forward-response':
        return `forward ${a.status ?? a.response.status}`;
      case 'send-response':
        return `send ${a.status}`;
      case 'cancel-branch':
        return `cancel ${a.branchId}`;
      case 'finished':
        return 'finished';
    }
  });
}

function context(branches: string[], isInvite = true): ResponseContext {
  const ctx = new ResponseContext({ isInvite });
  for (const branchId of branches) ctx.handle({ type: 'branch-created', branchId }, 0);
  return ctx;
}

describe('RFC 3261 §16.7 response processing', () => {
  test('step 5: provisional responses other than 100 are forwarded; 100 is not', () => {
    const ctx = context(['a']);
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'a', response: response(100) }, 1)),
      [],
    );
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'a', response: response(180) }, 2)),
      ['forward 180'],
    );
  });

  test('step 5 and 10: a 2xx is forwarded at once and the other INVITE branches are cancelled', () => {
    const ctx = context(['a', 'b']);
    ctx.handle({ type: 'response', branchId: 'b', response: response(180) }, 1);
    const actions = ctx.handle({ type: 'response', branchId: 'a', response: response(200) }, 2);
    assert.deepEqual(types(actions), ['forward 200', 'cancel b']);
    // b's 487 after the CANCEL finishes the context without another forward.
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'b', response: response(487) }, 3)),
      ['finished'],
    );
  });

  test('§9.1: a branch without a provisional response is cancelled only once one arrives', () => {
    const ctx = context(['a', 'b']);
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'a', response: response(200) }, 1)),
      ['forward 200'],
    );
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'b', response: response(183) }, 2)),
      ['cancel b'],
    );
  });

  test('step 6: the lowest class wins once every branch is final (486 over 503)', () => {
    const ctx = context(['a', 'b']);
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'a', response: response(503) }, 1)),
      [],
    );
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'b', response: response(486) }, 2)),
      ['forward 486', 'finished'],
    );
  });

  test('step 6: a 6xx is preferred and cancels the others (step 10)', () => {
    const ctx = context(['a', 'b']);
    ctx.handle({ type: 'response', branchId: 'b', response: response(180) }, 1);
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'a', response: response(603) }, 2)),
      ['cancel b'],
    );
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'b', response: response(404) }, 3)),
      ['forward 603', 'finished'],
    );
  });

  test('step 6: a chosen 503 goes upstream as 500', () => {
    const ctx = context(['a']);
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'a', response: response(503) }, 1)),
      ['forward 500', 'finished'],
    );
  });

  test('step 7: challenges of every 401/407 branch are aggregated into the chosen response', () => {
    const ctx = context(['a', 'b']);
    ctx.handle(
      {
        type: 'response',
        branchId: 'a',
        response: response(401, 'WWW-Authenticate: Digest realm="a"\r\n'),
      },
      1,
    );
    const actions = ctx.handle(
      {
        type: 'response',
        branchId: 'b',
        response: response(407, 'Proxy-Authenticate: Digest realm="b"\r\n'),
      },
      2,
    );
    const forward = actions[0];
    assert.ok(forward?.type === 'forward-response');
    assert.equal(forward.response.status, 401);
    assert.deepEqual(forward.extraHeaders, [['Proxy-Authenticate', 'Digest realm="b"']]);
  });

  test('step 1: every branch timing out gives 408; a transport error gives 503 sent as 500', () => {
    const timeouts = context(['a']);
    assert.deepEqual(types(timeouts.handle({ type: 'branch-timeout', branchId: 'a' }, 1)), [
      'send 408',
      'finished',
    ]);
    const failure = context(['a'], false);
    assert.deepEqual(types(failure.handle({ type: 'branch-transport-error', branchId: 'a' }, 1)), [
      'send 500',
      'finished',
    ]);
  });

  test('§16.10: CANCEL cancels proceeding branches now and calling ones after their provisional', () => {
    const ctx = context(['a', 'b']);
    ctx.handle({ type: 'response', branchId: 'a', response: response(180) }, 1);
    assert.deepEqual(types(ctx.handle({ type: 'cancel' }, 2)), ['cancel a']);
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'b', response: response(100) }, 3)),
      ['cancel b'],
    );
  });

  test('§16.8 Timer C: with a provisional the branch is cancelled, without it acts as 408', () => {
    const proceeding = context(['a']);
    proceeding.handle({ type: 'response', branchId: 'a', response: response(180) }, 0);
    assert.equal(proceeding.nextTimeoutAt, TIMER_C_MS);
    assert.deepEqual(types(proceeding.handle({ type: 'timer' }, TIMER_C_MS)), ['cancel a']);
    const calling = context(['a']);
    assert.deepEqual(types(calling.handle({ type: 'timer' }, TIMER_C_MS)), [
      'send 408',
      'finished',
    ]);
  });

  test('a non-INVITE context forwards its single final response once', () => {
    const ctx = context(['a'], false);
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'a', response: response(200) }, 1)),
      ['forward 200', 'finished'],
    );
    assert.deepEqual(
      types(ctx.handle({ type: 'response', branchId: 'a', response: response(200) }, 2)),
      [],
    );
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest, SipResponse } from '../../codec/sip/message.ts';
import {
  cancelTargetKey,
  clientTransactionKey,
  clientTransactionKeyForRequest,
  serverTransactionKey,
} from './keys.ts';
import { fakeParse } from './test-messages.ts';

function req(text: string): SipRequest {
  const msg = fakeParse(text);
  assert.equal(msg.kind, 'request');
  return msg;
}

function res(text: string): SipResponse {
  const msg = fakeParse(text);
  assert.equal(msg.kind, 'response');
  return msg;
}

function key(result: { ok: true; value: string } | { ok: false; error: unknown }): string {
  assert.ok(result.ok, 'expected a key');
  return result.value;
}

const invite = (branch: string, sentBy = 'pc33.atlanta.com', extra = '') =>
  req(`INVITE sip:bob@biloxi.com SIP/2.0
Via: SIP/2.0/UDP ${sentBy};branch=${branch}
To: Bob <sip:bob@biloxi.com>${extra}
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Max-Forwards: 70

`);

const withMethod = (method: string, branch: string, cseqMethod = method, toTag = '') =>
  req(`${method} sip:bob@biloxi.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.com;branch=${branch}
To: Bob <sip:bob@biloxi.com>${toTag}
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 ${cseqMethod}

`);

const response = (status: number, branch: string, method: string) =>
  res(`SIP/2.0 ${status} X
Via: SIP/2.0/UDP pc33.atlanta.com;branch=${branch};received=192.0.2.1
Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1
To: Bob <sip:bob@biloxi.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 ${method}

`);

describe('client transaction matching (RFC 3261 §17.1.3)', () => {
  test('a response matches by top Via branch and CSeq method', () => {
    const sent = key(clientTransactionKeyForRequest(invite('z9hG4bK776asdhds')));
    assert.equal(key(clientTransactionKey(response(180, 'z9hG4bK776asdhds', 'INVITE'))), sent);
    assert.equal(key(clientTransactionKey(response(486, 'z9hG4bK776asdhds', 'INVITE'))), sent);
  });

  test('another branch is another transaction', () => {
    assert.notEqual(
      key(clientTransactionKey(response(200, 'z9hG4bK776asdhds', 'INVITE'))),
      key(clientTransactionKey(response(200, 'z9hG4bKother', 'INVITE'))),
    );
  });

  test('a CANCEL (same branch as its INVITE) has a distinct client transaction', () => {
    const inviteKey = key(clientTransactionKeyForRequest(invite('z9hG4bK776asdhds')));
    const cancelKey = key(clientTransactionKeyForRequest(withMethod('CANCEL', 'z9hG4bK776asdhds')));
    assert.notEqual(inviteKey, cancelKey);
    assert.equal(key(clientTransactionKey(response(200, 'z9hG4bK776asdhds', 'CANCEL'))), cancelKey);
    assert.equal(key(clientTransactionKey(response(487, 'z9hG4bK776asdhds', 'INVITE'))), inviteKey);
  });

  test('a response without Via or CSeq yields an error value, not a throw', () => {
    const noVia = res('SIP/2.0 200 OK\nCSeq: 1 INVITE\n\n');
    assert.deepEqual(clientTransactionKey(noVia), {
      ok: false,
      error: { code: 'RAMPART_ERR_SIP_PARSE', reason: 'missing Via' },
    });
    const noCseq = res('SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\n');
    assert.equal(clientTransactionKey(noCseq).ok, false);
  });
});

describe('server transaction matching (RFC 3261 §17.2.3)', () => {
  test('a retransmitted INVITE matches by branch, sent-by and method', () => {
    assert.equal(
      key(serverTransactionKey(invite('z9hG4bK776asdhds'))),
      key(serverTransactionKey(invite('z9hG4bK776asdhds'))),
    );
  });

  test('branch comparison is case-insensitive, sent-by host too', () => {
    assert.equal(
      key(serverTransactionKey(invite('z9hG4bK776asdhds', 'PC33.atlanta.com'))),
      key(serverTransactionKey(invite('Z9HG4BK776ASDHDS', 'pc33.atlanta.com'))),
    );
  });

  test('a different sent-by is a different transaction (same branch)', () => {
    assert.notEqual(
      key(serverTransactionKey(invite('z9hG4bK776asdhds', 'pc33.atlanta.com'))),
      key(serverTransactionKey(invite('z9hG4bK776asdhds', 'pc33.atlanta.com:5070'))),
    );
  });

  test('an ACK for a non-2xx matches the INVITE server transaction', () => {
    const ack = withMethod('ACK', 'z9hG4bK776asdhds', 'ACK', ';tag=a6c85cf');
    assert.equal(
      key(serverTransactionKey(ack)),
      key(serverTransactionKey(invite('z9hG4bK776asdhds'))),
    );
  });

  test('an ACK for a 2xx (new branch) does not match the INVITE transaction', () => {
    const ack = withMethod('ACK', 'z9hG4bKnewbranch', 'ACK', ';tag=a6c85cf');
    assert.notEqual(
      key(serverTransactionKey(ack)),
      key(serverTransactionKey(invite('z9hG4bK776asdhds'))),
    );
  });

  test('a CANCEL has its own server transaction and targets the INVITE one (§9.2)', () => {
    const cancel = withMethod('CANCEL', 'z9hG4bK776asdhds');
    const inviteKey = key(serverTransactionKey(invite('z9hG4bK776asdhds')));
    assert.notEqual(key(serverTransactionKey(cancel)), inviteKey);
    assert.equal(key(cancelTargetKey(cancel)), inviteKey);
  });

  test('non-INVITE methods with the same branch are different transactions', () => {
    assert.notEqual(
      key(serverTransactionKey(withMethod('BYE', 'z9hG4bK1'))),
      key(serverTransactionKey(withMethod('INFO', 'z9hG4bK1'))),
    );
  });

  test('compact Via with LWS around the protocol slashes parses', () => {
    const a = req(
      'OPTIONS sip:b@h SIP/2.0\nVia: SIP / 2.0 / UDP host.example;branch=z9hG4bKx\nCSeq: 1 OPTIONS\nCall-ID: c\n\n',
    );
    const b = req(
      'OPTIONS sip:b@h SIP/2.0\nVia: SIP/2.0/UDP host.example;branch=z9hG4bKx, SIP/2.0/UDP other\nCSeq: 1 OPTIONS\nCall-ID: c\n\n',
    );
    assert.equal(key(serverTransactionKey(a)), key(serverTransactionKey(b)));
  });
});

describe('RFC 2543 fallback matching (RFC 3261 §17.2.3, no magic cookie)', () => {
  const old = (
    method: string,
    cseqMethod: string,
    opts: { toTag?: string; callId?: string; via?: string; uri?: string } = {},
  ) =>
    req(`${method} ${opts.uri ?? 'sip:bob@biloxi.com'} SIP/2.0
Via: ${opts.via ?? 'SIP/2.0/UDP pc33.atlanta.com'}
To: <sip:bob@biloxi.com>${opts.toTag ?? ''}
From: <sip:alice@atlanta.com>;tag=1928301774
Call-ID: ${opts.callId ?? 'a84b4c76e66710'}
CSeq: 314159 ${cseqMethod}

`);

  test('an INVITE retransmission without branch matches', () => {
    assert.equal(
      key(serverTransactionKey(old('INVITE', 'INVITE'))),
      key(serverTransactionKey(old('INVITE', 'INVITE'))),
    );
  });

  test('the ACK (with the response To tag) matches the INVITE', () => {
    assert.equal(
      key(serverTransactionKey(old('ACK', 'ACK', { toTag: ';tag=a6c85cf' }))),
      key(serverTransactionKey(old('INVITE', 'INVITE'))),
    );
  });

  test('Call-ID, Request-URI and top Via all take part', () => {
    const base = key(serverTransactionKey(old('INVITE', 'INVITE')));
    assert.notEqual(key(serverTransactionKey(old('INVITE', 'INVITE', { callId: 'other' }))), base);
    assert.notEqual(
      key(serverTransactionKey(old('INVITE', 'INVITE', { uri: 'sip:carol@biloxi.com' }))),
      base,
    );
    assert.notEqual(
      key(serverTransactionKey(old('INVITE', 'INVITE', { via: 'SIP/2.0/UDP elsewhere.com' }))),
      base,
    );
    assert.notEqual(
      key(
        serverTransactionKey(
          old('INVITE', 'INVITE', { via: 'SIP/2.0/UDP pc33.atlanta.com;branch=1' }),
        ),
      ),
      base,
    );
  });

  test('a branch without the cookie is not an RFC 3261 key', () => {
    const a = key(
      serverTransactionKey(
        old('INVITE', 'INVITE', { via: 'SIP/2.0/UDP pc33.atlanta.com;branch=abc' }),
      ),
    );
    const b = key(
      serverTransactionKey(
        old('INVITE', 'INVITE', { via: 'SIP/2.0/UDP pc33.atlanta.com;branch=abc', callId: 'x' }),
      ),
    );
    assert.notEqual(a, b, 'Call-ID matters, so the fallback was used');
  });

  test('CANCEL targets the INVITE in the fallback too', () => {
    assert.equal(
      key(cancelTargetKey(old('CANCEL', 'CANCEL'))),
      key(serverTransactionKey(old('INVITE', 'INVITE'))),
    );
    assert.notEqual(
      key(serverTransactionKey(old('CANCEL', 'CANCEL'))),
      key(serverTransactionKey(old('INVITE', 'INVITE'))),
    );
  });
});

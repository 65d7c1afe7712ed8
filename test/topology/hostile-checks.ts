// Small helpers of hostile.test.ts: hand-made requests, reading what an exchange got back,
// what a capture saw cross, and how long held connections lived.
import { sleep } from '../helpers/process.ts';
import { sipHeader } from './capture.ts';
import type { CapturedSip } from './capture.ts';
import type { EdgeOutcome } from './hostile-corpus.ts';
import { DOMAIN } from './hostile-deployment.ts';
import type { ExchangeOutcome, HeaderPair, HeldConnection } from './hostile-protocol.ts';
import type { Agent } from './hostile-remote.ts';

/** The internal user, registered at the Front End from corp2. */
export const ALICE = `sip:alice@${DOMAIN}`;

/**
 * A MESSAGE from mallory (a user of ours) on the Internet client to `uri` (alice by
 * default), with `lines` after CSeq; the caller adds Content-Length (or leaves it out).
 */
export function sipMessage(callId: string, lines: readonly string[], uri = ALICE): string {
  return [
    `MESSAGE ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-${callId}`,
    'Max-Forwards: 70',
    `From: <sip:mallory@${DOMAIN}>;tag=${callId}`,
    `To: <${ALICE}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 MESSAGE',
    ...lines,
    '',
    '',
  ].join('\r\n');
}

/** Every value of header `name` (canonical lower-case name). */
export function headerValues(headers: readonly HeaderPair[], name: string): string[] {
  return headers.filter(([header]) => header === name).map(([, value]) => value);
}

/** Distinct final statuses among the messages an exchange got back, ascending. */
export function finals(outcome: ExchangeOutcome): number[] {
  const statuses = outcome.responses.flatMap((text) => {
    const status = /^SIP\/2\.0 (\d{3}) /.exec(text)?.[1];
    return status === undefined || Number(status) < 200 ? [] : [Number(status)];
  });
  return [...new Set(statuses)].sort();
}

/** Why `outcome` is not `expected` (hostile-corpus.ts) over `transport`; undefined if it is. */
export function mismatch(
  expected: EdgeOutcome,
  outcome: ExchangeOutcome,
  transport: 'udp' | 'tls',
): string | undefined {
  const got = finals(outcome);
  const ok =
    typeof expected === 'number'
      ? got.length === 1 && got[0] === expected
      : expected === 'director'
        ? got.length === 1 && got[0] === 407
        : expected === 'close'
          ? got.length === 0 && outcome.closedByPeer
          : transport === 'udp'
            ? outcome.responses.length === 0
            : got.length === 0 && !outcome.closedByPeer;
  if (ok) return undefined;
  const closed = outcome.closedByPeer ? ', closed by the edge' : '';
  return (
    `expected ${String(expected)}, got finals [${got.join(',')}] ` +
    `in ${String(outcome.responses.length)} messages${closed}`
  );
}

/** Call-IDs of the requests `from` sent in a capture. */
export function callIdsFrom(messages: readonly CapturedSip[], from: string): Set<string> {
  return new Set(
    messages
      .filter((m) => m.method !== undefined && m.src === from)
      .flatMap((m) => sipHeader(m, 'call-id')),
  );
}

/**
 * The connections of hold group `group` once every one has closed, or as they are after
 * `deadlineMs`; then ends the group.
 */
export async function whenAllClosed(
  agent: Agent,
  group: string,
  deadlineMs: number,
): Promise<HeldConnection[]> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const { connections } = await agent.call('hold.status', { group });
    if (connections.every((c) => c.closedAt !== undefined) || Date.now() > deadline) {
      await agent.call('hold.close', { group });
      return [...connections];
    }
    await sleep(500);
  }
}

/**
 * The connections whose lifetime (ready to closed, ms) is outside [low, high], as
 * `source: lifetime` (Infinity for one still open).
 */
export function lifetimesOutside(
  connections: readonly HeldConnection[],
  low: number,
  high: number,
): string[] {
  return connections.flatMap((c) => {
    const lifetime = (c.closedAt ?? Infinity) - (c.readyAt ?? c.openedAt);
    return lifetime >= low && lifetime <= high ? [] : [`${c.source}: ${String(lifetime)}`];
  });
}

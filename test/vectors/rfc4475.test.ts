// RFC 4475 conformance: every torture-test message of the shared corpus, and what a
// conforming element — here our stateful proxy — does with it. A message is either accepted
// (parsed, valid, forwarded), rejected with the RFC's response, or, for responses, dropped.
// The outcome comes from the real path: parseSipMessage, then validateProxyRequest.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { header, headerValues, parseSipMessage } from '../../src/codec/sip/parse.ts';
import { parseSipUri } from '../../src/codec/sip/uri.ts';
import type { SipMessage } from '../../src/codec/sip/message.ts';
import { validateProxyRequest, type ProxyIdentity } from '../../src/proto/sip-proxy/forward.ts';
import { clientTransactionKey } from '../../src/proto/transaction/keys.ts';

const CORPUS = new URL('../../../shared/corpus/rfc4475/', import.meta.url);

type Outcome = 'accept' | 'drop' | number;

interface Expectation {
  /** RFC 4475 section. */
  readonly section: string;
  readonly outcome: Outcome;
  /** Extra checks on an accepted message. */
  readonly check?: (msg: SipMessage) => void;
}

const EXPECTED: Readonly<Record<string, Expectation>> = {
  wsinv: {
    section: '3.1.1.1',
    outcome: 'accept',
    check: (m) => {
      assert.equal(m.kind === 'request' && m.method, 'INVITE');
      // Folded, oddly spaced and case-mixed header fields still come out right.
      assert.equal(header(m, 'max-forwards'), '0068');
      assert.equal(header(m, 'cseq'), '0009 INVITE');
      assert.equal(headerValues(m, 'via').length, 3);
      assert.equal(m.body.length, 150);
    },
  },
  // §3.1.1 Valid messages: parsed and accepted.
  intmeth: {
    section: '3.1.1.2',
    outcome: 'accept',
    check: (m) => {
      assert.equal(m.kind === 'request' && m.method, "!interesting-Method0123456789_*+`.%indeed'~");
    },
  },
  esc01: {
    section: '3.1.1.3',
    outcome: 'accept',
    check: (m) => {
      const uri = parseSipUri(m.kind === 'request' ? m.requestUri : '');
      assert.ok(uri.ok);
      assert.equal(decodeURIComponent(uri.value.user ?? ''), 'sips:user@example.com');
    },
  },
  escnull: { section: '3.1.1.4', outcome: 'accept' },
  esc02: { section: '3.1.1.5', outcome: 'accept' },
  lwsdisp: { section: '3.1.1.6', outcome: 'accept' },
  longreq: {
    section: '3.1.1.7',
    outcome: 'accept',
    check: (m) => {
      assert.ok(
        m.headers.some((h) => h.value.length > 500),
        'a very long header value',
      );
      assert.ok(headerValues(m, 'via').length >= 20);
    },
  },
  dblreq: {
    section: '3.1.1.8',
    outcome: 'accept',
    check: (m) => {
      // Only the REGISTER counts; the trailing INVITE in the datagram is discarded.
      assert.equal(m.kind === 'request' && m.method, 'REGISTER');
      assert.equal(m.body.length, 0);
    },
  },
  semiuri: { section: '3.1.1.9', outcome: 'accept' },
  transports: {
    section: '3.1.1.10',
    outcome: 'accept',
    check: (m) => {
      assert.equal(headerValues(m, 'via').length, 5);
    },
  },
  mpart01: { section: '3.1.1.11', outcome: 'accept' },
  unreason: {
    section: '3.1.1.12',
    outcome: 'accept',
    check: (m) => {
      assert.equal(m.kind === 'response' && m.status, 200);
    },
  },
  noreason: {
    section: '3.1.1.13',
    outcome: 'accept',
    check: (m) => {
      assert.equal(m.kind === 'response' && m.reason, '');
    },
  },
  // §3.1.2 Invalid messages.
  badinv01: { section: '3.1.2.1', outcome: 400 },
  clerr: { section: '3.1.2.2', outcome: 400 },
  ncl: { section: '3.1.2.3', outcome: 400 },
  scalar02: { section: '3.1.2.4', outcome: 400 },
  scalarlg: { section: '3.1.2.5', outcome: 'drop' },
  quotbal: { section: '3.1.2.6', outcome: 400 },
  ltgtruri: { section: '3.1.2.7', outcome: 400 },
  lwsruri: { section: '3.1.2.8', outcome: 400 },
  lwsstart: { section: '3.1.2.9', outcome: 400 },
  trws: { section: '3.1.2.10', outcome: 400 },
  escruri: { section: '3.1.2.11', outcome: 400 },
  // §3.1.2.12: a non-GMT Date need not be rejected by an element that does not use Date.
  baddate: { section: '3.1.2.12', outcome: 'accept' },
  regbadct: { section: '3.1.2.13', outcome: 400 },
  badaspec: { section: '3.1.2.14', outcome: 400 },
  baddn: { section: '3.1.2.15', outcome: 400 },
  badvers: { section: '3.1.2.16', outcome: 505 },
  mismatch01: { section: '3.1.2.17', outcome: 400 },
  mismatch02: { section: '3.1.2.18', outcome: 400 },
  bigcode: { section: '3.1.2.19', outcome: 'drop' },
  // §3.2 Transaction layer: a branch of just the magic cookie still identifies a transaction
  // (or falls back to RFC 2543 matching); the parser must not break.
  badbranch: { section: '3.2.1', outcome: 'accept' },
  // §3.3 Application layer.
  insuf: { section: '3.3.1', outcome: 400 },
  unkscm: { section: '3.3.2', outcome: 416 },
  novelsc: { section: '3.3.3', outcome: 416 },
  // §3.3.4: unknown schemes in header fields (To, From, Contact) are fine.
  unksm2: { section: '3.3.4', outcome: 'accept' },
  bext01: { section: '3.3.5', outcome: 420 },
  // §3.3.6: an unknown Content-Type is the UAS's business (415); a proxy forwards it.
  invut: { section: '3.3.6', outcome: 'accept' },
  // §3.3.7: an unknown authorization scheme is the registrar's business; a proxy forwards it.
  regaut01: { section: '3.3.7', outcome: 'accept' },
  multi01: { section: '3.3.8', outcome: 400 },
  mcl01: { section: '3.3.9', outcome: 400 },
  // §3.3.10: a valid response whose next Via is a broadcast address. It parses; a proxy routes
  // responses only through its own transactions and never to a Via address, so nothing is
  // ever sent to 255.255.255.255.
  bcast: { section: '3.3.10', outcome: 'accept' },
  // Not an RFC 4475 message: invut with an unparsable CSeq, shipped in the corpus too → 400.
  badcseq: { section: 'extra', outcome: 400 },
  // §3.3.12/13: unknown Contact parameters are accepted (with and without <>).
  cparam01: { section: '3.3.12', outcome: 'accept' },
  cparam02: { section: '3.3.13', outcome: 'accept' },
  // §3.3.14: escaped headers in a registered Contact are kept.
  regescrt: { section: '3.3.14', outcome: 'accept' },
  // §3.3.15: Accept: text/nobodyKnowsThis is the UAS's business (406); a proxy forwards it.
  sdp01: { section: '3.3.15', outcome: 'accept' },
  // §3.3.11 zeromf: Max-Forwards 0 — a proxy must not forward it (RFC 3261 §16.3 item 3) → 483.
  zeromf: { section: '3.3.11', outcome: 483 },
  // §3.4: RFC 2543 syntax is accepted.
  inv2543: { section: '3.4.1', outcome: 'accept' },
};

const identity: ProxyIdentity = {
  isLocalUri: () => false,
  isLocalSentBy: () => false,
  supportedExtensions: [],
};

/** What the proxy does with `raw` received in a UDP datagram. */
function outcomeOf(raw: Buffer): { outcome: Outcome; msg?: SipMessage } {
  const parsed = parseSipMessage(raw, { datagram: true });
  if (!parsed.ok) return { outcome: parsed.error.status ?? 'drop' };
  const msg = parsed.value;
  if (msg.kind === 'response') {
    // A response must at least yield a transaction key (top Via branch, CSeq) to be routed.
    return { outcome: clientTransactionKey(msg).ok ? 'accept' : 'drop', msg };
  }
  const checked = validateProxyRequest(msg, identity);
  return { outcome: checked.ok ? 'accept' : checked.error.status, msg };
}

describe('RFC 4475 torture tests', () => {
  const files = readdirSync(CORPUS)
    .filter((f) => f.endsWith('.dat'))
    .map((f) => f.slice(0, -4))
    .sort();
  let handled = 0;

  test('every corpus message has an expectation', () => {
    assert.ok(files.length >= 40, `corpus found at ${CORPUS.pathname}`);
    assert.deepEqual(
      files.filter((f) => !(f in EXPECTED)),
      [],
    );
  });

  for (const name of files) {
    const expected = EXPECTED[name];
    test(`${name} (RFC 4475 §${expected?.section ?? '?'}) → ${String(expected?.outcome ?? '?')}`, () => {
      assert.ok(expected, `no expectation for ${name}`);
      const { outcome, msg } = outcomeOf(readFileSync(new URL(`${name}.dat`, CORPUS)));
      assert.equal(outcome, expected.outcome);
      if (expected.check !== undefined) {
        assert.ok(msg);
        expected.check(msg);
      }
      handled++;
    });
  }

  test('score', () => {
    const rfc = files.filter((f) => EXPECTED[f]?.section !== 'extra').length;
    const rfcHandled = handled - (files.length - rfc);
    console.log(
      `RFC 4475: ${String(rfcHandled)}/${String(rfc)} messages handled as the RFC says (+ ${String(files.length - rfc)} extra corpus file)`,
    );
    assert.equal(handled, files.length);
  });
});

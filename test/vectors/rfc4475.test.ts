// RFC 4475 conformance: every torture-test message of the shared corpus and what RFC 4475 says
// a conforming element does with it, checked through the codec alone: parseSipMessage (as a UDP
// datagram, as the RFC's messages ostensibly arrive), then checkRequest / checkResponse.
// Outcomes: 'accept' (parsed and passes the state-independent checks), a status code (the
// response the element answers with), or 'drop' (a response, or unanswerable input, discarded).
// Where RFC 4475 leaves a choice ("It is acceptable to reject ... An element could choose to be
// liberal"), the table records the choice Rampart makes and the comment says so.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import {
  cseqOf,
  parseMaxForwards,
  parseNameAddr,
  parseVias,
  topVia,
} from '../../src/codec/sip/headers.ts';
import type { SipMessage, SipRequest } from '../../src/codec/sip/message.ts';
import { header, headerFields, headerValues, parseSipMessage } from '../../src/codec/sip/parse.ts';
import { parseSipUri, parseUri } from '../../src/codec/sip/uri.ts';
import { checkRequest, checkResponse } from '../../src/codec/sip/validate.ts';

/** The repo root is two directories up from test/vectors/; the corpus is its sibling `shared/`. */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CORPUS = path.join(REPO_ROOT, '..', 'shared', 'corpus', 'rfc4475');

type Outcome = 'accept' | 'drop' | number;
type Role = 'proxy' | 'uas';

interface Expectation {
  /** RFC 4475 section, or '-' for a file the RFC does not contain. */
  readonly section: string;
  /** Outcome for a proxy (RFC 3261 §16.3) … */
  readonly proxy: Outcome;
  /** … and for a UAS (§8.2); the same as `proxy` unless given. */
  readonly uas?: Outcome;
  /** Field-level checks on the parsed message. */
  readonly check?: (msg: SipMessage) => void;
}

function req(m: SipMessage): SipRequest {
  assert.equal(m.kind, 'request');
  return m;
}

function sipUri(text: string): NonNullable<ReturnType<typeof parseSipUri> & { ok: true }>['value'] {
  const uri = parseSipUri(text);
  assert.ok(uri.ok, `not a SIP URI: ${text}`);
  return uri.value;
}

function nameAddr(value: string | undefined): ReturnType<typeof parseNameAddr> & { ok: true } {
  const parsed = parseNameAddr(value ?? '');
  assert.ok(parsed.ok, `not a name-addr: ${String(value)}`);
  return parsed;
}

const SUPPORTED = ['100rel', 'timer'];
/** The methods a Rampart UAS recognises (RFC 3261 and extensions); the torture methods are not. */
const KNOWN_METHODS = ['INVITE', 'ACK', 'CANCEL', 'BYE', 'REGISTER', 'OPTIONS', 'MESSAGE'];

const EXPECTED: Readonly<Record<string, Expectation>> = {
  // ---- §3.1.1 Valid messages: a parser must accept them, and the fields come out right. ----
  wsinv: {
    section: '3.1.1.1',
    proxy: 'accept',
    check: (m) => {
      const r = req(m);
      assert.equal(r.method, 'INVITE');
      assert.equal(r.requestUri, 'sip:vivekg@chair-dnrc.example.com;unknownparam');
      // "TO :\r\n sip:...  ;   tag    = 1918181833n": folded, spaces around ':' and '='.
      const to = nameAddr(header(m, 'to')).value;
      assert.equal(to.uri, 'sip:vivekg@chair-dnrc.example.com');
      assert.equal(to.params.get('tag'), '1918181833n');
      // from: "J Rosenberg \\\"" — a quoted-pair backslash then a quoted-pair quote.
      const from = nameAddr(header(m, 'from')).value;
      assert.equal(from.displayName, 'J Rosenberg \\"');
      assert.equal(from.params.get('tag'), '98asjd8');
      assert.deepEqual(parseMaxForwards(header(m, 'MaX-fOrWaRdS') ?? ''), { ok: true, value: 68 });
      assert.deepEqual(cseqOf(m), { ok: true, value: { seq: 9, method: 'INVITE' } });
      const vias = parseVias(m);
      assert.ok(vias.ok);
      assert.deepEqual(
        vias.value.map((v) => [v.protocol, v.transport, v.host, v.branch]),
        [
          ['SIP/2.0', 'UDP', '192.0.2.2', '390skdjuw'],
          ['SIP/2.0', 'TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
          ['SIP/2.0', 'UDP', '192.168.255.111', 'z9hG4bK30239'],
        ],
      );
      assert.equal(header(m, 'subject'), '');
      assert.equal(header(m, 'newfangledheader'), 'newfangled value continued newfangled value');
      assert.equal(header(m, 'UnknownHeaderWithUnusualValue'), ';;,,;;,;');
      const contact = nameAddr(header(m, 'm')).value;
      assert.equal(contact.displayName, 'Quoted string ""');
      assert.equal(contact.params.get('newparam'), 'newvalue');
      assert.equal(contact.params.get('secondparam'), null);
      assert.equal(contact.params.get('q'), '0.33');
      assert.equal(m.body.length, 150);
    },
  },
  // Parsed as valid; a UAS that does not know the method answers 501 (RFC 3261 §8.2.1).
  intmeth: {
    section: '3.1.1.2',
    proxy: 'accept',
    uas: 501,
    check: (m) => {
      const method = "!interesting-Method0123456789_*+`.%indeed'~";
      assert.equal(req(m).method, method);
      assert.deepEqual(cseqOf(m), { ok: true, value: { seq: 139122385, method } });
      const uri = sipUri(req(m).requestUri);
      assert.equal(uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
      assert.equal(uri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
      assert.equal(uri.host, 'example.com');
      const to = nameAddr(header(m, 'to')).value;
      assert.equal(to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
      const from = nameAddr(header(m, 'from')).value;
      assert.equal(from.displayName, "token1~` token2'+_ token3*%!.-");
      assert.equal(from.params.get('tag'), "_token~1'+`*%!-.");
      assert.equal(header(m, 'call-id'), 'intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
    },
  },
  esc01: {
    section: '3.1.1.3',
    proxy: 'accept',
    check: (m) => {
      const uri = sipUri(req(m).requestUri);
      assert.equal(uri.user, 'sips%3Auser%40example.com');
      assert.equal(decodeURIComponent(uri.user), 'sips:user@example.com');
      assert.equal(uri.host, 'example.net');
      assert.equal(header(m, 'i'), 'esc01.239409asdfakjkn23onasd0-3234');
      assert.equal(header(m, 'content-type'), 'application/sdp');
      const contact = sipUri(nameAddr(header(m, 'contact')).value.uri);
      assert.equal(contact.user, 'cal%6Cer');
      assert.equal(contact.params.get('%6c%72'), null);
      assert.equal(contact.params.get('n%61me'), 'v%61lue%25%34%31');
    },
  },
  escnull: {
    section: '3.1.1.4',
    proxy: 'accept',
    check: (m) => {
      assert.equal(sipUri(nameAddr(header(m, 'to')).value.uri).user, 'null-%00-null');
      const contacts = headerValues(m, 'contact').map((c) => sipUri(nameAddr(c).value.uri).user);
      assert.deepEqual(contacts, ['%00', '%00%00']);
      assert.equal(decodeURIComponent(contacts[1] ?? ''), '\0\0');
      assert.equal(header(m, 'L'), '0');
    },
  },
  // RE%47IST%45R is not REGISTER: an unknown method, so a UAS answers 501 (RFC 3261 §8.2.1).
  esc02: {
    section: '3.1.1.5',
    proxy: 'accept',
    uas: 501,
    check: (m) => {
      // '%' in a method, a display name and a branch is not an escape; C%6Fntact is an
      // extension header, not a Contact.
      assert.equal(req(m).method, 'RE%47IST%45R');
      assert.equal(nameAddr(header(m, 'to')).value.displayName, '%Z%45');
      const via = topVia(m);
      assert.ok(via.ok);
      assert.equal(via.value.branch, 'z9hG4bK209%fzsnel234');
      assert.equal(headerFields(m, 'contact').length, 2);
      assert.equal(headerFields(m, 'c%6fntact').length, 1);
    },
  },
  lwsdisp: {
    section: '3.1.1.6',
    proxy: 'accept',
    check: (m) => {
      const from = nameAddr(header(m, 'from')).value;
      assert.equal(from.displayName, 'caller');
      assert.equal(from.uri, 'sip:caller@example.com');
    },
  },
  longreq: {
    section: '3.1.1.7',
    proxy: 'accept',
    check: (m) => {
      const to = nameAddr(header(m, 'to')).value;
      assert.equal(to.displayName, `I have a user name of ${'extreme'.repeat(10)} proportion`);
      const uri = sipUri(to.uri);
      assert.equal(uri.port, 6000);
      assert.equal(uri.params.get(`longparam${'name'.repeat(25)}`), 'shortvalue');
      assert.equal(headerValues(m, 'via').length, 34);
      assert.ok((header(m, 'call-id') ?? '').length > 100);
      assert.equal(m.body.length, Number(header(m, 'content-length')));
    },
  },
  dblreq: {
    section: '3.1.1.8',
    proxy: 'accept',
    check: (m) => {
      // §18.3: octets past Content-Length in a datagram are discarded: the trailing INVITE is noise.
      assert.equal(req(m).method, 'REGISTER');
      assert.equal(m.body.length, 0);
      assert.equal(header(m, 'call-id'), 'dblreq.0ha0isndaksdj99sdfafnl3lk233412');
    },
  },
  semiuri: {
    section: '3.1.1.9',
    proxy: 'accept',
    check: (m) => {
      const uri = sipUri(req(m).requestUri);
      assert.equal(uri.user, 'user;par=u%40example.net');
      assert.equal(uri.host, 'example.com');
      assert.equal(uri.params.size, 0);
      assert.equal(headerValues(m, 'accept').length, 6);
    },
  },
  transports: {
    section: '3.1.1.10',
    proxy: 'accept',
    check: (m) => {
      const vias = parseVias(m);
      assert.ok(vias.ok);
      assert.deepEqual(
        vias.value.map((v) => v.transport),
        ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP'],
      );
    },
  },
  mpart01: {
    section: '3.1.1.11',
    proxy: 'accept',
    check: (m) => {
      assert.equal(m.body.length, 553);
      assert.match(header(m, 'content-type') ?? '', /^multipart\/mixed;boundary=7a9cbec02ceef655$/);
      assert.ok(m.body.includes(Buffer.from('--7a9cbec02ceef655--')));
    },
  },
  unreason: {
    section: '3.1.1.12',
    proxy: 'accept',
    check: (m) => {
      assert.ok(m.kind === 'response');
      assert.equal(m.status, 200);
      assert.ok(m.reason.startsWith('= 2**3 * 5**2 '));
      assert.equal(m.body.length, 154);
    },
  },
  noreason: {
    section: '3.1.1.13',
    proxy: 'accept',
    check: (m) => {
      assert.ok(m.kind === 'response' && m.status === 100 && m.reason === '');
    },
  },

  // ---- §3.1.2 Invalid messages. ----
  // "An element receiving this request should respond with a 400 Bad Request error."
  badinv01: { section: '3.1.2.1', proxy: 400 },
  // "When sent over UDP ... the receiving element should respond with a 400 Bad Request error."
  clerr: { section: '3.1.2.2', proxy: 400 },
  // Negative Content-Length: "should respond with a 400 Bad Request error".
  ncl: { section: '3.1.2.3', proxy: 400 },
  // "should respond with a 400 Bad Request due to the CSeq error".
  scalar02: { section: '3.1.2.4', proxy: 400 },
  // A response: "An element receiving this response will simply discard it."
  scalarlg: { section: '3.1.2.5', proxy: 'drop' },
  // Unterminated quoted string: "should respond with a 400 Bad Request error".
  quotbal: { section: '3.1.2.6', proxy: 400 },
  // <> around the Request-URI: "should respond with a 400 Bad Request".
  ltgtruri: { section: '3.1.2.7', proxy: 400 },
  // LWS inside the Request-URI: "should respond with a 400 Bad Request".
  lwsruri: { section: '3.1.2.8', proxy: 400 },
  // "It is acceptable to reject this request as malformed" — Rampart rejects (no liberal SP).
  lwsstart: { section: '3.1.2.9', proxy: 400 },
  // Same choice for trailing SP after SIP-Version.
  trws: { section: '3.1.2.10', proxy: 400 },
  // "It is acceptable for an element to reject this request with a 400 Bad Request."
  escruri: { section: '3.1.2.11', proxy: 400 },
  // A non-GMT Date: rejecting is allowed only "if the contents of the Date header field were
  // actually important to its processing"; Rampart never uses Date, so it ignores the value.
  baddate: {
    section: '3.1.2.12',
    proxy: 'accept',
    check: (m) => {
      assert.equal(header(m, 'date'), 'Fri, 01 Jan 2010 16:00:00 EST');
    },
  },
  // "It is reasonable for an element receiving this request to respond with a 400".
  regbadct: { section: '3.1.2.13', proxy: 400 },
  // "It is reasonable to reject this request with a 400 Bad Request response."
  badaspec: { section: '3.1.2.14', proxy: 400 },
  // "It is reasonable always to reject this kind of error with a 400 Bad Request response."
  baddn: { section: '3.1.2.15', proxy: 400 },
  // "should respond with a 505 Version Not Supported error".
  badvers: { section: '3.1.2.16', proxy: 505 },
  // "Any element receiving this request will respond with a 400 Bad Request."
  mismatch01: { section: '3.1.2.17', proxy: 400 },
  // "should respond with a 501 Not Implemented. A 400 Bad Request is also acceptable, but
  // choosing a 501 (particularly at proxies) has better future-proof characteristics." A UAS
  // knows its methods (501); a proxy forwards unknown methods, so it answers the mismatch 400.
  mismatch02: { section: '3.1.2.18', proxy: 400, uas: 501 },
  // A response with code > 699: "An element receiving this response should simply drop it."
  bigcode: { section: '3.1.2.19', proxy: 'drop' },

  // ---- §3.2 Transaction layer. ----
  // branch=z9hG4bK with nothing after it: "A parser must not break"; the element may reject it
  // with 400 "or it could fall back to the RFC 2543-style transaction identifier". The codec
  // accepts it; the transaction layer (src/proto/transaction/keys.ts) falls back to 2543 keys.
  badbranch: {
    section: '3.2.1',
    proxy: 'accept',
    check: (m) => {
      const via = topVia(m);
      assert.ok(via.ok && via.value.branch === 'z9hG4bK');
    },
  },

  // ---- §3.3 Application layer. ----
  // No Call-ID, From or To: "Ideally, it will respond with a 400 Bad Request error."
  insuf: { section: '3.3.1', proxy: 400 },
  // Unknown scheme in the Request-URI: "A parser must accept this as a well-formed SIP
  // request. An element receiving this request will reject it with a 416".
  unkscm: {
    section: '3.3.2',
    proxy: 416,
    check: (m) => {
      const uri = parseUri(req(m).requestUri);
      assert.ok(uri.ok && uri.value.scheme === 'nobodyknowsthisscheme');
    },
  },
  // soap.beep: "If an element will never accept this scheme as meaningful in a Request-URI, it
  // is appropriate to treat it as unknown and return a 416".
  novelsc: {
    section: '3.3.3',
    proxy: 416,
    check: (m) => {
      const uri = parseUri(req(m).requestUri);
      assert.ok(uri.ok && uri.value.scheme === 'soap.beep');
    },
  },
  // Unknown schemes in To, From, Contact: "Parsers must not fail ... Proxies should treat this
  // message as they would any other request for this URI." (A registrar answers 400 because a
  // To must be a SIP or SIPS AOR: the registrar's business, not checkRequest's.)
  unksm2: {
    section: '3.3.4',
    proxy: 'accept',
    check: (m) => {
      assert.equal(nameAddr(header(m, 'to')).value.uri, 'isbn:2983792873');
      assert.equal(nameAddr(header(m, 'from')).value.uri, 'http://www.example.com');
      assert.equal(nameAddr(header(m, 'contact')).value.uri, 'name:John_Smith');
    },
  },
  // "Any element receiving this request will respond with a 420 Bad Extension response,
  // containing an Unsupported header field listing these features from either the Require or
  // Proxy-Require header field, depending on the role in which the element is responding."
  bext01: { section: '3.3.5', proxy: 420, uas: 420 },
  // Unknown Content-Type: a UAS answers 415 (application layer: Rampart's proxy has no body
  // handling); a proxy forwards it untouched.
  invut: { section: '3.3.6', proxy: 'accept' },
  // Unknown Authorization scheme: "A proxy will treat this request as any other REGISTER";
  // a registrar challenges (401) or, not being one, answers 405 — application layer.
  regaut01: {
    section: '3.3.7',
    proxy: 'accept',
    check: (m) => {
      assert.equal(header(m, 'authorization'), 'NoOneKnowsThisScheme opaque-data=here');
    },
  },
  // Several Call-ID, To, From, CSeq, Max-Forwards: "should respond with a 400 Bad Request".
  multi01: { section: '3.3.8', proxy: 400 },
  // Conflicting Content-Length values: "An element receiving this message should respond with
  // an error" (400); over UDP the rest of the datagram is discarded, over TCP the connection
  // is closed (stream-framer.ts).
  mcl01: { section: '3.3.9', proxy: 400 },
  // A well-formed 200 whose second Via is 255.255.255.255: "parsers must not fail" (it parses,
  // see check); "proxies should drop such responses": checkResponse refuses it → drop.
  bcast: {
    section: '3.3.10',
    proxy: 'drop',
    check: (m) => {
      const vias = parseVias(m);
      assert.ok(vias.ok && vias.value[1]?.host === '255.255.255.255');
    },
  },
  // Max-Forwards: 0 — "A proxy should not forward the request and should respond 483 (Too
  // Many Hops). An endpoint should process the request as if the Max-Forwards field value were
  // still positive." (RFC 3261 §16.3 item 3.)
  zeromf: {
    section: '3.3.11',
    proxy: 483,
    uas: 'accept',
    check: (m) => {
      assert.deepEqual(parseMaxForwards(header(m, 'max-forwards') ?? ''), {
        ok: true,
        value: 0,
      });
    },
  },
  // "unknownparam must be interpreted as a contact-param and not a url-param" (addr-spec form).
  cparam01: {
    section: '3.3.12',
    proxy: 'accept',
    check: (m) => {
      const contact = nameAddr(header(m, 'contact')).value;
      assert.equal(contact.angle, false);
      assert.equal(contact.uri, 'sip:+19725552222@gw1.example.net');
      assert.ok(contact.params.has('unknownparam'));
      assert.equal(sipUri(contact.uri).params.size, 0);
    },
  },
  // In <...> the unknown parameter is a url-parameter and stays one.
  cparam02: {
    section: '3.3.13',
    proxy: 'accept',
    check: (m) => {
      const contact = nameAddr(header(m, 'contact')).value;
      assert.equal(contact.params.size, 0);
      assert.ok(sipUri(contact.uri).params.has('unknownparam'));
    },
  },
  // "The register should succeed": the escaped Route header stays in the Contact URI.
  regescrt: {
    section: '3.3.14',
    proxy: 'accept',
    check: (m) => {
      const contact = sipUri(nameAddr(header(m, 'M')).value.uri);
      assert.equal(contact.headers, 'Route=%3Csip:sip.example.com%3E');
    },
  },
  // Accept: text/nobodyKnowsThis — a UAS "could respond with a 406 Not Acceptable" (or 400):
  // application layer; a proxy forwards it.
  sdp01: { section: '3.3.15', proxy: 'accept' },

  // ---- §3.4 Backward compatibility. ----
  // RFC 2543 INVITE: no branch, no From tag, no Content-Length (the rest of the datagram is the
  // body), no Max-Forwards: "should be accepted by RFC 3261 elements that want to maintain
  // backwards compatibility".
  inv2543: {
    section: '3.4.1',
    proxy: 'accept',
    uas: 'accept',
    check: (m) => {
      assert.equal(header(m, 'content-length'), undefined);
      assert.equal(m.body.length, m.raw.length - m.bodyStart);
      assert.ok(m.body.toString('latin1').startsWith('v=0\r\n'));
      const via = topVia(m);
      assert.ok(via.ok && via.value.branch === undefined);
    },
  },

  // ---- Not an RFC 4475 message. ----
  // badcseq is not in RFC 4475 (it is invut with "CSeq: fhdjkgfhdkjhgkj "); a CSeq without a
  // sequence number is malformed (RFC 3261 §20.16) → 400, like RFC 4475's other bad scalars.
  badcseq: { section: '-', proxy: 400 },
};

/** What an element in `role` does with `raw` received in one UDP datagram. */
function outcomeOf(
  raw: Buffer,
  role: Role,
): { outcome: Outcome; msg?: SipMessage; headers?: ReadonlyArray<readonly [string, string]> } {
  const parsed = parseSipMessage(raw, { datagram: true });
  if (!parsed.ok) return { outcome: parsed.error.status ?? 'drop' };
  const msg = parsed.value;
  if (msg.kind === 'response') return { outcome: checkResponse(msg).ok ? 'accept' : 'drop', msg };
  const checked = checkRequest(msg, {
    role,
    supportedExtensions: SUPPORTED,
    ...(role === 'uas' ? { knownMethods: KNOWN_METHODS } : {}),
  });
  if (checked.ok) return { outcome: 'accept', msg };
  return {
    outcome: checked.error.status,
    msg,
    ...(checked.error.headers === undefined ? {} : { headers: checked.error.headers }),
  };
}

describe('RFC 4475 torture tests', () => {
  const files = readdirSync(CORPUS)
    .filter((f) => f.endsWith('.dat'))
    .map((f) => f.slice(0, -4))
    .sort();
  const inRfc = files.filter((f) => EXPECTED[f]?.section !== '-');
  let handled = 0;

  test('every corpus message has an expectation', () => {
    assert.ok(files.length >= 49, `corpus found at ${CORPUS}`);
    assert.deepEqual(
      files.filter((f) => !(f in EXPECTED)),
      [],
    );
  });

  for (const name of files) {
    const expected = EXPECTED[name];
    const label =
      expected === undefined
        ? name
        : `${name} (RFC 4475 §${expected.section}) → proxy ${String(expected.proxy)}, UAS ${String(expected.uas ?? expected.proxy)}`;
    test(label, () => {
      assert.ok(expected, `no expectation for ${name}`);
      const raw = readFileSync(path.join(CORPUS, `${name}.dat`));
      for (const role of ['proxy', 'uas'] as const) {
        const want: Outcome = role === 'proxy' ? expected.proxy : (expected.uas ?? expected.proxy);
        const got = outcomeOf(raw, role);
        assert.equal(got.outcome, want, role);
        if (expected.check !== undefined) {
          assert.ok(got.msg, 'parsed message');
          expected.check(got.msg);
        }
      }
      if (expected.section !== '-') handled++;
    });
  }

  test('bext01: 420 lists the Proxy-Require tags for a proxy, the Require tags for a UAS', () => {
    const raw = readFileSync(path.join(CORPUS, 'bext01.dat'));
    assert.deepEqual(outcomeOf(raw, 'proxy').headers, [
      ['Unsupported', 'noProxiesSupportThis, norDoAnyProxiesSupportThis'],
    ]);
    assert.deepEqual(outcomeOf(raw, 'uas').headers, [
      ['Unsupported', 'nothingSupportsThis, nothingSupportsThisEither'],
    ]);
  });

  test('badvers: the 505 comes with the indexed request, so it can be answered', () => {
    const parsed = parseSipMessage(readFileSync(path.join(CORPUS, 'badvers.dat')), {
      datagram: true,
    });
    assert.ok(!parsed.ok);
    assert.equal(parsed.error.status, 505);
    assert.equal(parsed.error.request?.method, 'OPTIONS');
    assert.equal(header(parsed.error.request, 'call-id'), 'badvers.31417@c.example.com');
  });

  test('clerr over a stream: the parser needs the whole message, not a 400', () => {
    // §3.1.2.2: "If this message arrived over a stream-based transport ... wait for more data".
    // A stream framer hands only complete messages to parseSipMessage; a bare parse still says
    // the body is short.
    const parsed = parseSipMessage(readFileSync(path.join(CORPUS, 'clerr.dat')));
    assert.ok(!parsed.ok && parsed.error.reason.includes('Content-Length'));
  });

  test(`RFC 4475: ${inRfc.length}/${inRfc.length} messages handled as the RFC says`, () => {
    console.log(`RFC 4475: ${handled}/${inRfc.length} messages handled as the RFC says`);
    assert.equal(handled, inRfc.length);
  });
});

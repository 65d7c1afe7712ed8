// The RFC 4475 torture-test corpus (../shared/corpus/rfc4475) as the hostile tests send it
// to the Access Edge, and what the edge must do with each message.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './netns.ts';

/** The corpus directory, beside the repository. */
export const CORPUS_DIR = join(REPO_ROOT, '..', 'shared', 'corpus', 'rfc4475');

/** One corpus message: its file name without `.dat`, and its bytes. */
export interface CorpusMessage {
  readonly name: string;
  readonly raw: Buffer;
}

/** Every message of the corpus, by name. */
export function loadCorpus(): CorpusMessage[] {
  return readdirSync(CORPUS_DIR)
    .filter((file) => file.endsWith('.dat'))
    .sort()
    .map((file) => ({ name: file.slice(0, -4), raw: readFileSync(join(CORPUS_DIR, file)) }));
}

/** The header section of a message as latin1 text (byte for byte), and the rest. */
function split(raw: Buffer): { head: string; rest: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  const cut = end < 0 ? raw.length : end;
  return { head: raw.subarray(0, cut).toString('latin1'), rest: raw.subarray(cut) };
}

/**
 * The message with `tag` appended to its first Call-ID and to its top Via's branch (unless
 * the branch is the bare magic cookie, which is what badbranch tests). RFC 4475's messages
 * reuse values (23 carry `branch=z9hG4bKkdjuw`), and a transaction layer rightly takes two
 * requests with one branch, sent-by and method for one transaction (RFC 3261 §17.2.3): the
 * second would only get the first one's response again, on the first one's flow. Only
 * header values change: Content-Length stays right.
 */
export function tagged(raw: Buffer, tag: string): Buffer {
  const { head, rest } = split(raw);
  const lines = head.split('\r\n');
  const callId = lines.findIndex((line) => /^(call-id|i)[ \t]*:/i.test(line));
  if (callId > 0) lines[callId] = `${lines[callId] ?? ''}.${tag}`;
  const via = lines.findIndex((line) => /^(via|v)[ \t]*:/i.test(line));
  if (via > 0)
    lines[via] = (lines[via] ?? '').replace(
      /(branch[ \t]*=[ \t]*)([^ \t;,]+)/i,
      (whole, name: string, value: string) =>
        value.toLowerCase() === 'z9hg4bk' ? whole : `${name}${value}.${tag}`,
    );
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), rest]);
}

/**
 * The message as if a user of `domain` sent it: the host of the From URI becomes `domain`
 * (when From holds a sip: URI), so that the edge's From-domain check passes and only the
 * message's own faults remain.
 */
export function fromDomain(raw: Buffer, domain: string): Buffer {
  const { head, rest } = split(raw);
  const lines = head.split('\r\n');
  const from = lines.findIndex((line) => /^(from|f)[ \t]*:/i.test(line));
  if (from > 0)
    lines[from] = (lines[from] ?? '').replace(
      /(sips?:[^@<>\s]*@)([^;>\s:]+)/i,
      (_whole, user: string) => `${user}${domain}`,
    );
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), rest]);
}

/** The Call-ID a tagged message carries (for finding it in a capture), if it has one. */
export function callIdOf(raw: Buffer): string | undefined {
  const { head } = split(raw);
  const line = head.split('\r\n').find((l) => /^(call-id|i)[ \t]*:/i.test(l));
  return line?.slice(line.indexOf(':') + 1).trim();
}

/**
 * What the Access Edge does with one corpus message:
 * - a number: the edge itself answers with this final status (and nothing crosses);
 * - `drop`: no answer, nothing crosses (on a stream the connection stays open);
 * - `close`: (streams) the edge closes the connection without a final response;
 * - `director`: the message crosses to the Director, whose 407 challenge comes back.
 */
export type EdgeOutcome = number | 'drop' | 'close' | 'director';

/** The edge's handling of a corpus message, sent as is over UDP and TLS, and as ours. */
export interface EdgeExpectation {
  /** RFC 4475 section, `-` for a file that is not in the RFC. */
  readonly section: string;
  readonly udp: EdgeOutcome;
  /** `skip`, here and below: not sent that way (the reason is beside it). */
  readonly tls: EdgeOutcome | 'skip';
  /** Over UDP with the From host made `example.test` (see {@link fromDomain}). */
  readonly ours: EdgeOutcome | 'skip';
}

// Over UDP each message is one datagram; over TLS one connection carries one file, as
// written. Valid messages from foreign domains get the edge's policy answer: 403 (From not
// one of ours) or 405 (a method remote users may not send); sent as ours they cross to the
// Director. Responses (bcast, bigcode, noreason, scalarlg, unreason) match no transaction
// and are dropped (RFC 3261 §16.7, §18.1.2).
export const EDGE_EXPECTED: Readonly<Record<string, EdgeExpectation>> = {
  // §3.1.1 valid messages: accepted by the parser, then the policy decides.
  wsinv: { section: '3.1.1.1', udp: 403, tls: 403, ours: 'skip' }, // Route: see the Route test
  intmeth: { section: '3.1.1.2', udp: 405, tls: 405, ours: 405 },
  esc01: { section: '3.1.1.3', udp: 403, tls: 403, ours: 'director' },
  escnull: { section: '3.1.1.4', udp: 403, tls: 403, ours: 'director' },
  esc02: { section: '3.1.1.5', udp: 405, tls: 405, ours: 405 },
  lwsdisp: { section: '3.1.1.6', udp: 403, tls: 403, ours: 'director' },
  longreq: { section: '3.1.1.7', udp: 403, tls: 403, ours: 'director' },
  // Over TLS the trailing bytes after the INVITE's body frame no message: the stream is
  // closed (RFC 3261 §18.3), before the REGISTER's answer is written.
  dblreq: { section: '3.1.1.8', udp: 403, tls: 'close', ours: 'director' },
  semiuri: { section: '3.1.1.9', udp: 403, tls: 403, ours: 'director' },
  transports: { section: '3.1.1.10', udp: 403, tls: 403, ours: 'director' },
  mpart01: { section: '3.1.1.11', udp: 403, tls: 403, ours: 'skip' }, // Route: see the Route test
  unreason: { section: '3.1.1.12', udp: 'drop', tls: 'drop', ours: 'drop' },
  noreason: { section: '3.1.1.13', udp: 'drop', tls: 'drop', ours: 'drop' },
  // §3.1.2 invalid messages: the RFC's answer, or dropped when the request line itself is
  // unreadable (no request to answer) or the Via is (nowhere to answer).
  badinv01: { section: '3.1.2.1', udp: 'drop', tls: 'drop', ours: 'drop' },
  // Over a stream a short body is waited for (RFC 4475 §3.1.2.2).
  clerr: { section: '3.1.2.2', udp: 400, tls: 'drop', ours: 400 },
  // A framing error on a stream closes it (RFC 4475 §3.1.2.3).
  ncl: { section: '3.1.2.3', udp: 400, tls: 'close', ours: 400 },
  scalar02: { section: '3.1.2.4', udp: 400, tls: 400, ours: 400 },
  scalarlg: { section: '3.1.2.5', udp: 'drop', tls: 'drop', ours: 'drop' },
  quotbal: { section: '3.1.2.6', udp: 400, tls: 400, ours: 400 },
  ltgtruri: { section: '3.1.2.7', udp: 'drop', tls: 'drop', ours: 'drop' },
  lwsruri: { section: '3.1.2.8', udp: 'drop', tls: 'drop', ours: 'drop' },
  lwsstart: { section: '3.1.2.9', udp: 'drop', tls: 'drop', ours: 'drop' },
  trws: { section: '3.1.2.10', udp: 'drop', tls: 'drop', ours: 'drop' },
  escruri: { section: '3.1.2.11', udp: 400, tls: 400, ours: 400 },
  baddate: { section: '3.1.2.12', udp: 403, tls: 403, ours: 'director' },
  regbadct: { section: '3.1.2.13', udp: 400, tls: 400, ours: 400 },
  badaspec: { section: '3.1.2.14', udp: 400, tls: 400, ours: 400 },
  // The file has no empty line after its headers: a datagram ends anyway, a stream waits.
  baddn: { section: '3.1.2.15', udp: 400, tls: 'drop', ours: 400 },
  badvers: { section: '3.1.2.16', udp: 505, tls: 505, ours: 505 },
  mismatch01: { section: '3.1.2.17', udp: 400, tls: 400, ours: 400 },
  mismatch02: { section: '3.1.2.18', udp: 400, tls: 400, ours: 400 },
  bigcode: { section: '3.1.2.19', udp: 'drop', tls: 'drop', ours: 'drop' },
  // §3.2: the bare magic cookie is keyed as a branch of its own (no RFC 2543 fallback), so
  // a second copy within 32 s is a retransmission of the first: sent once, over UDP.
  badbranch: { section: '3.2.1', udp: 403, tls: 'skip', ours: 'skip' },
  // §3.3 application layer.
  insuf: { section: '3.3.1', udp: 400, tls: 400, ours: 400 },
  unkscm: { section: '3.3.2', udp: 416, tls: 416, ours: 416 },
  novelsc: { section: '3.3.3', udp: 416, tls: 416, ours: 416 },
  // From is an http: URI: no user of ours, whatever its host.
  unksm2: { section: '3.3.4', udp: 403, tls: 403, ours: 403 },
  bext01: { section: '3.3.5', udp: 420, tls: 420, ours: 420 },
  invut: { section: '3.3.6', udp: 403, tls: 403, ours: 'director' },
  regaut01: { section: '3.3.7', udp: 403, tls: 403, ours: 'director' },
  multi01: { section: '3.3.8', udp: 400, tls: 400, ours: 400 },
  mcl01: { section: '3.3.9', udp: 400, tls: 'close', ours: 400 },
  bcast: { section: '3.3.10', udp: 'drop', tls: 'drop', ours: 'drop' },
  zeromf: { section: '3.3.11', udp: 483, tls: 483, ours: 483 },
  cparam01: { section: '3.3.12', udp: 403, tls: 403, ours: 'director' },
  cparam02: { section: '3.3.13', udp: 403, tls: 403, ours: 'director' },
  regescrt: { section: '3.3.14', udp: 403, tls: 403, ours: 'director' },
  sdp01: { section: '3.3.15', udp: 403, tls: 403, ours: 'director' },
  // RFC 2543 INVITE without Content-Length: on a stream that is a framing error (RFC 3261
  // §18.3). As ours it crosses without one: see the Content-Length test.
  inv2543: { section: '3.4.1', udp: 403, tls: 'close', ours: 'skip' },
  badcseq: { section: '-', udp: 400, tls: 400, ours: 400 },
};

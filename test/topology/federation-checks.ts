// What a capture of the federation topology holds, message by message: SIP framed out of
// decrypted TLS connections and plain TCP flows, split into head (start line and headers) and
// body, so a test can say where an address appears.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { header, parseSipMessage } from '../../src/codec/sip/parse.ts';
import { SipStreamFramer } from '../../src/codec/sip/stream-framer.ts';
import type { CapturedPacket, TlsStream } from './capture.ts';
import { wireHeader } from './ua-remote.ts';
import type { WireMessage } from './ua-remote.ts';

/** One SIP message out of a capture. */
export interface FramedMessage {
  /** Which connection it came from, for messages: `tls 3` or `tcp 198.51.100.20:40112`. */
  readonly origin: string;
  readonly startLine: string;
  /** Start line and header fields, as sent. */
  readonly head: string;
  readonly contentType: string | undefined;
  readonly body: string;
}

/** Frames one direction of one connection into SIP messages (CRLF keep-alives skipped). */
function frame(origin: string, bytes: Buffer): FramedMessage[] {
  const framer = new SipStreamFramer();
  const messages: FramedMessage[] = [];
  for (const output of framer.push(bytes)) {
    assert.notEqual(output.type, 'error', `${origin}: ${JSON.stringify(output)}`);
    if (output.type !== 'message') continue;
    const parsed = parseSipMessage(output.data);
    assert.ok(parsed.ok, `${origin}: ${output.data.toString('latin1')}`);
    const raw = output.data.toString('latin1');
    messages.push({
      origin,
      startLine: raw.slice(0, raw.indexOf('\r\n')),
      head: raw.slice(0, parsed.value.bodyStart),
      contentType: header(parsed.value, 'content-type'),
      body: parsed.value.body.toString('latin1'),
    });
  }
  return messages;
}

/** The SIP messages of decrypted TLS connections (readTlsStreams), both directions. */
export function tlsMessages(streams: readonly TlsStream[]): FramedMessage[] {
  return streams.flatMap((stream) =>
    ([0, 1] as const).flatMap((from) =>
      frame(
        `tls ${String(stream.stream)} from ${stream.nodes[from]}`,
        Buffer.concat(stream.chunks.filter((c) => c.from === from).map((c) => c.data)),
      ),
    ),
  );
}

/** The SIP messages of the plain TCP flows to or from `port`, each direction in capture order. */
export function tcpMessages(packets: readonly CapturedPacket[], port: number): FramedMessage[] {
  const directions = new Map<string, Buffer[]>();
  for (const packet of packets) {
    if (packet.protocol !== 'tcp' || packet.payload.length === 0) continue;
    if (packet.srcPort !== port && packet.dstPort !== port) continue;
    const key = `${String(packet.stream)} ${packet.src}:${String(packet.srcPort)}`;
    directions.set(key, [...(directions.get(key) ?? []), packet.payload]);
  }
  return [...directions].flatMap(([key, payloads]) => frame(`tcp ${key}`, Buffer.concat(payloads)));
}

/** Where `needle` appears in a message: its head or its body, and on which lines. */
export interface Finding {
  readonly where: 'head' | 'body';
  readonly origin: string;
  readonly startLine: string;
  readonly contentType: string | undefined;
  readonly lines: readonly string[];
}

/** Every appearance of `needle` in `messages`. */
export function findings(messages: readonly FramedMessage[], needle: string): Finding[] {
  const found: Finding[] = [];
  for (const m of messages) {
    for (const [where, text] of [
      ['head', m.head],
      ['body', m.body],
    ] as const) {
      if (!text.includes(needle)) continue;
      found.push({
        where,
        origin: m.origin,
        startLine: m.startLine,
        contentType: m.contentType,
        lines: text.split(/\r?\n/).filter((line) => line.includes(needle)),
      });
    }
  }
  return found;
}

/** The methods of the requests among `messages`. */
export function methodsOf(messages: readonly FramedMessage[]): Set<string> {
  return new Set(
    messages
      .filter((m) => !m.startLine.startsWith('SIP/2.0 '))
      .map((m) => m.startLine.split(' ')[0] ?? ''),
  );
}

/** Writes the concatenation of several NSS key logs (tshark takes one file). */
export async function mergeKeylogs(target: string, sources: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    sources.map((source) => readFile(source, 'utf8').catch(() => '')),
  );
  await writeFile(target, parts.join('\n'));
  return target;
}

/** Header lines of a message a client received that name `needle`. */
export function headersNaming(message: WireMessage, needle: string): string[] {
  return message.headers.filter(([, value]) => value.includes(needle)).map((h) => h.join(': '));
}

/** The route set a UAC takes from a 2xx's Record-Route (RFC 3261 §12.1.2: reversed). */
export function routeSet(response: WireMessage): string[] {
  return wireHeader(response, 'record-route')
    .flatMap((value) => value.split(/,(?![^<]*>)/))
    .map((value) => value.trim())
    .reverse();
}

/** The tag parameter of a From or To value. */
export function tagOf(value: string | undefined): string | undefined {
  return /;tag=([^;>\s]+)/.exec(value ?? '')?.[1];
}

/** Asserts that `needle` appears only in SDP bodies' c=/o= lines (media: the A/V Edge's job). */
export function assertOnlyInSdp(
  messages: readonly FramedMessage[],
  needle: string,
  where: string,
): void {
  for (const finding of findings(messages, needle)) {
    assert.ok(
      finding.where === 'body' &&
        finding.contentType === 'application/sdp' &&
        finding.lines.every((line) => /^[co]=/.test(line)),
      `${where}: ${needle} in ${JSON.stringify(finding)}`,
    );
  }
}

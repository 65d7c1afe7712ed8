// Packet capture inside a topology namespace with tshark, read back as plain objects so a
// test can assert on what crossed an interface: addresses, ports, payload bytes, and the
// SIP messages inside (decrypted from a TLS key log when the traffic is TLS).
import { requireProgram, sleep, startProcess } from '../helpers/process.ts';
import type { ManagedProcess } from '../helpers/process.ts';
import type { Network, Role } from './netns.ts';
import { canonicalHeaderName } from '../../src/codec/sip/parse.ts';

/** Options of {@link startCapture}. */
export interface CaptureOptions<R extends string = Role> {
  /** Namespace holding the interface. */
  readonly role: R;
  /** Interface name inside that namespace, e.g. `topo.iface.dmzInternal`. */
  readonly iface: string;
  /** pcapng file to write; its directory must exist. */
  readonly file: string;
  /** Capture filter in BPF syntax (`-f`), e.g. `udp or tcp`. Default: everything. */
  readonly filter?: string;
  readonly startTimeoutMs?: number;
}

/** A running capture. */
export interface Capture {
  readonly file: string;
  readonly process: ManagedProcess;
  /**
   * Waits `settleMs` (default 500), then stops tshark, which closes the file. Idempotent.
   * The wait is not optional: dumpcap reads the kernel's capture ring in blocks handed over
   * every 250 ms and drops the block in progress when stopped, so packets sent less than
   * ~250 ms before a stop are often missing (19 of 20 runs with no wait, 2 of 20 at 200 ms,
   * 0 of 20 at 500 ms even with both cores busy).
   */
  stop(settleMs?: number): Promise<void>;
  /** {@link Capture.stop}, then {@link readPackets}. */
  packets(options?: ReadOptions): Promise<CapturedPacket[]>;
  /** {@link Capture.stop}, then {@link readSip}. */
  sip(options?: ReadOptions): Promise<CapturedSip[]>;
}

/** How tshark dissects a capture when reading it back. */
export interface ReadOptions {
  /**
   * An NSS key log (what Node writes with `--tls-keylog=<file>` or a TLS socket's
   * `keylog` event): TLS is decrypted with it (`-o tls.keylog_file:<path>`).
   */
  readonly keylogFile?: string;
  /** `-d` rules, e.g. from {@link decodeSipOn}: which dissector a port carries. */
  readonly decodeAs?: readonly string[];
  /** Display filter (`-Y`), applied after dissection. */
  readonly displayFilter?: string;
  /** More `-o name:value` preferences. */
  readonly preferences?: readonly string[];
}

/** One captured frame. */
export interface CapturedPacket {
  readonly frame: number;
  /** Seconds since the epoch. */
  readonly time: number;
  /** IPv4 source; for ARP, the sender's protocol address; `''` for anything else. */
  readonly src: string;
  readonly dst: string;
  readonly protocol: 'tcp' | 'udp' | 'icmp' | 'arp' | 'other';
  readonly srcPort: number | undefined;
  readonly dstPort: number | undefined;
  /** tshark's TCP/UDP stream index: packets of one connection or flow share it. */
  readonly stream: number | undefined;
  /** The TCP or UDP payload of this frame as on the wire (ciphertext for TLS). */
  readonly payload: Buffer;
  /** tshark's dissector chain, e.g. `eth:ethertype:ip:tcp:tls:sip`. */
  readonly protocols: string;
}

/** One SIP message found in a capture (headers only; the body is not read). */
export interface CapturedSip {
  readonly frame: number;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number | undefined;
  readonly dstPort: number | undefined;
  readonly transport: 'udp' | 'tcp' | 'tls';
  /** `OPTIONS sip:bob@example.test SIP/2.0` or `SIP/2.0 200 OK`. */
  readonly startLine: string;
  /** The method of a request; undefined for a response. */
  readonly method: string | undefined;
  /** The status code of a response; undefined for a request. */
  readonly status: number | undefined;
  /** Header fields in wire order, names as written. */
  readonly headers: readonly (readonly [name: string, value: string])[];
  /** Start line and header fields joined with CRLF, for substring assertions and messages. */
  readonly text: string;
}

/**
 * Starts `tshark -i <iface> -w <file> [-f <filter>]` inside `role`'s namespace and resolves
 * once it reports the capture running. Stopped by `topo.destroy()` at the latest.
 */
export async function startCapture<R extends string>(
  topo: Network<R>,
  options: CaptureOptions<R>,
): Promise<Capture> {
  const argv = ['tshark', '-n', '-i', options.iface, '-w', options.file];
  if (options.filter !== undefined) argv.push('-f', options.filter);
  const tshark = topo.exec(options.role, argv, { name: `${options.role}:tshark ${options.iface}` });
  // dumpcap prints this once the interface is open and the filter compiled.
  await tshark.waitForOutput(/^Capturing on /m, options.startTimeoutMs ?? 10_000);
  let stopping: Promise<void> | undefined;
  const stop = (settleMs = 500): Promise<void> => {
    stopping ??= (async () => {
      await sleep(settleMs);
      // SIGINT is tshark's Ctrl-C: dumpcap writes what it holds and closes the file.
      const exit = await tshark.stop('SIGINT', 5000);
      if (exit.code !== 0) {
        throw new Error(
          `tshark on ${options.role}/${options.iface} ended with ${String(exit.code)} ` +
            `(${String(exit.signal)}):\n${tshark.stderr().slice(-2000)}`,
        );
      }
    })();
    return stopping;
  };
  return {
    file: options.file,
    process: tshark,
    stop,
    async packets(readOptions) {
      await stop();
      return readPackets(options.file, readOptions);
    },
    async sip(readOptions) {
      await stop();
      return readSip(options.file, readOptions);
    },
  };
}

/**
 * `-d` rules so tshark reads SIP on `port` (it only knows 5060 and TLS 5061 by itself).
 * TLS needs two: TCP carries TLS, and TLS carries SIP.
 */
export function decodeSipOn(transport: 'udp' | 'tcp' | 'tls', port: number): string[] {
  if (transport === 'tls') return [`tcp.port==${port},tls`, `tls.port==${port},sip`];
  return [`${transport}.port==${port},sip`];
}

// Field values never contain this: tshark escapes control characters in strings.
const AGGREGATOR = '\x1f';

async function tsharkFields(
  file: string,
  fields: readonly string[],
  options: ReadOptions,
  occurrence: 'f' | 'a',
): Promise<string[][]> {
  const args = ['-n', '-r', file];
  if (options.keylogFile !== undefined) args.push('-o', `tls.keylog_file:${options.keylogFile}`);
  for (const preference of options.preferences ?? []) args.push('-o', preference);
  for (const rule of options.decodeAs ?? []) args.push('-d', rule);
  if (options.displayFilter !== undefined) args.push('-Y', options.displayFilter);
  args.push('-T', 'fields', '-E', 'separator=/t', '-E', 'header=n', '-E', 'quote=n');
  args.push('-E', `occurrence=${occurrence}`, '-E', `aggregator=${AGGREGATOR}`);
  for (const field of fields) args.push('-e', field);
  const tshark = startProcess('tshark -r', requireProgram('tshark', 'tshark'), args, {
    outputCapBytes: 256 << 20,
  });
  const exit = await tshark.exited;
  if (exit.code !== 0) {
    throw new Error(`tshark ${args.join(' ')} failed (${String(exit.code)}):\n${tshark.stderr()}`);
  }
  return tshark
    .stdout()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t'));
}

function optionalNumber(text: string | undefined): number | undefined {
  return text === undefined || text === '' ? undefined : Number(text);
}

const PACKET_FIELDS = [
  'frame.number',
  'frame.time_epoch',
  'frame.protocols',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'arp.src.proto_ipv4',
  'arp.dst.proto_ipv4',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.stream',
  'tcp.payload',
  'udp.srcport',
  'udp.dstport',
  'udp.stream',
  'udp.payload',
] as const;

const IP_PROTOCOLS: Readonly<Record<string, CapturedPacket['protocol']>> = {
  '1': 'icmp',
  '6': 'tcp',
  '17': 'udp',
};

/**
 * Every frame of a capture file. Addresses and ports are the outermost ones (an ICMP
 * error's quoted packet is not read).
 */
export async function readPackets(
  file: string,
  options: ReadOptions = {},
): Promise<CapturedPacket[]> {
  const rows = await tsharkFields(file, PACKET_FIELDS, options, 'f');
  return rows.map((row): CapturedPacket => {
    const [frame, time, protocols, ipSrc, ipDst, ipProto, arpSrc, arpDst] = row;
    const [tcpSrc, tcpDst, tcpStream, tcpPayload, udpSrc, udpDst, udpStream, udpPayload] =
      row.slice(8);
    const isArp = arpSrc !== undefined && arpSrc !== '';
    const protocol = isArp ? 'arp' : (IP_PROTOCOLS[ipProto ?? ''] ?? 'other');
    const isTcp = protocol === 'tcp';
    return {
      frame: Number(frame),
      time: Number(time),
      protocols: protocols ?? '',
      src: (isArp ? arpSrc : ipSrc) ?? '',
      dst: (isArp ? arpDst : ipDst) ?? '',
      protocol,
      srcPort: optionalNumber(isTcp ? tcpSrc : udpSrc),
      dstPort: optionalNumber(isTcp ? tcpDst : udpDst),
      stream: optionalNumber(isTcp ? tcpStream : udpStream),
      // Older tshark prints bytes colon-separated; 4.x prints bare hex.
      payload: Buffer.from((isTcp ? tcpPayload : udpPayload)?.replaceAll(':', '') ?? '', 'hex'),
    };
  });
}

/**
 * The packets whose payload contains `needle`, also when it is split across the segments
 * of one TCP connection (every segment of that direction is then returned).
 */
export function packetsContaining(
  packets: readonly CapturedPacket[],
  needle: string | Buffer,
): CapturedPacket[] {
  const bytes = typeof needle === 'string' ? Buffer.from(needle) : needle;
  const found = new Set(packets.filter((packet) => packet.payload.includes(bytes)));
  const directions = new Map<string, CapturedPacket[]>();
  for (const packet of packets) {
    if (packet.protocol !== 'tcp' || packet.payload.length === 0) continue;
    const key = `${String(packet.stream)}|${packet.src}:${String(packet.srcPort)}`;
    const list = directions.get(key) ?? [];
    list.push(packet);
    directions.set(key, list);
  }
  for (const segments of directions.values()) {
    // Capture order, retransmissions included: good enough for a "never on the wire" check.
    if (Buffer.concat(segments.map((s) => s.payload)).includes(bytes)) {
      for (const segment of segments) found.add(segment);
    }
  }
  return packets.filter((packet) => found.has(packet));
}

const SIP_FIELDS = [
  'frame.number',
  'frame.protocols',
  'ip.src',
  'ip.dst',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  // One occurrence per SIP message: "Session Initiation Protocol (OPTIONS)" or "(200)".
  'sip',
  'sip.Request-Line',
  'sip.Status-Line',
  'sip.msg_hdr',
] as const;

/** Undoes tshark's escaping of string fields (`\r`, `\n`, `\t`, `\\`, `\xNN`). */
function unescapeField(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|[rnt\\])/g, (_, escape: string) => {
    switch (escape) {
      case 'r':
        return '\r';
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case '\\':
        return '\\';
      default:
        return String.fromCharCode(parseInt(escape.slice(1), 16));
    }
  });
}

function parseHeaderBlock(block: string): [string, string][] {
  const headers: [string, string][] = [];
  // RFC 3261 §7.3.1: a line starting with whitespace continues the previous header.
  for (const line of block.split(/\r?\n/)) {
    if (line === '') continue;
    const last = headers.at(-1);
    if (/^[ \t]/.test(line) && last !== undefined) {
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon > 0) headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return headers;
}

/**
 * Every SIP message in a capture, in capture order; several per frame when a segment or
 * TLS record carries more than one. Pass `keylogFile` for SIP over TLS, and
 * {@link decodeSipOn} rules for ports tshark does not associate with SIP.
 */
export async function readSip(file: string, options: ReadOptions = {}): Promise<CapturedSip[]> {
  const rows = await tsharkFields(
    file,
    SIP_FIELDS,
    { ...options, displayFilter: options.displayFilter ?? 'sip' },
    'a',
  );
  const messages: CapturedSip[] = [];
  for (const row of rows) {
    // Only the SIP fields may repeat; of the others (an ICMP error quotes a packet) the
    // first occurrence is the frame's own.
    const [frame, protocols = '', src = '', dst = '', tcpSrc, tcpDst, udpSrc, udpDst] = row
      .slice(0, 8)
      .map((value) => value.split(AGGREGATOR)[0] ?? '');
    const [summaries = '', requestLines = '', statusLines = '', headerBlocks = ''] = row.slice(8);
    const split = (value: string): string[] => (value === '' ? [] : value.split(AGGREGATOR));
    const requests = split(requestLines);
    const responses = split(statusLines);
    const blocks = split(headerBlocks);
    const isTcp = tcpSrc !== undefined && tcpSrc !== '';
    split(summaries).forEach((summary, index) => {
      const status = /\((\d{3})\)$/.exec(summary);
      const startLine = unescapeField(
        (status === null ? requests.shift() : responses.shift()) ?? '',
      );
      const headers = parseHeaderBlock(unescapeField(blocks[index] ?? ''));
      messages.push({
        frame: Number(frame),
        src,
        dst,
        srcPort: optionalNumber(isTcp ? tcpSrc : udpSrc),
        dstPort: optionalNumber(isTcp ? tcpDst : udpDst),
        transport: protocols.includes(':tls') ? 'tls' : isTcp ? 'tcp' : 'udp',
        startLine,
        method: status === null ? startLine.split(' ')[0] : undefined,
        status: status === null ? undefined : Number(status[1]),
        headers,
        text: [startLine, ...headers.map(([name, value]) => `${name}: ${value}`)].join('\r\n'),
      });
    });
  }
  return messages;
}

/** Every value of header `name` (case-insensitive, compact forms included), in order. */
export function sipHeader(message: CapturedSip, name: string): string[] {
  const wanted = canonicalHeaderName(name);
  return message.headers
    .filter(([header]) => canonicalHeaderName(header) === wanted)
    .map(([, value]) => value);
}

/** The decrypted bytes of one TLS connection, both directions, in capture order. */
export interface TlsStream {
  /** tshark's TCP stream index. */
  readonly stream: number;
  /**
   * The two ends as tshark names them (`ip:port`); tshark 4.0 names the second `:0` when it
   * follows TLS. Node 0 sent the chunks tshark prints flush left, node 1 the indented ones.
   */
  readonly nodes: readonly [string, string];
  /** Application data, chunk by chunk; `from` indexes {@link TlsStream.nodes}. */
  readonly chunks: readonly { readonly from: 0 | 1; readonly data: Buffer }[];
  /** Every chunk joined, both directions, as latin1 text for substring checks. */
  readonly text: string;
}

/**
 * Every TLS connection of a capture, decrypted with `keylogFile` (`-z follow,tls,raw`):
 * headers and bodies alike, which {@link readSip} does not give. Connections whose keys are
 * missing come back with no chunks.
 */
export async function readTlsStreams(
  file: string,
  options: ReadOptions = {},
): Promise<TlsStream[]> {
  const streams = await tsharkFields(
    file,
    ['tcp.stream'],
    { ...options, displayFilter: 'tls' },
    'f',
  );
  const indexes = [...new Set(streams.map(([stream]) => Number(stream)))].filter((n) =>
    Number.isInteger(n),
  );
  if (indexes.length === 0) return [];
  const args = ['-n', '-r', file, '-q'];
  if (options.keylogFile !== undefined) args.push('-o', `tls.keylog_file:${options.keylogFile}`);
  for (const preference of options.preferences ?? []) args.push('-o', preference);
  for (const rule of options.decodeAs ?? []) args.push('-d', rule);
  for (const index of indexes) args.push('-z', `follow,tls,raw,${index}`);
  const tshark = startProcess('tshark follow', requireProgram('tshark', 'tshark'), args, {
    outputCapBytes: 256 << 20,
  });
  const exit = await tshark.exited;
  if (exit.code !== 0) {
    throw new Error(`tshark ${args.join(' ')} failed (${String(exit.code)}):\n${tshark.stderr()}`);
  }
  // Each block: "Filter: tcp.stream eq N", "Node 0: a", "Node 1: b", then one hex line per
  // chunk, indented with a tab when node 1 sent it, up to a line of "=".
  const result: TlsStream[] = [];
  for (const block of tshark
    .stdout()
    .split(/^Follow: tls,raw$/m)
    .slice(1)) {
    const stream = /^Filter: tcp\.stream eq (\d+)$/m.exec(block)?.[1];
    const node0 = /^Node 0: (.*)$/m.exec(block)?.[1] ?? '';
    const node1 = /^Node 1: (.*)$/m.exec(block)?.[1] ?? '';
    if (stream === undefined) continue;
    const chunks: { from: 0 | 1; data: Buffer }[] = [];
    for (const line of block.split('\n')) {
      const match = /^(\t?)([0-9a-f]+)$/.exec(line);
      if (match === null) continue;
      chunks.push({ from: match[1] === '' ? 0 : 1, data: Buffer.from(match[2] ?? '', 'hex') });
    }
    result.push({
      stream: Number(stream),
      nodes: [node0, node1],
      chunks,
      text: chunks.map((chunk) => chunk.data.toString('latin1')).join(''),
    });
  }
  return result;
}

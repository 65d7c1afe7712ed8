/**
 * Typed wrappers around coturn's test tools (Debian package `coturn`, 4.6.1):
 * `turnutils_peer` (UDP echo peer), `turnutils_uclient` (TURN load client) and
 * `turnutils_stunclient` (STUN Binding client), with their output parsed into numbers.
 * They only need a host and port, so they drive coturn and Rampart alike.
 *
 * turnutils_uclient flags, as verified against coturn 4.6.1 (source, man page, and a
 * tshark capture of the wire):
 * - Data path: by default every session ChannelBinds (0x0009) and relays with ChannelData;
 *   `-s` ("use send method") switches to CreatePermission (0x0008) + Send indications
 *   (0x0016) out and Data indications (0x0017) back, with no ChannelBind.
 *   `-c` does NOT choose the data path: it means "no RTCP", i.e. one allocation per client
 *   instead of an RTP/RTCP pair.
 * - Transport to the server: UDP by default; `-t` TCP; `-S` adds security: `-t -S` is TLS,
 *   `-S` alone is DTLS. `-p` is the port (default 3478, or 5349 with `-S`). The server
 *   certificate is not verified unless `-E <ca file>` is given. (`-T` would request TCP
 *   relays, RFC 6062; not wrapped here.)
 * - Auth: `-u <user> -w <password>` = long-term credentials; `-W <secret>` = TURN REST
 *   API: uclient makes username `<now+86400>` (or `<now+86400>:<user>` when `-u` is also
 *   given, separator `-C`, default `:`) and password base64(HMAC-SHA1(secret, username)).
 *   There is no realm flag: uclient takes the realm from the server's 401.
 * - Peer: `-e <addr> -r <port>` (default port 3480). uclient addresses P and P+1 (its
 *   RTCP port; coturn logged P+1 traffic even with `-c`), so the peer must echo on both:
 *   turnutils_peer `-p P` does.
 * - `-y` client-to-client: sessions are paired and send to each other's relayed address,
 *   no external peer (`-e`/`-r` ignored).
 * - `-m N` clients; the number of sessions (allocations) is rounded up: without `-c` to an
 *   even number (RTP+RTCP) — with `-y` to a multiple of 4; with `-c` and `-y` to an even
 *   number; with `-c` alone exactly N. Each session sends `-n` messages of `-l` bytes
 *   (raised to uclient's small internal header size if smaller), every `-z` ms (default
 *   20); the summary counts sessions × n messages. Sending starts 1–6 s (random) after the
 *   allocations, so a run lasts ≥ 2 s (about 13 s more when nothing comes back).
 * - Exit code 0 even with 100 % loss (dead peer); 255, with no summary, when a request
 *   fails: "ERROR: Cannot complete Allocation" (bad credentials), "channel bind: error 403
 *   (Forbidden IP)" (loopback peer refused). It never gives up on a silent server: use a
 *   timeout.
 *
 * uclient output (stdout; the leading number is seconds since start):
 * ```
 * 3: : start_mclient: msz=2, tot_send_msgs=10, tot_recv_msgs=10, tot_send_bytes ~ 1200, tot_recv_bytes ~ 1200   (periodic)
 * 6: : start_mclient: tot_send_msgs=20, tot_recv_msgs=20
 * 6: : start_mclient: tot_send_bytes ~ 2400, tot_recv_bytes ~ 2400
 * 6: : Total transmit time is 6
 * 6: : Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)
 * 6: : Average round trip delay 0.000000 ms; min = 0 ms, max = 0 ms
 * 6: : Average jitter 0.100000 ms; min = 0 ms, max = 1 ms
 * ```
 * Round trip and jitter have 1 ms resolution; with no sample min is 4294967295 and the
 * average jitter `-nan`. turnutils_stunclient prints `IPv4. UDP reflexive addr: 127.0.0.1:37075`.
 */
import { freePort, udpBound } from './ports.ts';
import { requireProgram, startProcess, waitUntil } from './process.ts';
import type { ManagedProcess, ProcessExit } from './process.ts';

/** Debian package that ships the turnutils_* tools. */
export const TURNUTILS_PACKAGE = 'coturn';

/** A host and port. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Waits for `managed` to exit, SIGKILLing it after `timeoutMs`. */
async function waitWithTimeout(
  managed: ManagedProcess,
  timeoutMs: number,
): Promise<{ readonly exit: ProcessExit; readonly timedOut: boolean }> {
  const state = { timedOut: false };
  const timer = setTimeout(() => {
    state.timedOut = true;
    managed.child.kill('SIGKILL');
  }, timeoutMs);
  try {
    const exit = await managed.exited;
    return { exit, timedOut: state.timedOut };
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------
// turnutils_peer

/** A running `turnutils_peer`: a UDP echo server on `port` and `rtcpPort` (= port + 1). */
export interface TurnutilsPeer {
  readonly host: string;
  readonly port: number;
  readonly rtcpPort: number;
  readonly process: ManagedProcess;
  /** SIGTERM, SIGKILL after 2 s. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link startTurnutilsPeer}. */
export interface TurnutilsPeerOptions {
  /** Listening address (`-L`); default 127.0.0.1. */
  readonly host?: string;
  /** Listening port (`-p`); default a free port P with P+1 free too. */
  readonly port?: number;
}

/**
 * Starts `turnutils_peer -L host -p P` and resolves once it has bound P and P+1 (UDP).
 * Without an explicit port, retries with fresh ports if one was taken meanwhile.
 */
export async function startTurnutilsPeer(
  options: TurnutilsPeerOptions = {},
): Promise<TurnutilsPeer> {
  const binary = requireProgram('turnutils_peer', TURNUTILS_PACKAGE);
  const host = options.host ?? '127.0.0.1';
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await freePort());
    if (options.port === undefined && (await udpBound(port + 1))) continue;
    const managed = startProcess('turnutils_peer', binary, ['-L', host, '-p', String(port)]);
    try {
      await waitUntil(
        async () => managed.hasExited || ((await udpBound(port)) && (await udpBound(port + 1))),
        5000,
        () => `turnutils_peer did not bind ${host}:${port}+1\n${managed.stderr().slice(-2000)}`,
      );
    } catch (error) {
      await managed.stop('SIGKILL', 1000);
      throw error;
    }
    if (managed.hasExited) {
      lastError = `${managed.stdout().slice(-2000)}${managed.stderr().slice(-2000)}`;
      if (options.port !== undefined) break;
      continue;
    }
    let closed = false;
    return {
      host,
      port,
      rtcpPort: port + 1,
      process: managed,
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        await managed.stop('SIGTERM', 2000);
      },
    };
  }
  throw new Error(`turnutils_peer could not start on ${host}\n${lastError}`);
}

// ---------------------------------------------------------------------------------------
// turnutils_uclient

/** Client ↔ server transport: UDP, TCP (`-t`), TLS (`-t -S`), DTLS (`-S`). */
export type UclientTransport = 'udp' | 'tcp' | 'tls' | 'dtls';

/** How uclient authenticates. */
export type UclientAuth =
  /** Long-term credentials (`-u`, `-w`). */
  | { readonly kind: 'user'; readonly username: string; readonly password: string }
  /** TURN REST API secret (`-W`), optional user part (`-u`) and separator (`-C`). */
  | {
      readonly kind: 'rest';
      readonly secret: string;
      readonly user?: string;
      readonly separator?: string;
    };

/** Options of {@link runUclient}. */
export interface UclientOptions {
  /** TURN server (positional address and `-p`). */
  readonly server: HostPort;
  /** Default `udp`. */
  readonly transport?: UclientTransport;
  readonly auth: UclientAuth;
  /** Echo peer (`-e`, `-r`); required unless `clientToClient`. */
  readonly peer?: HostPort;
  /** Messages per session (`-n`); default 5. */
  readonly messages?: number;
  /** Message length in bytes (`-l`); default 100. */
  readonly messageLength?: number;
  /** Clients (`-m`); default 1. See {@link expectedUclientSessions} for the rounding. */
  readonly clients?: number;
  /** Send/Data indications instead of ChannelData (`-s`). Default false (channels). */
  readonly sendIndications?: boolean;
  /** Clients relay to each other's relayed addresses, no peer (`-y`). */
  readonly clientToClient?: boolean;
  /** One allocation per client instead of an RTP/RTCP pair (`-c`). Default false. */
  readonly noRtcp?: boolean;
  /** Per-session packet interval in ms (`-z`); default 20. */
  readonly packetIntervalMs?: number;
  /** Local address (`-L`). */
  readonly localAddress?: string;
  /** CA file to verify the server certificate with (`-E`); TLS/DTLS only. */
  readonly caCertFile?: string;
  /** Raw arguments inserted before the server address. */
  readonly extraArgs?: readonly string[];
  /** The process is SIGKILLed after this; default 30 000 ms. */
  readonly timeoutMs?: number;
  /** Name for messages; default derived from the options. */
  readonly name?: string;
}

/** The summary uclient prints at the end of a run. */
export interface UclientStats {
  /** Sessions (allocations) in the last periodic line, when one was printed. */
  readonly sessions: number | undefined;
  readonly sentMessages: number;
  readonly receivedMessages: number;
  readonly sentBytes: number;
  readonly receivedBytes: number;
  /** Seconds from the start of sending to the end. */
  readonly transmitTimeSeconds: number;
  /** sent − min(received, sent). */
  readonly lostPackets: number;
  readonly lostPercent: number;
  /** Messages the client socket could not send. */
  readonly sendDropped: number;
  readonly sendDroppedPercent: number;
  readonly rttAverageMs: number;
  /** Undefined when no message came back. */
  readonly rttMinMs: number | undefined;
  readonly rttMaxMs: number;
  /** NaN when no message came back. */
  readonly jitterAverageMs: number;
  readonly jitterMinMs: number | undefined;
  readonly jitterMaxMs: number;
}

/** What a uclient run produced. */
export interface UclientResult {
  readonly name: string;
  readonly args: readonly string[];
  readonly exit: ProcessExit;
  /** True when the harness killed uclient at `timeoutMs`. */
  readonly timedOut: boolean;
  /** Undefined when uclient did not print its summary (failed allocation, timeout). */
  readonly stats: UclientStats | undefined;
  /** Sessions the options ask for (see {@link expectedUclientSessions}). */
  readonly expectedSessions: number;
  /** expectedSessions × messages: what `sentMessages` must be. */
  readonly expectedMessages: number;
  /**
   * Lines reporting a failure: "ERROR: ..." or a STUN error response ("channel bind: error
   * 403 (Forbidden IP)"). Not TLS handshake noise: uclient tries old TLS versions first and
   * logs "SSL routines::tlsv1 alert" for each one the server refuses.
   */
  readonly errors: readonly string[];
  /** stdout then stderr. */
  readonly output: string;
  readonly durationMs: number;
}

/** Sessions (allocations) uclient creates for `options` (its `-m` rounding, see top). */
export function expectedUclientSessions(
  options: Pick<UclientOptions, 'clients' | 'clientToClient' | 'noRtcp'>,
): number {
  const clients = Math.max(1, options.clients ?? 1);
  const roundUp = (n: number, multiple: number): number => Math.ceil(n / multiple) * multiple;
  if (options.clientToClient === true) return roundUp(clients, options.noRtcp === true ? 2 : 4);
  return options.noRtcp === true ? clients : roundUp(clients, 2);
}

/** The uclient command line (without the program) for `options`. */
export function uclientArgs(options: UclientOptions): string[] {
  const args: string[] = [];
  const transport = options.transport ?? 'udp';
  if (transport === 'tcp' || transport === 'tls') args.push('-t');
  if (transport === 'tls' || transport === 'dtls') args.push('-S');
  if (options.sendIndications === true) args.push('-s');
  if (options.clientToClient === true) args.push('-y');
  if (options.noRtcp === true) args.push('-c');
  switch (options.auth.kind) {
    case 'user':
      args.push('-u', options.auth.username, '-w', options.auth.password);
      break;
    case 'rest':
      args.push('-W', options.auth.secret);
      if (options.auth.user !== undefined) args.push('-u', options.auth.user);
      if (options.auth.separator !== undefined) args.push('-C', options.auth.separator);
      break;
  }
  if (options.peer !== undefined) {
    args.push('-e', options.peer.host, '-r', String(options.peer.port));
  } else if (options.clientToClient !== true) {
    throw new Error('turnutils_uclient needs a peer unless clientToClient is set');
  }
  args.push('-n', String(options.messages ?? 5));
  if (options.messageLength !== undefined) args.push('-l', String(options.messageLength));
  if (options.clients !== undefined) args.push('-m', String(options.clients));
  if (options.packetIntervalMs !== undefined) args.push('-z', String(options.packetIntervalMs));
  if (options.localAddress !== undefined) args.push('-L', options.localAddress);
  if (options.caCertFile !== undefined) args.push('-E', options.caCertFile);
  args.push(...(options.extraArgs ?? []));
  args.push('-p', String(options.server.port), options.server.host);
  return args;
}

function lastMatch(text: string, pattern: RegExp): RegExpExecArray | undefined {
  let last: RegExpExecArray | undefined;
  const global = new RegExp(
    pattern.source,
    pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`,
  );
  for (let match = global.exec(text); match !== null; match = global.exec(text)) last = match;
  return last;
}

/** uclient's number: `-nan`/`nan` → NaN, otherwise a decimal. */
function cNumber(text: string | undefined): number {
  if (text === undefined) return Number.NaN;
  return /nan/i.test(text) ? Number.NaN : Number(text);
}

/** uclient prints UINT32_MAX as the minimum when there was no sample. */
function cMinimum(text: string | undefined): number | undefined {
  const value = cNumber(text);
  return value === 4294967295 ? undefined : value;
}

/**
 * Parses uclient's end-of-run summary (format at the top of this file). Undefined when the
 * summary is incomplete, e.g. uclient exited on a failed allocation.
 */
export function parseUclientOutput(text: string): UclientStats | undefined {
  const messages = lastMatch(text, /tot_send_msgs=(\d+), tot_recv_msgs=(\d+)[ \t]*$/m);
  const bytes = lastMatch(text, /: tot_send_bytes ~ (\d+), tot_recv_bytes ~ (\d+)[ \t]*$/m);
  const transmit = lastMatch(text, /Total transmit time is (\d+)/);
  const lost = lastMatch(
    text,
    /Total lost packets (\d+) \(([^%)]+)%\), total send dropped (\d+) \(([^%)]+)%\)/,
  );
  const rtt = lastMatch(text, /Average round trip delay (\S+) ms; min = (\d+) ms, max = (\d+) ms/);
  const jitter = lastMatch(text, /Average jitter (\S+) ms; min = (\d+) ms, max = (\d+) ms/);
  const sessions = lastMatch(text, /msz=(\d+),/);
  if (
    messages === undefined ||
    bytes === undefined ||
    transmit === undefined ||
    lost === undefined ||
    rtt === undefined ||
    jitter === undefined
  ) {
    return undefined;
  }
  return {
    sessions: sessions === undefined ? undefined : cNumber(sessions[1]),
    sentMessages: cNumber(messages[1]),
    receivedMessages: cNumber(messages[2]),
    sentBytes: cNumber(bytes[1]),
    receivedBytes: cNumber(bytes[2]),
    transmitTimeSeconds: cNumber(transmit[1]),
    lostPackets: cNumber(lost[1]),
    lostPercent: cNumber(lost[2]),
    sendDropped: cNumber(lost[3]),
    sendDroppedPercent: cNumber(lost[4]),
    rttAverageMs: cNumber(rtt[1]),
    rttMinMs: cMinimum(rtt[2]),
    rttMaxMs: cNumber(rtt[3]),
    jitterAverageMs: cNumber(jitter[1]),
    jitterMinMs: cMinimum(jitter[2]),
    jitterMaxMs: cNumber(jitter[3]),
  };
}

function defaultUclientName(options: UclientOptions): string {
  const parts = [
    options.transport ?? 'udp',
    options.auth.kind === 'rest' ? 'rest' : 'user',
    options.sendIndications === true ? 'send' : 'channel',
  ];
  if (options.clientToClient === true) parts.push('c2c');
  return `turnutils_uclient ${parts.join('/')}`;
}

/** Runs turnutils_uclient to completion (or `timeoutMs`) and parses its summary. */
export async function runUclient(options: UclientOptions): Promise<UclientResult> {
  const binary = requireProgram('turnutils_uclient', TURNUTILS_PACKAGE);
  const args = uclientArgs(options);
  const name = options.name ?? defaultUclientName(options);
  const started = Date.now();
  const managed = startProcess(name, binary, args);
  const { exit, timedOut } = await waitWithTimeout(managed, options.timeoutMs ?? 30_000);
  const output = `${managed.stdout()}${managed.stderr()}`;
  const expectedSessions = expectedUclientSessions(options);
  return {
    name,
    args,
    exit,
    timedOut,
    stats: parseUclientOutput(output),
    expectedSessions,
    expectedMessages: expectedSessions * (options.messages ?? 5),
    errors: output.split('\n').filter((line) => /\bERROR\b|\berror \d{3}\b/.test(line)),
    output,
    durationMs: Date.now() - started,
  };
}

/**
 * Why `result` is not a clean run — empty when it is: exit code 0, not timed out, summary
 * printed, every expected message sent, all echoed back, nothing lost or dropped.
 */
export function uclientProblems(result: UclientResult): string[] {
  const problems: string[] = [];
  if (result.timedOut) problems.push('killed by the harness timeout');
  if (result.exit.code !== 0) {
    problems.push(`exit code ${String(result.exit.code)} (signal ${String(result.exit.signal)})`);
  }
  problems.push(...result.errors);
  const stats = result.stats;
  if (stats === undefined) {
    problems.push('no end-of-run summary');
    return problems;
  }
  if (stats.sentMessages !== result.expectedMessages) {
    problems.push(`sent ${stats.sentMessages} messages, expected ${result.expectedMessages}`);
  }
  if (stats.receivedMessages !== stats.sentMessages) {
    problems.push(`received ${stats.receivedMessages} of ${stats.sentMessages} messages`);
  }
  if (stats.lostPackets !== 0) problems.push(`lost ${stats.lostPackets} (${stats.lostPercent}%)`);
  if (stats.sendDropped !== 0) problems.push(`send dropped ${stats.sendDropped}`);
  return problems;
}

/** One line describing a run, for assertion messages and logs. */
export function describeUclient(result: UclientResult): string {
  const stats = result.stats;
  const summary =
    stats === undefined
      ? 'no summary'
      : `sent=${stats.sentMessages}/${result.expectedMessages} recv=${stats.receivedMessages} ` +
        `lost=${stats.lostPackets} (${stats.lostPercent}%) dropped=${stats.sendDropped} ` +
        `rtt=${stats.rttAverageMs}ms jitter=${stats.jitterAverageMs}ms`;
  return (
    `${result.name}: exit=${String(result.exit.code)}${result.timedOut ? ' (timed out)' : ''} ` +
    `${summary} in ${result.durationMs} ms; args: ${result.args.join(' ')}`
  );
}

// ---------------------------------------------------------------------------------------
// turnutils_stunclient

/** Options of {@link runStunclient}. */
export interface StunclientOptions {
  /** STUN server (positional address and `-p`), UDP. */
  readonly server: HostPort;
  /** Local address (`-L`). */
  readonly localAddress?: string;
  /** RFC 5780 NAT behaviour discovery (`-f`). */
  readonly rfc5780?: boolean;
  /** Killed after this (stunclient waits forever for a silent server); default 5000 ms. */
  readonly timeoutMs?: number;
}

/** What turnutils_stunclient reported. */
export interface StunclientResult {
  /** The (XOR-)MAPPED-ADDRESS it printed as "UDP reflexive addr". */
  readonly mapped: HostPort;
  readonly output: string;
}

/**
 * Runs turnutils_stunclient (a STUN Binding over UDP) and returns the reflexive address it
 * printed; throws on timeout, non-zero exit, or no address.
 */
export async function runStunclient(options: StunclientOptions): Promise<StunclientResult> {
  const binary = requireProgram('turnutils_stunclient', TURNUTILS_PACKAGE);
  const args: string[] = [];
  if (options.localAddress !== undefined) args.push('-L', options.localAddress);
  if (options.rfc5780 === true) args.push('-f');
  args.push('-p', String(options.server.port), options.server.host);
  const managed = startProcess('turnutils_stunclient', binary, args);
  const timeoutMs = options.timeoutMs ?? 5000;
  const { exit, timedOut } = await waitWithTimeout(managed, timeoutMs);
  const output = `${managed.stdout()}${managed.stderr()}`;
  const match = /reflexive addr: \[?([^\s\]]+?)\]?:(\d+)\s*$/m.exec(output);
  if (timedOut || exit.code !== 0 || match === null) {
    throw new Error(
      `turnutils_stunclient ${args.join(' ')}: ` +
        (timedOut ? `no answer within ${timeoutMs} ms` : `exit code ${String(exit.code)}`) +
        `${match === null ? ', no reflexive address printed' : ''}\n${output.slice(-2000)}`,
    );
  }
  return { mapped: { host: match[1] ?? '', port: Number(match[2]) }, output };
}

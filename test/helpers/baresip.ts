// baresip 1.0.0 (Debian `baresip`) as an interop peer, driven through its ctrl_tcp module.
//
// What baresip 1.0.0 offers, found by trying it (see the report of Rampart issue 4):
// - ctrl_tcp speaks netstrings (`<len>:<json>,`) in both directions. A command is
//   `{"command","params","token"}`; the reply is `{"response":true,"ok","data","token"}`;
//   UA events are `{"event":true,"type","class","accountaor","param"?}`. It keeps one client.
// - Events seen: REGISTERING, REGISTER_OK (param "200 OK"), REGISTER_FAIL (param
//   "401 Unauthorized"), UNREGISTERING, EXIT. There is no event for a received MESSAGE.
// - `uanew <account line>` creates and registers a UA; `uadel <aor>` deletes it, sending
//   REGISTER with expires=0 first; `reginfo` prints every UA's state; `quit` exits.
// - MESSAGE can only be sent to the *current contact* (`message <text>`, contact module);
//   the current contact is moved with `contact_next` / `contact_prev` through the contacts
//   file read at start (rmmod + insmod of contact.so crashes 1.0.0, so the list is fixed).
//   The outcome of a MESSAGE is not reported on ctrl_tcp: failures are printed on stderr
//   (" <ESC>[31m404 Not Found<ESC>[;m"), success is silent, so the harness runs baresip with
//   `-s` (SIP trace on stdout) and waits for the 2xx.
// - A received MESSAGE goes to menu.so's handler, which writes `\r<from>: "<text>"\n` to the
//   UI modules; cons.so (a TCP console) carries it to us.
// - sip_listen `p` binds UDP and TCP on p and TLS on p+1, whether or not TLS is used.
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { err, ok } from '../../src/lib/result.ts';
import type { Result } from '../../src/lib/result.ts';
import { freePort } from './ports.ts';
import { requireProgram, sleep, startProcess } from './process.ts';
import type { ManagedProcess } from './process.ts';

/** Options of {@link startBaresip}. */
export interface BaresipOptions {
  /** Address of record, e.g. `sip:alice@example.test`. Its host is the registration domain. */
  readonly aor: string;
  readonly password: string;
  /**
   * Where REGISTER (and every other request) is sent, e.g. `sip:127.0.0.1:5070;transport=tcp`.
   * baresip 1.0.0 has no registrar setting: it sends REGISTER to `sip:<aor host>` (RFC 3261
   * §10.2) through its outbound proxy, so this becomes the account's `outbound` unless
   * `outbound` is given, in which case requests go there and this is not used.
   */
  readonly registrar: string;
  /** Outbound proxy (account `;outbound=`); overrides `registrar` as the first hop. */
  readonly outbound?: string;
  /** Enable SIP Outbound (RFC 5626: reg-id, +sip.instance) with `;sipnat=outbound`. */
  readonly sipOutbound?: boolean;
  /** Transport to the first hop; added as `;transport=` when the hop URI has none. */
  readonly transport?: 'udp' | 'tcp' | 'tls';
  /**
   * CA bundle for the first hop's TLS certificate (`sip_cafile`). baresip 1.0.0 with libre
   * 1.1.0 does NOT verify the server certificate: it registered over TLS with a CA bundle
   * that had not signed Kamailio's certificate. Do not build a test on its rejection.
   */
  readonly caFile?: string;
  /** Used in error messages and the process name. Defaults to the AOR's user. */
  readonly name?: string;
  /** URIs this UA may send MESSAGE to (baresip 1.0.0 only messages its contacts). */
  readonly contacts?: readonly string[];
  /** Registration interval in seconds (`;regint=`), 3600 unless given. */
  readonly regintSeconds?: number;
  readonly startTimeoutMs?: number;
  /**
   * Run baresip inside a network namespace (`ip netns exec <name>`) instead of the test
   * process's own. Its ctrl_tcp and console ports are then on the namespace's loopback,
   * which the test process cannot reach: each is bridged to a Unix socket in the config dir
   * (socat), since the file system is shared across namespaces.
   */
  readonly netns?: BaresipNetns;
  /**
   * Contacts whose presence baresip watches: written to the contacts file with
   * `;presence=p2p`, which makes presence.so SUBSCRIBE to them (Event: presence). Needs
   * `modules` to include `presence.so`.
   */
  readonly watch?: readonly string[];
  /**
   * Account parameters appended to the account line, e.g. `answermode=auto` (each
   * `name=value`, no `;`).
   */
  readonly accountParams?: readonly string[];
  /** Extra modules loaded after g711.so, e.g. `presence.so`, `ausine.so`. */
  readonly modules?: readonly string[];
}

/** Where a namespaced baresip runs; see {@link BaresipOptions.netns}. */
export interface BaresipNetns {
  /** The namespace, as `ip netns list` names it. */
  readonly name: string;
  /** The address SIP binds to (`sip_listen`), one of the namespace's. */
  readonly sipAddress: string;
}

/** A MESSAGE received by baresip. */
export interface BaresipMessage {
  /** The From URI, as baresip prints it. */
  readonly from: string;
  readonly text: string;
}

/** One UA event from ctrl_tcp. */
export interface BaresipEvent {
  readonly type: string;
  readonly class: string;
  readonly accountAor: string | undefined;
  readonly param: string | undefined;
}

/** ctrl_tcp's reply to one command. */
export interface BaresipResponse {
  readonly ok: boolean;
  /** Text output of the command, ANSI colours removed. */
  readonly data: string;
}

/** A running baresip. */
export interface Baresip {
  readonly name: string;
  readonly aor: string;
  readonly process: ManagedProcess;
  readonly configDir: string;
  /** Every UA event received on ctrl_tcp so far, oldest first. */
  readonly events: readonly BaresipEvent[];
  /** Every SIP message in baresip's trace (`-s`), sent and received, oldest first. */
  readonly sipTrace: readonly TracedSipMessage[];
  /** stdout (with SIP trace), stderr and ctrl_tcp traffic, for failure messages. */
  readonly log: string;
  /** Sends one ctrl_tcp command and resolves with its reply. */
  command(command: string, params?: string, timeoutMs?: number): Promise<BaresipResponse>;
  /** Resolves on REGISTER_OK for this AOR; rejects on REGISTER_FAIL (with its reason). */
  waitRegistered(timeoutMs: number): Promise<void>;
  /** Resolves with REGISTER_FAIL's reason (e.g. `401 Unauthorized`); rejects on REGISTER_OK. */
  waitRegistrationFailure(timeoutMs: number): Promise<string>;
  /** Sends MESSAGE to `to` (one of `contacts`); resolves on a 2xx, rejects on a failure. */
  sendMessage(to: string, text: string, timeoutMs?: number): Promise<void>;
  /** The next MESSAGE received (queued), or a rejection after `timeoutMs`. */
  nextMessage(timeoutMs: number): Promise<BaresipMessage>;
  /** Deletes the UA (`uadel`), which unregisters it; resolves on the 2xx to that REGISTER. */
  unregister(timeoutMs?: number): Promise<void>;
  /** Kills baresip (quit, SIGTERM, SIGKILL) and removes the config dir. Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Parsers of what baresip writes. Bounded; malformed input comes back as an error value.

/** Longest netstring payload accepted from ctrl_tcp (`help` output is ~2 KiB). */
export const MAX_NETSTRING_PAYLOAD = 1 << 20;
const MAX_NETSTRING_LENGTH_DIGITS = 7;

/** Incremental netstring decoder (`<decimal length>:<payload>,`) for the ctrl_tcp stream. */
export class NetstringDecoder {
  #buffer: Buffer = Buffer.alloc(0);
  #failed = false;

  /** Appends `chunk` and returns every complete payload; an error poisons the decoder. */
  push(chunk: Buffer): Result<readonly string[], string> {
    if (this.#failed) return err('netstring stream already failed');
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const payloads: string[] = [];
    for (;;) {
      const colon = this.#buffer.indexOf(0x3a);
      if (colon < 0) {
        if (this.#buffer.length > MAX_NETSTRING_LENGTH_DIGITS) return this.#fail('length too long');
        if (!/^\d*$/.test(this.#buffer.toString('latin1'))) return this.#fail('bad length');
        return ok(payloads);
      }
      const lengthText = this.#buffer.subarray(0, colon).toString('latin1');
      if (colon === 0 || colon > MAX_NETSTRING_LENGTH_DIGITS || !/^\d+$/.test(lengthText)) {
        return this.#fail(`bad length ${JSON.stringify(lengthText.slice(0, 16))}`);
      }
      const length = Number(lengthText);
      if (length > MAX_NETSTRING_PAYLOAD) return this.#fail(`payload of ${length} bytes`);
      const end = colon + 1 + length;
      if (this.#buffer.length < end + 1) return ok(payloads);
      if (this.#buffer[end] !== 0x2c) return this.#fail('missing "," after payload');
      payloads.push(this.#buffer.subarray(colon + 1, end).toString('utf8'));
      this.#buffer = this.#buffer.subarray(end + 1);
    }
  }

  #fail(reason: string): Result<readonly string[], string> {
    this.#failed = true;
    return err(`ctrl_tcp netstring: ${reason}`);
  }
}

/** Encodes one netstring. */
export function encodeNetstring(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}:`, 'latin1'), body, Buffer.from(',')]);
}

/** A decoded ctrl_tcp payload. */
export type CtrlMessage =
  | {
      readonly kind: 'response';
      readonly token: string | undefined;
      readonly response: BaresipResponse;
    }
  | { readonly kind: 'event'; readonly event: BaresipEvent };

// eslint-disable-next-line no-control-regex -- ANSI colour sequences are what we strip
const ANSI_ESCAPE = /\u001b\[[0-9;]*m/g;

/** Removes ANSI colour sequences. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI_ESCAPE, '');
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Decodes one ctrl_tcp JSON payload into a response or an event. */
export function parseCtrlMessage(payload: string): Result<CtrlMessage, string> {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return err(`ctrl_tcp: not JSON: ${payload.slice(0, 200)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return err(`ctrl_tcp: not a JSON object: ${payload.slice(0, 200)}`);
  }
  const record = value as Record<string, unknown>;
  if (record['response'] === true) {
    if (typeof record['ok'] !== 'boolean') return err('ctrl_tcp: response without "ok"');
    return ok({
      kind: 'response',
      token: optionalString(record['token']),
      response: { ok: record['ok'], data: stripAnsi(optionalString(record['data']) ?? '') },
    });
  }
  if (record['event'] === true) {
    const type = optionalString(record['type']);
    if (type === undefined) return err('ctrl_tcp: event without "type"');
    return ok({
      kind: 'event',
      event: {
        type,
        class: optionalString(record['class']) ?? '',
        accountAor: optionalString(record['accountaor']),
        param: optionalString(record['param']),
      },
    });
  }
  return err(`ctrl_tcp: neither response nor event: ${payload.slice(0, 200)}`);
}

/** What the harness needs from one traced SIP message. */
export interface TracedSipMessage {
  /** `MESSAGE sip:bob@example.test SIP/2.0` or `SIP/2.0 200 OK`. */
  readonly startLine: string;
  /** Status code of a response; undefined for a request. */
  readonly status: number | undefined;
  /** Method of the CSeq header. */
  readonly cseqMethod: string | undefined;
  /** The URI inside the From header's angle brackets (or the whole value). */
  readonly fromUri: string | undefined;
}

const TRACE_START = '\u001b[36;1m#\n';
const TRACE_END = '\u001b[;m\n';
const MAX_TRACE_PENDING = 1 << 20;
const MAX_TRACE_HEADERS = 100;

function headerUri(value: string): string {
  const open = value.indexOf('<');
  const close = value.indexOf('>', open + 1);
  if (open >= 0 && close > open) return value.slice(open + 1, close);
  return (value.split(';')[0] ?? '').trim();
}

/** Reads `baresip -s` output: `ESC[36;1m#\n<proto> <src> -> <dst>\n<SIP message>ESC[;m\n`. */
export class SipTraceReader {
  #pending = '';

  /** Appends stdout text; returns the traced messages it completes. Never throws. */
  push(text: string): readonly TracedSipMessage[] {
    this.#pending += text;
    const messages: TracedSipMessage[] = [];
    for (;;) {
      const start = this.#pending.indexOf(TRACE_START);
      if (start < 0) {
        // Keep a tail that may be the beginning of a marker split across chunks.
        this.#pending = this.#pending.slice(-TRACE_START.length);
        return messages;
      }
      const end = this.#pending.indexOf(TRACE_END, start + TRACE_START.length);
      if (end < 0) {
        this.#pending = this.#pending.slice(start);
        if (this.#pending.length > MAX_TRACE_PENDING) this.#pending = '';
        return messages;
      }
      const block = this.#pending.slice(start + TRACE_START.length, end);
      this.#pending = this.#pending.slice(end + TRACE_END.length);
      const parsed = parseTraceBlock(block);
      if (parsed !== undefined) messages.push(parsed);
    }
  }
}

function parseTraceBlock(block: string): TracedSipMessage | undefined {
  const firstNewline = block.indexOf('\n');
  if (firstNewline < 0) return undefined;
  const sip = block.slice(firstNewline + 1);
  const headEnd = sip.indexOf('\r\n\r\n');
  const lines = (headEnd < 0 ? sip : sip.slice(0, headEnd)).split('\r\n', MAX_TRACE_HEADERS);
  const startLine = lines[0] ?? '';
  const statusMatch = /^SIP\/2\.0 (\d{3}) /.exec(startLine);
  let cseqMethod: string | undefined;
  let fromUri: string | undefined;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    // RFC 3261 §7.3.3: compact forms "f" for From.
    if (name === 'cseq') cseqMethod = value.split(/\s+/)[1];
    else if (name === 'from' || name === 'f') fromUri = headerUri(value);
  }
  return {
    startLine,
    status: statusMatch?.[1] === undefined ? undefined : Number(statusMatch[1]),
    cseqMethod,
    fromUri,
  };
}

const MAX_CONSOLE_PENDING = 64 * 1024;

/** Reads menu.so's `\r<from>: "<text>"\n` lines out of the cons.so stream. */
export class ConsoleMessageReader {
  #pending = '';

  /** Appends console text; returns the messages it completes. Never throws. */
  push(text: string): readonly BaresipMessage[] {
    this.#pending += text;
    const messages: BaresipMessage[] = [];
    const pattern = /\r(\S+): "([\s\S]*?)"\n/g;
    let consumed = 0;
    for (
      let match = pattern.exec(this.#pending);
      match !== null;
      match = pattern.exec(this.#pending)
    ) {
      messages.push({ from: match[1] ?? '', text: match[2] ?? '' });
      consumed = pattern.lastIndex;
    }
    // Log lines end here too; only a CR may start a message that is still incomplete.
    const rest = this.#pending.slice(consumed);
    const lastCr = rest.lastIndexOf('\r');
    this.#pending =
      lastCr < 0 || rest.length - lastCr > MAX_CONSOLE_PENDING ? '' : rest.slice(lastCr);
    return messages;
  }
}

// ---------------------------------------------------------------------------------------
// The harness.

/** Where Debian's baresip-core puts the modules. */
const MODULE_PATH = '/usr/lib/baresip/modules';
const OUTPUT_TAIL = 8000;

function tcpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(false);
    });
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

/** A free port p whose p+1 is free too: baresip binds TLS on sip_listen's port + 1. */
async function freeSipPortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort();
    if (port < 65535 && (await tcpPortFree(port + 1))) return port;
  }
  throw new Error('no free port p with p+1 free on 127.0.0.1 after 20 attempts');
}

/** Rejects values that would break out of an accounts-file parameter. */
function accountValue(what: string, value: string): string {
  if (value === '' || /[\s;"<>,]/.test(value)) {
    throw new Error(
      `baresip harness: ${what} ${JSON.stringify(value)} has characters it cannot quote`,
    );
  }
  return value;
}

/** The first hop with `;transport=` added when the caller asked for one and it has none. */
function firstHop(options: BaresipOptions): string {
  const hop = options.outbound ?? options.registrar;
  if (options.transport === undefined || /;transport=/i.test(hop)) return hop;
  return `${hop};transport=${options.transport}`;
}

/** The accounts-file line (also what `uanew` takes). */
export function baresipAccountLine(options: BaresipOptions): string {
  const params = [
    `auth_pass=${accountValue('password', options.password)}`,
    `regint=${options.regintSeconds ?? 3600}`,
    `outbound="${firstHop(options)}"`,
    // No calls here: no media NAT, no MWI subscription, no PUBLISH.
    'mwi=no',
    'pubint=0',
  ];
  if (options.sipOutbound === true) params.push('sipnat=outbound');
  for (const param of options.accountParams ?? []) params.push(accountValue('parameter', param));
  return `<${accountValue('aor', options.aor)}>;${params.join(';')}`;
}

interface BaresipPorts {
  readonly sip: number;
  readonly ctrl: number;
  readonly console: number;
}

function baresipConfig(options: BaresipOptions, ports: BaresipPorts): string {
  return [
    '# Written by test/helpers/baresip.ts for one test run.',
    'poll_method epoll',
    `sip_listen ${options.netns?.sipAddress ?? '127.0.0.1'}:${ports.sip}`,
    options.caFile === undefined ? '' : `sip_cafile ${options.caFile}`,
    'call_max_calls 1',
    `module_path ${MODULE_PATH}`,
    // One codec so a UA can build SDP; no audio driver modules: nothing here places calls.
    'module g711.so',
    ...(options.modules ?? []).map((module) => `module ${accountValue('module', module)}`),
    // cons.so is the UI that receives menu.so's "<from>: <text>" line for each MESSAGE.
    'module cons.so',
    `cons_listen 127.0.0.1:${ports.console}`,
    // uuid.so gives the +sip.instance that sipnat=outbound (RFC 5626 §4.1) requires.
    'module_tmp uuid.so',
    'module_tmp account.so',
    'module_app menu.so',
    'module_app contact.so',
    'module_app ctrl_tcp.so',
    `ctrl_tcp_listen 127.0.0.1:${ports.ctrl}`,
    '',
  ]
    .filter((line, index, all) => line !== '' || index === all.length - 1)
    .join('\n');
}

/** Where the harness reaches ctrl_tcp or cons: a loopback port, or a socat Unix socket. */
type CtrlTarget = { readonly port: number } | { readonly path: string };

async function connectWithin(
  target: CtrlTarget,
  deadline: number,
  managed: ManagedProcess,
  what: string,
): Promise<Socket> {
  for (;;) {
    if (managed.hasExited) throw new Error(`${managed.name} exited before ${what} listened`);
    const socket =
      'path' in target
        ? createConnection({ path: target.path })
        : createConnection({ host: '127.0.0.1', port: target.port });
    try {
      await once(socket, 'connect');
      return socket;
    } catch {
      socket.destroy();
    }
    if (Date.now() >= deadline) throw new Error(`${managed.name}: ${what} did not listen in time`);
    await sleep(20);
  }
}

interface PendingCommand {
  readonly resolve: (response: BaresipResponse) => void;
  readonly reject: (error: Error) => void;
}

class BaresipInstance implements Baresip {
  readonly name: string;
  readonly aor: string;
  readonly process: ManagedProcess;
  readonly configDir: string;
  readonly #events: BaresipEvent[] = [];
  readonly #traced: TracedSipMessage[] = [];
  readonly #stderrFailures: string[] = [];
  readonly #received: BaresipMessage[] = [];
  readonly #pending = new Map<string, PendingCommand>();
  readonly #waiters = new Set<() => void>();
  readonly #contacts: readonly string[];
  #ctrl: Socket | undefined;
  #console: Socket | undefined;
  #ctrlTranscript = '';
  #nextToken = 1;
  #sendChain: Promise<void> = Promise.resolve();
  #stopped = false;
  #stderrPending = '';
  /** socat bridges of a namespaced baresip, stopped with it. */
  readonly #bridges: ManagedProcess[] = [];

  constructor(options: BaresipOptions, managed: ManagedProcess, configDir: string) {
    this.name = options.name ?? /^sips?:([^@]+)@/.exec(options.aor)?.[1] ?? 'baresip';
    this.aor = options.aor;
    this.process = managed;
    this.configDir = configDir;
    this.#contacts = options.contacts ?? [];
    const trace = new SipTraceReader();
    managed.child.stdout?.on('data', (chunk: string) => {
      this.#traced.push(...trace.push(chunk));
      this.#notify();
    });
    managed.child.stderr?.on('data', (chunk: string) => {
      this.#onStderr(chunk);
    });
    void managed.exited.then(() => {
      this.#notify();
      for (const pending of this.#pending.values()) {
        pending.reject(new Error(`${this.name}: baresip exited\n${this.log}`));
      }
      this.#pending.clear();
    });
  }

  get events(): readonly BaresipEvent[] {
    return this.#events;
  }

  get sipTrace(): readonly TracedSipMessage[] {
    return this.#traced;
  }

  get log(): string {
    return [
      `--- ${this.name} stdout (tail)`,
      this.process.stdout().slice(-OUTPUT_TAIL),
      `--- ${this.name} stderr (tail)`,
      this.process.stderr().slice(-OUTPUT_TAIL / 2),
      `--- ${this.name} ctrl_tcp (tail)`,
      this.#ctrlTranscript.slice(-OUTPUT_TAIL / 2),
    ].join('\n');
  }

  /** Processes that live and die with this baresip (the netns socat bridges). */
  addBridge(bridge: ManagedProcess): void {
    this.#bridges.push(bridge);
  }

  /** Wires the ctrl_tcp and console sockets (called once by startBaresip). */
  attach(ctrl: Socket, consoleSocket: Socket): void {
    this.#ctrl = ctrl;
    this.#console = consoleSocket;
    const decoder = new NetstringDecoder();
    ctrl.on('data', (chunk: Buffer) => {
      const payloads = decoder.push(chunk);
      if (!payloads.ok) {
        this.#ctrlTranscript += `<< ${payloads.error}\n`;
        ctrl.destroy();
        return;
      }
      for (const payload of payloads.value) this.#onCtrlPayload(payload);
    });
    ctrl.on('error', () => {
      // The close handler below reports it.
    });
    ctrl.on('close', () => {
      for (const pending of this.#pending.values()) {
        pending.reject(new Error(`${this.name}: ctrl_tcp connection closed\n${this.log}`));
      }
      this.#pending.clear();
    });
    const reader = new ConsoleMessageReader();
    consoleSocket.setEncoding('utf8');
    consoleSocket.on('data', (chunk: string) => {
      this.#received.push(...reader.push(chunk));
      this.#notify();
    });
    consoleSocket.on('error', () => {
      // Nothing to do: messages stop arriving and nextMessage times out with the log.
    });
  }

  #onCtrlPayload(payload: string): void {
    this.#ctrlTranscript += `<< ${stripAnsi(payload)}\n`;
    const message = parseCtrlMessage(payload);
    if (!message.ok) return;
    if (message.value.kind === 'event') {
      this.#events.push(message.value.event);
      this.#notify();
      return;
    }
    const token = message.value.token;
    const pending = token === undefined ? undefined : this.#pending.get(token);
    if (token === undefined || pending === undefined) return;
    this.#pending.delete(token);
    pending.resolve(message.value.response);
  }

  #onStderr(chunk: string): void {
    this.#stderrPending += chunk;
    const lines = this.#stderrPending.split('\n');
    this.#stderrPending = (lines.pop() ?? '').slice(-OUTPUT_TAIL);
    for (const line of lines) {
      // contact.so's MESSAGE response handler: " ESC[31m<status or errno text>ESC[;m".
      // eslint-disable-next-line no-control-regex -- ESC is part of what baresip prints
      const failure = /^ \u001b\[31m(.*)\u001b\[;m$/.exec(line);
      if (failure?.[1] !== undefined) this.#stderrFailures.push(failure[1]);
    }
    this.#notify();
  }

  #notify(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** Resolves with `probe()`'s first defined value; rejects on timeout or exit. */
  #waitFor<T>(probe: () => T | Error | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      const check = (): void => {
        const value = probe();
        if (value instanceof Error) {
          finish();
          reject(value);
        } else if (value !== undefined) {
          finish();
          resolve(value);
        } else if (this.process.hasExited) {
          finish();
          reject(new Error(`${this.name}: baresip exited while waiting for ${what}\n${this.log}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.log}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  command(command: string, params?: string, timeoutMs = 5000): Promise<BaresipResponse> {
    const ctrl = this.#ctrl;
    if (ctrl === undefined || ctrl.destroyed) {
      return Promise.reject(new Error(`${this.name}: ctrl_tcp is not connected`));
    }
    const token = `t${this.#nextToken++}`;
    const body = JSON.stringify(
      params === undefined ? { command, token } : { command, params, token },
    );
    this.#ctrlTranscript += `>> ${body}\n`;
    return new Promise<BaresipResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(token);
        reject(
          new Error(`${this.name}: no reply to ${command} within ${timeoutMs} ms\n${this.log}`),
        );
      }, timeoutMs);
      this.#pending.set(token, {
        resolve: (response) => {
          clearTimeout(timer);
          resolve(response);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      ctrl.write(encodeNetstring(body));
    });
  }

  #registrationOutcome():
    { readonly ok: true } | { readonly ok: false; readonly reason: string } | undefined {
    for (const event of this.#events) {
      if (event.accountAor !== this.aor) continue;
      if (event.type === 'REGISTER_OK') return { ok: true };
      if (event.type === 'REGISTER_FAIL') return { ok: false, reason: event.param ?? '' };
    }
    return undefined;
  }

  waitRegistered(timeoutMs: number): Promise<void> {
    return this.#waitFor(
      () => {
        const outcome = this.#registrationOutcome();
        if (outcome === undefined) return undefined;
        if (!outcome.ok) {
          return new Error(`${this.name}: REGISTER_FAIL ${outcome.reason}\n${this.log}`);
        }
        // ctrl_tcp (the event) and stdout (the trace) are two pipes: the event can come
        // first. Callers read the trace next, so wait until it holds the 2xx too.
        return this.#traced.some(
          (m) =>
            m.cseqMethod === 'REGISTER' &&
            m.status !== undefined &&
            m.status >= 200 &&
            m.status < 300,
        )
          ? true
          : undefined;
      },
      timeoutMs,
      'REGISTER_OK',
    ).then(() => undefined);
  }

  waitRegistrationFailure(timeoutMs: number): Promise<string> {
    return this.#waitFor(
      () => {
        const outcome = this.#registrationOutcome();
        if (outcome === undefined) return undefined;
        if (!outcome.ok) return outcome.reason;
        return new Error(`${this.name}: registered although a failure was expected\n${this.log}`);
      },
      timeoutMs,
      'REGISTER_FAIL',
    );
  }

  /** Makes `to` the current contact with contact_next / contact_prev (baresip 1.0.0). */
  async #selectContact(to: string, timeoutMs: number): Promise<void> {
    const target = this.#contacts.indexOf(to);
    if (target < 0) {
      throw new Error(
        `${this.name}: baresip 1.0.0 only sends MESSAGE to a contact; add ${to} to options.contacts`,
      );
    }
    for (let step = 0; step <= this.#contacts.length; step++) {
      const listing = await this.command('contacts', undefined, timeoutMs);
      const lines = listing.data.split('\n').filter((line) => /<sips?:/.test(line));
      const current = lines.findIndex((line) => line.startsWith('>'));
      const wanted = lines.findIndex((line) => line.includes(`<${to}>`));
      if (wanted < 0)
        throw new Error(`${this.name}: ${to} missing from baresip's contacts\n${listing.data}`);
      if (current === wanted) return;
      await this.command(current < wanted ? 'contact_next' : 'contact_prev', undefined, timeoutMs);
    }
    throw new Error(`${this.name}: could not make ${to} the current contact\n${this.log}`);
  }

  sendMessage(to: string, text: string, timeoutMs = 10_000): Promise<void> {
    // One MESSAGE at a time: its outcome is recognised by position in the trace and stderr.
    const send = this.#sendChain.then(async () => {
      await this.#selectContact(to, timeoutMs);
      const tracedBefore = this.#traced.length;
      const failuresBefore = this.#stderrFailures.length;
      const response = await this.command('message', text, timeoutMs);
      if (!response.ok) throw new Error(`${this.name}: message command failed: ${response.data}`);
      await this.#waitFor(
        () => {
          const failure = this.#stderrFailures[failuresBefore];
          if (failure !== undefined) {
            return new Error(`${this.name}: MESSAGE to ${to} failed: ${failure}\n${this.log}`);
          }
          const success = this.#traced
            .slice(tracedBefore)
            .find(
              (m) =>
                m.cseqMethod === 'MESSAGE' &&
                m.fromUri === this.aor &&
                m.status !== undefined &&
                m.status >= 200 &&
                m.status < 300,
            );
          return success === undefined ? undefined : true;
        },
        timeoutMs,
        `final response to MESSAGE to ${to}`,
      );
    });
    this.#sendChain = send.catch(() => undefined);
    return send;
  }

  nextMessage(timeoutMs: number): Promise<BaresipMessage> {
    return this.#waitFor(() => this.#received.shift(), timeoutMs, 'incoming MESSAGE');
  }

  async unregister(timeoutMs = 5000): Promise<void> {
    const tracedBefore = this.#traced.length;
    const response = await this.command('uadel', this.aor, timeoutMs);
    if (!response.ok) throw new Error(`${this.name}: uadel failed: ${response.data}`);
    await this.#waitFor(
      () => {
        for (const m of this.#traced.slice(tracedBefore)) {
          if (m.cseqMethod !== 'REGISTER' || m.fromUri !== this.aor || m.status === undefined) {
            continue;
          }
          if (m.status >= 200 && m.status < 300) return true;
          // RFC 3261 §22.2: a 401/407 is answered by a retry with credentials.
          if (m.status >= 300 && m.status !== 401 && m.status !== 407) {
            return new Error(`${this.name}: unregister answered ${m.startLine}\n${this.log}`);
          }
        }
        return undefined;
      },
      timeoutMs,
      '2xx to the unregistering REGISTER',
    );
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (!this.process.hasExited && this.#ctrl !== undefined && !this.#ctrl.destroyed) {
      await this.command('quit', undefined, 1000).catch(() => undefined);
    }
    await this.process.stop('SIGTERM', 2000);
    this.#ctrl?.destroy();
    this.#console?.destroy();
    await Promise.all(this.#bridges.map((bridge) => bridge.stop('SIGTERM', 2000)));
    await rm(this.configDir, { recursive: true, force: true });
  }
}

/** Ports inside a namespace of its own: nothing else binds there, so fixed ones do. */
const NETNS_PORTS: BaresipPorts = { sip: 5060, ctrl: 4444, console: 5555 };

/**
 * For a namespaced baresip: `socat UNIX-LISTEN:<configDir>/<what>.sock TCP:127.0.0.1:<port>`
 * inside the namespace, one connection (ctrl_tcp keeps one client anyway), retrying the TCP
 * side until baresip listens.
 */
function startNetnsBridge(
  netns: BaresipNetns,
  configDir: string,
  what: string,
  port: number,
): { readonly process: ManagedProcess; readonly path: string } {
  const path = join(configDir, `${what}.sock`);
  const socat = requireProgram('socat', 'socat');
  const bridge = startProcess(`socat ${what}@${netns.name}`, 'ip', [
    'netns',
    'exec',
    netns.name,
    socat,
    `UNIX-LISTEN:${path}`,
    `TCP:127.0.0.1:${port},retry=200,interval=0.05`,
  ]);
  return { process: bridge, path };
}

async function startOnce(options: BaresipOptions, binary: string): Promise<BaresipInstance> {
  const netns = options.netns;
  const ports: BaresipPorts =
    netns === undefined
      ? { sip: await freeSipPortPair(), ctrl: await freePort(), console: await freePort() }
      : NETNS_PORTS;
  const configDir = await mkdtemp(join(tmpdir(), 'rampart-baresip-'));
  const accountLine = baresipAccountLine(options);
  await writeFile(join(configDir, 'config'), baresipConfig(options, ports));
  // The account is created through ctrl_tcp (uanew) once we listen, so that no event of its
  // first registration is missed; an absent file would make baresip write a template one.
  await writeFile(
    join(configDir, 'accounts'),
    `# created with ctrl_tcp uanew:\n# ${accountLine}\n`,
  );
  await writeFile(
    join(configDir, 'contacts'),
    [
      '# Written by test/helpers/baresip.ts',
      ...(options.contacts ?? []).map((uri) =>
        options.watch?.includes(uri) === true ? `<${uri}>;presence=p2p` : `<${uri}>`,
      ),
      ...(options.watch ?? [])
        .filter((uri) => options.contacts?.includes(uri) !== true)
        .map((uri) => `<${uri}>;presence=p2p`),
      '',
    ].join('\n'),
  );
  const name = options.name ?? /^sips?:([^@]+)@/.exec(options.aor)?.[1] ?? 'baresip';
  // -s: SIP trace on stdout, the only place 1.0.0 shows a MESSAGE's 2xx.
  const argv = ['-4', '-s', '-f', configDir];
  const managed =
    netns === undefined
      ? startProcess(`baresip ${name}`, binary, argv, { cwd: configDir, outputCapBytes: 4 << 20 })
      : startProcess(
          `baresip ${name}@${netns.name}`,
          'ip',
          ['netns', 'exec', netns.name, binary, ...argv],
          {
            cwd: configDir,
            outputCapBytes: 4 << 20,
          },
        );
  const instance = new BaresipInstance(options, managed, configDir);
  try {
    const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
    let ctrlTarget: CtrlTarget = { port: ports.ctrl };
    let consoleTarget: CtrlTarget = { port: ports.console };
    if (netns !== undefined) {
      const ctrlBridge = startNetnsBridge(netns, configDir, 'ctrl', ports.ctrl);
      const consoleBridge = startNetnsBridge(netns, configDir, 'console', ports.console);
      instance.addBridge(ctrlBridge.process);
      instance.addBridge(consoleBridge.process);
      ctrlTarget = { path: ctrlBridge.path };
      consoleTarget = { path: consoleBridge.path };
    }
    const ctrl = await connectWithin(ctrlTarget, deadline, managed, 'ctrl_tcp');
    const consoleSocket = await connectWithin(consoleTarget, deadline, managed, 'cons');
    instance.attach(ctrl, consoleSocket);
    const created = await instance.command(
      'uanew',
      accountLine,
      Math.max(1000, deadline - Date.now()),
    );
    if (!created.ok || !created.data.includes(options.aor)) {
      throw new Error(`${name}: uanew failed: ${created.data}`);
    }
  } catch (error) {
    const log = instance.log;
    await instance.stop();
    throw new Error(`${name}: baresip did not start: ${String(error)}\n${log}`, { cause: error });
  }
  return instance;
}

/**
 * Starts baresip 1.0.0 with a throwaway config dir (SIP on 127.0.0.1, ctrl_tcp and cons on
 * loopback, no audio drivers), connects to ctrl_tcp and creates the account with `uanew`,
 * which starts its registration. Retries twice when a port was taken meanwhile.
 */
export async function startBaresip(options: BaresipOptions): Promise<Baresip> {
  const binary = requireProgram('baresip', 'baresip');
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options, binary);
    } catch (error) {
      lastError = error;
      if (!String(error).includes('Address already in use')) throw error;
    }
  }
  throw lastError;
}

// A SipUa (test/helpers/sip-ua.ts) run inside a topology namespace, driven by the test
// process over a Unix socket (namespaces share the file system, not their loopbacks):
//
//   node ua-agent.ts <socket path>      options in RT_UA_OPTIONS (JSON, see AgentOptions)
//
// It connects to its SIP server, listens on the socket, prints "ready", and serves one
// control connection: newline-delimited JSON commands ({@link AgentCommand}), each answered
// by one line `{"id", "result"}` or `{"id", "error"}`. Every request the UA receives is kept,
// so a test may ask for one that arrived before it asked.
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import type { SipMessage, SipRequest } from '../../src/codec/sip/message.ts';
import type { HeaderLine } from '../../src/codec/sip/serialize.ts';
import { SipUa } from '../helpers/sip-ua.ts';
import type { RequestOptions } from '../helpers/sip-ua.ts';

/** What RT_UA_OPTIONS holds. */
export interface AgentOptions {
  readonly host: string;
  readonly port: number;
  readonly transport: 'tcp' | 'tls';
  readonly user: string;
  readonly password: string;
  readonly domain?: string;
  /** PEM file the TLS server certificate must chain to. */
  readonly caFile?: string;
}

/** A SIP message as it crosses the control socket. */
export interface WireMessage {
  readonly kind: 'request' | 'response';
  readonly method?: string;
  readonly requestUri?: string;
  readonly status?: number;
  readonly reason?: string;
  /** Header fields in order, names lower-case long form (the codec's). */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

/** JSON-safe {@link RequestOptions}. */
export type WireRequestOptions = Omit<RequestOptions, 'headers'> & {
  readonly headers?: readonly (readonly [string, string])[];
};

/** How the agent answers one method; the first reply of a method replaces the default 200. */
export interface AnswerRule {
  readonly method: string;
  readonly status: number;
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: string;
}

/** A control command. */
export type AgentCommand =
  | { readonly id: number; readonly op: 'info' }
  | { readonly id: number; readonly op: 'register'; readonly expires: number }
  | {
      readonly id: number;
      readonly op: 'request';
      readonly method: string;
      readonly uri: string;
      readonly options: WireRequestOptions;
    }
  | {
      /** Sends a request that gets no response (ACK for a 2xx, RFC 3261 §13.2.2.4). */
      readonly id: number;
      readonly op: 'send';
      readonly method: string;
      readonly uri: string;
      readonly options: WireRequestOptions;
    }
  | { readonly id: number; readonly op: 'answer'; readonly rules: readonly AnswerRule[] }
  | {
      /** The first received request of `method` not yet returned whose `header` matches. */
      readonly id: number;
      readonly op: 'wait';
      readonly method: string;
      readonly header?: string;
      readonly pattern?: string;
      readonly timeoutMs: number;
    };

/** The `info` result. */
export interface AgentInfo {
  readonly aor: string;
  readonly contact: string;
  readonly local: string;
}

function toWire(message: SipMessage): WireMessage {
  const headers = message.headers.map((h): [string, string] => [h.name, h.value]);
  const body = message.body.toString('utf8');
  return message.kind === 'request'
    ? { kind: 'request', method: message.method, requestUri: message.requestUri, headers, body }
    : { kind: 'response', status: message.status, reason: message.reason, headers, body };
}

function fromWire(options: WireRequestOptions): RequestOptions {
  const { headers, ...rest } = options;
  return headers === undefined
    ? rest
    : { ...rest, headers: headers.map(([name, value]): HeaderLine => [name, value]) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(socketPath: string): Promise<void> {
  const options = JSON.parse(process.env['RT_UA_OPTIONS'] ?? '{}') as AgentOptions;
  const ua = await SipUa.connect({
    host: options.host,
    port: options.port,
    transport: options.transport,
    user: options.user,
    password: options.password,
    ...(options.domain === undefined ? {} : { domain: options.domain }),
    ...(options.caFile === undefined ? {} : { ca: readFileSync(options.caFile, 'utf8') }),
  });
  let rules: readonly AnswerRule[] = [];
  ua.answer = (request) => {
    const matching = rules.filter((rule) => rule.method === request.method);
    if (matching.length === 0) return [{ status: 200 }];
    return matching.map((rule) => ({
      status: rule.status,
      ...(rule.headers === undefined
        ? {}
        : { headers: rule.headers.map(([name, value]): HeaderLine => [name, value]) }),
      ...(rule.body === undefined ? {} : { body: rule.body }),
    }));
  };
  const claimed = new Set<SipRequest>();

  async function wait(command: Extract<AgentCommand, { op: 'wait' }>): Promise<WireMessage> {
    const pattern = command.pattern === undefined ? undefined : new RegExp(command.pattern);
    const deadline = Date.now() + command.timeoutMs;
    for (;;) {
      const found = ua.received.find((request) => {
        if (claimed.has(request) || request.method !== command.method) return false;
        if (pattern === undefined) return true;
        const values =
          command.header === undefined
            ? [request.body.toString('utf8')]
            : request.headers.filter((h) => h.name === command.header).map((h) => h.value);
        return values.some((value) => pattern.test(value));
      });
      if (found !== undefined) {
        claimed.add(found);
        return toWire(found);
      }
      if (Date.now() >= deadline) {
        const seen = ua.received.map((r) => `${r.method} ${r.requestUri}`).join(', ');
        throw new Error(
          `${ua.user}: no ${command.method} matching ${String(command.header)} ~ ` +
            `${String(command.pattern)} within ${command.timeoutMs} ms (received: ${seen})`,
        );
      }
      await sleep(20);
    }
  }

  async function execute(command: AgentCommand): Promise<unknown> {
    switch (command.op) {
      case 'info':
        return { aor: ua.aor, contact: ua.contact, local: ua.local } satisfies AgentInfo;
      case 'register':
        return toWire(await ua.register(command.expires));
      case 'request':
        return toWire(await ua.request(command.method, command.uri, fromWire(command.options)));
      case 'send':
        // SipUa has no transaction-less send: the request goes out at once and the wait for a
        // response that never comes is cut short.
        await ua
          .request(command.method, command.uri, {
            ...fromWire(command.options),
            authenticate: false,
            timeoutMs: 1,
          })
          .catch(() => undefined);
        return null;
      case 'answer':
        rules = command.rules;
        return null;
      case 'wait':
        return wait(command);
    }
  }

  rmSync(socketPath, { force: true });
  const server = createServer((control: Socket) => {
    let pending = '';
    control.setEncoding('utf8');
    control.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
        if (line === '') continue;
        const command = JSON.parse(line) as AgentCommand;
        execute(command).then(
          (result) => control.write(`${JSON.stringify({ id: command.id, result })}\n`),
          (error: unknown) =>
            control.write(`${JSON.stringify({ id: command.id, error: String(error) })}\n`),
        );
      }
    });
    control.on('error', () => undefined);
    // The test is gone: so is the agent.
    control.on('close', () => {
      ua.close();
      server.close();
    });
  });
  server.listen(socketPath, () => process.stdout.write('ready\n'));
}

const [socketPath] = process.argv.slice(2);
if (socketPath === undefined) {
  process.stderr.write('usage: ua-agent.ts <socket path>\n');
  process.exit(64);
}
main(socketPath).catch((error: unknown) => {
  process.stderr.write(`ua-agent: ${String(error)}\n`);
  process.exit(1);
});

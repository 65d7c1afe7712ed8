// The test-process side of ua-agent.ts: a SipUa running in a topology namespace, driven over
// a Unix socket.
import { once } from 'node:events';
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { ManagedProcess } from '../helpers/process.ts';
import { NODE_BINARY } from './netns.ts';
import type { Network, Role } from './netns.ts';
import type {
  AgentCommand,
  AgentInfo,
  AgentOptions,
  AnswerRule,
  WireMessage,
  WireRequestOptions,
} from './ua-agent.ts';

export type { AgentInfo, AgentOptions, AnswerRule, WireMessage, WireRequestOptions };

/** Absolute path of the agent script. */
export const UA_AGENT_SCRIPT = join(import.meta.dirname, 'ua-agent.ts');

/** Options of {@link startUaAgent}. */
export interface UaAgentOptions extends AgentOptions {
  /** Unix socket to create for the control connection (a path the test can reach). */
  readonly socketPath: string;
  /** Node writes the agent's TLS session keys here (`--tls-keylog`). */
  readonly keylogFile?: string;
  readonly startTimeoutMs?: number;
}

/** Every value of header `name` (lower-case long form) of a {@link WireMessage}. */
export function wireHeader(message: WireMessage, name: string): string[] {
  return message.headers.filter(([header]) => header === name).map(([, value]) => value);
}

/** A SipUa in a namespace. */
export interface UaAgent<R extends string = Role> {
  readonly role: R;
  readonly user: string;
  readonly process: ManagedProcess;
  info(): Promise<AgentInfo>;
  register(expires?: number): Promise<WireMessage>;
  /** A request and its final response (after one digest round unless `authenticate: false`). */
  request(method: string, uri: string, options?: WireRequestOptions): Promise<WireMessage>;
  /** A request that gets no response (ACK for a 2xx). */
  send(method: string, uri: string, options?: WireRequestOptions): Promise<void>;
  /** How to answer incoming requests of the methods named (others: 200). */
  answer(rules: readonly AnswerRule[]): Promise<void>;
  /**
   * The first received `method` request not returned before, whose header `header` (or body,
   * without `header`) matches `pattern`.
   */
  waitFor(
    method: string,
    match?: { readonly header?: string; readonly pattern?: RegExp },
    timeoutMs?: number,
  ): Promise<WireMessage>;
  /** The agent's output, for assertion messages. */
  output(): string;
  /** Closes the control connection (the agent then exits) and stops the process. */
  stop(): Promise<void>;
}

type Reply = { readonly id: number; readonly result: unknown } | { id: number; error: string };

/** Starts ua-agent.ts in `role`'s namespace and connects to its control socket. */
export async function startUaAgent<R extends string>(
  topo: Network<R>,
  role: R,
  options: UaAgentOptions,
): Promise<UaAgent<R>> {
  const { socketPath, keylogFile, startTimeoutMs, ...agentOptions } = options;
  const argv = [NODE_BINARY];
  if (keylogFile !== undefined) argv.push(`--tls-keylog=${keylogFile}`);
  argv.push(UA_AGENT_SCRIPT, socketPath);
  const managed = topo.exec(role, argv, {
    name: `${role}:ua ${options.user}`,
    env: { RT_UA_OPTIONS: JSON.stringify(agentOptions) },
  });
  const output = (): string =>
    `--- ${managed.name} stdout\n${managed.stdout().slice(-2000)}\n` +
    `--- ${managed.name} stderr\n${managed.stderr().slice(-2000)}`;
  await managed.waitForOutput(/^ready$/m, startTimeoutMs ?? 10_000);
  const control: Socket = createConnection({ path: socketPath });
  await once(control, 'connect');
  const waiting = new Map<number, { resolve(value: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let pending = '';
  control.setEncoding('utf8');
  control.on('data', (chunk: string) => {
    pending += chunk;
    for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
      const reply = JSON.parse(pending.slice(0, newline)) as Reply;
      pending = pending.slice(newline + 1);
      const waiter = waiting.get(reply.id);
      waiting.delete(reply.id);
      if (waiter === undefined) continue;
      if ('error' in reply) waiter.reject(new Error(`${reply.error}\n${output()}`));
      else waiter.resolve(reply.result);
    }
  });
  control.on('error', () => undefined);
  control.on('close', () => {
    for (const waiter of waiting.values()) waiter.reject(new Error(`agent gone\n${output()}`));
    waiting.clear();
  });

  // Distributes Omit over the union: each command without its id.
  type Command = AgentCommand extends infer C
    ? C extends AgentCommand
      ? Omit<C, 'id'>
      : never
    : never;
  const call = <T>(command: Command, timeoutMs: number): Promise<T> => {
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`agent ${options.user}: no reply to ${command.op} in ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      control.write(`${JSON.stringify({ ...command, id })}\n`);
    });
  };
  // The agent's own timeouts (SipUa's 5 s per transaction) fire first; this is a backstop.
  const backstop = (ms = 5000): number => 2 * ms + 5000;

  return {
    role,
    user: options.user,
    process: managed,
    info: () => call<AgentInfo>({ op: 'info' }, backstop()),
    register: (expires = 600) => call<WireMessage>({ op: 'register', expires }, backstop(10_000)),
    request: (method, uri, requestOptions = {}) =>
      call<WireMessage>(
        { op: 'request', method, uri, options: requestOptions },
        backstop(2 * (requestOptions.timeoutMs ?? 5000)),
      ),
    send: async (method, uri, requestOptions = {}) => {
      await call<null>({ op: 'send', method, uri, options: requestOptions }, backstop());
    },
    answer: async (rules) => {
      await call<null>({ op: 'answer', rules }, backstop());
    },
    waitFor: (method, match = {}, timeoutMs = 5000) =>
      call<WireMessage>(
        {
          op: 'wait',
          method,
          ...(match.header === undefined ? {} : { header: match.header }),
          ...(match.pattern === undefined ? {} : { pattern: match.pattern.source }),
          timeoutMs,
        },
        backstop(timeoutMs),
      ),
    output,
    async stop() {
      control.destroy();
      await managed.stop('SIGTERM', 2000);
    },
  };
}

// A remote-controlled peer run inside a topology namespace:
//
//   ip netns exec <ns> node hostile-agent.ts <unix socket path>
//
// It listens on the Unix socket (shared across network namespaces), prints "ready", and runs
// the operations of hostile-protocol.ts with the namespace's own addresses: SIP user agents
// (test/helpers/sip-ua.ts), raw payloads, floods and held connections. It exits when the
// test process disconnects, or on SIGTERM.
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { header } from '../../src/codec/sip/parse.ts';
import type { SipMessage } from '../../src/codec/sip/message.ts';
import { SipUa } from '../helpers/sip-ua.ts';
import { exchange, flood, HoldGroup } from './hostile-load.ts';
import { lineReader } from './hostile-protocol.ts';
import type {
  AgentAnswer,
  AgentOp,
  AgentOps,
  AgentRequest,
  HeaderPair,
  RequestSummary,
  ResponseSummary,
} from './hostile-protocol.ts';

const uas = new Map<string, SipUa>();
const groups = new Map<string, HoldGroup>();

function ua(name: string): SipUa {
  const found = uas.get(name);
  if (found === undefined) throw new Error(`no user agent ${name}`);
  return found;
}

function pairs(message: SipMessage): HeaderPair[] {
  return message.headers.map((h): HeaderPair => [h.name, h.value]);
}

type Handlers = {
  readonly [K in AgentOp]: (args: AgentOps[K]['args']) => Promise<AgentOps[K]['result']>;
};

const handlers: Handlers = {
  async 'ua.connect'(args) {
    const agent = await SipUa.connect({
      host: args.host,
      port: args.port,
      transport: args.transport,
      user: args.user,
      password: args.password,
      ...(args.caFile === undefined ? {} : { ca: readFileSync(args.caFile, 'utf8') }),
    });
    uas.get(args.name)?.close();
    uas.set(args.name, agent);
    return { local: agent.local };
  },
  async 'ua.register'(args) {
    return summarizeResponse(await ua(args.name).register());
  },
  async 'ua.request'(args) {
    return summarizeResponse(await ua(args.name).request(args.method, args.uri, args.options));
  },
  async 'ua.waitForRequest'(args) {
    const request = await ua(args.name).waitForRequest(
      args.method,
      (r) => header(r, 'call-id') === args.callId,
      args.timeoutMs,
    );
    const summary: RequestSummary = {
      method: request.method,
      requestUri: request.requestUri,
      headers: pairs(request),
      body: request.body.toString('utf8'),
    };
    return summary;
  },
  async 'ua.messages'(args) {
    const agent = ua(args.name);
    const startedAt = Date.now();
    const sends: Promise<number | string>[] = [];
    for (let i = 0; i < args.count; i++) {
      sends.push(
        agent
          .request('MESSAGE', args.to, {
            body: `message ${String(i)}`,
            headers: [['Content-Type', 'text/plain']],
            timeoutMs: args.timeoutMs,
          })
          .then(
            (response) => response.status,
            (error: unknown) => String(error),
          ),
      );
      await new Promise((resolve) => setTimeout(resolve, args.intervalMs));
    }
    const outcomes = await Promise.all(sends);
    return { outcomes, startedAt, endedAt: Date.now() };
  },
  'ua.close'(args) {
    uas.get(args.name)?.close();
    uas.delete(args.name);
    return Promise.resolve(null);
  },
  exchange,
  flood,
  async 'hold.start'(args) {
    groups.get(args.group)?.close();
    const group = new HoldGroup(args.maxHoldMs);
    groups.set(args.group, group);
    return group.start(args);
  },
  'hold.status'(args) {
    const group = groups.get(args.group);
    if (group === undefined) throw new Error(`no hold group ${args.group}`);
    return Promise.resolve(group.status());
  },
  'hold.close'(args) {
    groups.get(args.group)?.close();
    return Promise.resolve(null);
  },
  async 'http.get'(args) {
    const response = await fetch(args.url, { signal: AbortSignal.timeout(5000) });
    return { status: response.status, text: await response.text() };
  },
};

function summarizeResponse(response: SipMessage): ResponseSummary {
  if (response.kind !== 'response') throw new Error('not a response');
  return { status: response.status, reason: response.reason, headers: pairs(response) };
}

async function run(request: AgentRequest): Promise<AgentAnswer> {
  try {
    const handler = handlers[request.op] as (args: unknown) => Promise<unknown>;
    return { id: request.id, ok: true, result: await handler(request.args) };
  } catch (error) {
    return {
      id: request.id,
      ok: false,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

function shutdown(): void {
  for (const agent of uas.values()) agent.close();
  for (const group of groups.values()) group.close();
  process.exit(0);
}

const socketPath = process.argv[2];
if (socketPath === undefined) {
  process.stderr.write('usage: hostile-agent.ts <unix socket path>\n');
  process.exit(64);
}
rmSync(socketPath, { force: true });
const server = createServer((connection: Socket) => {
  connection.on(
    'data',
    lineReader((line) => {
      void run(JSON.parse(line) as AgentRequest).then((answer) => {
        connection.write(`${JSON.stringify(answer)}\n`);
      });
    }),
  );
  connection.on('error', () => undefined);
  // One controller: when it goes, so do we.
  connection.on('close', shutdown);
});
server.listen(socketPath, () => {
  process.stdout.write('ready\n');
});
process.on('SIGTERM', shutdown);

// The test process's side of hostile-agent.ts: starts the agent inside a namespace and calls
// its operations over the agent's Unix socket.
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { ManagedProcess } from '../helpers/process.ts';
import { NODE_BINARY } from './netns.ts';
import type { Role, Topology } from './netns.ts';
import { lineReader } from './hostile-protocol.ts';
import type { AgentAnswer, AgentOp, AgentOps } from './hostile-protocol.ts';

/** Absolute path of the agent script (namespaces share the file system). */
export const AGENT_SCRIPT = join(import.meta.dirname, 'hostile-agent.ts');

/** A running agent in one namespace. */
export interface Agent {
  readonly role: Role;
  readonly process: ManagedProcess;
  /** Runs `op` inside the namespace; rejects with the agent's error text. */
  call<K extends AgentOp>(op: K, args: AgentOps[K]['args']): Promise<AgentOps[K]['result']>;
  /** Disconnects, which ends the agent. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts hostile-agent.ts in `role`'s namespace with its socket in `dir` and connects to it.
 * Stopped by `topo.destroy()` at the latest.
 */
export async function startAgent(topo: Topology, role: Role, dir: string): Promise<Agent> {
  const socketPath = join(dir, `agent-${role}.sock`);
  const managed = topo.exec(role, [NODE_BINARY, AGENT_SCRIPT, socketPath], {
    name: `${role}:hostile-agent`,
  });
  await managed.waitForOutput(/^ready$/m, 15_000);
  const socket: Socket = connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  socket.on(
    'data',
    lineReader((line) => {
      const answer = JSON.parse(line) as AgentAnswer;
      const waiter = pending.get(answer.id);
      pending.delete(answer.id);
      if (answer.ok) waiter?.resolve(answer.result);
      else waiter?.reject(new Error(`[${role} agent] ${answer.error}`));
    }),
  );
  const failAll = (): void => {
    const detail = managed.stderr().slice(-2000);
    for (const waiter of pending.values())
      waiter.reject(new Error(`[${role} agent] connection lost\n${detail}`));
    pending.clear();
  };
  socket.on('close', failAll);
  socket.on('error', () => undefined);
  let stopping: Promise<void> | undefined;
  return {
    role,
    process: managed,
    call<K extends AgentOp>(op: K, args: AgentOps[K]['args']): Promise<AgentOps[K]['result']> {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, {
          resolve: (value) => {
            resolve(value as AgentOps[K]['result']);
          },
          reject,
        });
        socket.write(`${JSON.stringify({ id, op, args })}\n`);
      });
    },
    stop() {
      stopping ??= (async () => {
        socket.end();
        await managed.stop('SIGTERM', 3000);
      })();
      return stopping;
    },
  };
}

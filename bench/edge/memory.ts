/**
 * The memory phase of `npm run bench:edge`: what an edge holds per idle TLS connection. A
 * client in a process of its own (idle-clients.ts) opens the connections; the edge's processes
 * are sampled before and after (PSS summed, as bench/registrar does).
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { sleep } from '../../test/helpers/process.ts';
import { pssBytes } from '../registrar/memory.ts';
import { rssBytes } from '../turn/proc.ts';
import { isClientReport, perConnection } from './report.ts';
import type { ClientCommand, ClientReport, ConnectionMemory } from './report.ts';
import { startNextHop } from './servers.ts';
import type { EdgeFactory, EdgeSettings, EdgeUnderTest, NextHop } from './servers.ts';

const HERE = import.meta.dirname;

/** How the memory phase runs. */
export interface MemoryOptions {
  /** Worker processes of the next hop. */
  readonly children: number;
  /** The edge's settings, given the next hop started for it. */
  settings(nextHop: NextHop): EdgeSettings;
  /** Wait between opening the connections and the second sample. */
  readonly settleMs: number;
  /** TLS handshakes the client runs at once. */
  readonly inFlight: number;
}

/** The idle-connection client, and a way to ask it something and await its answer. */
interface IdleClient {
  ask(command: ClientCommand, timeoutMs: number): Promise<ClientReport>;
  stop(): Promise<void>;
}

function startIdleClient(
  edge: EdgeUnderTest,
  caFile: string,
  sourceAddresses: number,
  inFlight: number,
): IdleClient {
  const child: ChildProcess = fork(
    join(HERE, 'idle-clients.ts'),
    [edge.tls.host, String(edge.tls.port), caFile, String(sourceAddresses), String(inFlight)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  interface Waiter {
    answer(report: ClientReport): void;
    fail(error: Error): void;
  }
  const waiting: Waiter[] = [];
  child.on('message', (message: unknown) => {
    if (isClientReport(message)) waiting.shift()?.answer(message);
  });
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      const error = new Error(`idle client exited (${String(code ?? signal)})`);
      for (const waiter of waiting.splice(0)) waiter.fail(error);
      resolveExit();
    });
  });
  return {
    ask(command, timeoutMs) {
      return new Promise<ClientReport>((resolveReport, reject) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          reject(new Error('idle client is not running'));
          return;
        }
        const timer = setTimeout(() => {
          reject(new Error(`idle client: no answer to ${command.type} in ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.push({
          answer(report) {
            clearTimeout(timer);
            resolveReport(report);
          },
          fail(error) {
            clearTimeout(timer);
            reject(error);
          },
        });
        child.send(command);
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        if (child.connected) child.send({ type: 'close' } satisfies ClientCommand);
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** One reading of an edge's memory. */
interface MemorySample {
  readonly processes: number;
  readonly pssBytes: number;
  readonly rssBytes: number;
  readonly sharedPoolBytes: number | null;
}

async function sampleMemory(edge: EdgeUnderTest): Promise<MemorySample> {
  const pids = edge.pids();
  return {
    processes: pids.length,
    pssBytes: pssBytes(pids),
    rssBytes: rssBytes(pids),
    sharedPoolBytes: (await edge.sharedPoolBytes?.()) ?? null,
  };
}

/**
 * Memory per idle TLS connection, with a fresh next hop and edge: one connection as warm-up,
 * a sample, `connections` more, a pause, a second sample, then a ping on every connection to
 * check they all stayed open.
 */
export async function measureMemory(
  name: string,
  factory: EdgeFactory,
  options: MemoryOptions,
  figures: Record<string, unknown>,
): Promise<ConnectionMemory> {
  const nextHop = await startNextHop(options.children);
  const settings = options.settings(nextHop);
  const { connections, sourceAddresses } = settings;
  let edge: EdgeUnderTest | undefined;
  let client: IdleClient | undefined;
  try {
    edge = await factory(settings);
    console.log(
      `${name}: memory, ${connections} idle TLS connections from ${sourceAddresses} addresses`,
    );
    client = startIdleClient(edge, settings.pki.caCertFile, sourceAddresses, options.inFlight);
    const warm = await client.ask({ type: 'open', count: 1 }, 60_000);
    if (warm.type !== 'opened' || warm.established !== 1) {
      throw new Error(`${name}: the warm-up connection failed: ${JSON.stringify(warm)}`);
    }
    await sleep(1000);
    const before = await sampleMemory(edge);
    const opened = await client.ask({ type: 'open', count: connections }, 240_000);
    if (opened.type !== 'opened') throw new Error('idle client: unexpected answer to open');
    console.log(
      `  opened ${opened.established}/${connections} in ${(opened.milliseconds / 1000).toFixed(1)} s` +
        ` (${opened.protocol ?? '?'} ${opened.cipher ?? '?'}), ${opened.ponged} answered the ping` +
        (opened.failed > 0 ? `, ${opened.failed} failed: ${opened.errors.join('; ')}` : ''),
    );
    await sleep(options.settleMs);
    // Counted without a byte sent, so that the sample below is of exactly these connections.
    const status = await client.ask({ type: 'status' }, 10_000);
    const after = await sampleMemory(edge);
    const checked = await client.ask({ type: 'check' }, 240_000);
    if (status.type !== 'status' || checked.type !== 'checked') {
      throw new Error('idle client: unexpected answer to status or check');
    }
    const expected = opened.established + 1;
    console.log(
      `  at the sample: ${status.open}/${expected} open; then ${checked.ponged}/${checked.open} ` +
        `answered a second ping; ${checked.closedByServer} closed by the edge in all`,
    );
    figures.memoryRun = { before, after, opened, status, checked, warm };
    const problems: string[] = [];
    if (opened.established < connections) {
      problems.push(`only ${opened.established}/${connections} connections established`);
    }
    if (status.open < expected) {
      problems.push(`${expected - status.open} connections closed before the sample`);
    }
    if (checked.ponged < status.open) {
      problems.push(`${status.open - checked.ponged} connections did not answer the second ping`);
    }
    if (problems.length > 0) {
      figures.memoryProblems = problems;
      figures.edgeLogTail = edge.logs();
      console.log(`  edge log tail:\n${edge.logs().slice(-1500)}`);
    }
    // Per connection added and still open at the second sample (the warm-up one is in both).
    const added = status.open - 1;
    return {
      connections: added,
      baselinePssBytes: before.pssBytes,
      pssBytesPerConnection: perConnection(before.pssBytes, after.pssBytes, added),
      rssBytesPerConnection: perConnection(before.rssBytes, after.rssBytes, added),
      shmBytesPerConnection: perConnection(
        before.sharedPoolBytes ?? undefined,
        after.sharedPoolBytes ?? undefined,
        added,
      ),
    };
  } finally {
    await client?.stop();
    await edge?.stop();
    await nextHop.stop();
  }
}

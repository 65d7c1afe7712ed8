/**
 * `rampart start` with `workers` > 1: a primary process supervises N workers (node:cluster).
 * Each worker runs every service and binds the same ports with SO_REUSEPORT, so the kernel
 * spreads clients (hashed on their address and port) across workers and keeps each client
 * on one worker: its transactions, TCP/TLS connections and retransmissions stay together.
 * The primary binds nothing but admin: it aggregates metrics and status over IPC, restarts
 * a worker that dies, and drains them all on SIGTERM/SIGINT.
 *
 * Start order: worker 0 binds first (ephemeral ports included); its bound ports are then
 * handed to workers 1..N-1, which bind the same ones.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { RampartConfig } from '../config/index.ts';
import type { Endpoint, RunningService } from '../lib/endpoint.ts';
import type { Logger } from '../lib/logger.ts';
import { startAdmin } from '../services/admin/index.ts';
import {
  aggregateMetrics,
  createServicesRegistry,
  metricsSnapshot,
  type MetricsSnapshot,
} from '../services/admin/registry.ts';
import { EXIT_CODES } from './exit-codes.ts';
import { createLogger } from './logger.ts';
import {
  announceStarted,
  describe,
  endpointKeys,
  exitOnCrash,
  onStopSignal,
  mergeActionResults,
  prepareTls,
  reloadServices,
  runServiceAction,
  startServices,
  type Exit,
} from './run.ts';

/** Environment variables the primary hands to a worker. */
const ENV_INDEX = 'RAMPART_WORKER_INDEX';
const ENV_PORTS = 'RAMPART_WORKER_PORTS';
const ENV_COUNT = 'RAMPART_WORKER_COUNT';

/** How long the primary waits for a worker's status answer. */
const STATUS_TIMEOUT_MS = 1000;
/** Delay before a worker that died is started again. */
const RESTART_DELAY_MS = 1000;

/** Messages between primary and workers (besides prom-client's own). */
type WorkerMessage =
  | { readonly type: 'rampart:ready'; readonly endpoints: readonly Endpoint[] }
  | { readonly type: 'rampart:failed'; readonly error: string }
  | {
      readonly type: 'rampart:status';
      readonly id: number;
      readonly services: Readonly<Record<string, Readonly<Record<string, number | string>>>>;
    }
  | { readonly type: 'rampart:action-result'; readonly id: number; readonly result: unknown }
  | { readonly type: 'rampart:metrics'; readonly id: number; readonly metrics: unknown };
type PrimaryMessage =
  | { readonly type: 'rampart:status-request'; readonly id: number }
  | { readonly type: 'rampart:stop'; readonly deadlineMs: number }
  | { readonly type: 'rampart:reload' }
  | { readonly type: 'rampart:metrics-request'; readonly id: number }
  | {
      readonly type: 'rampart:action';
      readonly id: number;
      readonly name: string;
      readonly argument: string | undefined;
    };

function isWorkerMessage(value: unknown): value is WorkerMessage {
  return isRampartMessage(value);
}

function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return isRampartMessage(value);
}

function isRampartMessage(value: unknown): value is { type: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    'type' in value &&
    typeof value.type === 'string' &&
    value.type.startsWith('rampart:')
  );
}

/** The number of worker processes a `workers` setting asks for. */
export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

// ---- worker ---------------------------------------------------------------------------

/** A worker: every service, ports shared with SO_REUSEPORT, reporting to the primary. */
export async function runWorker(
  config: RampartConfig,
  loadAgain: () => RampartConfig | string,
): Promise<void> {
  const index = Number(process.env[ENV_INDEX] ?? '0');
  const count = Number(process.env[ENV_COUNT] ?? '1');
  const ports = JSON.parse(process.env[ENV_PORTS] ?? '{}') as Record<string, number>;
  const { logger: root, flush } = createLogger(config.log.level);
  const logger = root.child({ worker: index });
  const exit: Exit = (code) => {
    flush();
    process.exit(code);
  };
  exitOnCrash(logger, exit);
  const send = (message: WorkerMessage): void => {
    if (process.connected) process.send?.(message);
  };
  const tls = await prepareTls(config, exit);
  const registry = createServicesRegistry();
  let services: RunningService[];
  try {
    services = await startServices({
      config,
      tls,
      logger,
      registry,
      worker: { index, count, ports },
    });
  } catch (error) {
    logger.error({ error: describe(error) }, 'worker startup failed');
    send({ type: 'rampart:failed', error: describe(error) });
    return exit(EXIT_CODES.FAILURE);
  }
  let stopping: Promise<void> | undefined;
  const stop = (deadlineMs: number): void => {
    stopping ??= Promise.all(services.map((service) => service.close(deadlineMs))).then(
      () => {
        tls.close();
        exit(EXIT_CODES.OK);
      },
      (error: unknown) => {
        logger.error({ error: describe(error) }, 'worker shutdown failed');
        exit(EXIT_CODES.FAILURE);
      },
    );
  };
  process.on('message', (message: unknown) => {
    if (!isPrimaryMessage(message)) return;
    switch (message.type) {
      case 'rampart:status-request':
        send({
          type: 'rampart:status',
          id: message.id,
          services: Object.fromEntries(services.map((s) => [s.name, s.status()])),
        });
        return;
      case 'rampart:stop':
        stop(message.deadlineMs);
        return;
      case 'rampart:reload':
        reloadServices(services, loadAgain, logger);
        return;
      case 'rampart:metrics-request':
        metricsSnapshot(registry).then(
          (metrics) => {
            send({ type: 'rampart:metrics', id: message.id, metrics });
          },
          (error: unknown) => {
            logger.error({ error: describe(error) }, 'metrics snapshot failed');
          },
        );
        return;
      case 'rampart:action':
        send({
          type: 'rampart:action-result',
          id: message.id,
          result: runServiceAction(services, message.name, message.argument),
        });
        return;
    }
  });
  // The primary coordinates shutdown; a terminal's Ctrl-C reaches the whole group.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  process.on('SIGHUP', () => undefined);
  // The primary is gone (killed): stop at once rather than run unsupervised.
  process.on('disconnect', () => {
    stop(Date.now());
  });
  send({ type: 'rampart:ready', endpoints: services.flatMap((s) => [...s.endpoints]) });
}

// ---- primary --------------------------------------------------------------------------

interface WorkerSlot {
  readonly index: number;
  worker: Worker;
  restarts: number;
}

/** Sums the numeric counters of each service over the workers' answers. */
function sumServices(
  answers: readonly Readonly<Record<string, Readonly<Record<string, number | string>>>>[],
): Record<string, Record<string, number | string>> {
  const total: Record<string, Record<string, number | string>> = {};
  for (const answer of answers) {
    for (const [service, counters] of Object.entries(answer)) {
      const into = (total[service] ??= {});
      for (const [name, value] of Object.entries(counters)) {
        const current = into[name];
        into[name] =
          typeof value === 'number' && (current === undefined || typeof current === 'number')
            ? (current ?? 0) + value
            : value;
      }
    }
  }
  return total;
}

/** The primary: admin, and `count` workers kept running until a stop signal. */
export async function runPrimary(
  config: RampartConfig,
  version: string,
  count: number,
): Promise<void> {
  const { logger: root, flush } = createLogger(config.log.level);
  const logger = root.child({ role: 'primary' });
  const exit: Exit = (code) => {
    flush();
    process.exit(code);
  };
  exitOnCrash(logger, exit);
  // Generated certificates are written once, here, before any worker reads them.
  const tls = await prepareTls(config, exit);
  const registry = createServicesRegistry();
  const slots: WorkerSlot[] = [];
  let stopping = false;
  let ready = false;
  let workerPorts: Record<string, number> = {};

  const fork = (index: number): Promise<{ worker: Worker; endpoints: readonly Endpoint[] }> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork({
        [ENV_INDEX]: String(index),
        [ENV_PORTS]: JSON.stringify(workerPorts),
        [ENV_COUNT]: String(count),
      });
      const onMessage = (message: unknown): void => {
        if (!isWorkerMessage(message)) return;
        if (message.type === 'rampart:ready') {
          worker.off('message', onMessage);
          worker.off('exit', onExit);
          resolve({ worker, endpoints: message.endpoints });
        } else if (message.type === 'rampart:failed') {
          reject(new Error(`worker ${index}: ${message.error}`));
        }
      };
      const onExit = (code: number | null, signal: string | null): void => {
        reject(new Error(`worker ${index} exited during startup (${signal ?? String(code)})`));
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
      // An IPC send to a worker that is going away fails with an 'error' event: logged, never
      // the primary's end (the exit handler restarts the worker).
      worker.on('error', (error) => {
        logger.warn(
          { event: 'worker-ipc-error', worker: index, error: describe(error) },
          'worker IPC error',
        );
      });
    });

  const supervise = (slot: WorkerSlot): void => {
    slot.worker.once('exit', (code, signal) => {
      if (stopping) return;
      logger.error(
        { event: 'worker-died', worker: slot.index, pid: slot.worker.process.pid, code, signal },
        'worker died; restarting it',
      );
      setTimeout(() => {
        if (stopping) return;
        fork(slot.index).then(
          ({ worker }) => {
            slot.worker = worker;
            slot.restarts += 1;
            logger.info(
              { event: 'worker-restarted', worker: slot.index, pid: worker.process.pid },
              'worker restarted',
            );
            supervise(slot);
          },
          (error: unknown) => {
            logger.error({ error: describe(error) }, 'worker restart failed; stopping');
            exit(EXIT_CODES.FAILURE);
          },
        );
      }, RESTART_DELAY_MS).unref();
    });
  };

  const killAll = (): void => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
  };

  let serviceEndpoints: readonly Endpoint[] = [];
  try {
    const first = await fork(0);
    serviceEndpoints = first.endpoints;
    workerPorts = endpointKeys(serviceEndpoints);
    slots.push({ index: 0, worker: first.worker, restarts: 0 });
    const others = await Promise.all(Array.from({ length: count - 1 }, (_, i) => fork(i + 1)));
    others.forEach(({ worker }, i) => slots.push({ index: i + 1, worker, restarts: 0 }));
  } catch (error) {
    logger.error({ error: describe(error) }, 'startup failed');
    process.stderr.write(`rampart: startup failed: ${describe(error)}\n`);
    killAll();
    return exit(EXIT_CODES.FAILURE);
  }
  for (const slot of slots) supervise(slot);

  let requestId = 0;
  /** Sends a request to a worker and waits (bounded) for the answer that carries its id. */
  const ask = <T>(
    slot: WorkerSlot,
    request: (id: number) => PrimaryMessage,
    answer: (message: WorkerMessage, id: number) => T | undefined,
  ): Promise<T | undefined> =>
    new Promise((resolve) => {
      const id = ++requestId;
      const timer = setTimeout(() => {
        slot.worker.off('message', onMessage);
        resolve(undefined);
      }, STATUS_TIMEOUT_MS);
      const onMessage = (message: unknown): void => {
        if (!isWorkerMessage(message)) return;
        const value = answer(message, id);
        if (value === undefined) return;
        clearTimeout(timer);
        slot.worker.off('message', onMessage);
        resolve(value);
      };
      slot.worker.on('message', onMessage);
      if (slot.worker.isConnected()) slot.worker.send(request(id));
    });
  const askStatus = (
    slot: WorkerSlot,
  ): Promise<Readonly<Record<string, Readonly<Record<string, number | string>>>> | undefined> =>
    ask(
      slot,
      (id) => ({ type: 'rampart:status-request', id }),
      (message, id) =>
        message.type === 'rampart:status' && message.id === id ? message.services : undefined,
    );
  const askAction = (
    slot: WorkerSlot,
    name: string,
    argument: string | undefined,
  ): Promise<unknown> =>
    ask(
      slot,
      (id) => ({ type: 'rampart:action', id, name, argument }),
      // A worker's undefined result is sent as null: wrap to tell it from "no answer yet".
      (message, id) =>
        message.type === 'rampart:action-result' && message.id === id
          ? { result: message.result }
          : undefined,
    ).then((answer) => answer?.result);
  const workerStatuses = async (): Promise<
    { index: number; pid: number | undefined; restarts: number; services: unknown }[]
  > =>
    Promise.all(
      slots.map(async (slot) => ({
        index: slot.index,
        pid: slot.worker.process.pid,
        restarts: slot.restarts,
        services: (await askStatus(slot)) ?? 'no answer',
      })),
    );

  let admin: RunningService;
  try {
    admin = await startAdmin({
      host: config.admin.host,
      port: config.admin.port,
      registry,
      version,
      metrics: async () => {
        const snapshots = await Promise.all(
          slots.map((slot) =>
            ask(
              slot,
              (id) => ({ type: 'rampart:metrics-request', id }),
              (message, id) =>
                message.type === 'rampart:metrics' && message.id === id
                  ? { metrics: message.metrics }
                  : undefined,
            ),
          ),
        );
        return aggregateMetrics(
          snapshots.flatMap((answer) =>
            answer === undefined ? [] : [answer.metrics as MetricsSnapshot],
          ),
        );
      },
      getEndpoints: () => [...serviceEndpoints, ...admin.endpoints],
      getStatus: async () =>
        sumServices(
          (await Promise.all(slots.map(askStatus))).filter((answer) => answer !== undefined),
        ),
      getWorkers: workerStatuses,
      runAction: async (name, argument) =>
        mergeActionResults(await Promise.all(slots.map((slot) => askAction(slot, name, argument)))),
      isReady: () => ready,
      logger: logger.child({ service: 'admin' }),
    });
  } catch (error) {
    logger.error({ error: describe(error) }, 'startup failed');
    process.stderr.write(`rampart: startup failed: ${describe(error)}\n`);
    killAll();
    return exit(EXIT_CODES.FAILURE);
  }

  announceStarted(config, version, [...serviceEndpoints, ...admin.endpoints], tls);
  // SIGHUP: every worker reads the configuration again and applies what it can live.
  process.on('SIGHUP', () => {
    logger.info({ event: 'reload' }, 'reloading the configuration in every worker');
    for (const slot of slots) {
      const request: PrimaryMessage = { type: 'rampart:reload' };
      if (slot.worker.isConnected()) slot.worker.send(request);
    }
  });
  ready = true;
  logger.info({ event: 'started', workers: count, version }, 'rampart started');
  onStopSignal(logger, exit, config.shutdown.drainTimeoutMs, async (deadlineMs) => {
    stopping = true;
    ready = false;
    await Promise.all(slots.map((slot) => stopWorker(slot.worker, deadlineMs, logger)));
    await admin.close(deadlineMs);
    tls.close();
  });
}

/** Asks a worker to drain and waits for it to exit (killed when past the deadline). */
function stopWorker(worker: Worker, deadlineMs: number, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    if (worker.isDead()) {
      resolve();
      return;
    }
    const timer = setTimeout(
      () => {
        logger.warn({ event: 'worker-killed', pid: worker.process.pid }, 'worker did not stop');
        worker.process.kill('SIGKILL');
      },
      Math.max(0, deadlineMs - Date.now()) + 1000,
    );
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    const request: PrimaryMessage = { type: 'rampart:stop', deadlineMs };
    if (worker.isConnected()) worker.send(request);
  });
}

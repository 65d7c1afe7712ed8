/**
 * `rampart start`: data directory, TLS material, logger, metrics, services, then admin;
 * endpoints printed and written to `<data-dir>/endpoints.json`; drained on SIGTERM/SIGINT.
 * With `workers` > 1 the same steps run in worker processes under a supervising primary
 * (see ./cluster.ts).
 */
import cluster from 'node:cluster';
import type { RampartConfig } from '../config/index.ts';
import type { RunningService } from '../lib/endpoint.ts';
import { startAdmin } from '../services/admin/index.ts';
import { createServicesRegistry } from '../services/admin/registry.ts';
import { runPrimary, runWorker, workerCount } from './cluster.ts';
import { EXIT_CODES } from './exit-codes.ts';
import { createLogger } from './logger.ts';
import {
  announceStarted,
  describe,
  exitOnCrash,
  onStopSignal,
  prepareTls,
  reloadServices,
  runServiceAction,
  startServices,
  type Exit,
} from './run.ts';

/**
 * Runs `rampart start` with a loaded configuration. Resolves once every listener is bound
 * (the process then lives until a signal); exits the process itself on failure or shutdown.
 */
export async function start(
  config: RampartConfig,
  version: string,
  loadAgain: () => RampartConfig | string = () => config,
): Promise<void> {
  if (cluster.isWorker) return runWorker(config, loadAgain);
  const workers = workerCount(config.workers);
  if (workers > 1) return runPrimary(config, version, workers);
  return runSingle(config, version, loadAgain);
}

/** Everything in this one process. */
async function runSingle(
  config: RampartConfig,
  version: string,
  loadAgain: () => RampartConfig | string,
): Promise<void> {
  const { logger, flush } = createLogger(config.log.level);
  const exit: Exit = (code) => {
    flush();
    process.exit(code);
  };
  exitOnCrash(logger, exit);
  const tls = await prepareTls(config, exit);

  const registry = createServicesRegistry();
  const services: RunningService[] = [];
  let ready = false;
  const stopAll = async (deadlineMs: number): Promise<void> => {
    // Admin was started last and goes first; each service drains until the same deadline.
    await Promise.all([...services].reverse().map((service) => service.close(deadlineMs)));
    tls.close();
  };
  try {
    services.push(...(await startServices({ config, tls, logger, registry })));
    services.push(
      await startAdmin({
        host: config.admin.host,
        port: config.admin.port,
        registry,
        version,
        getEndpoints: () => services.flatMap((s) => [...s.endpoints]),
        getStatus: () => Object.fromEntries(services.map((s) => [s.name, s.status()])),
        runAction: (name, argument) => Promise.resolve(runServiceAction(services, name, argument)),
        isReady: () => ready,
        logger: logger.child({ service: 'admin' }),
      }),
    );
  } catch (error) {
    logger.error({ error: describe(error) }, 'startup failed');
    process.stderr.write(`rampart: startup failed: ${describe(error)}\n`);
    await stopAll(Date.now()).catch(() => undefined);
    return exit(EXIT_CODES.FAILURE);
  }

  const endpoints = services.flatMap((s) => [...s.endpoints]);
  announceStarted(config, version, endpoints, tls);
  ready = true;
  logger.info({ event: 'started', endpoints: endpoints.length, version }, 'rampart started');
  // SIGHUP: configuration reload without restart.
  process.on('SIGHUP', () => {
    reloadServices(services, loadAgain, logger);
  });
  onStopSignal(logger, exit, config.shutdown.drainTimeoutMs, (deadline) => {
    ready = false;
    return stopAll(deadline);
  });
}

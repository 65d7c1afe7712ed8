/**
 * `rampart start`: data directory, TLS material, logger, metrics, services, then admin;
 * endpoints printed and written to `<data-dir>/endpoints.json`; drained on SIGTERM/SIGINT.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RampartConfig } from '../config/index.ts';
import type { Endpoint, RunningService } from '../lib/endpoint.ts';
import { RampartError } from '../lib/errors.ts';
import { startAccessEdge } from '../services/access-edge/index.ts';
import { startAdmin } from '../services/admin/index.ts';
import { createServicesRegistry } from '../services/admin/registry.ts';
import { loadTlsMaterial, type TlsMaterial } from '../store/tls-material.ts';
import { EXIT_CODES, type ExitCode } from './exit-codes.ts';
import { createLogger } from './logger.ts';

/** Extra time after the drain deadline before a stuck shutdown is abandoned. */
const SHUTDOWN_GRACE_MS = 2000;

/** Formats endpoints as an aligned table (IPv6 hosts in brackets). */
export function endpointTable(endpoints: readonly Endpoint[]): string {
  const rows = endpoints.map((e) => [
    e.service,
    e.side,
    e.transport,
    e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`,
  ]);
  const header = ['SERVICE', 'SIDE', 'TRANSPORT', 'ADDRESS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Writes `endpoints.json` atomically, so a reader never sees half a file. */
function writeEndpoints(dataDir: string, endpoints: readonly Endpoint[]): string {
  const path = join(dataDir, 'endpoints.json');
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(endpoints, null, 2) + '\n');
  renameSync(temporary, path);
  return path;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs `rampart start` with a loaded configuration. Resolves once every listener is bound
 * (the process then lives until a signal); exits the process itself on failure or shutdown.
 */
export async function start(config: RampartConfig, version: string): Promise<void> {
  const { logger, flush } = createLogger(config.log.level);
  const exit = (code: ExitCode): never => {
    flush();
    process.exit(code);
  };
  process.on('uncaughtException', (error) => {
    logger.error({ error: describe(error), stack: error.stack }, 'internal error');
    exit(EXIT_CODES.INTERNAL);
  });
  process.on('unhandledRejection', (reason) => {
    logger.error({ error: describe(reason) }, 'internal error (unhandled rejection)');
    exit(EXIT_CODES.INTERNAL);
  });

  let tls: TlsMaterial;
  try {
    mkdirSync(config.dataDir, { recursive: true });
    tls = await loadTlsMaterial({
      dataDir: config.dataDir,
      certFile: config.tls.certFile,
      keyFile: config.tls.keyFile,
      caFile: config.tls.caFile,
      names: [...config.tls.names, ...config.domains],
    });
  } catch (error) {
    const configured = config.tls.certFile !== null && error instanceof RampartError;
    process.stderr.write(`rampart: ${describe(error)}\n`);
    return exit(configured ? EXIT_CODES.CONFIG : EXIT_CODES.FAILURE);
  }

  const registry = createServicesRegistry();
  const services: RunningService[] = [];
  let ready = false;
  const stopAll = async (deadlineMs: number): Promise<void> => {
    // Admin was started last and goes first; each service drains until the same deadline.
    await Promise.all([...services].reverse().map((service) => service.close(deadlineMs)));
    tls.close();
  };
  try {
    if (config['access-edge'].enabled) {
      services.push(
        await startAccessEdge({
          config: config['access-edge'],
          domains: config.domains,
          tls,
          logger,
          registry,
        }),
      );
    }
    services.push(
      await startAdmin({
        host: config.admin.host,
        port: config.admin.port,
        registry,
        version,
        getEndpoints: () => services.flatMap((s) => [...s.endpoints]),
        getStatus: () => Object.fromEntries(services.map((s) => [s.name, s.status()])),
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
  const endpointsPath = writeEndpoints(config.dataDir, endpoints);
  process.stdout.write(
    `Rampart ${version} started\n${endpointTable(endpoints)}\n` +
      (tls.caPath === ''
        ? 'CA certificate: none configured (tls.caFile)\n'
        : `CA certificate (trust it in clients): ${tls.caPath}\n`) +
      `Endpoints: ${endpointsPath}\n`,
  );
  ready = true;
  logger.info({ event: 'started', endpoints: endpoints.length, version }, 'rampart started');

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ event: 'stop-forced', signal }, 'second signal: stopping now');
      exit(EXIT_CODES.FAILURE);
    }
    stopping = true;
    ready = false;
    const deadline = Date.now() + config.shutdown.drainTimeoutMs;
    logger.info({ event: 'stopping', signal }, 'stopping: draining in-flight transactions');
    setTimeout(() => {
      logger.error({ event: 'stop-timeout' }, 'shutdown did not finish in time');
      exit(EXIT_CODES.FAILURE);
    }, config.shutdown.drainTimeoutMs + SHUTDOWN_GRACE_MS).unref();
    stopAll(deadline).then(
      () => {
        logger.info({ event: 'stopped' }, 'stopped');
        exit(EXIT_CODES.OK);
      },
      (error: unknown) => {
        logger.error({ error: describe(error) }, 'shutdown failed');
        exit(EXIT_CODES.FAILURE);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

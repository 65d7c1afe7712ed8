/**
 * The process logger: pino behind the lib Logger interface. JSON lines on stderr, or
 * pino-pretty when stdout is a terminal (a person is watching). stdout carries the endpoint
 * table, so logs never mix with it.
 */
import { pino, type DestinationStream, type Logger as Pino } from 'pino';
import { PinoPretty } from 'pino-pretty';
import type { Logger } from '../lib/logger.ts';

/** The process logger and how to flush it before `process.exit`. */
export interface ProcessLogger {
  readonly logger: Logger;
  /** Writes out buffered lines; call before exiting. */
  readonly flush: () => void;
}

function adapt(instance: Pino): Logger {
  return {
    debug: (fields, message) => {
      instance.debug(fields, message);
    },
    info: (fields, message) => {
      instance.info(fields, message);
    },
    warn: (fields, message) => {
      instance.warn(fields, message);
    },
    error: (fields, message) => {
      instance.error(fields, message);
    },
    child: (fields) => adapt(instance.child(fields)),
  };
}

/** Bytes of log lines buffered before a write to stderr. */
export const LOG_BATCH_BYTES = 4096;
/** Longest a buffered line waits. */
export const LOG_FLUSH_MS = 200;
/** Buffered bytes beyond which new lines are dropped. */
export const LOG_MAX_BUFFER_BYTES = 16 * 1024 * 1024;

/** Creates the process logger at `level` (a pino level name). */
export function createLogger(
  level: string,
  options: { readonly pretty?: boolean } = {},
): ProcessLogger {
  const pretty = options.pretty ?? process.stdout.isTTY;
  if (pretty) {
    // In-process pretty printing (no worker thread), written synchronously to stderr.
    const stream: DestinationStream = PinoPretty({
      destination: 2,
      sync: true,
      colorize: process.stderr.isTTY,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
    });
    return { logger: adapt(pino({ level }, stream)), flush: () => undefined };
  }
  // Lines are written in batches of at least LOG_BATCH_BYTES (an access-logging proxy writes
  // a line per request; one write, and one thread-pool hop, per line cost it about a tenth
  // of its throughput), and at least every LOG_FLUSH_MS so an idle server's last lines show.
  // Beyond LOG_MAX_BUFFER_BYTES (stderr not being read) lines are dropped, never hoarded.
  const destination = pino.destination({
    fd: 2,
    sync: false,
    minLength: LOG_BATCH_BYTES,
    periodicFlush: LOG_FLUSH_MS,
    maxLength: LOG_MAX_BUFFER_BYTES,
  });
  return {
    logger: adapt(pino({ level, base: { pid: process.pid } }, destination)),
    flush: () => {
      try {
        destination.flushSync();
      } catch {
        // Nothing buffered yet, or stderr is gone: nothing left to save.
      }
    },
  };
}

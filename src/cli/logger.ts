/** The process logger: pino (JSON lines; pretty on a terminal), behind the lib Logger interface. */
import { pino, type Logger as Pino } from 'pino';
import type { Logger } from '../lib/logger.ts';

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

/** Creates the process logger at `level`. Logs go to stderr; stdout carries the endpoint table. */
export function createLogger(level: string): Logger {
  const pretty = process.stderr.isTTY;
  const instance = pretty
    ? pino({
        level,
        transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } },
      })
    : pino({ level }, pino.destination({ fd: 2, sync: false }));
  return adapt(instance);
}

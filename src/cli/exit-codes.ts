/** Exit codes of the `rampart` command (documented in the README); sysexits where one fits. */
export const EXIT_CODES = {
  /** Success; also a clean shutdown after SIGTERM/SIGINT. */
  OK: 0,
  /** A runtime failure: a listener could not bind, a service failed to start or to stop. */
  FAILURE: 1,
  /** Bad command-line usage (unknown command or option, missing argument). */
  USAGE: 2,
  /** An internal error: a bug (sysexits EX_SOFTWARE). */
  INTERNAL: 70,
  /** The configuration is invalid, or configured certificate files are (sysexits EX_CONFIG). */
  CONFIG: 78,
} as const;

/** One of the exit codes. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

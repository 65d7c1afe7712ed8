/** Exit codes of the `rampart` command (documented in the README). */
export const EXIT_CODES = {
  /** Success; also a clean shutdown after SIGTERM/SIGINT. */
  OK: 0,
  /** A runtime failure: a listener could not bind, a service failed to start. */
  FAILURE: 1,
  /** Bad command-line usage. */
  USAGE: 2,
  /** An internal error (a bug). */
  INTERNAL: 70,
  /** The configuration is invalid (sysexits EX_CONFIG). */
  CONFIG: 78,
} as const;

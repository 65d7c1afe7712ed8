/** Exit codes of the `rampart` command (documented in the README); sysexits where one fits. */
export const EXIT_CODES = {
  /** Success; also a clean shutdown after SIGTERM/SIGINT. */
  OK: 0,
  /** A runtime failure: a listener could not bind, a service failed to start or to stop. */
  FAILURE: 1,
  /** Bad command-line usage (unknown command or option, missing argument). */
  USAGE: 2,
  /**
   * Bad data (sysexits EX_DATAERR): a malformed address or group name; for `user import`, a
   * file without the header row, or some lines rejected (the others were imported).
   */
  DATA: 65,
  /** An input file cannot be read (sysexits EX_NOINPUT): `user import FILE`. */
  NO_INPUT: 66,
  /** No such user, group or member (sysexits EX_NOUSER). */
  NOT_FOUND: 67,
  /** The directory cannot be opened: unreadable file, LDAP down (sysexits EX_UNAVAILABLE). */
  UNAVAILABLE: 69,
  /** An internal error: a bug (sysexits EX_SOFTWARE). */
  INTERNAL: 70,
  /** The user or group to create exists already (sysexits EX_CANTCREAT). */
  DUPLICATE: 73,
  /** The configuration is invalid, or configured certificate files are (sysexits EX_CONFIG). */
  CONFIG: 78,
} as const;

/** One of the exit codes. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

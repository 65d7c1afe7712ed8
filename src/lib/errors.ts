/** Stable error codes. Each is a literal that logs, metrics and tests may match on. */
export const ERROR_CODES = {
  SIP_PARSE: 'RAMPART_ERR_SIP_PARSE',
  SIP_TOO_LARGE: 'RAMPART_ERR_SIP_TOO_LARGE',
  SIP_FRAMING: 'RAMPART_ERR_SIP_FRAMING',
  STUN_PARSE: 'RAMPART_ERR_STUN_PARSE',
  CONFIG: 'RAMPART_ERR_CONFIG',
  TLS: 'RAMPART_ERR_TLS',
  TRANSPORT: 'RAMPART_ERR_TRANSPORT',
  DNS: 'RAMPART_ERR_DNS',
  INVALID_STATE: 'RAMPART_ERR_INVALID_STATE',
  INVALID_ARGUMENT: 'RAMPART_ERR_INVALID_ARGUMENT',
  DIRECTORY: 'RAMPART_ERR_DIRECTORY',
  WEB_SERVICES: 'RAMPART_ERR_WEB_SERVICES',
} as const;

/** One of the stable error codes. */
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** The one error base class of Rampart. `code` is stable; `message` is for people. */
export class RampartError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RampartError';
    this.code = code;
  }
}

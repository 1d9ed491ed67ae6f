/**
 * The one error catalogue. Every error the gateway reports to a person or a client carries a
 * stable `CAREHUB_ERR_*` code; the HTTP status and the process exit code for each code live here
 * and nowhere else (fastify's pattern). Exit codes follow sysexits(3) so systemd and scripts can
 * tell a config mistake (78) from a crash (1).
 */

interface CatalogueEntry {
  readonly http: number
  readonly exit: number
  readonly title: string
}

export const ERRORS = {
  CAREHUB_ERR_CONFIG_INVALID: { http: 500, exit: 78, title: 'Invalid configuration' },
  CAREHUB_ERR_CONFIG_UNREADABLE: { http: 500, exit: 78, title: 'Configuration file unreadable' },
  CAREHUB_ERR_DATA_DIR: { http: 500, exit: 73, title: 'Data folder unusable' },
  CAREHUB_ERR_ALREADY_RUNNING: { http: 500, exit: 75, title: 'Another gateway uses this data folder' },
  CAREHUB_ERR_STORE_CORRUPT: { http: 500, exit: 65, title: 'Database failed its integrity check' },
  CAREHUB_ERR_STORE_UNAVAILABLE: { http: 503, exit: 74, title: 'Database unavailable' },
  CAREHUB_ERR_STORE_TOO_NEW: { http: 500, exit: 65, title: 'Database is newer than this gateway' },
  CAREHUB_ERR_STORE_DURABILITY: { http: 500, exit: 74, title: 'Database durability settings not in force' },
  CAREHUB_ERR_PKI: { http: 500, exit: 74, title: 'Certificate authority unusable' },
  CAREHUB_ERR_SECRETS: { http: 500, exit: 74, title: 'Encrypted secrets unusable' },
  CAREHUB_ERR_PORT_IN_USE: { http: 500, exit: 69, title: 'Port already in use' },
  CAREHUB_ERR_PERMISSION: { http: 500, exit: 77, title: 'Permission denied' },
  CAREHUB_ERR_USAGE: { http: 400, exit: 64, title: 'Wrong command usage' },
  CAREHUB_ERR_VALIDATION: { http: 400, exit: 65, title: 'Invalid input' },
  CAREHUB_ERR_CONFLICT: { http: 409, exit: 65, title: 'Already exists' },
  CAREHUB_ERR_NOT_FOUND: { http: 404, exit: 66, title: 'Not found' },
  CAREHUB_ERR_UNAUTHENTICATED: { http: 401, exit: 77, title: 'Authentication required' },
  CAREHUB_ERR_MFA_REQUIRED: { http: 401, exit: 77, title: 'One-time code required' },
  CAREHUB_ERR_CLOCK_UNTRUSTED: { http: 503, exit: 69, title: 'Clock not synchronised' },
  CAREHUB_ERR_FORBIDDEN: { http: 403, exit: 77, title: 'Forbidden' },
  CAREHUB_ERR_RATE_LIMITED: { http: 429, exit: 75, title: 'Too many requests' },
  CAREHUB_ERR_SHUTDOWN_TIMEOUT: { http: 503, exit: 70, title: 'Shutdown did not finish in time' },
  CAREHUB_ERR_WEBHOOK_UNKNOWN_CLIENT: { http: 401, exit: 77, title: 'Unknown webhook client' },
  CAREHUB_ERR_WEBHOOK_SIGNATURE: { http: 401, exit: 77, title: 'Webhook signature invalid' },
  CAREHUB_ERR_WEBHOOK_TIMESTAMP: { http: 401, exit: 77, title: 'Webhook timestamp outside the accepted window' },
  CAREHUB_ERR_WEBHOOK_REPLAY: { http: 409, exit: 65, title: 'Webhook request already received' },
  CAREHUB_ERR_WEBHOOK_QUOTA: { http: 429, exit: 75, title: 'Webhook client over its quota' },
  CAREHUB_ERR_UPSTREAM_REJECTED: { http: 502, exit: 76, title: 'An upstream server refused the data' },
  CAREHUB_ERR_UPSTREAM_UNAVAILABLE: { http: 503, exit: 69, title: 'An upstream server is unavailable' },
  CAREHUB_ERR_COMMAND_REFUSED: { http: 422, exit: 65, title: 'The device refused the command' },
  CAREHUB_ERR_COMMAND_TIMEOUT: { http: 504, exit: 75, title: 'The device did not answer in time' },
  CAREHUB_ERR_COMMAND_UNAVAILABLE: { http: 503, exit: 69, title: 'The device cannot be reached now' },
  CAREHUB_ERR_COMMAND_FAILED: { http: 502, exit: 76, title: 'The command failed on the way to the device' },
  CAREHUB_ERR_NOT_IMPLEMENTED: { http: 501, exit: 69, title: 'Not available yet' },
  CAREHUB_ERR_INTERNAL: { http: 500, exit: 70, title: 'Internal error' },
} as const satisfies Record<string, CatalogueEntry>

export type ErrorCode = keyof typeof ERRORS

export class CarehubError extends Error {
  readonly code: ErrorCode
  /** Extra facts for logs and API clients (never secrets). */
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'CarehubError'
    this.code = code
    this.details = options.details
  }

  get httpStatus(): number {
    return ERRORS[this.code].http
  }

  get exitCode(): number {
    return ERRORS[this.code].exit
  }
}

export function isCarehubError(err: unknown): err is CarehubError {
  return err instanceof CarehubError
}

/** Translate a Node system error (EADDRINUSE, EACCES, …) met at a boundary into the catalogue. */
export function fromSystemError(err: unknown, what: string): CarehubError {
  if (isCarehubError(err)) return err
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  const message = err instanceof Error ? err.message : String(err)
  switch (code) {
    case 'EADDRINUSE':
      return new CarehubError('CAREHUB_ERR_PORT_IN_USE', `${what}: the address is already in use — stop the other program or choose another port`, {
        cause: err,
      })
    case 'EACCES':
    case 'EPERM':
      return new CarehubError('CAREHUB_ERR_PERMISSION', `${what}: permission denied (${message})`, { cause: err })
    case 'EADDRNOTAVAIL':
      return new CarehubError('CAREHUB_ERR_CONFIG_INVALID', `${what}: this machine has no such address — check CAREHUB_BIND`, { cause: err })
    default:
      return new CarehubError('CAREHUB_ERR_INTERNAL', `${what}: ${message}`, { cause: err })
  }
}

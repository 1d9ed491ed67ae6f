import { type DestinationStream, type Logger, pino } from 'pino'

/**
 * Paths redacted from every log line. Listed one by one on purpose: pino's `*.password` matches
 * exactly one level (`a.b.password` is NOT covered — dependencies notes §8), so each place a secret
 * can appear is named here. Add to this list when a new secret-bearing shape is logged.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'newPassword',
  '*.newPassword',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'secret',
  '*.secret',
  'totpCode',
  '*.totpCode',
  'keyPem',
  '*.keyPem',
  'privateKey',
  '*.privateKey',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-signature"]',
  'res.headers["set-cookie"]',
  'config.influx.token',
  'config.influx.password',
  'config.cloud.token',
  'config.homeassistant.token',
  'config.thinq.token',
  'config.email.password',
] as const

export interface LoggerOptions {
  readonly level: string
  readonly gatewayId?: string
  /** Where lines go; stdout when absent (journald adds its own timestamp, we keep ours: ISO UTC). */
  readonly destination?: DestinationStream
  /** Called for every line at level error or fatal (feeds `carehub status`). */
  readonly onError?: (line: { module: string | undefined; message: string }) => void
}

/** The one root logger; services get `log.child({ module })`. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { svc: 'carehub', ...(options.gatewayId ? { gw: options.gatewayId } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
      hooks: {
        logMethod(args, method, level) {
          if (options.onError && level >= 50) {
            const msg = args.find((a): a is string => typeof a === 'string') ?? 'error'
            const first = args[0] as { err?: { message?: unknown } } | Error | undefined
            const err = first instanceof Error ? first : first?.err
            const message = typeof err?.message === 'string' ? `${msg}: ${err.message}` : msg
            const bindings = this.bindings() as { module?: string }
            options.onError({ module: bindings.module, message })
          }
          method.apply(this, args)
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  )
}

import { z } from 'zod'

/**
 * The one schema of the gateway's configuration. Every object is strict: an unknown key is an
 * error (a typo must not silently fall back to a default). Defaults here are the "embedded
 * defaults" `npm start` runs on. `config/gateway.example.yaml` documents each key and
 * `config/gateway.schema.json` is generated from this file (`npm run schema`).
 */

export const DEVICE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/

const port = z.int().min(1).max(65535)

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

export const ConfigSchema = z
  .strictObject({
    gateway: z
      .strictObject({
        id: z
          .string()
          .regex(DEVICE_ID_PATTERN, { error: 'lowercase letters, digits, "_" or "-", 1–64 characters, starting with a letter or digit' })
          .optional()
          .describe('Stable id of this box (in mDNS TXT, cloud sync, idempotency keys). Generated once and kept in the store when absent.'),
        name: z.string().min(1).max(80).default('CareHub').describe('Human name shown in the panel and in mDNS.'),
        timezone: z
          .string()
          .refine(isTimeZone, { error: 'an IANA time zone such as "Europe/Berlin"' })
          .optional()
          .describe('Time zone for rules, quiet hours and daily rollups (IANA name). Absent: the system time zone.'),
      })
      .prefault({})
      .describe('Identity of this box.'),
    dataDir: z.string().min(1).default('./data').describe('Everything the box keeps. Env: CAREHUB_DATA_DIR.'),
    bind: z.string().min(1).default('0.0.0.0').describe('Address the listeners bind. Env: CAREHUB_BIND.'),
    http: z
      .strictObject({
        port: port.default(8443).describe('HTTPS port of the panel and API. Env: CAREHUB_HTTP_PORT.'),
        bodyLimitBytes: z
          .int()
          .min(1024)
          .max(16 * 1024 * 1024)
          .default(1024 * 1024)
          .describe('Largest request body accepted.'),
        requestTimeoutMs: z.int().min(1000).max(300_000).default(30_000).describe('A request taking longer is answered 408 / dropped.'),
        metricsFromLoopbackOnly: z.boolean().default(true).describe('Serve /metrics only to loopback clients until API auth exists.'),
      })
      .prefault({}),
    mqtt: z
      .strictObject({
        port: port.default(8883).describe('MQTT over mutual TLS. Env: CAREHUB_MQTT_PORT.'),
      })
      .prefault({}),
    mdns: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Advertise the broker and panel over mDNS. Env: CAREHUB_MDNS=on|off.'),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(LOG_LEVELS).default('info').describe('pino level. Env: CAREHUB_LOG_LEVEL.'),
      })
      .prefault({}),
    pki: z
      .strictObject({
        caValidityDays: z.int().min(365).max(36500).default(3650).describe('Lifetime of the box CA created on first start.'),
        serverCertValidityDays: z.int().min(7).max(825).default(397).describe('Lifetime of the HTTPS/MQTT server certificate.'),
        serverCertRenewBeforeDays: z.int().min(1).max(180).default(30).describe('Renew the server certificate this long before it expires.'),
        extraSubjectAltNames: z
          .array(z.string().min(1))
          .default([])
          .describe('Extra DNS names or IP addresses the server certificate must cover (e.g. a DHCP reservation name).'),
      })
      .prefault({}),
    shutdown: z
      .strictObject({
        timeoutMs: z.int().min(1000).max(120_000).default(10_000).describe('After SIGTERM, exit by force if stopping takes longer.'),
      })
      .prefault({}),
  })
  .describe('CareHub gateway configuration')

export type Config = z.output<typeof ConfigSchema>
export type ConfigInput = z.input<typeof ConfigSchema>

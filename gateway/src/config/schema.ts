import { z } from 'zod'
import { AutomationsSchema, CloudSchema } from './automations-schema.js'
import { HistorySchema, InfluxSchema } from './history-schema.js'
import { NotifySchema } from './notify-schema.js'
import { HomeAssistantSchema, ThinqSchema } from './sources-schema.js'

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
    bind: z
      .union([z.ipv4(), z.ipv6()], { error: 'an IP address of this machine, e.g. 0.0.0.0 (all), 127.0.0.1 or 192.168.1.20' })
      .default('0.0.0.0')
      .describe('IP address the listeners bind (0.0.0.0 = every interface). Env: CAREHUB_BIND.'),
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
        eventsHeartbeatSeconds: z
          .int()
          .min(1)
          .max(300)
          .default(15)
          .describe('The live stream (/api/events) sends a keep-alive this often and checks the viewer is still signed in.'),
      })
      .prefault({}),
    auth: z
      .strictObject({
        accessTokenMinutes: z.int().min(1).max(60).default(10).describe('Lifetime of an access token (JWT).'),
        refreshTokenDays: z.int().min(1).max(90).default(14).describe('A refresh token unused this long expires.'),
        sessionMaxDays: z.int().min(1).max(365).default(30).describe('Absolute session lifetime: sign in again after it, however active.'),
        refreshGraceSeconds: z
          .int()
          .min(0)
          .max(60)
          .default(10)
          .describe('A refresh token reused within this window returns the same successor (two tabs).'),
        apiBurst: z.int().min(1).max(100_000).default(120).describe('API requests one signed-in user may make at once…'),
        apiPerSecond: z.number().min(0.1).max(10_000).default(20).describe('…and per second after that (429 with Retry-After beyond).'),
        clockSyncedFlagFile: z
          .string()
          .min(1)
          .optional()
          .describe(
            'A file that exists once NTP has synchronised the clock (systemd-timesyncd: /run/systemd/timesync/synchronized); one-time codes are refused until then.',
          ),
      })
      .prefault({}),
    mqtt: z
      .strictObject({
        port: port.default(8883).describe('MQTT over mutual TLS. Env: CAREHUB_MQTT_PORT.'),
        loopbackPlainPort: port
          .nullable()
          .default(null)
          .describe('Plain MQTT on 127.0.0.1 only, for tools on the box itself (client id = a registered device id). null = off.'),
        maxPacketBytes: z
          .int()
          .min(1024)
          .max(16 * 1024 * 1024)
          .default(256 * 1024)
          .describe('A larger MQTT packet cuts the connection before it is buffered.'),
        maxConnections: z.int().min(1).max(100_000).default(1000).describe('Concurrent MQTT connections at most.'),
        maxConnectionsPerAddress: z.int().min(1).max(100_000).default(32).describe('Open MQTT connections from one source address at most.'),
        keepaliveLimitSeconds: z
          .int()
          .min(10)
          .max(65535)
          .default(300)
          .describe('Clients must set a keepalive between 1 s and this (0 = never checked is refused).'),
        connectBurst: z.int().min(1).max(10_000).default(20).describe('Connection attempts one address may make at once…'),
        connectPerSecond: z.number().min(0.1).max(10_000).default(5).describe('…and per second after that (checked before the TLS handshake).'),
      })
      .prefault({}),
    devices: z
      .strictObject({
        certValidityDays: z.int().min(1).max(7300).default(1825).describe('Lifetime of device client certificates (capped at the CA lifetime).'),
        silenceFactor: z
          .number()
          .min(1.5)
          .max(100)
          .default(3)
          .describe('A device is "silent" after this many of its usual reporting intervals without a reading…'),
        minSilenceSeconds: z.int().min(10).max(86_400).default(120).describe('…and never sooner than this.'),
      })
      .prefault({}),
    ingest: z
      .strictObject({
        maxPayloadBytes: z
          .int()
          .min(256)
          .max(1024 * 1024)
          .default(16 * 1024)
          .describe('Largest reading payload; larger ones become dead letters.'),
        maxFutureSeconds: z.int().min(0).max(86_400).default(300).describe('Refuse readings timestamped further ahead of the box clock.'),
        maxPastDays: z.int().min(1).max(3650).default(30).describe('Refuse readings older than this (buffered readings up to it are fine).'),
        // One transaction is one event-loop turn that an API request waits behind (500 readings are
        // ~10 ms on this VM), and several transactions may share one WAL sync, so throughput does
        // not depend on a large batch. Alternated half-length bench W3 runs on the Xeon host: 200
        // against 500, N=100 API p99 44 and 46 ms against 54 and 61 at more msg/s; then 100 against
        // 200, N=100 API p99 41 and 42 ms against 64 and 53, at 4-10 % fewer msg/s (tests/bench/README.md, "Smaller transactions").
        journalMaxBatch: z.int().min(1).max(100_000).default(100).describe('Readings per journal transaction at most (group commit).'),
        journalMaxPending: z
          .int()
          .min(100)
          .max(10_000_000)
          .default(100_000)
          .describe('Readings waiting for a commit at most; beyond it acknowledgements are withheld.'),
      })
      .prefault({}),
    homeassistant: HomeAssistantSchema,
    thinq: ThinqSchema,
    influx: InfluxSchema.optional(),
    history: HistorySchema,
    notify: NotifySchema,
    automations: AutomationsSchema.describe('Rules engine: the rules file, traces, webhook targets, the critical-alert fallback.'),
    cloud: CloudSchema.describe('Sync to the cloud service once enrolled (carehub cloud enroll <url> <code>).'),
    mdns: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Advertise the broker and panel over mDNS. Env: CAREHUB_MDNS=on|off.'),
        interface: z.union([z.ipv4(), z.ipv6()]).optional().describe('Send mDNS only on the interface with this address (default: every interface).'),
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

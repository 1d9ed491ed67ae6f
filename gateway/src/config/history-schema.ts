import { z } from 'zod'

/** The time-series parts of the configuration (issue 5): where readings are forwarded, what is kept locally. */

const httpUrl = z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL, e.g. http://192.168.1.10:8086' })

const forwarding = {
  url: httpUrl.describe('Base URL of the server (no path), e.g. http://influx.lan:8086.'),
  batchSize: z.int().min(1).max(50_000).default(5000).describe('Points per write request at most.'),
  timeoutMs: z.int().min(1000).max(300_000).default(30_000).describe('A write taking longer counts as failed and is retried.'),
  backoffMinMs: z.int().min(10).max(60_000).default(1000).describe('First retry delay after a failed write (doubles per failure, with jitter)…'),
  backoffMaxMs: z.int().min(100).max(3_600_000).default(300_000).describe('…up to this.'),
  pollMs: z.int().min(10).max(60_000).default(1000).describe('How often new journal entries are looked for when the forwarder is idle.'),
}

export const InfluxSchema = z
  .discriminatedUnion('version', [
    z.strictObject({
      version: z
        .literal(2)
        .describe('InfluxDB 2.x / 3.x, or VictoriaMetrics (InfluxDB v2 write API). The API token is the secret influx.token (carehub secret set).'),
      org: z.string().min(1).max(256).default('carehub').describe('Organization (ignored by VictoriaMetrics).'),
      bucket: z.string().min(1).max(256).default('sensors').describe('Bucket for raw readings.'),
      ...forwarding,
    }),
    z.strictObject({
      version: z.literal(1).describe('InfluxDB 1.x (/write with line protocol), e.g. the Home Assistant add-on.'),
      database: z.string().min(1).max(256).default('carehub').describe('Database to write to.'),
      retentionPolicy: z.string().min(1).max(256).optional().describe('Retention policy (absent: the database default).'),
      username: z
        .string()
        .min(1)
        .max(256)
        .optional()
        .describe('User for HTTP Basic auth; its password is the secret influx.password (carehub secret set).'),
      ...forwarding,
    }),
  ])
  .refine((c) => c.backoffMaxMs >= c.backoffMinMs, { error: 'backoffMaxMs must be at least backoffMinMs', path: ['backoffMaxMs'] })
  .describe('Forward every journaled reading to InfluxDB. Absent: no forwarding, local history only.')

const days = (max: number, def: number, what: string) =>
  z
    .number()
    .min(1 / 24)
    .max(max)
    .default(def)
    .describe(what)

export const HistorySchema = z
  .strictObject({
    rawRetentionDays: days(3650, 7, 'Raw readings older than this are purged (once forwarded, when InfluxDB is configured).'),
    rollup1mRetentionDays: days(3650, 14, 'Per-minute rollups are kept this long…'),
    rollup5mRetentionDays: days(3650, 90, '…5-minute rollups this long…'),
    rollup1hRetentionDays: days(36500, 730, '…and hourly rollups this long.'),
    deadLetterRetentionDays: days(3650, 30, 'Refused input is kept this long for inspection.'),
    diskBudgetMb: z
      .int()
      .min(1)
      .max(4_000_000)
      .default(2048)
      .describe(
        'The database may use this much disk at most. Beyond it the oldest raw readings are dropped first, forwarded or not; readings that raised alerts are kept.',
      ),
    purgeIntervalSeconds: z.int().min(1).max(86_400).default(60).describe('How often retention and the disk budget are enforced.'),
    purgeBatch: z.int().min(10).max(100_000).default(2000).describe('Rows deleted per step; ingest runs between steps.'),
    // 5 s: each fold rewrites every bucket row its readings touched (~1,800 at 100 devices × 10
    // readings/s), so folding less often writes less to the SD card. The cost: a chart's newest
    // rollup bucket is up to 5 s behind (ranges under a minute read raw readings).
    rollupFlushMs: z.int().min(10).max(60_000).default(5000).describe('How often new readings are folded into the rollups.'),
    anomaly: z
      .strictObject({
        window: z.int().min(10).max(10_000).default(100).describe('Recent values per numeric series the 3σ test compares against…'),
        minSamples: z.int().min(5).max(10_000).default(30).describe('…and how many it needs before it flags anything.'),
        sigmas: z.number().min(1).max(20).default(3).describe('A value further than this many standard deviations from the mean is flagged.'),
      })
      .prefault({})
      .describe('Anomaly flags on ingest: flagged readings are kept and marked, never dropped.'),
  })
  .prefault({})
  .describe('Local history on the box: raw readings, 1m/5m/1h rollups, retention and disk budget.')

export type InfluxConfig = z.output<typeof InfluxSchema>
export type HistoryConfig = z.output<typeof HistorySchema>

import { getQuery, getRouterParam, type H3, HTTPError } from 'h3'
import { z } from 'zod'
import type { HistoryConfig } from '../../config/history-schema.js'
import type { Clock } from '../../core/clock.js'
import { Duration } from '../../core/duration.js'
import { getDevice } from '../../store/devices.js'
import type { Db } from '../../store/open.js'
import { PRESET_NAMES, PRESET_PARAMS, type PresetName, runPreset } from '../../timeseries/presets.js'
import { querySeries } from '../../timeseries/series-query.js'
import { requirePermission } from '../_internal/authenticate.js'
import { Instant } from '../_internal/query-values.js'

const NAME = /^[a-z][a-z0-9_]{0,63}$/

export const SeriesQuery = z.strictObject({
  measurement: z.string().regex(NAME, { error: 'a measurement name (lowercase letters, digits, "_")' }),
  field: z.string().regex(NAME, { error: 'a field name (lowercase letters, digits, "_")' }),
  range: Duration.prefault('24h').describe('How far back from `end`: 15m, 6h, 24h, 7d, 1y, …'),
  step: Duration.optional().describe('Resolution. Under 1m: raw readings. Absent: about 300 points over the range.'),
  end: Instant.optional().describe('End of the range (ISO-8601 or epoch ms). Absent: now.'),
})

/** For the OpenAPI document: every parameter any preset takes (each preset validates its own, strictly). */
export const TelemetryQueryDoc = z.object({
  preset: z.enum(PRESET_NAMES as [PresetName, ...PresetName[]]),
  device: z.string().optional(),
  room: z.string().optional(),
  measurement: z.string().optional(),
  field: z.string().optional(),
  days: z.string().optional(),
  hours: z.string().optional(),
  minGapMinutes: z.string().optional(),
})

export interface TelemetryRouteDeps {
  readonly db: () => Db
  /** The rollup database (store/rollup-db.ts). */
  readonly rollupDb: () => Db
  readonly clock: Clock
  readonly history: HistoryConfig
  readonly timeZone: string
}

const invalid = (message: string, issues: unknown) => new HTTPError({ status: 400, message, data: { issues } })

/** GET /api/devices/:id/series and GET /api/telemetry/query?preset=… (issue 5). */
export function telemetryRoutes(app: H3, deps: TelemetryRouteDeps): void {
  app.get('/api/devices/:id/series', (event) => {
    requirePermission(event, 'telemetry:read')
    const id = getRouterParam(event, 'id', { decode: true }) ?? ''
    const q = SeriesQuery.safeParse(getQuery(event))
    if (!q.success) throw invalid('invalid series query', q.error.issues)
    const db = deps.db()
    if (!getDevice(db, id)) throw new HTTPError({ status: 404, message: `no device "${id.slice(0, 64)}"` })
    const now = deps.clock.now()
    const to = q.data.end ?? now
    const from = to - q.data.range
    const answer = querySeries(
      db,
      deps.rollupDb(),
      deps.history,
      { deviceId: id, measurement: q.data.measurement, field: q.data.field, from, to, stepMs: q.data.step },
      now,
    )
    return { deviceId: id, measurement: q.data.measurement, field: q.data.field, from, to, ...answer }
  })

  app.get('/api/telemetry/query', (event) => {
    requirePermission(event, 'telemetry:read')
    const { preset, ...rest } = getQuery(event) as Record<string, unknown>
    if (typeof preset !== 'string' || !Object.hasOwn(PRESET_PARAMS, preset)) {
      throw invalid(`unknown preset; choose one of ${PRESET_NAMES.join(', ')}`, [{ path: ['preset'], message: 'unknown preset' }])
    }
    const name = preset as PresetName
    const params = PRESET_PARAMS[name].safeParse(rest)
    if (!params.success) throw invalid(`invalid parameters for preset "${name}"`, params.error.issues)
    const now = deps.clock.now()
    // biome-ignore lint/suspicious/noExplicitAny: the schema above validated params for exactly this preset
    const rows = runPreset(name, params.data as any, { db: deps.db(), rollupDb: deps.rollupDb(), now, timeZone: deps.timeZone })
    // The rows come as JSON text (latest-preset.ts: the stored readings are not parsed to be
    // serialised again); the answer is the same object as ever.
    event.res.headers.set('content-type', 'application/json;charset=UTF-8')
    return `{"preset":${JSON.stringify(name)},"params":${JSON.stringify(params.data)},"generatedAt":${now},"rows":${rows}}`
  })
}

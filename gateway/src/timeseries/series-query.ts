import type { HistoryConfig } from '../config/history-schema.js'
import { CarehubError } from '../core/errors.js'
import type { FieldValue } from '../core/reading.js'
import type { Db } from '../store/open.js'
import { rollupRange } from '../store/rollups.js'
import { type Bucket, bucketStartOf, mergeBucket, TIERS, type TierName } from './rollup-fold.js'

const DAY = 86_400_000
/** Points one answer may hold: enough for any chart, small enough to answer in milliseconds. */
export const MAX_POINTS = 10_000
/** Without a step, aim for about this many points (a chart's width in useful pixels). */
const TARGET_POINTS = 300

export interface SeriesRequest {
  readonly deviceId: string
  readonly measurement: string
  readonly field: string
  readonly from: number
  readonly to: number
  /** Wanted resolution (ms); absent: about 300 points over the range. */
  readonly stepMs?: number | undefined
}

export interface RawPoint {
  readonly t: number
  readonly value: FieldValue
  readonly anomaly: boolean
}

export interface RollupPoint {
  readonly t: number
  readonly count: number
  readonly avg: number | null
  readonly min: number | null
  readonly max: number | null
  readonly sum: number | null
  readonly last: FieldValue | null
  readonly changes: number
  readonly states: Record<string, { ms: number; entries: number; n: number }> | null
  readonly anomalies: number
}

export type SeriesAnswer =
  | { readonly tier: 'raw'; readonly stepMs: 0; readonly points: RawPoint[] }
  | { readonly tier: TierName; readonly stepMs: number; readonly points: RollupPoint[] }

const retentionOf = (h: HistoryConfig, tier: TierName | 'raw') =>
  ({ raw: h.rawRetentionDays, '1m': h.rollup1mRetentionDays, '5m': h.rollup5mRetentionDays, '1h': h.rollup1hRetentionDays })[tier] * DAY

/**
 * The tier that answers a range: raw readings when the step is under a minute and raw history still
 * covers the start; otherwise the coarsest rollup tier not coarser than the step whose retention
 * covers the start (falling back to coarser tiers for old ranges). The step is rounded up to a
 * multiple of the tier's width so every point merges whole buckets.
 */
export function chooseTier(
  h: HistoryConfig,
  req: Pick<SeriesRequest, 'from' | 'to' | 'stepMs'>,
  now: number,
): { tier: TierName | 'raw'; stepMs: number } {
  const step = req.stepMs ?? Math.max(1000, Math.ceil((req.to - req.from) / TARGET_POINTS))
  if (step < TIERS[0].ms && req.from >= now - retentionOf(h, 'raw')) return { tier: 'raw', stepMs: 0 }
  const covering: ReadonlyArray<(typeof TIERS)[number]> = TIERS.filter((t) => req.from >= now - retentionOf(h, t.name))
  const candidates = covering.length > 0 ? covering : [TIERS[2]]
  const tier = [...candidates].reverse().find((t) => t.ms <= step) ?? (candidates[0] as (typeof TIERS)[number])
  return { tier: tier.name, stepMs: Math.max(tier.ms, Math.ceil(step / tier.ms) * tier.ms) }
}

/** Raw readings come from the journal `db`, rollups from `rollupDb` (store/rollup-db.ts). */
export function querySeries(db: Db, rollupDb: Db, h: HistoryConfig, req: SeriesRequest, now: number): SeriesAnswer {
  const { tier, stepMs } = chooseTier(h, req, now)
  if (tier === 'raw') return { tier, stepMs: 0, points: rawPoints(db, req) }
  const points = Math.ceil((req.to - req.from) / stepMs)
  if (points > MAX_POINTS) {
    throw new CarehubError('CAREHUB_ERR_VALIDATION', `that is ${points} points; at most ${MAX_POINTS} — choose a larger step or a shorter range`)
  }
  const buckets = rollupRange(rollupDb, tier, req.deviceId, req.measurement, req.field, bucketStartOf(req.from, stepMs), req.to)
  return { tier, stepMs, points: regroup(buckets, stepMs).map(toPoint) }
}

/** Merge tier buckets into step-wide groups (buckets arrive in time order). */
export function regroup(buckets: readonly Bucket[], stepMs: number): Bucket[] {
  const out: Bucket[] = []
  for (const b of buckets) {
    const start = bucketStartOf(b.bucketStart, stepMs)
    const tail = out.at(-1)
    if (tail && tail.bucketStart === start) mergeBucket(tail, b)
    else
      out.push(
        mergeBucket(
          { ...b, bucketStart: start, count: 0, sum: null, min: null, max: null, last: null, lastTs: null, changes: 0, states: null, anomalies: 0 },
          b,
        ),
      )
  }
  return out
}

export const toPoint = (b: Bucket): RollupPoint => ({
  t: b.bucketStart,
  count: b.count,
  avg: b.sum === null || b.count === 0 ? null : b.sum / b.count,
  min: b.min,
  max: b.max,
  sum: b.sum,
  last: b.last,
  changes: b.changes,
  states: b.states,
  anomalies: b.anomalies,
})

function rawPoints(db: Db, req: SeriesRequest): RawPoint[] {
  const path = `$.${req.field}`
  // The field name is validated by the route (lowercase letters, digits, "_") and bound as a
  // parameter besides: it never becomes SQL text.
  const rows = db
    .prepare(
      `SELECT ts, json_extract(fields, ?) AS value, json_type(fields, ?) AS type, anomalies FROM readings
       WHERE device_id = ? AND measurement = ? AND ts >= ? AND ts < ? AND json_type(fields, ?) IS NOT NULL
       ORDER BY ts, seq LIMIT ?`,
    )
    .all(path, path, req.deviceId, req.measurement, req.from, req.to, path, MAX_POINTS + 1) as Array<{
    ts: number
    value: number | string
    type: string
    anomalies: string | null
  }>
  if (rows.length > MAX_POINTS) {
    throw new CarehubError('CAREHUB_ERR_VALIDATION', `more than ${MAX_POINTS} readings in that range — set step=1m or more, or a shorter range`)
  }
  return rows.map((r) => ({
    t: r.ts,
    // SQLite's JSON gives booleans back as 1/0; json_type tells them apart from numbers.
    value: r.type === 'true' ? true : r.type === 'false' ? false : r.value,
    anomaly: r.anomalies !== null && (JSON.parse(r.anomalies) as string[]).includes(req.field),
  }))
}

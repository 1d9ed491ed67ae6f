import { z } from 'zod'
import type { Db } from '../store/open.js'
import { type RollupRow, rowToBucket } from '../store/rollups.js'
import { latestRowsJson } from './latest-preset.js'
import { type Bucket, bucketStartOf } from './rollup-fold.js'
import { regroup } from './series-query.js'

/**
 * Named, parameterised dashboard queries (issue 5: "presets only" — a client never sends Flux,
 * InfluxQL or SQL). Each preset has a strict zod schema: an unknown parameter, a wrong type or a
 * value out of range is refused before any query runs, and every value reaches SQLite as a bound
 * parameter. They answer from the local rollups.
 */
const HOUR = 3_600_000
const DAY = 24 * HOUR

const text = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\p{Cc}]+$/u, { error: 'no control characters' })
const name = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, { error: 'lowercase letters, digits and "_", starting with a letter' })
const deviceId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { error: 'a device id' })
const days = z.coerce.number().int().min(1).max(366).default(7)
const scope = { device: deviceId.optional(), room: text.optional() }

export const PRESET_PARAMS = {
  latest: z.strictObject({ ...scope, measurement: name.optional() }),
  room_hourly: z.strictObject({
    room: text,
    measurement: name.default('climate'),
    field: name.default('temp_c'),
    hours: z.coerce
      .number()
      .int()
      .min(1)
      .max(24 * 90)
      .default(24),
  }),
  daily_energy: z.strictObject({ ...scope, days }),
  door_openings: z.strictObject({ ...scope, days }),
  inactivity: z.strictObject({
    ...scope,
    hours: z.coerce
      .number()
      .int()
      .min(1)
      .max(24 * 7)
      .default(24),
    minGapMinutes: z.coerce.number().int().min(5).max(1440).default(60),
  }),
} as const

export type PresetName = keyof typeof PRESET_PARAMS
export const PRESET_NAMES = Object.keys(PRESET_PARAMS) as PresetName[]

export interface PresetContext {
  /** The journal (devices, readings)… */
  readonly db: Db
  /** …and the rollup database (store/rollup-db.ts), with the journal attached as `journal`. */
  readonly rollupDb: Db
  readonly now: number
  /** IANA zone for "daily" presets: a day is the home's day, not UTC's. */
  readonly timeZone: string
}

type Params<P extends PresetName> = z.output<(typeof PRESET_PARAMS)[P]>

/**
 * Devices in scope (one device, a room, or all) joined to rollups of one tier/measurement/field
 * since `from`. The rollups are in a file of their own, and `rollupDb` has the journal attached as
 * `journal` (store/rollup-db.ts). CROSS JOIN makes devices the outer loop (sqlite.org
 * optoverview.html §"Manual Control Of Query Plans Using CROSS JOIN"), so each device in scope
 * reads a range of the rollups' primary key. With a plain JOIN and no ANALYZE statistics SQLite
 * chose to scan the tier's time index over every series instead: 600 ms for a room of 30 devices
 * among 300 (270,000 rows of 1m buckets), 78 ms this way, on the event loop either way.
 */
export const ROLLUPS_IN_SCOPE_SQL = `SELECT r.* FROM journal.devices d CROSS JOIN main.rollups r
  WHERE r.device_id = d.id AND (? IS NULL OR d.id = ?) AND (? IS NULL OR d.room = ?)
    AND r.tier = ? AND r.measurement = ? AND r.field = ? AND r.bucket_start >= ?
  ORDER BY r.device_id, r.bucket_start`

function rollupsInScope(
  c: PresetContext,
  p: { device?: string | undefined; room?: string | undefined },
  tier: string,
  measurement: string,
  field: string,
  from: number,
): Bucket[] {
  const rows = c.rollupDb
    .prepare(ROLLUPS_IN_SCOPE_SQL)
    .all(p.device ?? null, p.device ?? null, p.room ?? null, p.room ?? null, tier, measurement, field, from) as RollupRow[]
  return rows.map(rowToBucket)
}

function byDevice(buckets: readonly Bucket[]): Map<string, Bucket[]> {
  const out = new Map<string, Bucket[]>()
  for (const b of buckets) out.set(b.deviceId, [...(out.get(b.deviceId) ?? []), b])
  return out
}

function dayKey(timeZone: string): (t: number) => string {
  const f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
  return (t) => f.format(t)
}

// `latest` answers as JSON text of its own (latest-preset.ts); the others' rows are serialised.
const RUNNERS: { [P in Exclude<PresetName, 'latest'>]: (c: PresetContext, p: Params<P>) => unknown[] } = {
  // Average over every device in the room, hour by hour: Σsum / Σcount, not a mean of means.
  room_hourly: (c, p) => {
    const from = bucketStartOf(c.now, HOUR) - (p.hours - 1) * HOUR
    const perHour = new Map<number, { sum: number; count: number; min: number; max: number; devices: Set<string> }>()
    for (const b of rollupsInScope(c, { room: p.room }, '1h', p.measurement, p.field, from)) {
      if (b.sum === null || b.min === null || b.max === null) continue
      const h = perHour.get(b.bucketStart) ?? { sum: 0, count: 0, min: b.min, max: b.max, devices: new Set<string>() }
      h.sum += b.sum
      h.count += b.count
      h.min = Math.min(h.min, b.min)
      h.max = Math.max(h.max, b.max)
      h.devices.add(b.deviceId)
      perHour.set(b.bucketStart, h)
    }
    return [...perHour.entries()]
      .sort(([a], [b]) => a - b)
      .map(([t, h]) => ({ t, avg: h.sum / h.count, min: h.min, max: h.max, count: h.count, devices: h.devices.size }))
  },

  /**
   * Energy per device per local day. From the energy_wh meter when the device has one (increase of
   * the hourly last values; a drop means the meter restarted from zero), else by integrating power_w
   * (hourly average × the part of the hour that has passed).
   */
  daily_energy: (c, p) => {
    const day = dayKey(c.timeZone)
    const from = bucketStartOf(c.now, HOUR) - p.days * DAY
    const out: Array<{ deviceId: string; day: string; wh: number; method: 'energy_meter' | 'power_integral' }> = []
    const meters = byDevice(rollupsInScope(c, p, '1h', 'power', 'energy_wh', from - HOUR))
    const powers = byDevice(rollupsInScope(c, p, '1h', 'power', 'power_w', from))
    for (const id of new Set([...meters.keys(), ...powers.keys()])) {
      const perDay = new Map<string, number>()
      const meter = meters.get(id)
      if (meter) {
        let prev: number | null = null
        for (const b of meter) {
          const last = typeof b.last === 'number' ? b.last : null
          if (last === null) continue
          const inc = prev === null ? last - (b.min ?? last) : last >= prev ? last - prev : last
          if (b.bucketStart >= from) perDay.set(day(b.bucketStart), (perDay.get(day(b.bucketStart)) ?? 0) + inc)
          prev = last
        }
      } else {
        for (const b of powers.get(id) ?? []) {
          if (b.sum === null || b.count === 0) continue
          const hours = Math.min(HOUR, c.now - b.bucketStart) / HOUR
          perDay.set(day(b.bucketStart), (perDay.get(day(b.bucketStart)) ?? 0) + (b.sum / b.count) * hours)
        }
      }
      for (const [d, wh] of perDay)
        out.push({ deviceId: id, day: d, wh: Math.round(wh * 1000) / 1000, method: meter ? 'energy_meter' : 'power_integral' })
    }
    return out.sort((a, b) => a.deviceId.localeCompare(b.deviceId) || a.day.localeCompare(b.day))
  },

  // Entries into the "open" state of event/door, per device per local day.
  door_openings: (c, p) => {
    const day = dayKey(c.timeZone)
    const from = bucketStartOf(c.now, HOUR) - p.days * DAY
    const counts = new Map<string, number>()
    for (const b of rollupsInScope(c, p, '1h', 'event', 'door', from)) {
      const k = `${b.deviceId}\u0000${day(b.bucketStart)}`
      counts.set(k, (counts.get(k) ?? 0) + (b.states?.open?.entries ?? 0))
    }
    return [...counts.entries()].map(([k, openings]) => {
      const [deviceId, d] = k.split('\u0000') as [string, string]
      return { deviceId, day: d, openings }
    })
  },

  /**
   * Periods of at least minGapMinutes without motion (an event/motion reading `true`) from any device in
   * scope, at minute resolution. The range's start and the present count as edges: "nothing since
   * 06:10" is the gap a caregiver wants to see.
   */
  inactivity: (c, p) => {
    const from = bucketStartOf(c.now, 60_000) - p.hours * HOUR
    const active = regroup(
      rollupsInScope(c, p, '1m', 'event', 'motion', from)
        .filter((b) => (b.states?.true?.n ?? 0) > 0)
        .sort((a, b) => a.bucketStart - b.bucketStart),
      60_000,
    ).map((b) => b.bucketStart)
    const gaps: Array<{ from: number; to: number; minutes: number; ongoing: boolean }> = []
    let edge = from
    for (const t of [...active, c.now]) {
      if (t - edge >= p.minGapMinutes * 60_000) gaps.push({ from: edge, to: t, minutes: Math.floor((t - edge) / 60_000), ongoing: t === c.now })
      edge = Math.max(edge, t + 60_000)
    }
    return gaps
  },
}

/** The preset's rows, as JSON text (the route writes it into its answer as it is). */
export function runPreset<P extends PresetName>(preset: P, params: Params<P>, context: PresetContext): string {
  if (preset === 'latest') return latestRowsJson(context.db, params as Params<'latest'>, context.now)
  return JSON.stringify(RUNNERS[preset as Exclude<PresetName, 'latest'>](context, params as never))
}

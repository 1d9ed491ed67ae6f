import type { FieldValue } from '../core/reading.js'
import { type Bucket, mergeBucket, type SeriesMemory, type StateStat, stateRecord, type TierName } from '../timeseries/rollup-fold.js'
import type { Db } from './open.js'

export interface RollupRow {
  tier: TierName
  device_id: string
  measurement: string
  field: string
  bucket_start: number
  count: number
  sum: number | null
  min: number | null
  max: number | null
  last: string | null
  last_ts: number | null
  changes: number
  state_durations: string | null
  anomalies: number
}

export const rowToBucket = (r: RollupRow): Bucket => ({
  tier: r.tier,
  deviceId: r.device_id,
  measurement: r.measurement,
  field: r.field,
  bucketStart: r.bucket_start,
  count: r.count,
  sum: r.sum,
  min: r.min,
  max: r.max,
  last: r.last === null ? null : (JSON.parse(r.last) as FieldValue),
  lastTs: r.last_ts,
  changes: r.changes,
  states: r.state_durations === null ? null : stateRecord(JSON.parse(r.state_durations) as Record<string, StateStat>),
  anomalies: r.anomalies,
})

/** Reads and writes the rollup tables; statements prepared once per connection. */
export class RollupStore {
  readonly #db: Db
  readonly #get
  readonly #put
  readonly #getMemory
  readonly #putMemory
  readonly #getCursor
  readonly #putCursor

  /** `db` is the rollup database (rollup-db.ts). */
  constructor(db: Db) {
    this.#db = db
    this.#get = db.prepare('SELECT * FROM rollups WHERE tier = ? AND device_id = ? AND measurement = ? AND field = ? AND bucket_start = ?')
    this.#put = db.prepare(
      `INSERT OR REPLACE INTO rollups (tier, device_id, measurement, field, bucket_start, count, sum, min, max, last, last_ts, changes, state_durations, anomalies)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.#getMemory = db.prepare('SELECT value, ts FROM rollup_series WHERE device_id = ? AND measurement = ? AND field = ?')
    this.#putMemory = db.prepare('INSERT OR REPLACE INTO rollup_series (device_id, measurement, field, value, ts) VALUES (?, ?, ?, ?, ?)')
    this.#getCursor = db.prepare('SELECT seq FROM fold_cursor WHERE id = 1').pluck()
    this.#putCursor = db.prepare(
      'INSERT INTO fold_cursor (id, seq, updated_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at',
    )
  }

  cursor(): number {
    return (this.#getCursor.get() as number | undefined) ?? 0
  }

  memory(deviceId: string, measurement: string, field: string): SeriesMemory | undefined {
    const row = this.#getMemory.get(deviceId, measurement, field) as { value: string; ts: number } | undefined
    return row && { value: JSON.parse(row.value) as FieldValue, ts: row.ts }
  }

  /**
   * Merge the deltas into the stored rows, remember each series' last value and move the cursor —
   * one transaction, so a crash leaves either all of a fold or none of it (no reading counted twice).
   * The stored rows are read and merged before the write lock is taken, so the transaction is only
   * the writes (the janitor's deletes wait for it). Only this store writes rollup rows; the janitor
   * deletes buckets past retention, and one it deletes in between comes back merged, to go at its
   * next pass.
   */
  apply(deltas: readonly Bucket[], memory: ReadonlyMap<string, SeriesMemory>, cursor: number, now: number): void {
    const rows = deltas.map((d) => {
      const stored = this.#get.get(d.tier, d.deviceId, d.measurement, d.field, d.bucketStart) as RollupRow | undefined
      const b = stored ? mergeBucket(rowToBucket(stored), d) : d
      return [
        b.tier,
        b.deviceId,
        b.measurement,
        b.field,
        b.bucketStart,
        b.count,
        b.sum,
        b.min,
        b.max,
        b.last === null ? null : JSON.stringify(b.last),
        b.lastTs,
        b.changes,
        b.states === null ? null : JSON.stringify(b.states),
        b.anomalies,
      ]
    })
    const series = [...memory].map(([key, m]) => [...key.split('\u0000'), JSON.stringify(m.value), m.ts])
    this.#db
      .transaction(() => {
        for (const row of rows) this.#put.run(row)
        for (const s of series) this.#putMemory.run(s)
        this.#putCursor.run(cursor, now)
      })
      .immediate()
  }
}

/** Rollup rows of one series in one tier over [from, to), oldest first. */
export function rollupRange(db: Db, tier: TierName, deviceId: string, measurement: string, field: string, from: number, to: number): Bucket[] {
  const rows = db
    .prepare(
      'SELECT * FROM rollups WHERE tier = ? AND device_id = ? AND measurement = ? AND field = ? AND bucket_start >= ? AND bucket_start < ? ORDER BY bucket_start',
    )
    .all(tier, deviceId, measurement, field, from, to) as RollupRow[]
  return rows.map(rowToBucket)
}

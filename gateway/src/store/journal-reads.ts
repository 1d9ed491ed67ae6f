import type { FieldValue } from '../core/reading.js'
import type { Db } from './open.js'

/**
 * Reading the journal back: whole entries for the panel and the tests, and the narrower readers the
 * hot consumers use (each reads only the columns it needs, as arrays: the forwarder's is in
 * timeseries/forwarder-store.ts, the rollup fold's in timeseries/rollup-catchup.ts). The writer is
 * journal.ts.
 */

export interface JournalEntry {
  readonly seq: number
  readonly deviceId: string
  readonly measurement: string
  readonly fields: Record<string, number | boolean | string>
  readonly tags: Readonly<Record<string, string>>
  readonly ts: number
  readonly tsFromReceipt: boolean
  readonly receivedAt: number
  readonly source: string
  /** Fields flagged as anomalous at ingest (empty when none). */
  readonly anomalies: readonly string[]
}

interface JournalRow {
  seq: number
  device_id: string
  measurement: string
  fields: string
  tags: string
  ts: number
  ts_from_receipt: number
  received_at: number
  source: string
  anomalies: string | null
}

// Most readings carry no tags and no flags: share one frozen empty value instead of parsing "{}".
const NO_TAGS: Readonly<Record<string, string>> = Object.freeze({})
const NO_FLAGS: readonly string[] = Object.freeze([])

const toEntry = (r: JournalRow): JournalEntry => ({
  seq: r.seq,
  deviceId: r.device_id,
  measurement: r.measurement,
  fields: JSON.parse(r.fields) as Record<string, number | boolean | string>,
  tags: r.tags === '{}' ? NO_TAGS : (JSON.parse(r.tags) as Record<string, string>),
  ts: r.ts,
  tsFromReceipt: r.ts_from_receipt === 1,
  receivedAt: r.received_at,
  source: r.source,
  anomalies: r.anomalies === null ? NO_FLAGS : (JSON.parse(r.anomalies) as string[]),
})

/** The latest reading of each measurement of a device (what the panel shows first). */
export function latestReadings(db: Db, deviceId: string): JournalEntry[] {
  const rows = db
    .prepare('SELECT r.* FROM latest_readings l JOIN readings r ON r.seq = l.seq WHERE l.device_id = ? ORDER BY l.measurement')
    .all(deviceId) as JournalRow[]
  return rows.map(toEntry)
}

/** Journal entries after a cursor, in seq order (consumers: rules, forwarders, sync). */
export function readAfter(db: Db, afterSeq: number, limit: number): JournalEntry[] {
  return (db.prepare('SELECT * FROM readings WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as JournalRow[]).map(toEntry)
}

/** What evaluating a reading again needs of its entry. */
export interface EvaluatedEntry {
  readonly seq: number
  readonly deviceId: string
  readonly measurement: string
  readonly fields: Record<string, FieldValue>
  readonly receivedAt: number
}

type EvaluatedRow = [seq: number, deviceId: string, measurement: string, fields: string, receivedAt: number]

/**
 * Journal entries after a cursor with only what the rules engine evaluates, rows read as arrays:
 * its catch-up after a restart reads the whole backlog on the event loop (bench W5, 300k entries:
 * 1.1 s of the main thread's time reading them as whole entries).
 */
export function evaluatedAfter(db: Db, afterSeq: number, limit: number): EvaluatedEntry[] {
  const rows = db
    .prepare('SELECT seq, device_id, measurement, fields, received_at FROM readings WHERE seq > ? ORDER BY seq LIMIT ?')
    .raw(true)
    .all(afterSeq, limit) as EvaluatedRow[]
  return rows.map(([seq, deviceId, measurement, fields, receivedAt]) => ({
    seq,
    deviceId,
    measurement,
    fields: JSON.parse(fields) as Record<string, FieldValue>,
    receivedAt,
  }))
}

/** The fields of a series' most recent readings, oldest first (warms the anomaly detector after a restart). */
export function recentFields(db: Db, deviceId: string, measurement: string, limit: number): Array<Record<string, FieldValue>> {
  const rows = db
    .prepare('SELECT fields FROM readings WHERE device_id = ? AND measurement = ? ORDER BY ts DESC LIMIT ?')
    .pluck()
    .all(deviceId, measurement, limit) as string[]
  return rows.reverse().map((f) => JSON.parse(f) as Record<string, FieldValue>)
}

/** Journal entries after `cursor` (a consumer's queue depth); 0 when the store is closed (shutting down). */
export function journalLag(db: () => Db, cursor: number): number {
  try {
    const last = (db().prepare('SELECT max(seq) FROM readings').pluck().get() as number | null) ?? 0
    return Math.max(0, last - cursor)
  } catch {
    return 0
  }
}

import type { FieldValue } from '../core/reading.js'
import type { Db } from '../store/open.js'
import type { RollupStore } from '../store/rollups.js'
import { type FoldInput, RollupFold } from './rollup-fold.js'

/** Journal entries after a seq, in order, as the fold needs them. */
export type FoldRows = (afterSeq: number, limit: number) => ReadonlyArray<FoldInput & { readonly seq: number }>

type Row = [seq: number, deviceId: string, measurement: string, fields: string, ts: number, anomalies: string | null]

/**
 * The journal's columns the fold uses, rows as arrays, one statement prepared once: reading whole
 * entries (ten columns as an object, the tags parsed) and their garbage were a third of the fold
 * thread's time in a bench profile.
 */
export function foldRows(journal: Db): FoldRows {
  const statement = journal
    .prepare('SELECT seq, device_id, measurement, fields, ts, anomalies FROM readings WHERE seq > ? ORDER BY seq LIMIT ?')
    .raw(true)
  return (afterSeq, limit) =>
    (statement.all(afterSeq, limit) as Row[]).map(([seq, deviceId, measurement, fields, ts, anomalies]) => ({
      seq,
      deviceId,
      measurement,
      fields: JSON.parse(fields) as Record<string, FieldValue>,
      ts,
      ...(anomalies === null ? {} : { anomalies: JSON.parse(anomalies) as string[] }),
    }))
}

export interface FoldStep {
  /** The cursor after this step (unchanged when nothing was folded). */
  readonly cursor: number
  readonly folded: number
  /** True when the step stopped at its limit: more entries are waiting. */
  readonly more: boolean
}

/**
 * Fold the journal entries after `cursor` (up to `max`, read in slices of `chunk`) and store their
 * deltas, the series memory and the new cursor in ONE transaction: a crash leaves either all of a
 * step or none of it, so after a restart every reading is counted exactly once. One transaction per
 * step, not per slice: the fsync is paid once however fast readings arrive.
 */
export function foldStep(read: FoldRows, store: RollupStore, cursor: number, now: number, chunk: number, max: number): FoldStep {
  const fold = new RollupFold((key) => {
    const [deviceId, measurement, field] = key.split('\u0000') as [string, string, string]
    return store.memory(deviceId, measurement, field)
  })
  let next = cursor
  let folded = 0
  let more = false
  while (folded < max) {
    const want = Math.min(chunk, max - folded)
    const entries = read(next, want)
    for (const e of entries) fold.add(e)
    folded += entries.length
    if (entries.length > 0) next = (entries.at(-1) as { seq: number }).seq
    more = entries.length === want
    if (!more) break
  }
  if (folded === 0) return { cursor, folded: 0, more: false }
  const { buckets, memory } = fold.drain()
  store.apply(buckets, memory, next, now)
  return { cursor: next, folded, more }
}

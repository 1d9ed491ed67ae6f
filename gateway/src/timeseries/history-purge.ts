import type { Db } from '../store/open.js'
import type { TierName } from './rollup-fold.js'

/**
 * The newest reading is never deleted: the journal's seq is max(seq) + 1 (an INTEGER PRIMARY KEY,
 * migration 008), so deleting the newest would hand its seq out again, to a reading every consumer
 * whose cursor had passed it would then skip. One reading kept past retention is the price.
 */
const NEWEST_KEPT = 'seq < (SELECT max(seq) FROM readings)'

/**
 * The delete steps of the history janitor, each bounded to `batch` rows so one step is a short
 * transaction. Every step returns how many rows it removed (0: nothing left to do).
 */
export class HistoryPurge {
  readonly #db: Db
  readonly #rollupDb: Db
  readonly #batch: number

  /** `db` is the journal, `rollupDb` the rollup database (store/rollup-db.ts). */
  constructor(db: Db, rollupDb: Db, batch: number) {
    this.#db = db
    this.#rollupDb = rollupDb
    this.#batch = batch
  }

  /**
   * Raw readings received before `cutoff`, oldest first, never past `neededAfter` (a consumer has not
   * handled them yet). Pinned readings age out like any other here — the pin protects them from the
   * disk budget, not from retention — and their pins go with them. Stops at the first entry still
   * wanted (received_at follows seq closely; an entry out of step waits for the next pass). The
   * newest reading is kept whatever its age (NEWEST_KEPT).
   */
  rawBefore(cutoff: number, neededAfter: number): number {
    const rows = this.#db
      .prepare(`SELECT seq, received_at FROM readings WHERE seq <= ? AND ${NEWEST_KEPT} ORDER BY seq LIMIT ?`)
      .all(neededAfter, this.#batch) as Array<{ seq: number; received_at: number }>
    let upTo = -1
    for (const r of rows) {
      if (r.received_at >= cutoff) break
      upTo = r.seq
    }
    if (upTo < 0) return 0
    this.#db.prepare('DELETE FROM reading_pins WHERE seq <= ?').run(upTo)
    return this.#db.prepare('DELETE FROM readings WHERE seq <= ?').run(upTo).changes
  }

  /** For the disk budget: the oldest unpinned readings, whatever their age, but the newest (NEWEST_KEPT). */
  oldestReadings(forwardCursor: number | undefined): { rows: number; unforwarded: number } {
    const seqs = this.#db
      .prepare(`SELECT seq FROM readings WHERE seq NOT IN (SELECT seq FROM reading_pins) AND ${NEWEST_KEPT} ORDER BY seq LIMIT ?`)
      .pluck()
      .all(this.#batch) as number[]
    if (seqs.length === 0) return { rows: 0, unforwarded: 0 }
    const first = seqs[0] as number
    const last = seqs.at(-1) as number
    const rows = this.#deleteRange(first, last)
    const unforwarded = forwardCursor === undefined ? 0 : seqs.filter((s) => s > forwardCursor).length
    return { rows, unforwarded }
  }

  /** Throws SQLITE_BUSY at once while the fold writes (see #withoutWaiting). */
  rollupsBefore(tier: TierName, cutoff: number): number {
    const db = this.#rollupDb
    const sql = `DELETE FROM rollups WHERE (tier, device_id, measurement, field, bucket_start) IN
           (SELECT tier, device_id, measurement, field, bucket_start FROM rollups WHERE tier = ? AND bucket_start < ? LIMIT ?)`
    return withoutWaiting(db, () => db.prepare(sql).run(tier, cutoff, this.#batch).changes)
  }

  oldestRollups(tier: TierName): number {
    const oldest = this.#rollupDb.prepare('SELECT min(bucket_start) FROM rollups WHERE tier = ?').pluck().get(tier) as number | null
    return oldest === null ? 0 : this.rollupsBefore(tier, oldest + 1)
  }

  deadLettersBefore(cutoff: number): number {
    return this.#db
      .prepare('DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE received_at < ? ORDER BY id LIMIT ?)')
      .run(cutoff, this.#batch).changes
  }

  oldestDeadLetters(): number {
    return this.#db.prepare('DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id LIMIT ?)').run(this.#batch).changes
  }

  #deleteRange(first: number, last: number): number {
    return this.#db
      .prepare('DELETE FROM readings WHERE seq BETWEEN ? AND ? AND seq NOT IN (SELECT seq FROM reading_pins WHERE seq BETWEEN ? AND ?)')
      .run(first, last, first, last).changes
  }
}

/**
 * The rollup database's write lock is the fold's for the length of its transaction, and the fold's
 * thread runs at a lower priority (module-worker.ts), so under load that can be long. SQLite's
 * busy wait would spend it on the event loop: here a write that finds the lock taken throws
 * SQLITE_BUSY at once, and the janitor tries the step again later, off the loop.
 */
function withoutWaiting<T>(db: Db, write: () => T): T {
  const timeout = db.pragma('busy_timeout', { simple: true }) as number
  db.pragma('busy_timeout = 0')
  try {
    return write()
  } finally {
    db.pragma(`busy_timeout = ${timeout}`)
  }
}

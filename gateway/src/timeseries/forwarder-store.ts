import type { Db } from '../store/open.js'
import type { JournalLineRow } from './line-protocol.js'

export interface SinkDeadLetter {
  readonly seq: number
  readonly sink: string
  readonly line: string
  readonly reason: string
}

/** The forwarder's cursor and dead letters; statements prepared once. */
export class ForwarderStore {
  readonly #consumer: string
  readonly #getCursor
  readonly #putCursor
  readonly #deadLetter
  readonly #lastSeq
  readonly #oldest
  readonly #rows

  constructor(db: Db, consumer: string) {
    this.#consumer = consumer
    this.#getCursor = db.prepare('SELECT seq FROM cursors WHERE consumer = ?').pluck()
    this.#putCursor = db.prepare(
      'INSERT INTO cursors (consumer, seq, updated_at) VALUES (?, ?, ?) ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at',
    )
    this.#deadLetter = db.prepare(
      `INSERT INTO dead_letters (received_at, source, origin, reason_code, reason, payload) VALUES (?, 'timeseries', ?, 'CAREHUB_ERR_UPSTREAM_REJECTED', ?, ?)`,
    )
    this.#lastSeq = db.prepare('SELECT max(seq) FROM readings').pluck()
    this.#oldest = db.prepare('SELECT received_at FROM readings WHERE seq > ? ORDER BY seq LIMIT 1').pluck()
    // Only what a line needs, as arrays: a catch-up reads every entry (bench W5: reading and
    // parsing whole entries, and their garbage, were two thirds of the forwarder's time).
    this.#rows = db.prepare('SELECT seq, device_id, measurement, fields, tags, ts, source FROM readings WHERE seq > ? ORDER BY seq LIMIT ?').raw(true)
  }

  /** Up to `limit` journal entries after `cursor`, in seq order. */
  rowsAfter(cursor: number, limit: number): JournalLineRow[] {
    return this.#rows.all(cursor, limit) as JournalLineRow[]
  }

  cursor(): number {
    return (this.#getCursor.get(this.#consumer) as number | undefined) ?? 0
  }

  /**
   * Move the cursor past a written batch and keep what the server refused. The caller runs this in
   * a transaction (or a savepoint of the journal's group commit), so both happen or neither.
   */
  advance(seq: number, refused: readonly SinkDeadLetter[], now: number): void {
    for (const r of refused) this.#deadLetter.run(now, `${r.sink} seq ${r.seq}`, r.reason, Buffer.from(r.line))
    this.#putCursor.run(this.#consumer, seq, now)
  }

  /**
   * Journal entries after the cursor. max(seq) − cursor: two index lookups instead of a count over a
   * backlog that can hold millions of rows; it overstates the depth only by entries the disk budget
   * already dropped (counted in carehub_history_dropped_readings_total).
   */
  depth(cursor: number): number {
    return Math.max(0, ((this.#lastSeq.get() as number | null) ?? 0) - cursor)
  }

  oldestReceivedAfter(cursor: number): number | undefined {
    return (this.#oldest.get(cursor) as number | undefined) ?? undefined
  }
}

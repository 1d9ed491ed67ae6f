import type { FieldValue, Reading } from '../core/reading.js'
import { LastSeenSteps } from './last-seen.js'
import type { Db } from './open.js'

/** Flags anomalous numeric fields of a reading before it is stored (timeseries/anomaly-detector). */
export type AnomalyCheck = (deviceId: string, measurement: string, fields: Readonly<Record<string, FieldValue>>) => readonly string[]

// Most readings are not flagged: one frozen empty list instead of one each.
const NO_FLAGS: readonly string[] = Object.freeze([])

export interface DeadLetter {
  readonly receivedAt: number
  readonly source: string
  readonly origin: string | null
  readonly reasonCode: string
  readonly reason: string
  readonly payload: Uint8Array | null
}

/** A write that rides along in a journal transaction (JournalCommitter.write). */
export interface RideAlong {
  readonly fn: (db: Db) => unknown
  resolve(value: unknown): void
  reject(err: Error): void
}

export interface CommitOptions {
  /** Writes that ride along, each in a savepoint of its own, after the readings. */
  readonly writes?: readonly RideAlong[]
  /** false: throw SQLITE_BUSY at once when another connection holds the write lock (see commit). */
  readonly wait?: boolean
  /** false: commit without an fsync (the caller syncs the -wal file off the event loop). */
  readonly syncNow?: boolean
  /**
   * Runs inside the transaction once the readings are appended, with their seqs, anomaly flags and
   * the connection, before the ride-along writes: what it writes commits (and is synced) with them.
   * If it throws, the whole transaction rolls back.
   */
  readonly during?: (seqs: readonly number[], flags: ReadonlyArray<readonly string[]>, tx: Db) => void
}

/** What the last commit's ride-along writes came to: one call per write, to make once it is durable. */
type Settlements = ReadonlyArray<() => void>

export class JournalWriter {
  readonly #db: Db
  #settlements: Settlements = []
  readonly #insertReading
  readonly #floorAbove
  /** The journal's seq has passed journal_floor (migration 008): no need to look again. */
  #pastFloor = false
  readonly #insertDeadLetter
  readonly #touchDevice
  readonly #lastSeenSteps = new LastSeenSteps()
  readonly #setLatest
  readonly #anomalies: AnomalyCheck | undefined
  readonly #busyTimeout: number
  // Made once: better-sqlite3 builds a transaction's wrappers (and its BEGIN/COMMIT statements) on
  // each db.transaction() call, 2.6 % of the main thread at W1 when it was made per commit.
  readonly #transaction
  readonly #savepoint

  constructor(db: Db, anomalies?: AnomalyCheck) {
    this.#db = db
    this.#anomalies = anomalies
    this.#busyTimeout = db.pragma('busy_timeout', { simple: true }) as number
    // seq NULL: SQLite hands out max(seq) + 1 (an INTEGER PRIMARY KEY, migration 008).
    this.#insertReading = db.prepare(
      `INSERT INTO readings (seq, device_id, measurement, fields, tags, ts, ts_from_receipt, received_at, source, anomalies)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.#floorAbove = db.prepare('SELECT seq FROM journal_floor WHERE seq > coalesce((SELECT max(seq) FROM readings), 0)').pluck()
    this.#insertDeadLetter = db.prepare(
      'INSERT INTO dead_letters (received_at, source, origin, reason_code, reason, payload) VALUES (?, ?, ?, ?, ?, ?)',
    )
    this.#setLatest = db.prepare(
      `INSERT INTO latest_readings (device_id, measurement, seq) VALUES (?, ?, ?)
       ON CONFLICT (device_id, measurement) DO UPDATE SET seq = max(seq, excluded.seq)`,
    )
    // last_seen_at only: updated_at says the device's record changed (name, room, type), and the
    // cloud uploader sends every device whose updated_at moved. Moved by every reading, it sent each
    // reporting device again every 5 s, and with more of them than one batch, without a pause.
    this.#touchDevice = db.prepare('UPDATE devices SET last_seen_at = max(coalesce(last_seen_at, 0), ?) WHERE id = ?')
    this.#transaction = db.transaction(
      (readings: readonly Reading[], deadLetters: readonly DeadLetter[], writes: readonly RideAlong[], during: CommitOptions['during']) =>
        this.#append(readings, deadLetters, writes, during),
    )
    this.#savepoint = db.transaction((fn: (db: Db) => unknown) => fn(db))
  }

  /**
   * Append readings and dead letters in ONE transaction (group commit: one fsync for the batch), and
   * move each device's last-seen time once. BEGIN IMMEDIATE, like every write transaction here: a
   * deferred one that reads first (the anomaly seed) cannot wait for the write lock — SQLite answers
   * BUSY at once when a read transaction must upgrade while another connection (the `carehub`
   * command) writes. Returns the journal seq of each reading, in order.
   *
   * `wait: false` does not wait for the write lock: when another connection holds it (the rollup
   * worker's transaction, the `carehub` command) this throws SQLITE_BUSY at once and the caller tries
   * again in a moment. Waiting inside SQLite's busy handler would sleep on the event loop — in steps
   * of 1, 2, 5, 10 ms — and stall every socket and HTTP request with it.
   */
  commit(readings: readonly Reading[], deadLetters: readonly DeadLetter[], o: CommitOptions = {}): number[] {
    const { writes = [], wait = true, syncNow = true, during } = o
    if (wait && syncNow) return this.#pastFloorOnSuccess(this.#transaction.immediate(readings, deadLetters, writes, during))
    // Not prepared statements: SQLite applies these pragmas when it compiles them, not when they
    // run. `syncNow: false` (JournalCommitter with a WAL syncer): this commit does not fsync; the
    // caller fsyncs the -wal file off the event loop and acknowledges only after that.
    const before = [wait ? '' : 'PRAGMA busy_timeout = 0;', syncNow ? '' : 'PRAGMA synchronous = NORMAL;'].join('')
    const after = [wait ? '' : `PRAGMA busy_timeout = ${this.#busyTimeout};`, syncNow ? '' : 'PRAGMA synchronous = FULL;'].join('')
    this.#db.exec(before)
    try {
      return this.#pastFloorOnSuccess(this.#transaction.immediate(readings, deadLetters, writes, during))
    } finally {
      this.#db.exec(after)
    }
  }

  /**
   * A committed reading has a seq past the floor (its own, or max(seq) + 1 above a floor already
   * passed), and max(seq) never falls (history-purge.ts): the floor is not looked up again.
   */
  #pastFloorOnSuccess(seqs: number[]): number[] {
    if (seqs.length > 0) this.#pastFloor = true
    return seqs
  }

  #append(readings: readonly Reading[], deadLetters: readonly DeadLetter[], writes: readonly RideAlong[], during: CommitOptions['during']): number[] {
    // Seqs handed out before migration 008 whose readings are gone: the first reading goes past them.
    const floor = this.#pastFloor ? undefined : (this.#floorAbove.get() as number | undefined)
    let explicitSeq = floor === undefined ? null : floor + 1
    const seqs: number[] = []
    const flags: Array<readonly string[]> = []
    const lastSeen = new Map<string, number>()
    const latest = new Map<string, { deviceId: string; measurement: string; seq: number }>()
    for (const r of readings) {
      const flagged = this.#anomalies?.(r.deviceId, r.measurement, r.fields) ?? NO_FLAGS
      flags.push(flagged.length ? flagged : NO_FLAGS)
      const info = this.#insertReading.run(
        explicitSeq,
        r.deviceId,
        r.measurement,
        JSON.stringify(r.fields),
        JSON.stringify(r.tags),
        r.ts,
        r.tsFromReceipt ? 1 : 0,
        r.receivedAt,
        r.source,
        flagged.length ? JSON.stringify(flagged) : null,
      )
      const seq = Number(info.lastInsertRowid)
      explicitSeq = null
      seqs.push(seq)
      lastSeen.set(r.deviceId, Math.max(lastSeen.get(r.deviceId) ?? 0, r.receivedAt))
      latest.set(`${r.deviceId}\u0000${r.measurement}`, { deviceId: r.deviceId, measurement: r.measurement, seq })
    }
    for (const l of latest.values()) this.#setLatest.run(l.deviceId, l.measurement, l.seq)
    for (const d of deadLetters) {
      this.#insertDeadLetter.run(d.receivedAt, d.source, d.origin, d.reasonCode, d.reason, d.payload === null ? null : Buffer.from(d.payload))
    }
    for (const [id, at] of lastSeen) if (this.#lastSeenSteps.due(id, at)) this.#touchDevice.run(at, id)
    during?.(seqs, flags, this.#db)
    this.#stillInTransaction()
    // Other writes sharing this commit, each in a savepoint: one failing undoes only itself.
    const settle: Array<() => void> = []
    for (const w of writes) {
      try {
        const value = this.#savepoint(w.fn)
        settle.push(() => w.resolve(value))
      } catch (err) {
        this.#stillInTransaction(err)
        settle.push(() => w.reject(err as Error))
      }
    }
    this.#settlements = settle
    return seqs
  }

  /**
   * On some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM) SQLite rolls back the whole transaction,
   * not just the savepoint that failed (sqlite.org lang_transaction.html, "Response To Errors Within
   * A Transaction"): every later statement would then commit on its own. Throwing ends this one.
   */
  #stillInTransaction(cause?: unknown): void {
    if (!this.#db.inTransaction) throw new Error('SQLite rolled back the journal transaction', { cause })
  }

  /** The last commit's ride-along outcomes, to tell once it is durable (its anomaly flags went to `during`). */
  takeSettlements(): Settlements {
    const settle = this.#settlements
    this.#settlements = []
    return settle
  }
}

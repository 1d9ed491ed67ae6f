import type { CommittedReading } from '../core/events.js'
import type { JournalEntry } from './journal.js'

/**
 * The newest durable journal entries, kept in memory for the forwarder, which would otherwise read
 * back from SQLite what was committed a moment ago: re-reading and re-parsing the journal was ~8 %
 * of the main thread at saturation (bench W3 profile). Fed by the journal committer, in seq order,
 * once each group is durable.
 *
 * It answers only for a contiguous run of seqs. Readings written by anything else (another
 * connection), or groups whose sync failed, leave a gap: the tail then starts over from the next
 * group, and a consumer whose cursor is outside the run reads the journal as before. Entries the
 * consumer has passed are dropped (`release`), and the run is bounded by `capacity` (oldest
 * dropped first), so an outage of the sink costs no more memory than that.
 */
export class JournalTail {
  readonly #capacity: number
  #entries: JournalEntry[] = []
  /** Index of the first live entry in #entries (dropping from the front without shifting each time). */
  #start = 0

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be at least 1 (got ${capacity})`)
    this.#capacity = capacity
  }

  /** The oldest seq held (null: none): a reader behind it reads the journal up to just before it. */
  get oldest(): number | null {
    return this.#oldest()
  }

  get size(): number {
    return this.#entries.length - this.#start
  }

  /** Committed readings, in seq order (JournalCommitter.onCommitted). */
  append(committed: readonly CommittedReading[]): void {
    if (committed.length === 0) return
    const first = (committed[0] as CommittedReading).seq
    const newest = this.#newest()
    if (newest !== null && first !== newest + 1) this.#clear()
    for (const c of committed) this.#entries.push(toEntry(c))
    const excess = this.size - this.#capacity
    if (excess > 0) this.#start += excess
    this.#compact()
  }

  /**
   * Up to `limit` entries after `cursor`, when the tail holds the entry right after it; null when
   * it cannot say (the caller reads the journal). Null too when nothing newer is held: the journal
   * may have rows the tail never saw.
   */
  after(cursor: number, limit: number): JournalEntry[] | null {
    const oldest = this.#oldest()
    const newest = this.#newest()
    if (oldest === null || newest === null || cursor + 1 < oldest || cursor >= newest) return null
    const from = this.#start + (cursor + 1 - oldest)
    return this.#entries.slice(from, Math.min(this.#entries.length, from + limit))
  }

  /** The consumer has everything up to `cursor`: drop it. */
  release(cursor: number): void {
    const oldest = this.#oldest()
    if (oldest === null || cursor < oldest) return
    this.#start = Math.min(this.#entries.length, this.#start + (cursor + 1 - oldest))
    this.#compact()
  }

  #oldest(): number | null {
    return this.#start < this.#entries.length ? (this.#entries[this.#start] as JournalEntry).seq : null
  }

  #newest(): number | null {
    return this.#start < this.#entries.length ? (this.#entries.at(-1) as JournalEntry).seq : null
  }

  #clear(): void {
    this.#entries = []
    this.#start = 0
  }

  /** Copy the live part down once the dropped front is as large as it: amortised O(1) per entry. */
  #compact(): void {
    if (this.#start === this.#entries.length) this.#clear()
    else if (this.#start > 1024 && this.#start * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#start)
      this.#start = 0
    }
  }
}

/** The entry as journal.ts's readAfter would return it (fields and tags as stored, in the same order). */
function toEntry(c: CommittedReading): JournalEntry {
  const r = c.reading
  return {
    seq: c.seq,
    deviceId: r.deviceId,
    measurement: r.measurement,
    fields: r.fields as Record<string, number | boolean | string>,
    tags: r.tags,
    ts: r.ts,
    tsFromReceipt: r.tsFromReceipt,
    receivedAt: r.receivedAt,
    source: r.source,
    anomalies: c.anomalies,
  }
}

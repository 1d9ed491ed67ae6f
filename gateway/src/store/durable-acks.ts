import type { WalSync } from './wal-sync.js'

interface Group {
  readonly durable: () => void
  readonly failed: (err: Error) => void
}

/**
 * Acknowledge committed transactions only once they are durable (DESIGN invariant 1): a group
 * committed with synchronous=NORMAL is in the -wal file but maybe not on disk; it is told "durable"
 * after an fdatasync of that file which STARTED after its commit. Why this is as durable as FULL:
 * FULL is exactly "sync the WAL after each commit" (sqlite.org pragma.html#pragma_synchronous;
 * wal.html §2.3); WAL mode with NORMAL is never corrupted by a power loss, it can only lose
 * transactions not yet synced — and those were never acknowledged.
 *
 * Up to `overlap` syncs run at once (2 in the gateway). A sync starts as soon as a group waits and
 * a slot is free, and covers every group committed before it started, so whichever ends first
 * releases its own groups and those of every sync started before it, in commit order. Why two:
 * with one, a reading that arrived during a sync waited for that sync to end, then for its own
 * commit and sync — up to two syncs; bench W1 traced that wait as the largest part of the slowest
 * 1 % of acknowledgements (1.5–3.4 ms of ~8). When every slot is busy the committer waits for one
 * (`saturated`, `whenSynced`) and commits everything that arrived meanwhile in one transaction,
 * so at saturation the batches still grow with the disk's sync time (group commit).
 *
 * A failed fdatasync is final. Linux reports a writeback error to fdatasync once and may then mark
 * the unwritten pages clean, so a later sync that succeeds proves nothing about them (the
 * "fsyncgate" finding; PostgreSQL PANICs on it since 2019, data_sync_retry=off). Every group then
 * fails, now and later — including those of syncs still in flight, whatever they report — and the
 * journal's owner is told: the gateway ends the process at once, before anything copies the WAL
 * into the database (a checkpoint would read pages the kernel may have dropped). A restart then
 * lets SQLite recover the WAL from what the disk really holds: its cumulative frame checksums end
 * the log at the first frame that did not reach the disk (sqlite.org fileformat2.html §4.1), and
 * nothing from there on was acknowledged.
 */
export class DurableAcks {
  readonly #sync: WalSync
  readonly #onSynced: (ms: number, failed: Error | null) => void
  readonly #overlap: number
  /** Committed, not yet covered by a sync that started. */
  #waiting: Group[] = []
  /** Syncs in flight whose groups are not yet told, in start order, each with the groups it was the first to cover. */
  #flights: Flight[] = []
  /** Syncs running, told or not (one answered for by a later sync still holds its slot). */
  #running = 0
  #failure: Error | null = null
  #idle: Array<() => void> = []
  #afterSync: Array<() => void> = []

  constructor(sync: WalSync, onSynced: (ms: number, failed: Error | null) => void, overlap = 1) {
    if (!(overlap >= 1)) throw new RangeError(`overlap must be at least 1 (got ${overlap})`)
    this.#sync = sync
    this.#onSynced = onSynced
    this.#overlap = overlap
  }

  add(group: Group): void {
    this.#waiting.push(group)
    if (this.#failure) queueMicrotask(() => this.#failWaiting())
    else this.#start()
  }

  /** Every sync slot is busy: a group committed now waits for one to end. */
  get saturated(): boolean {
    return this.#running >= this.#overlap
  }

  /** The sync error that ended acknowledgements for this process's life (null: none yet). */
  get failure(): Error | null {
    return this.#failure
  }

  /** Run `fn` in the turn after a sync in flight ends (its groups told), before the next sync starts. */
  whenSynced(fn: () => void): void {
    this.#afterSync.push(fn)
  }

  /** Resolves once every group added so far is durable (or failed) and no sync runs (its descriptor may close). */
  drain(): Promise<void> {
    if (this.#running === 0 && this.#waiting.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  #start(): void {
    if (this.saturated || this.#waiting.length === 0) return
    const flight: Flight = { groups: this.#waiting }
    this.#waiting = []
    this.#flights.push(flight)
    this.#running++
    const started = performance.now()
    let ended = false
    this.#sync((err) => {
      // A callback called twice would free a slot twice, and drain() would then wait forever.
      if (ended) return
      ended = true
      this.#running--
      if (err && (err as { transient?: boolean }).transient !== true) this.#failure ??= err
      this.#onSynced(performance.now() - started, err)
      this.#settle(flight, err)
      const after = this.#afterSync.splice(0)
      if (after.length === 0) {
        this.#next()
        return
      }
      // The committer's held-back batch commits in a turn of its own, before the next sync starts
      // (which then covers it): the acknowledgements just released reach the broker thread first,
      // not after that commit (bench W1 traced up to 4 ms of the slowest 1 % waiting there).
      setImmediate(() => {
        for (const fn of after) fn()
        this.#next()
      })
    })
  }

  #next(): void {
    if (this.#failure) this.#failWaiting()
    else this.#start()
    if (this.#running === 0 && this.#waiting.length === 0) for (const resolve of this.#idle.splice(0)) resolve()
  }

  /** `flight` ended: what it covers is durable, unless a sync failed for good (then nothing is). */
  #settle(flight: Flight, err: Error | null): void {
    const at = this.#flights.indexOf(flight)
    if (at < 0) return // a sync that started after it already answered for its groups
    // A transient failure synced nothing: the syncs before it still answer for their own groups.
    const covered = err && !this.#failure ? this.#flights.splice(at, 1) : this.#flights.splice(0, at + 1)
    const failed = this.#failure ?? err
    // After a final failure every flight still running is failed too, whatever it reports later.
    if (this.#failure) covered.push(...this.#flights.splice(0))
    for (const f of covered) {
      for (const g of f.groups) {
        if (failed) g.failed(failed)
        else g.durable()
      }
    }
  }

  #failWaiting(): void {
    const failure = this.#failure as Error
    for (const g of this.#waiting.splice(0)) g.failed(failure)
    if (this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve()
  }
}

interface Flight {
  readonly groups: Group[]
}

import { closeSync, fdatasync, openSync } from 'node:fs'

/** fdatasync of the journal's -wal file; calls back when it is on disk. */
export type WalSync = (done: (err: Error | null) => void) => void

/**
 * The -wal file of the store at `dbPath`, synced on libuv's thread pool: the fsync that
 * synchronous=FULL would run inside COMMIT, on the event loop, happens here off it. Opened on first
 * use (the file exists once the store is in WAL mode and has been written). SQLite keeps the same
 * -wal inode while the store is open (a checkpoint rewinds it, never replaces it), so one
 * descriptor serves for the process's life.
 */
export function walSyncer(dbPath: string): WalSync & { close(): void } {
  let fd: number | null = null
  const sync: WalSync = (done) => {
    try {
      fd ??= openSync(`${dbPath}-wal`, 'r')
    } catch (err) {
      // Nothing was synced, and nothing the page cache holds was dropped: the next sync may succeed.
      done(Object.assign(err as Error, { transient: true }))
      return
    }
    fdatasync(fd, (err) => done(err))
  }
  return Object.assign(sync, {
    close() {
      if (fd !== null) closeSync(fd)
      fd = null
    },
  })
}

interface Group {
  readonly durable: () => void
  readonly failed: (err: Error) => void
}

/**
 * Acknowledge committed transactions only once they are durable (DESIGN invariant 1): a group
 * committed with synchronous=NORMAL is in the -wal file but maybe not on disk; it is told "durable"
 * after an fdatasync of that file which STARTED after its commit. One sync runs at a time; what
 * arrives meanwhile is committed in one transaction when it ends and shares the next sync (group
 * commit sized by the disk's own sync time: JournalCommitter waits via whenSynced). Why this is
 * as durable as FULL: FULL is exactly "sync the WAL after each commit" (sqlite.org
 * pragma.html#pragma_synchronous; wal.html §2.3); WAL mode with NORMAL is never corrupted by a
 * power loss, it can only lose transactions not yet synced — and those were never acknowledged.
 *
 * A failed fdatasync is final. Linux reports a writeback error to fdatasync once and may then mark
 * the unwritten pages clean, so a later sync that succeeds proves nothing about them (the
 * "fsyncgate" finding; PostgreSQL PANICs on it since 2019, data_sync_retry=off). Every group then
 * fails, now and later, and the journal's owner is told: the gateway ends the process at once,
 * before anything copies the WAL into the database (a checkpoint would read pages the kernel may
 * have dropped). A restart then lets SQLite recover the WAL from what the disk really holds: its
 * cumulative frame checksums end the log at the first frame that did not reach the disk
 * (sqlite.org fileformat2.html §4.1), and nothing from there on was acknowledged.
 */
export class DurableAcks {
  readonly #sync: WalSync
  readonly #onSynced: (ms: number, failed: Error | null) => void
  #waiting: Group[] = []
  #running = false
  #failure: Error | null = null
  #idle: Array<() => void> = []
  #afterSync: Array<() => void> = []

  constructor(sync: WalSync, onSynced: (ms: number, failed: Error | null) => void) {
    this.#sync = sync
    this.#onSynced = onSynced
  }

  add(group: Group): void {
    this.#waiting.push(group)
    if (this.#failure) queueMicrotask(() => this.#failWaiting())
    else this.#start()
  }

  get syncing(): boolean {
    return this.#running
  }

  /** The sync error that ended acknowledgements for this process's life (null: none yet). */
  get failure(): Error | null {
    return this.#failure
  }

  /** Run `fn` once the sync in flight has ended (its groups told), before the next one starts. */
  whenSynced(fn: () => void): void {
    this.#afterSync.push(fn)
  }

  /** Resolves once every group added so far is durable (or failed). */
  drain(): Promise<void> {
    if (!this.#running && this.#waiting.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  #start(): void {
    if (this.#running || this.#waiting.length === 0) return
    this.#running = true
    const groups = this.#waiting
    this.#waiting = []
    const started = performance.now()
    this.#sync((err) => {
      this.#running = false
      if (err && (err as { transient?: boolean }).transient !== true) this.#failure ??= err
      this.#onSynced(performance.now() - started, err)
      for (const g of groups) {
        if (err) g.failed(err)
        else g.durable()
      }
      // The committer's held-back batch commits here, so the next sync covers it.
      for (const fn of this.#afterSync.splice(0)) fn()
      if (this.#failure) this.#failWaiting()
      else if (this.#waiting.length > 0) this.#start()
      if (!this.#running) for (const resolve of this.#idle.splice(0)) resolve()
    })
  }

  #failWaiting(): void {
    const failure = this.#failure as Error
    for (const g of this.#waiting.splice(0)) g.failed(failure)
    if (!this.#running) for (const resolve of this.#idle.splice(0)) resolve()
  }
}

import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Clock } from '../core/clock.js'
import { CarehubError } from '../core/errors.js'
import type { CommittedReading } from '../core/events.js'
import type { Reading } from '../core/reading.js'
import type { Service } from '../core/service.js'
import type { DeadLetter, JournalWriter } from './journal.js'
import { type JournalMetrics, journalMetrics } from './journal-metrics.js'
import type { Db } from './open.js'
import { SlicedRelease } from './sliced-release.js'
import { DurableAcks, type WalSync } from './wal-sync.js'

type Item = { readonly reading: Reading; readonly deadLetter?: undefined } | { readonly reading?: undefined; readonly deadLetter: DeadLetter }

interface Pending {
  readonly item: Item
  readonly enqueuedAt: number
  resolve(seq: number | null): void
  reject(err: Error): void
}

/** Other writes that ride along in the next group commit (sharing its fsync). */
interface PendingWrite {
  readonly fn: (db: Db) => unknown
  resolve(value: unknown): void
  reject(err: Error): void
}

/** What a participant wants to hear about the transaction it took part in. */
export interface CommitFollowUp {
  durable(): void
  /** Rolled back, or committed but its sync failed: nothing it wrote may be announced as stored. */
  failed(err: Error): void
}

export interface CommitParticipant {
  /**
   * Called inside the transaction (`tx` is the journal's connection, in it): a write here commits
   * with the readings, and one that must fail alone goes in a savepoint (db.transaction nests as
   * one). Called for every transaction, with no readings too (after requestCommit()). Must not
   * throw: if it does, the error is logged and the transaction goes on without it.
   */
  inTransaction(entries: readonly CommittedReading[], tx: Db): CommitFollowUp | undefined
}

export interface CommitterOptions {
  readonly writer: () => JournalWriter
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  /** Items in one transaction at most. */
  readonly maxBatch: number
  /** Items waiting at most; beyond it submit() refuses (the caller withholds its acknowledgement). */
  readonly maxPending: number
  /**
   * Runs inside every transaction once its readings are appended, with those readings in seq order
   * (the rules engine: it evaluates them and records what they fired in the same transaction, so
   * an alert shares its reading's fsync and is durable exactly when the reading is — or, for a
   * transaction committed while the one before it still syncs, in the next one). Returns what
   * to call once that transaction is durable, or has failed (rolled back, or its sync failed).
   * See CommitParticipant.
   */
  readonly participant?: CommitParticipant
  /**
   * Sync the -wal file off the event loop (wal-sync.ts): transactions then commit without an fsync
   * and are acknowledged after this sync. Absent: every commit fsyncs inline (synchronous=FULL).
   */
  readonly syncWal?: WalSync & { close?(): void }
  /** Acknowledgements released per event-loop turn (sliced-release.ts). */
  readonly acksPerTurn?: number
}

/**
 * Group commit (DESIGN invariant 1, "acknowledged means stored"): submit() resolves only after the
 * item is in a committed transaction. A commit starts as soon as the previous one finished — there
 * is no fixed timer — so at low rates an item waits for one fsync and at high rates everything that
 * arrived during a commit shares the next one (synchronous=FULL costs the same for 1 row or 1000,
 * dependencies notes §2). Bounded: the queue's depth and oldest age are on /metrics.
 */
export class JournalCommitter implements Service {
  readonly name = 'journal'
  readonly #o: CommitterOptions
  #queue: Pending[] = []
  #writes: PendingWrite[] = []
  /** Callers of requestCommit() waiting for the next transaction to end. */
  #requests: Array<() => void> = []
  #scheduled = false
  #retry: NodeJS.Timeout | undefined
  #stopped = false
  #failing = false
  #lastSlowLog = 0
  readonly #m: JournalMetrics
  readonly #acks: DurableAcks | null
  readonly #release: SlicedRelease

  constructor(options: CommitterOptions) {
    this.#o = options
    // Bench W3 N=1000 (10,000 acknowledgements per sync): all at once held the loop ~0.5 s (API
    // p99 2.1 s); 500 per turn gave API p99 0.2 s at 20k msg/s, 128 per turn 0.12 s but 15k msg/s
    // (every extra turn reads every busy socket again).
    this.#release = new SlicedRelease(options.acksPerTurn ?? 500)
    const queue = () => this.#queue
    this.#m = journalMetrics(
      options.registry,
      () => ({ depth: queue().length, oldestEnqueuedAt: queue()[0]?.enqueuedAt ?? null }),
      () => options.clock.now(),
    )
    this.#acks = options.syncWal
      ? new DurableAcks(options.syncWal, (ms, err) => {
          this.#m.syncSeconds.observe(ms / 1000)
          if (err) options.log.error({ err }, 'syncing the journal to disk failed; the readings are not acknowledged')
        })
      : null
  }

  get depth(): number {
    return this.#queue.length
  }

  /** The receive time of the oldest reading not yet in a transaction (null: none). */
  oldestUnwrittenReceivedAt(): number | null {
    for (const p of this.#queue) if (p.item.reading) return p.item.reading.receivedAt
    return null
  }

  /** Resolves with the reading's journal seq (null for a dead letter) once committed. */
  submit(item: Item): Promise<number | null> {
    if (this.#stopped) return Promise.reject(new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', 'the journal is stopping'))
    if (this.#queue.length >= this.#o.maxPending) {
      this.#m.refused.inc()
      return Promise.reject(new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', `journal queue full (${this.#o.maxPending} waiting)`))
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, enqueuedAt: this.#o.clock.now(), resolve, reject })
      this.#schedule()
    })
  }

  /**
   * Run `fn` inside the next journal transaction, after its readings (the rules engine records its
   * alerts and state this way: one fsync for both instead of one each, which at 1k readings/s
   * halved the event loop's time spent waiting on the disk). Resolves once committed. `fn` runs in
   * a savepoint of its own: if it throws, only its writes are undone and only its caller hears.
   * Never refused for a full queue: what rides here (alerts) is never dropped.
   */
  write<T>(fn: (db: Db) => T): Promise<T> {
    if (this.#stopped) return Promise.reject(new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', 'the journal is stopping'))
    return new Promise<T>((resolve, reject) => {
      this.#writes.push({ fn, resolve: resolve as (v: unknown) => void, reject })
      this.#schedule()
    })
  }

  /**
   * Run a transaction soon even with nothing queued, so the participant can write in it (the rules
   * engine after a timer fired). Resolves once that transaction has ended, durable or not.
   */
  requestCommit(): Promise<void> {
    if (this.#stopped) return Promise.resolve()
    return new Promise((resolve) => {
      this.#requests.push(resolve)
      this.#schedule()
    })
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    // setImmediate, not a timer: everything parsed in this I/O turn joins the same transaction.
    setImmediate(() => this.#run())
  }

  #run(): void {
    this.#retry = undefined
    // While a WAL sync runs, what is queued could not be acknowledged before the NEXT sync anyway,
    // and that one starts only when this one ends: committing now would buy no latency, only more
    // and smaller transactions (CPU per reading). So wait for it, then commit everything in one —
    // unless a whole batch is already waiting: it commits now, in a turn of its own, so a slow disk
    // does not cap throughput at maxBatch per sync (the next sync covers every batch before it).
    if (this.#acks?.syncing && this.#queue.length < this.#o.maxBatch) {
      this.#acks.whenSynced(() => this.#run())
      return
    }
    this.#scheduled = false
    if (this.#commitBatch(false) === 'busy') {
      // Another connection holds the write lock (a few ms): try again soon, the event loop free meanwhile.
      this.#scheduled = true
      this.#retry = setTimeout(() => this.#run(), 1)
      return
    }
    if (this.#hasWork()) this.#schedule()
  }

  #hasWork(): boolean {
    return this.#queue.length > 0 || this.#writes.length > 0 || this.#requests.length > 0
  }

  #commitBatch(wait: boolean): 'busy' | undefined {
    const batch = this.#queue.splice(0, this.#o.maxBatch)
    const writes = this.#writes
    this.#writes = []
    const requests = this.#requests
    this.#requests = []
    if (batch.length === 0 && writes.length === 0 && requests.length === 0) return
    const readings: Reading[] = []
    const deadLetters: DeadLetter[] = []
    for (const p of batch) {
      if (p.item.reading) readings.push(p.item.reading)
      else deadLetters.push(p.item.deadLetter)
    }
    let followUp: CommitFollowUp | undefined
    const during = (seqs: readonly number[], flags: ReadonlyArray<readonly string[]>, tx: Db) => {
      const entries = readings.map((reading, i): CommittedReading => ({ seq: seqs[i] as number, reading, anomalies: flags[i] ?? [] }))
      followUp = this.#participate(entries, tx)
    }
    const started = performance.now()
    let seqs: number[]
    try {
      seqs = this.#o.writer().commit(readings, deadLetters, { writes, wait, syncNow: this.#acks === null, during })
    } catch (err) {
      // Rolled back: what the participant wrote is gone with the readings.
      this.#followUp(() => followUp?.failed(err as Error))
      if ((err as { code?: unknown }).code === 'SQLITE_BUSY' && !wait) {
        // Nothing was written: the batch goes back to the front, in order.
        this.#queue.unshift(...batch)
        this.#writes.unshift(...writes)
        this.#requests.unshift(...requests)
        this.#m.lockWaits.inc()
        return 'busy'
      }
      // Nothing was acknowledged: the callers refuse their acknowledgement and devices retry.
      this.#m.refused.inc(batch.length)
      if (!this.#failing) this.#o.log.error({ err, items: batch.length }, 'journal commit failed')
      this.#failing = true
      const error = new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', `journal commit failed: ${(err as Error).message}`, { cause: err })
      for (const p of [...batch, ...writes]) p.reject(error)
      for (const resolve of requests) resolve()
      return
    }
    if (this.#failing) this.#o.log.info('journal commits succeed again')
    this.#failing = false
    const ms = performance.now() - started
    this.#m.commitSeconds.observe(ms / 1000)
    // Storage that stalls on fsync (SD cards, busy VMs) shows up here first: say so, at most once a minute.
    if (ms > 200 && this.#o.clock.now() - this.#lastSlowLog > 60_000) {
      this.#lastSlowLog = this.#o.clock.now()
      this.#o.log.warn({ ms: Math.round(ms), items: batch.length }, 'slow journal commit: the storage stalled on fsync')
    }
    if (batch.length > 0) this.#m.batchSize.observe(batch.length)
    const settlements = this.#o.writer().takeSettlements()
    const durable = () => {
      if (readings.length) this.#m.committed.inc({ kind: 'reading' }, readings.length)
      if (deadLetters.length) this.#m.committed.inc({ kind: 'dead_letter' }, deadLetters.length)
      let r = 0
      // Called in order: r walks the readings' seqs alongside.
      this.#release.add(batch.length, (i) => {
        const p = batch[i] as Pending
        p.resolve(p.item.reading ? (seqs[r++] ?? null) : null)
      })
      for (const settle of settlements) settle()
      this.#followUp(() => followUp?.durable())
      for (const resolve of requests) resolve()
    }
    if (!this.#acks) {
      durable()
      return
    }
    this.#acks.add({
      durable,
      // Committed but maybe not on disk: nothing is acknowledged, devices resend (a duplicate at worst).
      failed: (err) => {
        this.#m.refused.inc(batch.length)
        const error = new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', `journal sync failed: ${err.message}`, { cause: err })
        for (const p of [...batch, ...writes]) p.reject(error)
        this.#followUp(() => followUp?.failed(error))
        for (const resolve of requests) resolve()
      },
    })
  }

  /** A participant's follow-up runs inside the sync's callback: if it threw, the journal would stall. */
  #followUp(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.#o.log.error({ err }, 'a journal participant failed')
    }
  }

  #participate(entries: readonly CommittedReading[], tx: Db): CommitFollowUp | undefined {
    try {
      return this.#o.participant?.inTransaction(entries, tx)
    } catch (err) {
      this.#o.log.error({ err }, 'a journal participant failed')
      return undefined
    }
  }

  async start(): Promise<void> {
    this.#stopped = false
  }

  /** Commit what is queued, then refuse new items. Runs before the store closes. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#retry)
    // Waiting for the lock here (the last commits before the store closes) is fine.
    while (this.#hasWork()) this.#commitBatch(true)
    await this.#acks?.drain()
    await this.#release.drained()
    this.#o.syncWal?.close?.()
  }
}

import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Clock } from '../core/clock.js'
import { CarehubError } from '../core/errors.js'
import type { CommittedReading } from '../core/events.js'
import type { HealthCheck, Service } from '../core/service.js'
import type { CommitFollowUp, CommitParticipant } from './commit-participant.js'
import { DurableAcks } from './durable-acks.js'
import type { JournalWriter } from './journal.js'
import { type JournalMetrics, journalMetrics } from './journal-metrics.js'
import { type Item, JournalQueue, type Pending, type Taken } from './journal-queue.js'
import type { Db } from './open.js'
import { SlicedRelease } from './sliced-release.js'
import type { WalSyncer } from './wal-sync.js'

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
   * and are acknowledged after this sync, with up to `syncWal.slots` syncs at once. Absent: every
   * commit fsyncs inline (synchronous=FULL).
   */
  readonly syncWal?: WalSyncer
  /** Acknowledgements released per event-loop turn (sliced-release.ts). */
  readonly acksPerTurn?: number
  /**
   * Called once, when a WAL sync fails: from then on nothing is acknowledged (durable-acks.ts),
   * and the owner should end the process before anything checkpoints the WAL (gateway.ts does).
   */
  readonly onSyncFailure?: (err: Error) => void
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
  readonly #queue = new JournalQueue()
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
    const queue = this.#queue
    this.#m = journalMetrics(
      options.registry,
      () => ({ depth: queue.depth, oldestEnqueuedAt: queue.oldestEnqueuedAt }),
      () => options.clock.now(),
    )
    this.#acks = options.syncWal
      ? new DurableAcks(
          options.syncWal,
          (ms, err) => {
            this.#m.syncSeconds.observe(ms / 1000)
            // Once: no sync runs after a failed one (DurableAcks); a transient failure fails its groups only.
            if (err && err === this.#acks?.failure) {
              options.log.error({ err }, 'syncing the journal to disk failed: nothing is acknowledged until the gateway restarts')
              options.onSyncFailure?.(err)
            } else if (err) options.log.warn({ err }, 'the journal could not be synced; its readings are not acknowledged')
          },
          options.syncWal.slots,
        )
      : null
  }

  get depth(): number {
    return this.#queue.depth
  }

  /** The receive time of the oldest reading not yet in a transaction (null: none). */
  oldestUnwrittenReceivedAt(): number | null {
    return this.#queue.oldestReceivedAt()
  }

  /** Critical: after a failed WAL sync nothing is acknowledged (the gateway ends itself: onSyncFailure). */
  readonly healthCheck: HealthCheck = {
    name: 'journal',
    critical: true,
    check: () => {
      const failure = this.#acks?.failure
      return failure ? { status: 'down', detail: this.#syncFailed(failure).message } : { status: 'ok' }
    },
  }

  #syncFailed(cause: Error): CarehubError {
    return new CarehubError(
      'CAREHUB_ERR_STORE_UNAVAILABLE',
      `journal sync failed: ${cause.message}; nothing is acknowledged until the gateway restarts (devices resend what was not)`,
      { cause },
    )
  }

  /** Why a new item is refused now, if it is. */
  #refusal(): CarehubError | undefined {
    if (this.#stopped) return new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', 'the journal is stopping')
    const failure = this.#acks?.failure
    return failure ? this.#syncFailed(failure) : undefined
  }

  /** Resolves with the reading's journal seq (null for a dead letter) once committed. */
  submit(item: Item): Promise<number | null> {
    const refusal = this.#refusal()
    if (refusal) {
      if (!this.#stopped) this.#m.refused.inc()
      return Promise.reject(refusal)
    }
    if (this.#queue.depth >= this.#o.maxPending) {
      this.#m.refused.inc()
      return Promise.reject(new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', `journal queue full (${this.#o.maxPending} waiting)`))
    }
    return new Promise((resolve, reject) => {
      this.#queue.pushItem({ item, enqueuedAt: this.#o.clock.now(), resolve, reject })
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
    const refusal = this.#refusal()
    if (refusal) return Promise.reject(refusal)
    return new Promise<T>((resolve, reject) => {
      this.#queue.pushWrite({ fn, resolve: resolve as (v: unknown) => void, reject })
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
      this.#queue.pushRequest(resolve)
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
    // While every sync slot is busy (durable-acks.ts), what is queued could not be acknowledged
    // before a slot frees anyway: committing now would buy no latency, only more and smaller
    // transactions (CPU per reading). So wait for one, then commit everything in one —
    // unless a whole batch is already waiting: it commits now, in a turn of its own, so a slow disk
    // does not cap throughput at maxBatch per sync (the next sync covers every batch before it).
    if (this.#acks?.saturated && this.#queue.depth < this.#o.maxBatch) {
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
    if (this.#queue.hasWork) this.#schedule()
  }

  #commitBatch(wait: boolean): 'busy' | undefined {
    const taken = this.#queue.take(this.#o.maxBatch)
    if (taken.empty) return
    const failure = this.#acks?.failure
    if (failure) {
      // Nothing committed from here on could be acknowledged (durable-acks.ts): refuse it.
      this.#m.refused.inc(taken.batch.length)
      taken.refuse(this.#syncFailed(failure))
      return
    }
    const { batch, readings, deadLetters } = taken
    let followUp: CommitFollowUp | undefined
    const during = (seqs: readonly number[], flags: ReadonlyArray<readonly string[]>, tx: Db) => {
      const entries = readings.map((reading, i): CommittedReading => ({ seq: seqs[i] as number, reading, anomalies: flags[i] ?? [] }))
      followUp = this.#participate(entries, tx)
    }
    const started = performance.now()
    let seqs: number[]
    try {
      seqs = this.#o.writer().commit(readings, deadLetters, { writes: taken.writes, wait, syncNow: this.#acks === null, during })
    } catch (err) {
      // Rolled back: what the participant wrote is gone with the readings.
      this.#followUp(() => followUp?.failed(err as Error))
      if ((err as { code?: unknown }).code === 'SQLITE_BUSY' && !wait) {
        // Nothing was written: the batch goes back to the front, in order.
        this.#queue.putBack(taken)
        this.#m.lockWaits.inc()
        return 'busy'
      }
      // Nothing was acknowledged: the callers refuse their acknowledgement and devices retry.
      this.#m.refused.inc(batch.length)
      if (!this.#failing) this.#o.log.error({ err, items: batch.length }, 'journal commit failed')
      this.#failing = true
      taken.refuse(new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', `journal commit failed: ${(err as Error).message}`, { cause: err }))
      return
    }
    if (this.#failing) this.#o.log.info('journal commits succeed again')
    this.#failing = false
    this.#observeCommit(performance.now() - started, batch.length)
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
      taken.ended()
    }
    if (!this.#acks) {
      durable()
      return
    }
    this.#acks.add({
      durable,
      // Committed but maybe not on disk: nothing is acknowledged, devices resend (a duplicate at worst).
      failed: (err) => this.#syncFailedFor(taken, err, followUp),
    })
  }

  #syncFailedFor(taken: Taken, err: Error, followUp: CommitFollowUp | undefined): void {
    this.#m.refused.inc(taken.batch.length)
    const error = this.#syncFailed(err)
    this.#followUp(() => followUp?.failed(error))
    taken.refuse(error)
  }

  #observeCommit(ms: number, items: number): void {
    this.#m.commitSeconds.observe(ms / 1000)
    // Storage that stalls on fsync (SD cards, busy VMs) shows up here first: say so, at most once a minute.
    if (ms > 200 && this.#o.clock.now() - this.#lastSlowLog > 60_000) {
      this.#lastSlowLog = this.#o.clock.now()
      this.#o.log.warn({ ms: Math.round(ms), items }, 'slow journal commit: the storage stalled on fsync')
    }
    if (items > 0) this.#m.batchSize.observe(items)
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
    while (this.#queue.hasWork) this.#commitBatch(true)
    await this.#acks?.drain()
    await this.#release.drained()
    this.#o.syncWal?.close?.()
  }
}

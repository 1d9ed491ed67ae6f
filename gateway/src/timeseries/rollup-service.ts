import type { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Clock } from '../core/clock.js'
import type { Service } from '../core/service.js'
import { journalLag } from '../store/journal-reads.js'
import type { Db } from '../store/open.js'
import { BACKGROUND_NICE, BATCH_WORKER_LIMITS, siblingModule, startModuleWorker, stopWorker } from '../system/module-worker.js'
import type { FromRollupWorker, RollupWorkerData, ToRollupWorker } from './rollup-worker.js'

/** Journal entries folded into one rollup transaction at most (a long backlog takes several). */
const MAX_PER_FLUSH = 50_000

export interface RollupServiceOptions {
  /** The journal, which the fold reads… */
  readonly db: () => Db
  /** …and the rollup database it writes (store/rollup-db.ts). */
  readonly rollupDb: () => Db
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  readonly flushMs: number
  /** Journal entries read per slice. */
  readonly chunk?: number
}

/**
 * Keeps the 1m/5m/1h rollups current: every flushMs its worker thread (rollup-worker.ts) folds the
 * journal entries committed since its cursor and merges the deltas into the stored buckets in one
 * transaction with the cursor. After a crash it resumes from the cursor, so every reading is
 * counted exactly once. The event loop only sends a message per flush.
 */
export class RollupService implements Service {
  readonly name = 'rollups'
  readonly #o: RollupServiceOptions
  #worker: Worker | undefined
  #ready: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined
  readonly #waiting = new Map<number, () => void>()
  #nextId = 1
  #stopped = true
  #failing = false
  readonly #folded: Counter
  #cursor = 0

  constructor(options: RollupServiceOptions) {
    this.#o = options
    const registers = [options.registry]
    this.#folded = new Counter({ name: 'carehub_rollup_readings_folded_total', help: 'Journal entries folded into the local rollups', registers })
    const lag = () => this.#lag()
    new Gauge({
      name: 'carehub_rollup_lag_entries',
      help: 'Journal entries not yet folded into the rollups',
      registers,
      collect() {
        this.set(lag())
      },
    })
  }

  async start(): Promise<void> {
    this.#stopped = false
    await this.#spawn()
    // Catching up on a long backlog (after an upgrade, or readings written while stopped) runs in
    // the worker and must not hold up start-up.
    void this.flush()
    this.#scheduleFold()
  }

  /** The next fold from the timer, once the last one ended (a slow one, a backlog, is not queued up behind). */
  #scheduleFold(): void {
    this.#timer = setTimeout(() => {
      void this.flush().then(() => {
        if (!this.#stopped) this.#scheduleFold()
      })
    }, this.#o.flushMs)
  }

  /** Fold everything committed before this call (tests and stop call it directly). Never rejects. */
  async flush(): Promise<void> {
    if (this.#stopped) return
    if (!this.#worker) await this.#spawn()
    await this.#ready
    const worker = this.#worker
    if (!worker) return
    const id = this.#nextId++
    const done = new Promise<void>((resolve) => this.#waiting.set(id, resolve))
    worker.postMessage({ type: 'flush', id, now: this.#o.clock.now() } satisfies ToRollupWorker)
    return done
  }

  get cursor(): number {
    return this.#cursor
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer)
    this.#stopped = true
    const worker = this.#worker
    if (!worker) return
    // The fold in progress ends after its current step; what is left waits for the next start
    // (the cursor says where), so a long backlog never holds up shutdown.
    await stopWorker(worker, { type: 'stop' } satisfies ToRollupWorker)
  }

  #spawn(): Promise<void> {
    const data: RollupWorkerData = {
      journalPath: this.#o.db().name,
      rollupPath: this.#o.rollupDb().name,
      chunk: this.#o.chunk ?? 1000,
      maxPerStep: MAX_PER_FLUSH,
    }
    const worker = startModuleWorker(siblingModule(import.meta.url, 'rollup-worker'), data, BATCH_WORKER_LIMITS, BACKGROUND_NICE)
    this.#worker = worker
    this.#ready = new Promise<void>((resolve) => {
      worker.on('message', (m: FromRollupWorker) => {
        if (m.type === 'ready') {
          this.#cursor = m.cursor
          resolve()
        } else this.#answer(m)
      })
      worker.once('exit', () => {
        resolve()
        this.#gone(worker)
      })
    })
    worker.on('error', (err) => this.#o.log.error({ err }, 'the rollup worker failed; it is started again at the next flush'))
    return this.#ready
  }

  #answer(m: Exclude<FromRollupWorker, { type: 'ready' }>): void {
    if (m.type === 'flushed') {
      if (this.#failing) this.#o.log.info('folding readings into rollups succeeds again')
      this.#failing = false
      this.#cursor = m.cursor
      this.#folded.inc(m.folded)
    } else if (!this.#failing) {
      // The cursor did not move: the same entries are folded again next time. Logged once per episode.
      this.#o.log.error({ err: m.message }, 'folding readings into rollups failed; retrying every flush')
      this.#failing = true
    }
    for (const id of m.ids) {
      this.#waiting.get(id)?.()
      this.#waiting.delete(id)
    }
  }

  /** The worker exited (stopped, or died): nobody waits for it any more. */
  #gone(worker: Worker): void {
    if (this.#worker !== worker) return
    this.#worker = undefined
    for (const resolve of this.#waiting.values()) resolve()
    this.#waiting.clear()
  }

  #lag(): number {
    return journalLag(this.#o.db, this.#cursor)
  }
}

import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Clock } from '../core/clock.js'
import type { Service } from '../core/service.js'
import { journalLag, readAfter } from '../store/journal.js'
import type { Db } from '../store/open.js'
import { RollupStore } from '../store/rollups.js'
import { RollupFold } from './rollup-fold.js'

/** Journal entries folded into one rollup transaction at most (a long backlog takes several). */
const MAX_PER_FLUSH = 50_000

export interface RollupServiceOptions {
  readonly db: () => Db
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  readonly flushMs: number
  /** Journal entries folded per transaction at most; ingest runs between chunks. */
  readonly chunk?: number
}

/**
 * Keeps the 1m/5m/1h rollups current: every flushMs it folds the journal entries committed since its
 * cursor (an index range read of fresh, cached pages — never a rescan of history) and merges the
 * deltas into the stored buckets in one transaction with the cursor. After a crash it resumes
 * from the cursor, so every reading is counted exactly once.
 */
export class RollupService implements Service {
  readonly name = 'rollups'
  readonly #o: RollupServiceOptions
  #store: RollupStore | undefined
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = false
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
    this.#store = new RollupStore(this.#o.db())
    this.#cursor = this.#store.cursor()
    // Catching up on a long backlog (after an upgrade, or readings written while stopped) must not
    // hold up start-up: it runs in the background, in chunks.
    void this.flush()
    this.#timer = setInterval(() => void this.flush(), this.#o.flushMs)
  }

  /** Fold everything committed so far (tests and stop call it directly). Never runs twice at once. */
  flush(): Promise<void> {
    this.#running ??= this.#foldAll().finally(() => {
      this.#running = undefined
    })
    return this.#running
  }

  get cursor(): number {
    return this.#cursor
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    // The fold in progress ends after its current chunk; what is left waits for the next start
    // (the cursor says where), so a long backlog never holds up shutdown.
    this.#stopped = true
    await this.#running
    this.#store = undefined
  }

  /**
   * Read in slices of `chunk` entries with the event loop free between them, fold them all, and
   * write the deltas once per flush (up to MAX_PER_FLUSH entries): one transaction — one fsync — a
   * second however fast readings arrive, instead of one per slice (which halved the durable ingest
   * ceiling in the benchmark).
   */
  async #foldAll(): Promise<void> {
    const store = this.#store
    if (!store || this.#stopped) return
    const chunk = this.#o.chunk ?? 1000
    try {
      for (;;) {
        const fold = new RollupFold((key) => {
          const [deviceId, measurement, field] = key.split('\u0000') as [string, string, string]
          return store.memory(deviceId, measurement, field)
        })
        let cursor = this.#cursor
        let folded = 0
        let more = false
        while (folded < MAX_PER_FLUSH) {
          const entries = readAfter(this.#o.db(), cursor, chunk)
          for (const e of entries) fold.add(e)
          folded += entries.length
          if (entries.length > 0) cursor = (entries.at(-1) as { seq: number }).seq
          more = entries.length === chunk
          if (!more || this.#stopped) break
          await new Promise((resolve) => setImmediate(resolve))
        }
        if (folded === 0) return
        const { buckets, memory } = fold.drain()
        store.apply(buckets, memory, cursor, this.#o.clock.now())
        this.#failing = false
        this.#cursor = cursor
        this.#folded.inc(folded)
        if (!more || this.#stopped) return
        await new Promise((resolve) => setImmediate(resolve))
      }
    } catch (err) {
      // The cursor did not move: the same entries are folded again next time. Logged once per episode.
      if (!this.#failing) this.#o.log.error({ err }, 'folding readings into rollups failed; retrying every flush')
      this.#failing = true
    }
  }

  #lag(): number {
    return journalLag(this.#o.db, this.#cursor)
  }
}

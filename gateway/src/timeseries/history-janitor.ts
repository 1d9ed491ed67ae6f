import type { Logger } from 'pino'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { HistoryConfig } from '../config/history-schema.js'
import type { Clock } from '../core/clock.js'
import type { Service } from '../core/service.js'
import type { Db } from '../store/open.js'
import { HistoryPurge } from './history-purge.js'

export interface JanitorOptions {
  /** The journal and the rollup database (store/rollup-db.ts): the budget is for both. */
  readonly db: () => Db
  readonly rollupDb: () => Db
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  readonly settings: HistoryConfig
  /** Raw readings after this seq are still needed (not yet folded into rollups, or not yet forwarded). */
  readonly neededAfter: () => number
  /** The forwarder's cursor, when forwarding is configured: dropping entries after it loses data. */
  readonly forwardCursor: () => number | undefined
}

export interface PurgeReport {
  readonly retention: number
  readonly budgetDropped: number
  readonly unforwardedDropped: number
  readonly usedBytes: number
  readonly longestStepMs: number
}

const DAY = 86_400_000
/** A step that found the fold's lock taken (history-purge.ts, withoutWaiting) is tried again after this, off the event loop. */
const BUSY_RETRY_MS = 50
const BUSY_GIVE_UP_MS = 30_000

/**
 * Keeps local history inside its retention periods and the database inside its disk budget, every
 * purgeIntervalSeconds. Work is cut into steps of purgeBatch rows with the event loop free between
 * them, so ingest never waits for more than one step (carehub_history_purge_step_seconds shows it).
 *
 * Over budget, the oldest raw readings go first — forwarded or not, since the budget protects the box
 * itself — except readings pinned because they raised an alert (DESIGN invariant 3: alerts are never
 * dropped). Deleted pages are reused by SQLite; the file does not shrink, it stops growing.
 */
export class HistoryJanitor implements Service {
  readonly name = 'history-janitor'
  readonly #o: JanitorOptions
  #timer: NodeJS.Timeout | undefined
  #running: Promise<PurgeReport> | undefined
  #overBudget: { since: number; dropped: number } | undefined
  #stuck = false
  readonly #purged: Counter<'reason'>
  readonly #dropped: Counter
  readonly #step: Histogram

  constructor(options: JanitorOptions) {
    this.#o = options
    const registers = [options.registry]
    this.#purged = new Counter({
      name: 'carehub_history_purged_rows_total',
      help: 'Rows removed from local history, by reason (retention, disk_budget)',
      labelNames: ['reason'],
      registers,
    })
    this.#dropped = new Counter({
      name: 'carehub_timeseries_points_dropped_total',
      help: 'Readings dropped for the disk budget before they were forwarded',
      registers,
    })
    this.#step = new Histogram({
      name: 'carehub_history_purge_step_seconds',
      help: 'Duration of one purge step (the longest the event loop waits for the janitor)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    })
    const used = () => this.#usedBytes()
    new Gauge({
      name: 'carehub_store_used_bytes',
      help: 'Bytes of the journal and rollup databases in use (pages minus free pages); compare with the disk budget',
      registers,
      collect() {
        this.set(used())
      },
    })
    new Gauge({ name: 'carehub_store_budget_bytes', help: 'The configured disk budget', registers }).set(options.settings.diskBudgetMb * 1024 * 1024)
  }

  async start(): Promise<void> {
    this.#timer = setInterval(() => void this.run(), this.#o.settings.purgeIntervalSeconds * 1000)
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.#running?.catch(() => {})
  }

  /** One pass (the timer calls it; tests too). Never runs twice at once. */
  run(): Promise<PurgeReport> {
    this.#running ??= this.#pass()
      .catch((err) => {
        this.#o.log.error({ err }, 'history purge failed; retrying at the next interval')
        return { retention: 0, budgetDropped: 0, unforwardedDropped: 0, usedBytes: 0, longestStepMs: 0 }
      })
      .finally(() => {
        this.#running = undefined
      })
    return this.#running
  }

  async #pass(): Promise<PurgeReport> {
    const s = this.#o.settings
    const now = this.#o.clock.now()
    const purge = new HistoryPurge(this.#o.db(), this.#o.rollupDb(), s.purgeBatch)
    let longest = 0
    const step = async <T>(fn: () => T): Promise<T> => {
      for (let waited = 0; ; waited += BUSY_RETRY_MS) {
        const started = performance.now()
        try {
          const n = fn()
          const ms = performance.now() - started
          this.#step.observe(ms / 1000)
          longest = Math.max(longest, ms)
          await new Promise((resolve) => setImmediate(resolve))
          return n
        } catch (err) {
          if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || waited >= BUSY_GIVE_UP_MS) throw err
        }
        await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS))
      }
    }
    const drain = async (fn: () => number) => {
      let total = 0
      for (let n = await step(fn); n > 0; n = await step(fn)) total += n
      return total
    }

    const neededAfter = this.#o.neededAfter()
    let retention = await drain(() => purge.rawBefore(now - s.rawRetentionDays * DAY, neededAfter))
    retention += await drain(() => purge.rollupsBefore('1m', now - s.rollup1mRetentionDays * DAY))
    retention += await drain(() => purge.rollupsBefore('5m', now - s.rollup5mRetentionDays * DAY))
    retention += await drain(() => purge.rollupsBefore('1h', now - s.rollup1hRetentionDays * DAY))
    retention += await drain(() => purge.deadLettersBefore(now - s.deadLetterRetentionDays * DAY))
    if (retention) this.#purged.inc({ reason: 'retention' }, retention)

    const budget = s.diskBudgetMb * 1024 * 1024
    let budgetDropped = 0
    let unforwardedDropped = 0
    const forwardCursor = this.#o.forwardCursor()
    // Oldest raw readings first, then refused input, then the finest rollups: what matters least goes first.
    const droppers = [
      () => purge.oldestReadings(forwardCursor),
      () => ({ rows: purge.oldestDeadLetters(), unforwarded: 0 }),
      () => ({ rows: purge.oldestRollups('1m'), unforwarded: 0 }),
    ]
    for (const dropper of droppers) {
      while (this.#usedBytes() > budget) {
        let unforwarded = 0
        const rows = await step(() => {
          const r = dropper()
          unforwarded = r.unforwarded
          return r.rows
        })
        if (rows === 0) break
        budgetDropped += rows
        unforwardedDropped += unforwarded
      }
    }
    if (budgetDropped) this.#purged.inc({ reason: 'disk_budget' }, budgetDropped)
    if (unforwardedDropped) this.#dropped.inc(unforwardedDropped)
    const usedBytes = this.#usedBytes()
    this.#episode(budgetDropped, unforwardedDropped, usedBytes, budget)
    return { retention, budgetDropped, unforwardedDropped, usedBytes, longestStepMs: longest }
  }

  /** One warning when the budget is first exceeded, one line when it is met again: never a storm. */
  #episode(dropped: number, unforwarded: number, used: number, budget: number): void {
    const log = this.#o.log
    if (dropped > 0) {
      if (!this.#overBudget) {
        this.#overBudget = { since: this.#o.clock.now(), dropped: 0 }
        log.warn({ usedBytes: used, budgetBytes: budget, dropped, unforwarded }, 'database over its disk budget: dropping the oldest readings')
      }
      this.#overBudget.dropped += dropped
    } else if (this.#overBudget && used <= budget) {
      log.info({ dropped: this.#overBudget.dropped, since: this.#overBudget.since }, 'database back within its disk budget')
      this.#overBudget = undefined
    }
    if (used > budget && dropped === 0 && !this.#stuck)
      log.warn({ usedBytes: used, budgetBytes: budget }, 'database over its disk budget and nothing left that may be dropped')
    this.#stuck = used > budget && dropped === 0
  }

  /** Pages in use (not free) in the journal and the rollup database: the -wal files keep their own size. */
  #usedBytes(): number {
    try {
      return usedBytes(this.#o.db()) + usedBytes(this.#o.rollupDb())
    } catch {
      return 0
    }
  }
}

function usedBytes(db: Db): number {
  const pages = db.pragma('page_count', { simple: true }) as number
  const free = db.pragma('freelist_count', { simple: true }) as number
  return (pages - free) * (db.pragma('page_size', { simple: true }) as number)
}

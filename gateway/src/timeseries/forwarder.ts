import type { Logger } from 'pino'
import { backoffDelay, Sleeper } from '../core/backoff.js'
import type { Clock } from '../core/clock.js'
import type { HealthCheck, Service, ServiceHealth } from '../core/service.js'
import type { Db } from '../store/open.js'
import { ForwarderStore, type SinkDeadLetter } from './forwarder-store.js'
import { type JournalLineRow, LineEncoder } from './line-protocol.js'
import { SinkError, type SinkFailureKind, type TimeSeriesSink } from './sink.js'

/** What the forwarder reports as it goes (ForwarderMetrics on /metrics; across threads, messages). */
export interface ForwarderEvents {
  written(accepted: number, refused: number, seconds: number, now: number): void
  failure(kind: SinkFailureKind): void
  /** The health check's answer changed (an outage began, changed kind, or ended). */
  health?(health: ServiceHealth): void
}

export interface ForwarderOptions {
  readonly db: () => Db
  readonly sink: TimeSeriesSink
  readonly clock: Clock
  readonly log: Logger
  readonly events?: ForwarderEvents
  readonly batchSize: number
  readonly pollMs: number
  readonly backoffMinMs: number
  readonly backoffMaxMs: number
  /** [0, 1); injectable so backoff jitter is testable. */
  readonly random?: () => number
  /**
   * Moves the cursor past a delivered batch and keeps what the server refused, both or neither:
   * in the gateway, inside the journal's next group commit (the forwarder runs in a worker thread,
   * forwarder-host.ts), so the cursor moves with the journal's own WAL sync and never waits for the
   * write lock; a transaction and an fsync of its own per batch, ten a second during a catch-up, had
   * API p99 at 92 ms against 18 (bench W5). Absent: a transaction on `db`.
   */
  readonly advance?: (seq: number, refused: readonly SinkDeadLetter[], now: number) => Promise<void>
}

const READ_SLICE = 250

/**
 * A point on its way: only its seq and line are kept, not the parsed journal entry. A batch stays
 * alive while the one before it is written, and its parsed entries (rows, field objects) outlived
 * the worker's young generation and were promoted to the old one: GC was 6.2 of the forwarder's
 * 15.8 busy seconds in a bench W3 profile.
 */
interface Item {
  readonly seq: number
  readonly line: string
}

/** Entries read after a cursor (`count`, the last at `last`), and the points they make. */
interface Batch {
  readonly count: number
  readonly last: number
  readonly items: Item[]
}

interface Refused {
  readonly item: Item
  readonly reason: string
}

/**
 * Forwards the journal to one time-series sink by cursor (DESIGN invariant 2): read a batch after
 * the cursor, write it, and only after the server's 2xx move the cursor — in the same transaction
 * as any dead letters of that batch. A crash or an outage therefore replays at most the batch in
 * flight, and a replayed point overwrites itself (line-protocol.ts), so the effect is exactly once.
 *
 * Failures: data the server refuses (400/413/422) is found by splitting the batch in halves until
 * the refused points are isolated; those become dead letters and the rest goes through, so one bad
 * point cannot wedge the queue. Anything else (down, 5xx, 429, bad token, missing bucket) keeps the
 * batch and retries with exponential backoff and jitter, logged once per episode.
 */
export class Forwarder implements Service {
  readonly name: string
  readonly #o: ForwarderOptions
  #store: ForwarderStore | undefined
  #cursor = 0
  #stopped = true
  #loop: Promise<void> | undefined
  readonly #sleeper = new Sleeper()
  #failures = 0
  #episode: { kind: SinkFailureKind; message: string; since: number } | undefined
  /** The next batch, being read and encoded while the current one is written (catch-up only). */
  #ahead: { after: number; batch: Promise<Batch> } | undefined
  readonly #encoder = new LineEncoder()

  constructor(options: ForwarderOptions) {
    this.#o = options
    this.name = `forwarder:${options.sink.name}`
  }

  get cursor(): number {
    return this.#cursor
  }

  readonly healthCheck: HealthCheck = {
    name: 'influx',
    critical: false,
    check: (): ServiceHealth => {
      const e = this.#episode
      if (!e) return { status: 'ok' }
      return {
        status: 'degraded',
        detail: `${this.#o.sink.name}: ${e.message} (since ${new Date(e.since).toISOString()}; readings are kept and sent when it recovers)`,
      }
    },
  }

  async start(): Promise<void> {
    this.#store = new ForwarderStore(this.#o.db(), `timeseries:${this.#o.sink.name}`)
    this.#cursor = this.#store.cursor()
    this.#stopped = false
    this.#loop = this.#run()
  }

  /** Look for new entries now rather than at the next poll. */
  nudge(): void {
    this.#sleeper.wake()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#sleeper.wake()
    // A write in flight may take up to its timeout; don't hold shutdown for it. Its batch was not
    // acknowledged, so the next start sends it again (and it overwrites itself).
    await Promise.race([this.#loop, new Promise((r) => setTimeout(r, 2000).unref())])
    await this.#o.sink.close()
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let delay = 0
      try {
        delay = await this.#step()
      } catch (err) {
        delay = this.#failed(err)
      }
      if (delay > 0 && !this.#stopped) await this.#sleeper.sleep(delay)
    }
  }

  /**
   * One batch. Returns how long to wait before the next one (0: go on at once). During a catch-up
   * the next batch is read and encoded while this one's write is in flight (the event loop would
   * otherwise sit idle waiting for the server, then busy encoding while the server sits idle).
   */
  async #step(): Promise<number> {
    const store = this.#store as ForwarderStore
    const ahead = this.#ahead
    this.#ahead = undefined
    const { count, last, items } = ahead?.after === this.#cursor ? await ahead.batch : await this.#read(this.#cursor)
    if (count === 0) return this.#o.pollMs
    const refused: Refused[] = []
    const started = performance.now()
    const delivered = this.#deliver(items, refused)
    if (count === this.#o.batchSize) {
      const batch = this.#read(last)
      // A failed write drops it (the cursor did not move); its rejection is not this step's.
      batch.catch(() => {})
      this.#ahead = { after: last, batch }
    }
    try {
      await delivered
    } catch (err) {
      this.#ahead = undefined
      throw err
    }
    if (this.#stopped) return 0
    const deadLetters = refused.map((r) => ({ seq: r.item.seq, line: r.item.line, reason: r.reason, sink: this.#o.sink.name }))
    const now = this.#o.clock.now()
    try {
      const advanceAlone = async () =>
        this.#o
          .db()
          .transaction(() => store.advance(last, deadLetters, now))
          .immediate()
      await (this.#o.advance?.(last, deadLetters, now) ?? advanceAlone())
    } catch (err) {
      // The store refused (the journal stopping, full or failing; it logs why): the batch was
      // delivered but the cursor did not move, so it is sent again later and overwrites itself.
      this.#o.log.error({ err: (err as Error).message }, 'could not record the time-series cursor; the batch will be sent again')
      return this.#o.backoffMaxMs
    }
    this.#cursor = last
    this.#o.events?.written(items.length - refused.length, refused.length, (performance.now() - started) / 1000, this.#o.clock.now())
    if (refused.length > 0) {
      this.#o.log.warn(
        { refused: refused.length, first: refused[0]?.reason, seq: refused[0]?.item.seq },
        'the time-series server refused some points; they were moved to dead letters and the rest was sent',
      )
    }
    this.#recovered()
    return count < this.#o.batchSize ? this.#o.pollMs : 0
  }

  /**
   * The next batch, read and encoded in slices of READ_SLICE entries with the event loop free between
   * them. On the gateway's own loop a whole 5,000-entry batch read at once held it for 15–35 ms
   * (bench W1 profile); in the forwarder's worker (forwarder-host.ts) the slices still let a stop,
   * and the answers it waits for, in between.
   */
  async #read(from: number): Promise<Batch> {
    const items: Item[] = []
    let count = 0
    let last = from
    const store = this.#store as ForwarderStore
    while (count < this.#o.batchSize) {
      const want = Math.min(READ_SLICE, this.#o.batchSize - count)
      const slice = store.rowsAfter(last, want)
      for (const row of slice) {
        const line = this.#encoder.encode(row)
        if (line !== null) items.push({ seq: row[0], line })
      }
      count += slice.length
      if (slice.length > 0) last = (slice.at(-1) as JournalLineRow)[0]
      if (slice.length < want || this.#stopped) break
      await new Promise((resolve) => setImmediate(resolve))
    }
    return { count, last, items }
  }

  async #deliver(items: readonly Item[], refused: Refused[]): Promise<void> {
    if (items.length === 0) return
    try {
      await this.#o.sink.write(items.map((i) => i.line))
    } catch (err) {
      if (!(err instanceof SinkError) || err.kind !== 'rejected') throw err
      if (items.length === 1) {
        refused.push({ item: items[0] as Item, reason: err.message })
        return
      }
      const mid = Math.ceil(items.length / 2)
      await this.#deliver(items.slice(0, mid), refused)
      await this.#deliver(items.slice(mid), refused)
    }
  }

  #failed(err: unknown): number {
    const kind: SinkFailureKind = err instanceof SinkError ? err.kind : 'unavailable'
    const message = (err as Error).message
    this.#failures++
    this.#o.events?.failure(kind)
    if (!this.#episode || this.#episode.kind !== kind) {
      const waiting = this.#store?.depth(this.#cursor) ?? 0
      this.#o.log.warn(
        { sink: this.#o.sink.name, kind, err: message, waiting },
        'cannot write to the time-series server; readings are kept and retried',
      )
      this.#episode = { kind, message, since: this.#episode?.since ?? this.#o.clock.now() }
      this.#o.events?.health?.(this.healthCheck.check() as ServiceHealth)
    }
    return backoffDelay(this.#failures, this.#o.backoffMinMs, this.#o.backoffMaxMs, this.#o.random)
  }

  #recovered(): void {
    if (this.#episode) {
      this.#o.log.info(
        { sink: this.#o.sink.name, failures: this.#failures, outageMs: this.#o.clock.now() - this.#episode.since },
        'time-series server reachable again; catching up',
      )
    }
    if (this.#episode) this.#o.events?.health?.({ status: 'ok' })
    this.#episode = undefined
    this.#failures = 0
  }
}

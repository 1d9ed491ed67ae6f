import type { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { InfluxConfig } from '../config/history-schema.js'
import { backoffDelay } from '../core/backoff.js'
import type { Clock } from '../core/clock.js'
import type { HealthCheck, Service, ServiceHealth } from '../core/service.js'
import type { Db } from '../store/open.js'
import { BACKGROUND_NICE, BATCH_WORKER_LIMITS, siblingModule, startModuleWorker, stopWorker } from '../system/module-worker.js'
import { relogWorkerLine } from '../system/worker-log.js'
import { ForwarderMetrics } from './forwarder-metrics.js'
import type { ForwarderRequest, ForwarderWorkerData, FromForwarderWorker, ToForwarderWorker } from './forwarder-protocol.js'
import { ForwarderStore } from './forwarder-store.js'

export interface ForwarderHostOptions {
  readonly db: () => Db
  readonly influx: InfluxConfig
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  /** Encrypted secrets: influx.token (v2), influx.password (v1); the worker asks for them per write. */
  readonly secret: (name: string) => Promise<string | undefined>
  /** A write inside the journal's next group commit (JournalCommitter.write): the cursor moves there. */
  readonly write: (fn: (db: Db) => void) => Promise<void>
  /** The worker's module (default: forwarder-worker beside this file). */
  readonly workerModule?: URL
}

/** A worker that died is started again after a backoff from 1 s to a minute (it resumes from the stored cursor). */
const RESPAWN_MIN_MS = 1000
const RESPAWN_MAX_MS = 60_000

/**
 * Runs the forwarder (forwarder.ts) in a worker thread, off the event loop that answers devices and
 * the API, and does for it what must happen here: the cursor and dead letters go into the journal's
 * group commit (the only writer of the journal connection), secrets are read, /metrics, health and
 * the log are the gateway's. The cursor this reports moves only once that commit is durable.
 */
export class ForwarderHost implements Service {
  readonly name: string
  readonly #o: ForwarderHostOptions
  readonly #sink: string
  #store: ForwarderStore | undefined
  #cursor = 0
  #worker: Worker | undefined
  #stopped = true
  #respawn: NodeJS.Timeout | undefined
  /** Worker deaths since it last delivered a batch. */
  #deaths = 0
  #health: ServiceHealth = { status: 'ok' }
  #metrics: ForwarderMetrics | undefined

  constructor(o: ForwarderHostOptions) {
    this.#o = o
    this.#sink = o.influx.version === 2 ? 'influx-v2' : 'influx-v1'
    this.name = `forwarder:${this.#sink}`
  }

  /** The journal position up to which everything is in the time-series server (durably recorded). */
  get cursor(): number {
    return this.#cursor
  }

  readonly healthCheck: HealthCheck = { name: 'influx', critical: false, check: () => this.#health }

  async start(): Promise<void> {
    const store = new ForwarderStore(this.#o.db(), `timeseries:${this.#sink}`)
    this.#store = store
    this.#cursor = store.cursor()
    this.#metrics ??= new ForwarderMetrics(this.#o.registry, this.#sink, {
      depth: () => this.#store?.depth(this.#cursor) ?? 0,
      oldestAgeMs: () => {
        const at = this.#store?.oldestReceivedAfter(this.#cursor)
        return at === undefined ? 0 : Math.max(0, this.#o.clock.now() - at)
      },
    })
    this.#stopped = false
    this.#spawn()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#respawn)
    const worker = this.#worker
    if (!worker) return
    // The worker gives a write in flight up to 2 s (forwarder.ts stop), then closes its sink.
    await stopWorker(worker, { type: 'stop' } satisfies ToForwarderWorker)
  }

  #spawn(): void {
    const data: ForwarderWorkerData = { path: this.#o.db().name, influx: this.#o.influx, logLevel: this.#o.log.level }
    const worker = startModuleWorker(
      this.#o.workerModule ?? siblingModule(import.meta.url, 'forwarder-worker'),
      data,
      BATCH_WORKER_LIMITS,
      BACKGROUND_NICE,
    )
    this.#worker = worker
    worker.on('message', (m: FromForwarderWorker) => this.#receive(worker, m))
    let failure: Error | undefined
    worker.on('error', (err) => {
      failure = err
    })
    worker.once('exit', (code) => {
      if (this.#worker !== worker) return
      this.#worker = undefined
      if (this.#stopped) return
      // Logged once until it delivers again: a worker that cannot start must not fill the log.
      this.#o.log[this.#deaths === 0 ? 'error' : 'debug'](
        { err: failure, code },
        'the time-series forwarder stopped unexpectedly; it is started again',
      )
      this.#health = { status: 'degraded', detail: 'the time-series forwarder stopped unexpectedly and is being started again; readings are kept' }
      this.#deaths++
      this.#respawn = setTimeout(() => this.#stopped || this.#spawn(), backoffDelay(this.#deaths, RESPAWN_MIN_MS, RESPAWN_MAX_MS))
    })
  }

  #receive(worker: Worker, m: FromForwarderWorker): void {
    switch (m.type) {
      case 'request':
        this.#answer(m.request).then(
          (value) => worker.postMessage({ type: 'reply', id: m.id, value } satisfies ToForwarderWorker),
          (err: Error) => worker.postMessage({ type: 'reply', id: m.id, error: err.message } satisfies ToForwarderWorker),
        )
        return
      case 'written':
        // A batch delivered: whatever the last worker reported (an outage, a death) is over.
        this.#deaths = 0
        this.#health = { status: 'ok' }
        this.#metrics?.written(m.accepted, m.refused, m.seconds, m.now)
        return
      case 'failure':
        this.#metrics?.failure(m.kind)
        return
      case 'health':
        this.#health = m.health
        return
      case 'log':
        relogWorkerLine(this.#o.log, m.line, 'forwarder')
        return
    }
  }

  async #answer(r: ForwarderRequest): Promise<string | undefined> {
    if (r.type === 'secret') return this.#o.secret(r.name)
    const store = this.#store as ForwarderStore
    // The journal connection's own statements: the write runs on that connection, in its commit.
    await this.#o.write(() => store.advance(r.seq, r.refused, r.now))
    this.#cursor = Math.max(this.#cursor, r.seq)
    return undefined
  }
}

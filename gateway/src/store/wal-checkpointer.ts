import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { Gauge, Histogram, type Registry } from 'prom-client'
import type { Service } from '../core/service.js'
import { BACKGROUND_WORKER_LIMITS } from '../system/module-worker.js'

/**
 * Moves WAL frames into the database file off the event loop. SQLite's automatic checkpoint runs
 * inside whichever commit crosses the threshold, on the main thread, and with synchronous=FULL it
 * fsyncs the whole database file: measured here as a 250–500 ms stall of every PUBACK once the
 * WAL reached 1000 pages. A worker thread with its own connection runs PASSIVE checkpoints
 * (sqlite.org wal.html §3.2: they never block readers or writers); the main connection keeps a high
 * automatic threshold only as a safety net should the worker die.
 */
export const SAFETY_NET_AUTOCHECKPOINT_PAGES = 20_000

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
const db = new Database(workerData.path, { fileMustExist: true })
db.pragma('busy_timeout = 2000')
db.pragma('synchronous = FULL')
const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)')
    parentPort.postMessage({ ok: true, log: r.log, checkpointed: r.checkpointed })
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err && err.message) })
  }
}, workerData.intervalMs)
parentPort.on('message', (m) => { if (m === 'stop') { clearInterval(timer); db.close(); parentPort.close() } })
`

export interface WalCheckpointerDeps {
  readonly path: string
  readonly intervalMs: number
  readonly log: Logger
  readonly registry: Registry
}

export class WalCheckpointer implements Service {
  readonly name = 'wal-checkpointer'
  readonly #d: WalCheckpointerDeps
  #worker: Worker | undefined
  #lastError = ''
  readonly #frames: Histogram
  #pinned = 0

  constructor(deps: WalCheckpointerDeps) {
    this.#d = deps
    const registers = [deps.registry]
    // The WAL is a buffer too (DESIGN invariant 3): should checkpoints fall behind (readers pinning
    // old snapshots), it grows towards the safety net, whose checkpoint then runs on the event loop.
    this.#frames = new Histogram({
      name: 'carehub_store_wal_frames',
      help: 'Frames in the store WAL, sampled at each background checkpoint (the safety net checkpoints on the event loop at 20,000)',
      buckets: [100, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 250_000],
      registers,
    })
    const pinned = () => this.#pinned
    new Gauge({
      name: 'carehub_store_wal_unbackfilled_frames',
      help: 'WAL frames the last background checkpoint could not copy into the database (held by readers)',
      registers,
      collect() {
        this.set(pinned())
      },
    })
  }

  async start(): Promise<void> {
    const module = createRequire(import.meta.url).resolve('better-sqlite3')
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path: this.#d.path, module, intervalMs: this.#d.intervalMs },
      resourceLimits: BACKGROUND_WORKER_LIMITS,
    })
    worker.on('message', (m: { ok: boolean; error?: string; log?: number; checkpointed?: number }) => {
      // log is -1 when the checkpoint could not run (busy) or the store is not in WAL mode.
      if (m.ok && typeof m.log === 'number' && m.log >= 0) {
        this.#frames.observe(m.log)
        this.#pinned = Math.max(0, m.log - (m.checkpointed ?? 0))
      }
      if (m.ok || m.error === this.#lastError) return
      this.#lastError = m.error ?? ''
      this.#d.log.warn({ err: m.error }, 'WAL checkpoint failed (the automatic checkpoint still bounds the WAL)')
    })
    worker.on('error', (err) => this.#d.log.error({ err }, 'WAL checkpoint worker died (the automatic checkpoint still bounds the WAL)'))
    worker.unref()
    this.#worker = worker
  }

  async stop(): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined
    if (!worker) return
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    worker.postMessage('stop')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 2000)))])
    clearTimeout(timer)
    await worker.terminate()
  }
}

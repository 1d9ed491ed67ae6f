import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
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

export class WalCheckpointer implements Service {
  readonly name = 'wal-checkpointer'
  readonly #d: { path: string; intervalMs: number; log: Logger }
  #worker: Worker | undefined
  #lastError = ''

  constructor(deps: { path: string; intervalMs: number; log: Logger }) {
    this.#d = deps
  }

  async start(): Promise<void> {
    const module = createRequire(import.meta.url).resolve('better-sqlite3')
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path: this.#d.path, module, intervalMs: this.#d.intervalMs },
      resourceLimits: BACKGROUND_WORKER_LIMITS,
    })
    worker.on('message', (m: { ok: boolean; error?: string }) => {
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

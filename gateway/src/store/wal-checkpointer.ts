import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Service } from '../core/service.js'
import { BACKGROUND_WORKER_LIMITS } from '../system/module-worker.js'

/**
 * Moves WAL frames into the database file off the event loop. SQLite's automatic checkpoint runs
 * inside whichever commit crosses the threshold, on the main thread, and with synchronous=FULL it
 * fsyncs the whole database file: measured here as a 250–500 ms stall of every PUBACK once the
 * WAL reached 1000 pages. A worker thread with its own connection runs PASSIVE checkpoints
 * (sqlite.org wal.html §3.2: they never block readers or writers); the main connection keeps a high
 * automatic threshold only as a safety net should the worker die.
 *
 * PASSIVE alone never lets the WAL start over while the journal commits continuously: the log is
 * rewound only by a write that finds every frame copied (sqlite.org wal.html, "Avoiding Excessively
 * Large WAL Files"), and frames arrive while each checkpoint runs. Every bench cell at or above W1
 * (1k readings/s) had its WAL reach the safety net, whose checkpoint then ran on the event loop (a
 * 613 ms commit at W3 N=1000). So once the WAL holds RESTART_FRAMES, the worker follows its
 * PASSIVE checkpoint with a RESTART one (c3ref/wal_checkpoint_v2.html): it holds the write lock
 * only to copy what arrived meanwhile and sync the database file, and the next commit starts the
 * WAL over. The journal meanwhile finds the lock busy and retries off the event loop
 * (journal-committer.ts). RESTART also waits for readers while it holds the lock, so it is skipped
 * while a reader pins frames (PASSIVE could not copy them all), and it waits RESTART_WAIT_MS at
 * most before trying again next turn.
 */
export const SAFETY_NET_AUTOCHECKPOINT_PAGES = 20_000
export const RESTART_FRAMES = 8000
/** How long a RESTART checkpoint waits for the write lock and for readers before it gives up, this turn. */
const RESTART_WAIT_MS = 100

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
const db = new Database(workerData.path, { fileMustExist: true })
db.pragma('busy_timeout = 2000')
db.pragma('synchronous = FULL')
let restartedAt = -1
const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)')
    let restart
    // Not while a reader pins frames (RESTART would wait for it holding the write lock), nor again
    // for a WAL already restarted that no commit has written to since (it still reports its size).
    if (r.log >= workerData.restartFrames && r.checkpointed === r.log && r.log !== restartedAt) {
      db.pragma('busy_timeout = ' + workerData.restartWaitMs)
      const started = performance.now()
      try {
        const [x] = db.pragma('wal_checkpoint(RESTART)')
        restart = { done: x.busy === 0, ms: performance.now() - started }
        if (restart.done) restartedAt = r.log
      } finally {
        db.pragma('busy_timeout = 2000')
      }
    }
    parentPort.postMessage({ ok: true, log: r.log, checkpointed: r.checkpointed, restart })
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err && err.message) })
  }
}, workerData.intervalMs)
parentPort.on('message', (m) => { if (m === 'stop') { clearInterval(timer); db.close(); parentPort.close() } })
`

export interface WalCheckpointerDeps {
  readonly path: string
  readonly intervalMs: number
  /** WAL frames from which a RESTART checkpoint follows the PASSIVE one (default RESTART_FRAMES). */
  readonly restartFrames?: number
  readonly log: Logger
  readonly registry: Registry
}

interface CheckpointReport {
  readonly ok: boolean
  readonly error?: string
  readonly log?: number
  readonly checkpointed?: number
  readonly restart?: { readonly done: boolean; readonly ms: number }
}

export class WalCheckpointer implements Service {
  readonly name = 'wal-checkpointer'
  readonly #d: WalCheckpointerDeps
  #worker: Worker | undefined
  #lastError = ''
  readonly #frames: Histogram
  readonly #restarts: Counter<'outcome'>
  readonly #restartSeconds: Histogram
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
    this.#restarts = new Counter({
      name: 'carehub_store_wal_restarts_total',
      help: 'RESTART checkpoints, run once the WAL holds the restart threshold (8,000 frames by default): done (the next commit starts it over) or busy (tried again next turn)',
      labelNames: ['outcome'],
      registers,
    })
    // The journal's commits wait this long for the write lock: a PUBACK delay, not an event-loop one.
    this.#restartSeconds = new Histogram({
      name: 'carehub_store_wal_restart_seconds',
      help: 'Duration of each RESTART checkpoint, during which journal commits wait for the write lock',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
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
      workerData: {
        path: this.#d.path,
        module,
        intervalMs: this.#d.intervalMs,
        restartFrames: this.#d.restartFrames ?? RESTART_FRAMES,
        restartWaitMs: RESTART_WAIT_MS,
      },
      resourceLimits: BACKGROUND_WORKER_LIMITS,
    })
    worker.on('message', (m: CheckpointReport) => {
      // log is -1 when the checkpoint could not run (busy) or the store is not in WAL mode.
      if (m.ok && typeof m.log === 'number' && m.log >= 0) {
        this.#frames.observe(m.log)
        this.#pinned = Math.max(0, m.log - (m.checkpointed ?? 0))
      }
      if (m.restart) {
        this.#restarts.inc({ outcome: m.restart.done ? 'done' : 'busy' })
        this.#restartSeconds.observe(m.restart.ms / 1000)
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

import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { RollupStore } from '../store/rollups.js'
import { foldRows, foldStep } from './rollup-catchup.js'

/**
 * The rollup fold, on its own thread with its own SQLite connections: it reads the journal
 * (carehub.db, WAL: its reads never wait for the ingest's commits) and writes the rollup database
 * (rollups.db, store/rollup-db.ts), so it never holds the journal's write lock either. Reading
 * back, parsing and folding the journal and writing the buckets used to block the event loop for
 * tens of milliseconds every second. Exactly-once: each step stores its deltas and the cursor
 * together, in rollups.db.
 */
export interface RollupWorkerData {
  readonly journalPath: string
  readonly rollupPath: string
  readonly chunk: number
  /** Journal entries per transaction at most (a long backlog takes several). */
  readonly maxPerStep: number
}

export type ToRollupWorker = { readonly type: 'flush'; readonly id: number; readonly now: number } | { readonly type: 'stop' }

export type FromRollupWorker =
  | { readonly type: 'ready'; readonly cursor: number }
  | { readonly type: 'flushed'; readonly ids: readonly number[]; readonly cursor: number; readonly folded: number }
  | { readonly type: 'failed'; readonly ids: readonly number[]; readonly message: string }

const port = parentPort
if (!port) throw new Error('rollup-worker runs as a worker thread')
const options = (workerData as { data: RollupWorkerData }).data
const send = (m: FromRollupWorker) => port.postMessage(m)

const journal = new Database(options.journalPath, { fileMustExist: true })
journal.pragma('busy_timeout = 5000')
journal.pragma('query_only = ON')
const db = new Database(options.rollupPath, { fileMustExist: true })
db.pragma('busy_timeout = 5000')
// FULL, as openStore sets it (better-sqlite3 would run NORMAL in WAL mode): the retention purge
// drops raw readings up to this cursor, so a cursor it has seen must survive a power cut. The
// fsync is this thread's; no journal commit waits for it.
db.pragma('synchronous = FULL')
if (db.pragma('synchronous', { simple: true }) !== 2) throw new Error('rollup worker: synchronous=FULL could not be set')
const store = new RollupStore(db)
const read = foldRows(journal)
let cursor = store.cursor()
let waiting: Array<{ id: number; now: number }> = []
let busy = false
let stopping = false

/**
 * One pass answers every flush asked before it began. A step per event-loop turn, so a long
 * backlog still lets a stop request in between steps.
 */
function pass(): void {
  if (busy || waiting.length === 0) return
  busy = true
  const asked = waiting
  waiting = []
  const ids = asked.map((a) => a.id)
  const now = (asked.at(-1) as { now: number }).now
  let folded = 0
  const step = () => {
    try {
      const s = stopping ? { cursor, folded: 0, more: false } : foldStep(read, store, cursor, now, options.chunk, options.maxPerStep)
      cursor = s.cursor
      folded += s.folded
      if (s.more) {
        setImmediate(step)
        return
      }
      send({ type: 'flushed', ids, cursor, folded })
    } catch (err) {
      // The cursor did not move: the same entries are folded again by the next pass.
      send({ type: 'failed', ids, message: (err as Error).message })
    }
    busy = false
    if (stopping) finish()
    else pass()
  }
  step()
}

function finish(): void {
  if (busy) return
  db.close()
  journal.close()
  port?.close()
}

port.on('message', (m: ToRollupWorker) => {
  if (m.type === 'stop') {
    stopping = true
    finish()
    return
  }
  waiting.push({ id: m.id, now: m.now })
  pass()
})
send({ type: 'ready', cursor })

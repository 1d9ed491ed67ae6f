import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import pino from 'pino'
import type { Db } from '../store/open.js'
import { Forwarder } from './forwarder.js'
import type { ForwarderRequest, ForwarderWorkerData, FromForwarderWorker, ToForwarderWorker } from './forwarder-protocol.js'
import { createSink } from './sink-factory.js'

/**
 * The time-series forwarder on its own thread (forwarder-host.ts runs it): reading the journal
 * back, encoding line protocol and the HTTP client were a quarter of the event loop's busy time
 * during a catch-up (bench W5 profile: readAfter 10 %, toLine 6 %, plus their garbage), which
 * every API request and PUBACK waited behind. Its connection is read-only: the cursor moves in the
 * gateway's journal transaction, asked for by message, so exactly-once is unchanged.
 */
const port = parentPort
if (!port) throw new Error('forwarder-worker runs as a worker thread')
const data = (workerData as { data: ForwarderWorkerData }).data
const send = (m: FromForwarderWorker) => port.postMessage(m)

const waiting = new Map<number, { resolve(value: string | undefined): void; reject(err: Error): void }>()
let nextId = 1
function ask(request: ForwarderRequest): Promise<string | undefined> {
  const id = nextId++
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject })
    send({ type: 'request', id, request })
  })
}

const log = pino({ level: data.logLevel }, { write: (line: string) => send({ type: 'log', line }) })
const db = new Database(data.path, { readonly: true, fileMustExist: true }) as Db
db.pragma('busy_timeout = 5000')
const forwarder = new Forwarder({
  db: () => db,
  sink: createSink(data.influx, log, (name) => ask({ type: 'secret', name })),
  clock: { now: () => Date.now() },
  log,
  events: {
    written: (accepted, refused, seconds, now) => send({ type: 'written', accepted, refused, seconds, now }),
    failure: (kind) => send({ type: 'failure', kind }),
    health: (health) => send({ type: 'health', health }),
  },
  batchSize: data.influx.batchSize,
  pollMs: data.influx.pollMs,
  backoffMinMs: data.influx.backoffMinMs,
  backoffMaxMs: data.influx.backoffMaxMs,
  advance: async (seq, refused, now) => {
    await ask({ type: 'advance', seq, refused, now })
  },
})

port.on('message', (m: ToForwarderWorker) => {
  if (m.type === 'reply') {
    const w = waiting.get(m.id)
    waiting.delete(m.id)
    if (m.error === undefined) w?.resolve(m.value)
    else w?.reject(new Error(m.error))
    return
  }
  // Closing the port ends the thread: the host waits for that exit.
  void forwarder.stop().finally(() => {
    db.close()
    port.close()
  })
})

void forwarder.start()

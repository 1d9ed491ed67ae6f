import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import pino from 'pino'
import { certificateProblem, hasValidCertificate } from '../pki/device-enrolment.js'
import { classifyPublish } from '../sources/mqtt/classify-publish.js'
import { revocationVersion } from '../store/device-certificates.js'
import type { Db } from '../store/open.js'
import type { BrokerWorkerData, FromBrokerWorker, InboundPublish, ToBrokerWorker } from './broker-protocol.js'
import { BrokerService } from './broker-service.js'
import type { DeviceSession } from './device-session.js'
import { OrderedAcks } from './ordered-acks.js'
import { RevocationWatch } from './revocation-watch.js'

/**
 * The MQTT broker on its own thread (broker-host.ts runs it): TLS, MQTT framing, aedes, PUBACKs and
 * the validation of each payload were about a third of the event loop's busy time at saturation
 * (bench W3 profile), and every API request waited behind them. Here they run beside the gateway's
 * loop, which gets each publish classified (classify-publish.ts) in one message per turn, stores it
 * and answers with the ids to acknowledge: "acknowledged means stored" holds across the hop.
 *
 * The store is opened read-only: certificates are checked on connect, and revocations made by the
 * `carehub` command or the API are seen by polling their fingerprint (revocation-watch.ts).
 * receivedAt is this thread's system clock (an injected clock object cannot cross threads).
 */
const port = parentPort
if (!port) throw new Error('broker-worker runs as a worker thread')
const data = (workerData as { data: BrokerWorkerData }).data
const send = (m: FromBrokerWorker) => port.postMessage(m)

const log = pino({ level: data.logLevel }, { write: (line: string) => send({ type: 'log', line }) })
const db = new Database(data.storePath, { readonly: true, fileMustExist: true }) as Db
db.pragma('busy_timeout = 5000')

/** Publishes waiting for the gateway to store them, by id; released in each connection's order. */
const waiting = new Map<number, (outcome: Error | null) => void>()
const inOrder = new OrderedAcks<DeviceSession>()
let nextId = 1
// One message per event-loop turn: every publish read from every socket in that turn goes together,
// 500 at most per message (at 1,000 devices one turn here reads ~10,000). The cap bounds a message,
// not the gateway's turn: a busy main thread takes every queued message in one go (MessagePort).
let outbox: InboundPublish[] = []
const MAX_PER_MESSAGE = 500
const flush = () => {
  if (outbox.length === 0) return
  const items = outbox
  outbox = []
  send({ type: 'publishes', items })
}

let tls = data.tls
const broker = new BrokerService({
  settings: data.settings,
  persistenceDir: data.persistenceDir,
  tls: () => tls,
  policy: {
    certificateProblem: (serial, deviceId) => certificateProblem(db, serial, deviceId),
    hasValidCertificate: (deviceId) => hasValidCertificate(db, deviceId, Date.now()),
    onPublish: (session, topic, packet) =>
      new Promise((resolve, reject) => {
        const id = nextId++
        waiting.set(id, inOrder.add(session, { resolve, reject }))
        if (outbox.length === 0) setImmediate(flush)
        outbox.push({ id, publish: classifyPublish(session.deviceId, topic, packet, Date.now(), data.limits) })
        if (outbox.length >= MAX_PER_MESSAGE) flush()
      }),
  },
  onSession: (event, session) => send({ type: 'session', event, session }),
  onRefused: (reason) => send({ type: 'refused', reason }),
  log,
})
const revocations = new RevocationWatch({
  broker,
  version: () => revocationVersion(db),
  problem: (serial, deviceId) => certificateProblem(db, serial, deviceId),
  intervalMs: data.revocationIntervalMs,
  log,
})

/** Resolves true once the broker listens; false (the host told why, the thread ends) if it cannot. */
const started = (async () => {
  try {
    await broker.start()
    await revocations.start()
    send({ type: 'ready', port: broker.address?.port ?? 0 })
    return true
  } catch (err) {
    const e = err as Error & { code?: unknown }
    send({ type: 'failed', code: typeof e.code === 'string' ? e.code : 'CAREHUB_ERR_INTERNAL', message: e.message })
    end()
    return false
  }
})()

port.on('message', (m: ToBrokerWorker) => {
  switch (m.type) {
    case 'settled':
      for (const id of m.ok) settle(id)?.(null)
      for (const [id, message] of m.failed) settle(id)?.(new Error(message))
      return
    case 'publish':
      broker.publish(m.topic, typeof m.payload === 'string' ? m.payload : Buffer.from(m.payload), { qos: m.qos, retain: m.retain }).then(
        () => send({ type: 'published', id: m.id }),
        (err: Error) => send({ type: 'published', id: m.id, error: err.message }),
      )
      return
    case 'tls':
      // A certificate the TLS layer refuses must not take the broker (and every device) down: the
      // listener keeps the context it has.
      {
        const previous = tls
        tls = m.tls
        try {
          broker.reloadTls()
        } catch (err) {
          tls = previous
          log.error({ err }, 'the new server certificate could not be loaded; the broker keeps the one it has')
        }
      }
      return
    case 'stop':
      // After the start in progress, if any (a stop during a respawn): a broker stopped while it
      // still opens could begin to listen after its stop.
      void started
        .then(async (listening) => {
          if (!listening) return
          await revocations.stop()
          await broker.stop()
        })
        .catch((err: Error) => log.error({ err }, 'stopping the broker failed'))
        .finally(end)
      return
  }
})

function settle(id: number) {
  const w = waiting.get(id)
  waiting.delete(id)
  return w
}

/** Closing the port ends the thread: the host waits for that exit. */
function end(): void {
  db.close()
  port?.close()
}

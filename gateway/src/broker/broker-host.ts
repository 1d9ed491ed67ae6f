import type { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { backoffDelay } from '../core/backoff.js'
import { CarehubError, ERRORS, type ErrorCode } from '../core/errors.js'
import type { HealthCheck, Service } from '../core/service.js'
import type { NormalizeLimits } from '../normalize/mqtt-reading.js'
import type { MqttPublish } from '../sources/mqtt/classify-publish.js'
import { siblingModule, startModuleWorker, stopWorker } from '../system/module-worker.js'
import { relogWorkerLine } from '../system/worker-log.js'
import type { BrokerTls, BrokerWorkerData, FromBrokerWorker, InboundPublish, ToBrokerWorker } from './broker-protocol.js'
import type { BrokerSettings } from './broker-service.js'
import type { DeviceSession } from './device-session.js'
import { SettledPublishes } from './settled-publishes.js'

export interface BrokerHostOptions {
  readonly settings: BrokerSettings
  readonly persistenceDir: string
  /** The store file (the worker opens it read-only for certificate checks). */
  readonly storePath: () => string
  readonly tls: () => BrokerTls
  readonly limits: NormalizeLimits
  /** How often the worker looks for revocations made elsewhere (the `carehub` command). */
  readonly revocationIntervalMs: number
  /** Store (or otherwise handle) a device's publish; resolving acknowledges it, rejecting closes its connection. */
  readonly onPublish: (publish: MqttPublish) => Promise<void>
  readonly onSession: (event: 'connected' | 'disconnected', session: DeviceSession) => void
  readonly log: Logger
  readonly registry: Registry
  /** The worker's module (default: broker-worker beside this file). */
  readonly workerModule?: URL
}

/** A worker that died is started again after a backoff from 1 s to a minute; devices reconnect to it. */
const RESPAWN_MIN_MS = 1000
const RESPAWN_MAX_MS = 60_000

/**
 * Runs the MQTT broker (broker-service.ts) in a worker thread, so TLS, MQTT and PUBACKs do not share
 * the event loop that commits the journal and answers the API, and does for it what must happen
 * here: each publish goes to the journal, and its id goes back once stored (then the worker sends
 * the PUBACK); sessions reach presence; /metrics, health and the log are the gateway's.
 */
export class BrokerHost implements Service {
  readonly name = 'broker'
  readonly #o: BrokerHostOptions
  #worker: Worker | undefined
  #port: number | undefined
  /** The port the first worker bound (port 0 picks one): a worker started again listens there too. */
  #bound: number | undefined
  #stopped = true
  #respawn: NodeJS.Timeout | undefined
  #deaths = 0
  /** Connected sessions per device id (a device may hold a second, diagnostic session). */
  readonly #sessions = new Map<string, number>()
  readonly #publishes = new Map<number, { resolve(): void; reject(err: Error): void }>()
  #nextPublish = 1
  readonly #refused: Counter<'reason'>

  constructor(o: BrokerHostOptions) {
    this.#o = o
    this.#refused = new Counter({
      name: 'carehub_mqtt_refused_total',
      help: 'MQTT connections, publishes and subscriptions refused, by reason',
      labelNames: ['reason'],
      registers: [o.registry],
    })
    const host = this
    new Gauge({
      name: 'carehub_mqtt_clients',
      help: 'Connected, authenticated MQTT clients',
      registers: [o.registry],
      collect() {
        this.set(host.#clientCount())
      },
    })
  }

  readonly healthCheck: HealthCheck = {
    name: 'broker',
    critical: true,
    check: () =>
      this.#port !== undefined ? { status: 'ok', detail: `${this.#clientCount()} clients` } : { status: 'down', detail: 'not listening' },
  }

  get address(): { port: number } | undefined {
    return this.#port === undefined ? undefined : { port: this.#port }
  }

  isConnected(deviceId: string): boolean {
    return this.#sessions.has(deviceId)
  }

  /** Publish from the box itself (commands, retained state), resolved when the broker has routed it. */
  publish(topic: string, payload: string | Buffer, options: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    const worker = this.#worker
    if (!worker || this.#port === undefined) return Promise.reject(new Error('broker not started'))
    const id = this.#nextPublish++
    return new Promise((resolve, reject) => {
      this.#publishes.set(id, { resolve, reject })
      worker.postMessage({ type: 'publish', id, topic, payload, qos: options.qos ?? 1, retain: options.retain ?? false } satisfies ToBrokerWorker)
    })
  }

  /** Replace the server certificate without dropping connections (renewal, new LAN address). */
  reloadTls(): void {
    this.#worker?.postMessage({ type: 'tls', tls: this.#o.tls() } satisfies ToBrokerWorker)
  }

  async start(): Promise<void> {
    this.#stopped = false
    // A fresh start (also after a stop made during a respawn's backoff): its failure is start()'s.
    this.#deaths = 0
    await this.#spawn()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#respawn)
    const worker = this.#worker
    if (worker) await stopWorker(worker, { type: 'stop' } satisfies ToBrokerWorker)
  }

  /**
   * Resolves when the worker listens; rejects with the catalogue's error when it cannot. A worker
   * that ends after it listened (or one started again that cannot listen yet) is started again.
   */
  #spawn(): Promise<void> {
    const o = this.#o
    const data: BrokerWorkerData = {
      settings: { ...o.settings, port: this.#bound ?? o.settings.port },
      persistenceDir: o.persistenceDir,
      storePath: o.storePath(),
      tls: o.tls(),
      limits: o.limits,
      revocationIntervalMs: o.revocationIntervalMs,
      logLevel: o.log.level,
    }
    // The default young generation: the broker allocates per packet, and small semi-spaces would
    // scavenge (and promote) far more often at thousands of publishes a second.
    const worker = startModuleWorker(o.workerModule ?? siblingModule(import.meta.url, 'broker-worker'), data, {})
    this.#worker = worker
    const settled = new SettledPublishes(worker)
    const respawning = this.#deaths > 0
    return new Promise<void>((resolve, reject) => {
      let failure: Error | undefined
      let listened = false
      worker.on('message', (m: FromBrokerWorker) => {
        if (m.type === 'ready') {
          listened = true
          this.#port = m.port
          this.#bound = m.port
          if (respawning) o.log.info({ port: m.port }, 'the MQTT broker listens again')
          resolve()
        } else if (m.type === 'failed') {
          failure = new CarehubError(m.code in ERRORS ? (m.code as ErrorCode) : 'CAREHUB_ERR_INTERNAL', m.message)
        } else this.#receive(m, settled)
      })
      worker.on('error', (err) => {
        failure = err
      })
      worker.once('exit', (code) => {
        this.#port = undefined
        if (this.#worker !== worker) return
        this.#worker = undefined
        this.#lost()
        reject(failure ?? new Error(`the broker worker exited (code ${code}) before it listened`))
        // The first start's failure is start()'s to report (a port in use ends the gateway's start).
        if (this.#stopped || (!listened && !respawning)) return
        // Logged once until it listens again: a worker that cannot start must not fill the log.
        o.log[this.#deaths === 0 ? 'error' : 'debug']({ err: failure, code }, 'the MQTT broker stopped unexpectedly; it is started again')
        this.#deaths++
        this.#respawn = setTimeout(
          () => {
            if (!this.#stopped)
              this.#spawn().then(
                () => (this.#deaths = 0),
                () => {},
              )
          },
          backoffDelay(this.#deaths, RESPAWN_MIN_MS, RESPAWN_MAX_MS),
        )
      })
    })
  }

  #receive(m: Exclude<FromBrokerWorker, { type: 'ready' | 'failed' }>, settled: SettledPublishes): void {
    switch (m.type) {
      case 'publishes':
        for (const item of m.items) this.#store(item, settled)
        return
      case 'session':
        this.#session(m.event, m.session)
        return
      case 'refused':
        this.#refused.inc({ reason: m.reason })
        return
      case 'published': {
        const p = this.#publishes.get(m.id)
        this.#publishes.delete(m.id)
        if (m.error === undefined) p?.resolve()
        else p?.reject(new Error(m.error))
        return
      }
      case 'log':
        relogWorkerLine(this.#o.log, m.line, 'MQTT broker')
        return
    }
  }

  #store(item: InboundPublish, settled: SettledPublishes): void {
    this.#o.onPublish(item.publish).then(
      () => settled.ok(item.id),
      (err: Error) => settled.failed(item.id, err.message),
    )
  }

  #session(event: 'connected' | 'disconnected', session: DeviceSession): void {
    const n = (this.#sessions.get(session.deviceId) ?? 0) + (event === 'connected' ? 1 : -1)
    if (n > 0) this.#sessions.set(session.deviceId, n)
    else this.#sessions.delete(session.deviceId)
    this.#o.onSession(event, session)
  }

  /** Connected clients: every session of every device. */
  #clientCount(): number {
    let n = 0
    for (const count of this.#sessions.values()) n += count
    return n
  }

  /** The worker is gone: its devices are disconnected, and publishes of the box waiting on it fail. */
  #lost(): void {
    // One per session, as presence counts them (a device may hold a second, diagnostic session).
    for (const [deviceId, n] of this.#sessions) {
      for (let i = 0; i < n; i++) this.#o.onSession('disconnected', { deviceId, serial: null, remoteAddress: undefined })
    }
    this.#sessions.clear()
    for (const p of this.#publishes.values()) p.reject(new Error('the MQTT broker stopped'))
    this.#publishes.clear()
  }
}

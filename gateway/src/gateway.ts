import { randomBytes } from 'node:crypto'
import type { NetworkInterfaceInfo } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { buildApp } from './api/app.js'
import { HttpsServer } from './api/https-server.js'
import type { Config } from './config/schema.js'
import type { Clock } from './core/clock.js'
import { EventBus } from './core/event-bus.js'
import type { GatewayEvents } from './core/events.js'
import { defineService, type Service } from './core/service.js'
import { PkiService } from './pki/pki-service.js'
import { SecretBox } from './secrets/secret-box.js'
import { getOrCreateSetting } from './store/settings.js'
import { StoreService } from './store/store-service.js'
import { prepareDataDir } from './system/data-dir.js'
import { LOCK_FILE, PKI_DIR, SECRETS_DIR, STORE_FILE } from './system/data-layout.js'
import { HealthRegistry } from './system/health.js'
import { type AcquiredLock, acquireInstanceLock } from './system/instance-lock.js'
import { Metrics } from './system/metrics.js'
import type { RecentErrors } from './system/recent-errors.js'
import type { SystemdNotifier } from './system/systemd-notifier.js'
import { Watchdog } from './system/watchdog.js'

/** Everything the gateway needs from outside, in one typed object (no module singletons). */
export interface GatewayDeps {
  readonly config: Readonly<Config>
  readonly log: Logger
  readonly clock: Clock
  readonly version: string
  readonly notifier: SystemdNotifier
  readonly recentErrors: RecentErrors
  readonly host: { readonly hostname: string; readonly interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]> }
}

/**
 * The composition root: builds every part from one deps object, starts them in order and stops
 * them in reverse. Adding a part means adding it to the list here, nowhere else.
 */
export class Gateway {
  readonly bus: EventBus<GatewayEvents>
  readonly health = new HealthRegistry()
  readonly metrics: Metrics
  readonly store: StoreService
  readonly pki: PkiService
  readonly http: HttpsServer
  readonly #services: Service[]
  readonly #started: Service[] = []
  readonly #d: GatewayDeps
  #lock: AcquiredLock | undefined
  #secrets: SecretBox | undefined
  #gatewayId: string | undefined
  #stopRequested = false

  constructor(deps: GatewayDeps) {
    this.#d = deps
    const { config, log, clock } = deps
    const dataDir = config.dataDir
    this.bus = new EventBus<GatewayEvents>(log.child({ module: 'bus' }))
    this.metrics = new Metrics({})
    this.store = new StoreService({
      path: join(dataDir, STORE_FILE),
      log: log.child({ module: 'store' }),
      clock,
      checkIntegrity: () => this.#lock?.uncleanStop === true,
    })
    this.pki = new PkiService({
      dir: join(dataDir, PKI_DIR),
      config: config.pki,
      clock,
      log: log.child({ module: 'pki' }),
      secrets: () => this.#require(this.#secrets, 'secrets'),
      gatewayId: () => this.gatewayId,
      host: deps.host,
    })
    const startedAt = clock.now()
    const app = buildApp({
      log: log.child({ module: 'http' }),
      clock,
      metrics: this.metrics,
      health: this.health,
      version: deps.version,
      startedAt,
      metricsLoopbackOnly: config.http.metricsFromLoopbackOnly,
      bodyLimitBytes: config.http.bodyLimitBytes,
      recentErrors: deps.recentErrors,
      gatewayId: () => this.gatewayId,
    })
    this.http = new HttpsServer({
      app,
      bind: config.bind,
      port: config.http.port,
      tls: () => this.pki.serverTls,
      requestTimeoutMs: config.http.requestTimeoutMs,
      drainMs: Math.max(1000, config.shutdown.timeoutMs - 2000),
      log: log.child({ module: 'http' }),
    })
    this.health.add(this.store.healthCheck)
    this.health.add(this.http.healthCheck)

    this.#services = [
      defineService(
        'data-dir',
        () => {
          prepareDataDir(dataDir, [PKI_DIR, SECRETS_DIR])
          this.#lock = acquireInstanceLock(join(dataDir, LOCK_FILE), clock.now())
          if (this.#lock.uncleanStop) log.warn({ previous: this.#lock.previous }, 'the last run did not stop cleanly; checking the store')
        },
        // Released last: a clean stop is one where everything before it stopped.
        () => this.#lock?.release(),
      ),
      this.store,
      defineService('identity', async () => {
        this.#gatewayId =
          config.gateway.id ?? getOrCreateSetting(this.store.db, 'gateway.id', () => `gw-${randomBytes(4).toString('hex')}`, clock.now())
        this.#secrets = await SecretBox.open(join(dataDir, SECRETS_DIR))
      }),
      this.pki,
      this.http,
      new Watchdog({ notifier: deps.notifier, health: this.health, log: log.child({ module: 'watchdog' }) }),
    ]
  }

  get gatewayId(): string {
    return this.#require(this.#gatewayId, 'gateway id')
  }

  /** True once stop() was called: a signal during start-up ends start() early. */
  get stopRequested(): boolean {
    return this.#stopRequested
  }

  async start(): Promise<void> {
    for (const service of this.#services) {
      if (this.#stopRequested) return
      this.#d.notifier.status(`starting ${service.name}`)
      try {
        await service.start()
      } catch (err) {
        await this.stop()
        throw err
      }
      this.#started.push(service)
      this.bus.emit('service:started', { name: service.name })
      // stop() ran while this part was starting: it could not see it, so stop it now.
      if (this.#stopRequested) return this.stop()
    }
  }

  /** Stop what was started, in reverse; one part failing to stop does not keep the others running. */
  async stop(): Promise<void> {
    this.#stopRequested = true
    while (this.#started.length > 0) {
      const service = this.#started.pop() as Service
      try {
        await service.stop()
        this.bus.emit('service:stopped', { name: service.name })
      } catch (err) {
        this.#d.log.error({ err, service: service.name }, 'service failed to stop')
        // A part that failed to stop may have left the store inconsistent: keep the lock so the next
        // start runs the integrity check.
        if (service.name !== 'data-dir') this.#lock = undefined
      }
    }
  }

  #require<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`${what} used before the gateway started`)
    return value
  }
}

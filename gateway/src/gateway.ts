import type { NetworkInterfaceInfo } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { DeviceCommander } from './actions/device-command.js'
import { buildApp } from './api/app.js'
import { HttpsServer } from './api/https-server.js'
import { AuthService } from './auth/auth-service.js'
import { BrokerHost } from './broker/broker-host.js'
import type { Config } from './config/schema.js'
import type { Clock } from './core/clock.js'
import { EventBus } from './core/event-bus.js'
import type { GatewayEvents } from './core/events.js'
import { defineService, type Service } from './core/service.js'
import { ServiceRunner } from './core/service-runner.js'
import { PkiService } from './pki/pki-service.js'
import { buildRules, type RuleParts } from './rules/rule-parts.js'
import { SecretBox } from './secrets/secret-box.js'
import { SecretStore } from './secrets/secret-store.js'
import { buildSources } from './sources/build-sources.js'
import type { HaParts } from './sources/homeassistant/ha-parts.js'
import { Presence } from './sources/mqtt/presence.js'
import type { ThinqPoller } from './sources/thinq/thinq-poller.js'
import { gatewayIdentity } from './store/gateway-id.js'
import { JournalWriter } from './store/journal.js'
import { JournalCommitter } from './store/journal-committer.js'
import { StoreService } from './store/store-service.js'
import { WalCheckpointer } from './store/wal-checkpointer.js'
import { walSyncer } from './store/wal-sync.js'
import { clockTrust } from './system/clock-trust.js'
import { prepareDataDir } from './system/data-dir.js'
import { BROKER_DIR, PKI_DIR, ROLLUP_FILE, SECRETS_DIR, STORE_FILE } from './system/data-layout.js'
import { gatewayAdvertisement } from './system/gateway-advertisement.js'
import { HealthRegistry } from './system/health.js'
import { type AcquiredLock, acquireInstanceLock } from './system/instance-lock.js'
import { Metrics } from './system/metrics.js'
import type { RecentErrors } from './system/recent-errors.js'
import type { RecentLogs } from './system/recent-logs.js'
import type { SystemdNotifier } from './system/systemd-notifier.js'
import { Ticker } from './system/ticker.js'
import { Watchdog } from './system/watchdog.js'
import { buildHistory, type HistoryParts } from './timeseries/history-parts.js'

/** Everything the gateway needs from outside, in one typed object (no module singletons). */
export interface GatewayDeps {
  readonly config: Readonly<Config>
  readonly log: Logger
  readonly clock: Clock
  readonly version: string
  readonly pid: number
  readonly notifier: SystemdNotifier
  readonly recentErrors: RecentErrors
  readonly recentLogs: RecentLogs
  readonly host: { readonly hostname: string; readonly interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]> }
  /**
   * Ends the process at once, closing nothing (main.ts: SIGKILL after logging). For a failed WAL
   * sync, where stopping cleanly would checkpoint pages the disk may not hold. Absent (tests): the
   * journal refuses everything and reports itself down instead.
   */
  readonly panic?: (what: string, err: Error) => void
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
  readonly journal: JournalCommitter
  readonly presence: Presence
  readonly broker: BrokerHost
  readonly http: HttpsServer
  readonly auth: AuthService
  readonly history: HistoryParts
  readonly secrets: SecretStore
  readonly homeassistant: HaParts
  readonly thinq: ThinqPoller | undefined
  readonly commands: DeviceCommander
  readonly rules: RuleParts
  readonly #runner: ServiceRunner
  #lock: AcquiredLock | undefined
  #secrets: SecretBox | undefined
  #gatewayId: string | undefined

  constructor(deps: GatewayDeps) {
    const { config, log, clock } = deps
    const dataDir = config.dataDir
    const child = (module: string) => log.child({ module })
    this.metrics = new Metrics({})
    const registry = this.metrics.registry
    this.bus = new EventBus<GatewayEvents>(child('bus'))
    this.store = new StoreService({
      path: join(dataDir, STORE_FILE),
      rollupPath: join(dataDir, ROLLUP_FILE),
      log: child('store'),
      clock,
      checkIntegrity: () => this.#lock?.uncleanStop === true,
      // systemd would end a start that outlasts TimeoutStartSec (60 s), mid-migration, again and again.
      onUpgrade: (bytes, worstMs) => deps.notifier.extendStart(worstMs, `upgrading the store (${Math.round(bytes / 2 ** 20)} MiB)`),
    })
    const store = this.store
    const db = () => store.db
    const rollupDb = () => store.rollupDb
    this.pki = new PkiService({
      dir: join(dataDir, PKI_DIR),
      config: config.pki,
      clock,
      log: child('pki'),
      secrets: () => this.#require(this.#secrets, 'secrets'),
      gatewayId: () => this.gatewayId,
      host: deps.host,
    })
    this.secrets = new SecretStore(
      db,
      () => this.#require(this.#secrets, 'secrets'),
      () => clock.now(),
    )
    const secret = (name: string) => this.secrets.get(name)
    const timeZone = config.gateway.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone
    this.history = buildHistory({
      history: config.history,
      influx: config.influx,
      db,
      rollupDb,
      clock,
      log: child,
      registry,
      secret,
      // Raw readings the rules engine has not evaluated yet are not purged by retention.
      rulesCursor: () => this.rules.engine.cursor,
      write: (fn) => this.journal.write(fn),
    })
    const detector = this.history.detector
    let writer: JournalWriter | undefined
    this.journal = new JournalCommitter({
      writer: () => (writer ??= new JournalWriter(db(), (d, m, f) => detector.check(d, m, f))),
      clock,
      log: child('journal'),
      registry,
      maxBatch: config.ingest.journalMaxBatch,
      maxPending: config.ingest.journalMaxPending,
      // The rules evaluate a reading inside the transaction that stores it and record what it
      // fired there: the alert is durable, and announced, with its reading.
      participant: { inTransaction: (entries, tx) => this.rules.engine.inTransaction(entries, tx) },
      // The fsync of each group commit runs on libuv's pool, not on the event loop (store/wal-sync.ts).
      syncWal: walSyncer(join(dataDir, STORE_FILE)),
      // Not a clean stop: that would checkpoint the WAL (store-service.ts), as would the background
      // checkpointer in a second, copying pages the kernel may have dropped into the database.
      onSyncFailure: (err) => deps.panic?.('the disk failed to sync the journal: ending at once so the restart recovers what reached the disk', err),
    })
    this.presence = new Presence({
      db,
      clock,
      log: child('presence'),
      registry,
      flushMs: 1000,
      silenceFactor: config.devices.silenceFactor,
      minSilenceMs: config.devices.minSilenceSeconds * 1000,
      write: (fn) => this.journal.write(fn),
    })
    const presence = this.presence
    const sources = buildSources({
      config,
      db,
      committer: this.journal,
      presence,
      clock,
      log: child,
      registry,
      gatewayId: () => this.gatewayId,
      secrets: (name) => this.secrets.accepted(name),
    })
    this.homeassistant = sources.homeassistant
    this.thinq = sources.thinq
    const ingest = sources.mqtt
    this.broker = new BrokerHost({
      settings: { ...config.mqtt, bind: config.bind, loopbackPlainPort: config.mqtt.loopbackPlainPort },
      persistenceDir: join(dataDir, BROKER_DIR),
      storePath: () => db().name,
      tls: () => ({ certPem: this.pki.serverTls.certPem, keyPem: this.pki.serverTls.keyPem, caPem: this.pki.ca.certPem }),
      limits: sources.limits,
      revocationIntervalMs: 1000,
      // Command replies go to the commander, never to ingest (they are not readings).
      onPublish: (p) =>
        p.kind === 'command-result' ? this.commands.onMqttResult(p.deviceId, p.capability, Buffer.from(p.payload)) : ingest.accept(p),
      onSession: (event, session) => (event === 'connected' ? presence.connected(session.deviceId) : presence.disconnected(session.deviceId)),
      log: child('broker'),
      registry,
    })
    const broker = this.broker
    this.commands = new DeviceCommander({
      db,
      mqtt: {
        publish: (topic, payload, options) => broker.publish(topic, payload, options),
        isConnected: (id) => broker.isConnected(id),
      },
      thinq: () => this.thinq,
      // HaParts keeps the REST client whenever a URL is set; commands need the source enabled too.
      homeassistant: () => (this.homeassistant.source ? this.homeassistant.rest : undefined),
      clock,
      log: child('commands'),
      registry,
    })
    this.rules = buildRules({
      config,
      db,
      journal: this.journal,
      health: async () => ({ ...(await this.health.report()) }),
      clock,
      log: child,
      registry,
      bus: this.bus,
      gatewayId: () => this.gatewayId,
      commands: this.commands,
      secret,
      timeZone,
    })
    const trust = clockTrust({ syncedFlagFile: config.auth.clockSyncedFlagFile, now: () => clock.now() })
    this.auth = new AuthService({
      clockTrusted: (now) => trust.trusted(now),
      db,
      secrets: () => this.#require(this.#secrets, 'secrets'),
      keyPath: join(dataDir, SECRETS_DIR, 'jwt-signing.key.age'),
      issuer: () => `carehub:${this.gatewayId}`,
      clock,
      log: child('auth'),
      settings: {
        accessTtlMs: config.auth.accessTokenMinutes * 60_000,
        refreshTtlMs: config.auth.refreshTokenDays * 86_400_000,
        sessionMaxMs: config.auth.sessionMaxDays * 86_400_000,
        graceMs: config.auth.refreshGraceSeconds * 1000,
      },
    })
    this.http = new HttpsServer({
      app: buildApp({
        log: child('http'),
        clock,
        metrics: this.metrics,
        health: this.health,
        version: deps.version,
        startedAt: clock.now(),
        bodyLimitBytes: config.http.bodyLimitBytes,
        recentErrors: deps.recentErrors,
        gatewayId: () => this.gatewayId,
        devices: { db, isSilent: (id) => presence.isSilent(id), clock },
        commands: () => this.commands,
        ingestHa: { guard: () => this.homeassistant.guard, ingest: () => this.homeassistant.ingest, maxStates: 1000 },
        telemetry: { db, rollupDb, clock, history: config.history, timeZone },
        ...this.rules.routes({ reauthenticate: (token) => this.auth.authenticate(token), heartbeatMs: config.http.eventsHeartbeatSeconds * 1000 }),
        auth: this.auth,
        recentLogs: deps.recentLogs,
        apiRateLimit: { burst: config.auth.apiBurst, perSecond: config.auth.apiPerSecond },
      }),
      bind: config.bind,
      port: config.http.port,
      tls: () => this.pki.serverTls,
      requestTimeoutMs: config.http.requestTimeoutMs,
      drainMs: Math.max(1000, config.shutdown.timeoutMs - 2000),
      log: child('http'),
    })
    for (const check of [
      store.healthCheck,
      this.journal.healthCheck,
      this.broker.healthCheck,
      this.http.healthCheck,
      trust.healthCheck,
      ...this.history.healthChecks,
      ...sources.healthChecks,
      this.rules.cloud.healthCheck,
    ]) {
      this.health.add(check)
    }

    const services: Service[] = [
      defineService(
        'data-dir',
        () => {
          prepareDataDir(dataDir, [PKI_DIR, SECRETS_DIR, BROKER_DIR])
          this.#lock = acquireInstanceLock(dataDir, { pid: deps.pid, startedAt: clock.now() })
          if (this.#lock.uncleanStop) log.warn({ previous: this.#lock.previous }, 'the last run did not stop cleanly; checking the store')
        },
        // Released last: a clean stop is one where everything before it stopped.
        () => this.#lock?.release(),
      ),
      store,
      new WalCheckpointer({ path: join(dataDir, STORE_FILE), intervalMs: 1000, log: child('store'), registry }),
      defineService('identity', async () => {
        this.#gatewayId = gatewayIdentity(db(), config.gateway.id, clock.now())
        this.#secrets = await SecretBox.open(join(dataDir, SECRETS_DIR))
      }),
      this.pki,
      this.auth,
      this.journal,
      presence,
      ...this.history.services,
      ...sources.services,
      this.broker,
      this.http,
      // After the HTTP server: stopped before it, so pending commands end ("gateway stopping") and
      // their requests answer instead of holding the HTTP drain for up to 30 s.
      this.commands,
      ...this.rules.services,
      gatewayAdvertisement({
        config,
        version: deps.version,
        gatewayId: () => this.gatewayId,
        caFingerprint: () => this.pki.ca.fingerprint,
        mqttPort: () => this.broker.address?.port ?? config.mqtt.port,
        httpPort: () => this.http.address?.port ?? config.http.port,
        interfaces: deps.host.interfaces,
        log: child('mdns'),
      }),
      // Hourly: renew the server certificate before expiry or when the box gained an address.
      new Ticker('certificate-refresh', 3_600_000, child('pki'), async () => void (await this.refreshCertificates())),
      new Watchdog({ notifier: deps.notifier, health: this.health, log: child('watchdog') }),
    ]
    this.#runner = new ServiceRunner(services, log, {
      starting: (name) => deps.notifier.status(`starting ${name}`),
      started: (name) => this.bus.emit('service:started', { name }),
      stopped: (name) => this.bus.emit('service:stopped', { name }),
      // A part that failed to stop may have left the store inconsistent: keep the pid file so the
      // next start runs the integrity check.
      stopFailed: () => {
        this.#lock = undefined
      },
    })
  }

  /**
   * Renew the server certificate when it nears expiry or the box gained a name or address, and
   * hand it to both listeners (new handshakes get it; open connections keep theirs). Hourly.
   */
  async refreshCertificates(): Promise<string | null> {
    const renewed = await this.pki.refresh()
    if (renewed === null) return null
    this.http.reloadTls()
    this.broker.reloadTls()
    return renewed
  }

  get gatewayId(): string {
    return this.#require(this.#gatewayId, 'gateway id')
  }

  /** True once stop() was called: a signal during start-up ends start() early. */
  get stopRequested(): boolean {
    return this.#runner.stopRequested
  }

  start(): Promise<void> {
    return this.#runner.start()
  }

  /** Stop what was started, in reverse; one part failing to stop does not keep the others running. */
  stop(): Promise<void> {
    return this.#runner.stop()
  }

  #require<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`${what} used before the gateway started`)
    return value
  }
}

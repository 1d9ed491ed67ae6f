import { createRequire } from 'node:module'
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net'
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls'
import { Aedes, type Client } from 'aedes'
import aedesPersistenceLevel from 'aedes-persistence-level'
import { Level } from 'level'
import type { Logger } from 'pino'
import { fromSystemError } from '../core/errors.js'
import type { Service } from '../core/service.js'
import { createAuthHooks, type HookPolicy } from './auth-hooks.js'
import { ConnectionLimiter } from './connection-limiter.js'
import type { DeviceSession } from './device-session.js'
import { FrameGuard } from './frame-guard.js'

export interface BrokerSettings {
  readonly bind: string
  readonly port: number
  /** Plain MQTT on 127.0.0.1 for tools on the box itself; null = off (the default). */
  readonly loopbackPlainPort: number | null
  readonly maxPacketBytes: number
  readonly maxConnections: number
  readonly maxConnectionsPerAddress: number
  readonly keepaliveLimitSeconds: number
  readonly connectBurst: number
  readonly connectPerSecond: number
}

export interface BrokerDeps {
  readonly settings: BrokerSettings
  readonly persistenceDir: string
  readonly tls: () => { certPem: string; keyPem: string; caPem: string }
  readonly policy: Omit<HookPolicy, 'onRefused'>
  readonly onSession: (event: 'connected' | 'disconnected', session: DeviceSession) => void
  /** A connection, publish or subscription refused (counted by reason on /metrics). */
  readonly onRefused: (reason: string) => void
  readonly log: Logger
}

/**
 * The embedded MQTT broker: aedes 1.x behind a mutual-TLS listener (requestCert +
 * rejectUnauthorized: only certificates from the box's CA get past the handshake), with the guards
 * aedes lacks — packet size before buffering, connection-attempt rate per address before the TLS
 * handshake, a connection cap — and durable sessions/retained messages in LevelDB.
 */
export class BrokerService implements Service {
  readonly name = 'broker'
  readonly #d: BrokerDeps
  #aedes: Aedes | undefined
  #level: Level<string, Buffer> | undefined
  #tls: TlsServer | undefined
  #plain: TcpServer | undefined
  #sessions: WeakMap<Client, DeviceSession> | undefined
  readonly #clients = new Set<Client>()

  constructor(deps: BrokerDeps) {
    this.#d = deps
  }

  get address(): { port: number } | undefined {
    const a = this.#tls?.address()
    return a && typeof a === 'object' ? { port: a.port } : undefined
  }

  /** Sessions of connected clients (for revocation and presence). */
  connected(): Array<{ client: Client; session: DeviceSession }> {
    const out: Array<{ client: Client; session: DeviceSession }> = []
    for (const client of this.#clients) {
      const session = this.#sessions?.get(client)
      if (session) out.push({ client, session })
    }
    return out
  }

  /** Publish from the box itself (commands, retained state), resolved when aedes has routed it. */
  publish(topic: string, payload: string | Buffer, options: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    const aedes = this.#aedes
    if (!aedes) return Promise.reject(new Error('broker not started'))
    return new Promise((resolve, reject) =>
      aedes.publish({ cmd: 'publish', topic, payload, qos: options.qos ?? 1, retain: options.retain ?? false, dup: false }, (err) =>
        err ? reject(err) : resolve(),
      ),
    )
  }

  /** Replace the server certificate without dropping connections (renewal, new LAN address). */
  reloadTls(): void {
    const { certPem, keyPem, caPem } = this.#d.tls()
    this.#tls?.setSecureContext({ cert: certPem, key: keyPem, ca: caPem })
  }

  async start(): Promise<void> {
    try {
      await this.#start()
    } catch (err) {
      // A part that fails to start is not stopped by the runner: release what was opened so far.
      await this.stop()
      throw err
    }
  }

  async #start(): Promise<void> {
    const { settings, log } = this.#d
    const onRefused = this.#d.onRefused
    const hooks = createAuthHooks({ ...this.#d.policy, onRefused }, log)
    withoutNumberCache()
    this.#sessions = hooks.sessions
    this.#level = new Level<string, Buffer>(this.#d.persistenceDir, { valueEncoding: 'buffer' })
    await this.#level.open()
    const aedes = await Aedes.createBroker({
      persistence: aedesPersistenceLevel(this.#level),
      keepaliveLimit: settings.keepaliveLimitSeconds,
      // Only MQTT 3.1 (protocol level 3) applies this; 3.1.1 ids are checked in the identity hooks.
      maxClientsIdLength: 128,
      maxTopicLevels: 8,
      connectTimeout: 5_000, // a TLS-authenticated socket must send CONNECT within 5 s

      preConnect: hooks.preConnect,
      authenticate: hooks.authenticate,
      authorizePublish: hooks.authorizePublish,
      authorizeSubscribe: hooks.authorizeSubscribe,
    })
    this.#aedes = aedes
    aedes.on('clientReady', (client) => {
      const session = hooks.sessions.get(client)
      // Revoked between authenticate and now (the revocation watch only sweeps ready clients): check again.
      const problem = session?.serial ? this.#d.policy.certificateProblem(session.serial, session.deviceId) : null
      if (problem) {
        log.warn({ deviceId: session?.deviceId, problem }, 'closing a client whose certificate was revoked while it connected')
        client.close()
        return
      }
      this.#clients.add(client)
      if (session) this.#d.onSession('connected', session)
    })
    aedes.on('clientDisconnect', (client) => {
      if (!this.#clients.delete(client)) return
      const session = hooks.sessions.get(client)
      if (session) this.#d.onSession('disconnected', session)
    })
    aedes.on('clientError', (_client, err) => log.debug({ err: err.message }, 'MQTT client error'))
    aedes.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'MQTT connection error'))

    const limiter = new ConnectionLimiter({ burst: settings.connectBurst, perSecond: settings.connectPerSecond })
    const { certPem, keyPem, caPem } = this.#d.tls()
    const tls = createTlsServer(
      // A short handshake timeout: sockets that never finish TLS must not hold connection slots.
      { cert: certPem, key: keyPem, ca: caPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', handshakeTimeout: 3_000 },
      (socket: TLSSocket) => this.#accept(aedes, socket),
    )
    tls.maxConnections = settings.maxConnections
    // Before TLS: the attempt rate and the open connections per source address, so one host (or a
    // scan of idle sockets) cannot take every slot of maxConnections from the real sensors.
    const open = new Map<string, number>()
    tls.on('connection', (raw: Socket) => {
      const address = raw.remoteAddress ?? '?'
      if (!limiter.allow(address, performance.now())) {
        onRefused('rate')
        raw.destroy()
        return
      }
      const count = (open.get(address) ?? 0) + 1
      if (count > settings.maxConnectionsPerAddress) {
        onRefused('per_address')
        raw.destroy()
        return
      }
      open.set(address, count)
      raw.once('close', () => {
        const left = (open.get(address) ?? 1) - 1
        if (left <= 0) open.delete(address)
        else open.set(address, left)
      })
    })
    tls.on('tlsClientError', (err, socket) => {
      // The real reason of a refused certificate is in authorizationError (dependencies notes, gotcha 2).
      const reason = (socket as TLSSocket).authorizationError ?? (err as NodeJS.ErrnoException).code ?? err.message
      onRefused('tls')
      log.info({ reason: String(reason), remote: socket.remoteAddress }, 'MQTT TLS handshake refused')
    })
    this.#tls = tls
    await listen(tls, settings.port, settings.bind, `MQTT (TLS) on ${settings.bind}:${settings.port}`)
    if (settings.loopbackPlainPort !== null) {
      const plain = createTcpServer((socket) => this.#accept(aedes, socket))
      plain.maxConnections = settings.maxConnections
      this.#plain = plain
      await listen(plain, settings.loopbackPlainPort, '127.0.0.1', `MQTT (plain, loopback) on 127.0.0.1:${settings.loopbackPlainPort}`)
    }
  }

  #accept(aedes: Aedes, socket: Socket): void {
    aedes.handle(socket)
    // After aedes attached its 'readable' listener, a 'data' listener sees each chunk aedes reads
    // without switching the socket to flowing mode: at most one chunk is buffered past the limit.
    const guard = new FrameGuard(this.#d.settings.maxPacketBytes)
    socket.on('data', (chunk: Buffer) => {
      const problem = guard.push(chunk)
      if (problem === null) return
      this.#d.onRefused('packet_size')
      this.#d.log.warn({ remote: socket.remoteAddress, problem }, 'MQTT connection cut')
      socket.destroy()
    })
  }

  async stop(): Promise<void> {
    const closing = [this.#tls, this.#plain].filter((s): s is TlsServer | TcpServer => s !== undefined)
    this.#tls = undefined
    this.#plain = undefined
    // A server that never listened (its start failed) has nothing to close: close() would call back with ERR_SERVER_NOT_RUNNING.
    const serversClosed = Promise.all(closing.map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))))
    const aedes = this.#aedes
    this.#aedes = undefined
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()))
    for (const client of this.#clients) client.conn.destroy()
    this.#clients.clear()
    await serversClosed
    // aedes.close() does not close the level DB (dependencies notes, gotcha 1).
    await this.#level?.close()
    this.#level = undefined
  }
}

/**
 * aedes writes every packet with mqtt-packet, whose first write fills a cache of 65,536 two-byte
 * Buffers (one per 16-bit number): ~6 MB of heap for the life of the process (heap snapshot:
 * `numCache`). Without it each packet id is written into a fresh 2-byte Buffer from Node's pool.
 * The switch is on the copy aedes itself loads, hence the require from aedes's own folder.
 */
function withoutNumberCache(): void {
  const fromAedes = createRequire(createRequire(import.meta.url).resolve('aedes'))
  ;(fromAedes('mqtt-packet') as { writeToStream: { cacheNumbers: boolean } }).writeToStream.cacheNumbers = false
}

function listen(server: TlsServer | TcpServer, port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(fromSystemError(err, what)))
    server.listen(port, host, () => resolve())
  })
}

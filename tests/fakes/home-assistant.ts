// A faithful fake Home Assistant for tests: WebSocket API at /api/websocket (spec §2a) and the REST API
// under /api/ (spec §2b) of /work/shared/specs/external-protocols.md, on 127.0.0.1 only.
// Pieces: _home-assistant-states.ts (state machine, timestamps, ids), _home-assistant-services.ts (services),
// _home-assistant-ws.ts (one WS connection), _home-assistant-rest.ts (REST views).
import { createServer, type Server } from 'node:http'
import type { Socket } from 'node:net'
import { WebSocketServer } from 'ws'
import { createRestHandler, type RestFailure } from './_home-assistant-rest.js'
import { type ServiceHandler, ServiceRegistry, type SupportsResponse } from './_home-assistant-services.js'
import { type HaState, loadFixtureStates, StateMachine } from './_home-assistant-states.js'
import { type CoalesceMode, HaWsConnection, type ReceivedMessage, type ServiceCallRecord, type WsHost } from './_home-assistant-ws.js'

export type { RestFailure, RestFailureMode } from './_home-assistant-rest.js'
export type { ServiceCall, ServiceHandler, SupportsResponse } from './_home-assistant-services.js'
export type { HaContext, HaEvent, HaState } from './_home-assistant-states.js'
export type { CoalesceMode, ReceivedMessage, ServiceCallRecord } from './_home-assistant-ws.js'

export interface FakeHomeAssistantOptions {
  /** The long-lived access token accepted on WS and REST (default 'fake-ha-long-lived-token'). */
  token?: string
  /** Sent in `auth_required`/`auth_ok` (default '2025.10.1'). */
  haVersion?: string
  /** The instance's unit system for temperatures (get_config → unit_system.temperature). */
  temperatureUnit?: '°C' | '°F'
  /** Seed states (default: tests/fixtures/home-assistant/states.json). */
  states?: readonly HaState[]
  /** Port to listen on (default 0 = a free one, kept across restart()). */
  port?: number
  /** §2a: the auth message must arrive within 10 s (default 10_000). */
  authTimeoutMs?: number
  /** §2a coalescing: 'when-enabled' (current HA, default), 'never', or 'always' (2022-era releases, no flag needed). */
  coalesce?: CoalesceMode
  /** WS-level ping frames (HA/aiohttp: 55 s heartbeat; no pong within half the interval → dropped). 0 = off (default). */
  pingIntervalMs?: number
  /** A hung HA: auth succeeds, then nothing is ever answered — no results, no events, not even WS pongs. */
  silentAfterAuth?: boolean
  /** Extra time every service call takes, WS and REST (default 0). */
  serviceLatencyMs?: number
}

export interface RestartOptions {
  /** How long the port refuses connections (default 500 ms). */
  downMs?: number
  /** Re-stamp every entity's last_changed/last_updated/last_reported with the boot time, as real HA does (default true). */
  resetTimestamps?: boolean
}

export interface FakeHomeAssistant {
  readonly url: string
  readonly wsUrl: string
  readonly port: number
  readonly token: string
  /** Authenticated WS clients right now. */
  readonly connections: number
  /** Every call_service (WS) and POST /api/services (REST) received, in order, including failing ones. */
  readonly serviceCalls: ServiceCallRecord[]
  /** Every WS message received (arrays split), auth phase included. */
  readonly received: ReceivedMessage[]
  states(): HaState[]
  getState(entityId: string): HaState | undefined
  /** A device-side change: keeps the attributes when omitted; fires state_changed (old_state null for a new entity). */
  setState(entityId: string, state: string, attributes?: Record<string, unknown>): HaState | undefined
  /** state_changed with new_state null. */
  removeEntity(entityId: string): boolean
  registerService(domain: string, service: string, handler: ServiceHandler, supportsResponse?: SupportsResponse): void
  /** Abrupt mid-stream disconnect of every socket (no close frame: clients see 1006). */
  dropConnections(): void
  /** Stop listening (connection refused), close every socket; resolves once the port is closed. */
  goDown(): Promise<void>
  /** Listen again on the same port. */
  comeBack(options?: { resetTimestamps?: boolean }): Promise<void>
  /** goDown(), wait downMs, comeBack(); resolves once listening again. */
  restart(options?: RestartOptions): Promise<void>
  /** REST-only failure injection; null clears it. */
  setFailure(failure: RestFailure | null): void
  /** While true every token is refused: WS `auth_invalid` + close, REST 401. */
  rejectTokens(reject?: boolean): void
  setSilentAfterAuth(silent: boolean): void
  stop(): Promise<void>
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

class FakeHomeAssistantServer implements FakeHomeAssistant {
  readonly token: string
  readonly serviceCalls: ServiceCallRecord[] = []
  readonly received: ReceivedMessage[] = []
  private readonly store: StateMachine
  private readonly services: ServiceRegistry
  private readonly server: Server
  private readonly wss = new WebSocketServer({ noServer: true, autoPong: false })
  private readonly sockets = new Set<Socket>()
  private readonly clients = new Set<HaWsConnection>()
  private nextConnectionId = 1
  private boundPort: number
  private listening = false
  private stopped = false
  private failure: RestFailure | null = null
  private rejectAll = false
  private silent: boolean
  private readonly wsHost: WsHost

  constructor(options: FakeHomeAssistantOptions) {
    this.token = options.token ?? 'fake-ha-long-lived-token'
    this.boundPort = options.port ?? 0
    this.silent = options.silentAfterAuth ?? false
    this.store = new StateMachine(options.states ?? loadFixtureStates())
    this.services = new ServiceRegistry(this.store)
    const haVersion = options.haVersion ?? '2025.10.1'
    const common = {
      haVersion,
      userId: 'c0ffee00c0ffee00c0ffee00c0ffee00',
      serviceLatencyMs: options.serviceLatencyMs ?? 0,
      store: this.store,
      services: this.services,
      tokenValid: (token: string) => !this.rejectAll && token === this.token,
      serviceCalls: this.serviceCalls,
    }
    this.wsHost = {
      ...common,
      authTimeoutMs: options.authTimeoutMs ?? 10_000,
      temperatureUnit: options.temperatureUnit ?? '°C',
      coalesce: options.coalesce ?? 'when-enabled',
      pingIntervalMs: options.pingIntervalMs ?? 0,
      silent: () => this.silent,
      received: this.received,
    }
    const rest = createRestHandler({ ...common, failure: () => this.failure, baseUrl: () => this.url })
    this.server = createServer((req, res) => {
      rest(req, res).catch(() => res.destroy())
    })
    this.server.on('connection', (socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
    this.server.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'http://127.0.0.1').pathname !== '/api/websocket') {
        socket.end(
          'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\nConnection: close\r\n\r\n404: Not Found',
        )
        return
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const connection = new HaWsConnection(ws, this.nextConnectionId++, this.wsHost)
        this.clients.add(connection)
        ws.on('close', () => this.clients.delete(connection))
      })
    })
  }

  get port(): number {
    return this.boundPort
  }
  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`
  }
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.boundPort}/api/websocket`
  }
  get connections(): number {
    return [...this.clients].filter((c) => c.authenticated).length
  }

  async listen(): Promise<void> {
    // Re-binding the same port right after closing it can race with TIME_WAIT or another process' ephemeral
    // port; retry briefly on EADDRINUSE rather than failing the test.
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          this.server.once('error', reject)
          this.server.listen(this.boundPort, '127.0.0.1', () => {
            this.server.off('error', reject)
            resolve()
          })
        })
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 40) throw err
        await sleep(50)
      }
    }
    const address = this.server.address()
    if (address && typeof address === 'object') this.boundPort = address.port
    this.listening = true
  }

  states(): HaState[] {
    return this.store.all()
  }
  getState(entityId: string): HaState | undefined {
    return this.store.get(entityId)
  }
  setState(entityId: string, state: string, attributes?: Record<string, unknown>): HaState | undefined {
    this.store.set(entityId, String(state), attributes)
    return this.store.get(entityId)
  }
  removeEntity(entityId: string): boolean {
    return this.store.remove(entityId)
  }
  registerService(domain: string, service: string, handler: ServiceHandler, supportsResponse: SupportsResponse = 'none'): void {
    this.services.register(domain, service, handler, supportsResponse)
  }
  setFailure(failure: RestFailure | null): void {
    this.failure = failure
  }
  rejectTokens(reject = true): void {
    this.rejectAll = reject
  }
  setSilentAfterAuth(silent: boolean): void {
    this.silent = silent
  }

  dropConnections(): void {
    for (const client of this.clients) client.terminate()
    for (const socket of this.sockets) socket.destroy()
  }

  async goDown(): Promise<void> {
    if (!this.listening) return
    this.listening = false
    // server.close() closes the listening handle at once (new connections: ECONNREFUSED); its callback
    // waits for open connections, which we close: WS with a close frame (HA shutting down), the rest abruptly.
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const client of this.clients) client.close(1000)
    await sleep(20)
    for (const socket of this.sockets) socket.destroy()
    this.server.closeAllConnections()
    await closed
  }

  async comeBack(options: { resetTimestamps?: boolean } = {}): Promise<void> {
    if (this.listening || this.stopped) return
    if (options.resetTimestamps ?? true) this.store.rebootTimestamps()
    await this.listen()
  }

  async restart(options: RestartOptions = {}): Promise<void> {
    await this.goDown()
    await sleep(options.downMs ?? 500)
    await this.comeBack({ resetTimestamps: options.resetTimestamps ?? true })
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.goDown()
    this.wss.close()
  }
}

/** Starts the fake on 127.0.0.1 (random free port unless `port` is given); seeded from the recorded-shape fixture. */
export async function startFakeHomeAssistant(options: FakeHomeAssistantOptions = {}): Promise<FakeHomeAssistant> {
  const fake = new FakeHomeAssistantServer(options)
  await fake.listen()
  return fake
}

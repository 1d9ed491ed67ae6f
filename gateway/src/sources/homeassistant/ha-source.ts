import type { Logger } from 'pino'
import { backoffDelay, Sleeper } from '../../core/backoff.js'
import type { HealthCheck, Service, ServiceHealth } from '../../core/service.js'
import type { HaState } from '../../normalize/home-assistant.js'
import type { HaIngest } from './ha-ingest.js'
import type { HaRest } from './ha-rest.js'
import { HaSession, type SessionEnd } from './ha-websocket.js'

export interface HaSourceOptions {
  /** http(s)://host:8123 — the WebSocket URL is derived from it. */
  readonly url: string
  readonly websocket: boolean
  readonly token: () => Promise<string | undefined>
  readonly rest: HaRest
  readonly ingest: HaIngest
  readonly log: Logger
  readonly pollMs: number
  readonly pingMs: number
  readonly pongTimeoutMs: number
  readonly backoffMinMs: number
  readonly backoffMaxMs: number
  readonly random?: () => number
}

type Status = { readonly state: 'connected' | 'polling' | 'down' | 'unauthorized' | 'no-token' | 'starting'; readonly detail: string }

/**
 * Follows Home Assistant (issue 6): a WebSocket session for state changes; after every (re)connect a
 * resync from `GET /api/states` so nothing that changed while disconnected is missed (only states
 * newer than the journal's are recorded); while the WebSocket is down, REST polling every pollMs;
 * reconnects with exponential backoff and jitter. Problems change the status and are logged once
 * per change, never per retry (DESIGN invariant 4: degrade, don't die).
 */
export class HaSource implements Service {
  readonly name = 'homeassistant'
  readonly #o: HaSourceOptions
  #session: HaSession | undefined
  #stopped = true
  #failures = 0
  #status: Status = { state: 'starting', detail: 'starting' }
  #loop: Promise<void> | undefined
  readonly #sleeper = new Sleeper()
  #poller: NodeJS.Timeout | undefined
  #chain: Promise<unknown> = Promise.resolve()

  constructor(options: HaSourceOptions) {
    this.#o = options
  }

  readonly healthCheck: HealthCheck = {
    name: 'homeassistant',
    critical: false,
    check: (): ServiceHealth =>
      this.#status.state === 'connected' ? { status: 'ok' } : { status: 'degraded', detail: `${this.#status.state}: ${this.#status.detail}` },
  }

  get status(): Status {
    return this.#status
  }

  async start(): Promise<void> {
    this.#stopped = false
    this.#loop = this.#run()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#poller)
    this.#session?.close()
    this.#sleeper.wake()
    await this.#loop
    await this.#chain
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const token = await this.#o.token()
      if (!token) {
        this.#set({ state: 'no-token', detail: 'set the long-lived access token: carehub secret set homeassistant.token' })
        await this.#sleeper.sleep(this.#backoff())
        continue
      }
      if (!this.#o.websocket) {
        this.#startPolling()
        await this.#sleeper.sleep(60_000)
        continue
      }
      let session: HaSession
      try {
        session = await HaSession.open({
          wsUrl: `${this.#o.url.replace(/^http/, 'ws').replace(/\/+$/, '')}/api/websocket`,
          token,
          onState: (s) => this.#record([s], 'websocket'),
          pingMs: this.#o.pingMs,
          pongTimeoutMs: this.#o.pongTimeoutMs,
          answerTimeoutMs: 10_000,
        })
      } catch (err) {
        const message = (err as Error).message
        this.#set(
          message.startsWith('auth_invalid') ? { state: 'unauthorized', detail: `${message} — renew the token` } : { state: 'down', detail: message },
        )
        this.#startPolling()
        await this.#sleeper.sleep(this.#backoff())
        continue
      }
      if (this.#stopped) return session.close()
      this.#session = session
      await this.#learnUnits(session)
      this.#stopPolling()
      this.#failures = 0
      await this.#resync()
      this.#set({ state: 'connected', detail: 'following state changes' })
      const end: SessionEnd = await session.closed
      this.#session = undefined
      if (this.#stopped) return
      this.#set({ state: 'down', detail: `WebSocket ${end.kind}: ${end.detail}` })
      this.#startPolling()
      await this.#sleeper.sleep(this.#backoff())
    }
  }

  /** Climate entities report in the instance's unit system: read it before any state is mapped. */
  async #learnUnits(session: HaSession): Promise<void> {
    try {
      const config = (await session.command({ type: 'get_config' })) as { unit_system?: { temperature?: unknown } } | undefined
      const unit = config?.unit_system?.temperature
      if (unit === '°F' || unit === '°C') this.#o.ingest.context = { temperatureUnit: unit }
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, 'could not read the Home Assistant unit system; climate temperatures are taken as °C')
    }
  }

  /** After a (re)connect, and on each poll: whatever changed meanwhile, once. */
  async #resync(): Promise<void> {
    try {
      const states = await this.#o.rest.states()
      await this.#record(states, 'rest')
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, 'Home Assistant resync from /api/states failed; state changes from now on still arrive')
    }
  }

  /** Ingest in arrival order: each batch waits for the previous one (per-entity order is kept). */
  #record(states: readonly HaState[], via: 'websocket' | 'rest'): Promise<unknown> {
    this.#chain = this.#chain
      .then(() => this.#o.ingest.ingest(states, via, `homeassistant:${via}`, via === 'rest'))
      .catch((err) => this.#o.log.error({ err }, 'recording Home Assistant states failed'))
    return this.#chain
  }

  #startPolling(): void {
    if (this.#poller || this.#stopped) return
    const poll = async () => {
      try {
        await this.#record(await this.#o.rest.states(), 'rest')
        if (this.#status.state !== 'connected')
          this.#set({ state: 'polling', detail: `WebSocket unavailable; polling /api/states every ${this.#o.pollMs / 1000} s` })
      } catch (err) {
        if (this.#status.state === 'polling') this.#set({ state: 'down', detail: (err as Error).message })
      }
    }
    void poll()
    this.#poller = setInterval(() => void poll(), this.#o.pollMs)
  }

  #stopPolling(): void {
    clearInterval(this.#poller)
    this.#poller = undefined
  }

  #set(status: Status): void {
    const changed = status.state !== this.#status.state
    this.#status = status
    if (!changed) return
    if (status.state === 'connected') this.#o.log.info('Home Assistant connected')
    else this.#o.log.warn({ state: status.state, detail: status.detail }, 'Home Assistant not followed live')
  }

  #backoff(): number {
    return backoffDelay(++this.#failures, this.#o.backoffMinMs, this.#o.backoffMaxMs, this.#o.random)
  }
}

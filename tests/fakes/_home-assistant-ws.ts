// One WebSocket connection of the fake Home Assistant (see ./home-assistant.ts).
// Spec §2a. Behaviour from HA `websocket_api/http.py` (auth phase, framing, coalescing writer, heartbeat),
// `auth.py` (auth messages), `connection.py` (`async_handle`: id checks) and `commands.py` (command schemas).
import type { RawData, WebSocket } from 'ws'
import {
  authFormatError,
  type CoalesceMode,
  type Msg,
  type ReceivedMessage,
  SCHEMAS,
  type ServiceCallRecord,
  tryParse,
  validate,
} from './_home-assistant-messages.js'
import { InvalidServiceDataError, ServiceNotFoundError, type ServiceRegistry, ServiceValidationError } from './_home-assistant-services.js'
import { newContext, type StateMachine } from './_home-assistant-states.js'

export type { CoalesceMode, ReceivedMessage, ServiceCallRecord } from './_home-assistant-messages.js'

export interface WsHost {
  haVersion: string
  temperatureUnit: '°C' | '°F'
  userId: string
  authTimeoutMs: number
  coalesce: CoalesceMode
  pingIntervalMs: number
  serviceLatencyMs: number
  store: StateMachine
  services: ServiceRegistry
  tokenValid(token: string): boolean
  silent(): boolean
  received: ReceivedMessage[]
  serviceCalls: ServiceCallRecord[]
}

export class HaWsConnection {
  authenticated = false
  private lastId = 0
  private canCoalesce = false
  private readonly subscriptions = new Map<number, () => void>()
  private queue: string[] = []
  private flushScheduled = false
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor(
    private readonly ws: WebSocket,
    readonly id: number,
    private readonly host: WsHost,
  ) {
    // The server is created with autoPong off, so a "hung" HA (silentAfterAuth) does not even answer WS pings.
    ws.on('ping', (data) => {
      if (!(this.authenticated && host.silent())) ws.pong(data)
    })
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary))
    ws.on('close', () => this.cleanup())
    ws.on('error', () => this.cleanup())
    // http.py: `auth_required` first; the auth message must arrive within 10 s, else disconnect.
    ws.send(JSON.stringify({ type: 'auth_required', ha_version: host.haVersion }))
    this.later(host.authTimeoutMs, () => {
      if (!this.authenticated) this.close()
    })
    if (host.pingIntervalMs > 0) this.startHeartbeat(host.pingIntervalMs)
  }

  /** Graceful close: `wsock.close()` in http.py's finally block sends close code 1000. */
  close(code = 1000): void {
    this.cleanup()
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code)
    const kill = setTimeout(() => this.ws.terminate(), 200)
    kill.unref()
  }

  terminate(): void {
    this.cleanup()
    this.ws.terminate()
  }

  private cleanup(): void {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    for (const unsubscribe of this.subscriptions.values()) unsubscribe()
    this.subscriptions.clear()
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      fn()
    }, ms)
    this.timers.add(timer)
  }

  /** aiohttp `heartbeat=55`: a ping every interval; no pong within half of it → the transport is dropped. */
  private startHeartbeat(intervalMs: number): void {
    let awaitingPong = false
    this.ws.on('pong', () => {
      awaitingPong = false
    })
    const beat = () => {
      if (this.ws.readyState !== this.ws.OPEN) return
      awaitingPong = true
      this.ws.ping()
      this.later(intervalMs / 2, () => {
        if (awaitingPong) this.terminate()
        else this.later(intervalMs / 2, beat)
      })
    }
    this.later(intervalMs, beat)
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8')
    if (!this.authenticated) {
      this.onAuthFrame(text, isBinary)
      return
    }
    if (this.host.silent()) {
      // A hung HA: the frame is read (and logged for assertions) but nothing is ever answered.
      this.host.received.push({ connectionId: this.id, phase: 'command', message: tryParse(text), at: Date.now() })
      return
    }
    // Command phase: binary frames go to binary handlers (none registered here); bad JSON disconnects.
    if (isBinary) {
      if (text.length < 1) this.close()
      return
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      this.close()
      return
    }
    // Clients may send an array of commands in one frame (http.py: `for split_msg in command_msg_data`).
    for (const msg of Array.isArray(parsed) ? parsed : [parsed]) this.handle(msg)
  }

  private onAuthFrame(text: string, isBinary: boolean): void {
    // "Received non-Text message." / "Received invalid JSON." → Disconnect without a reply.
    if (isBinary) {
      this.close()
      return
    }
    let msg: unknown
    try {
      msg = JSON.parse(text)
    } catch {
      this.close()
      return
    }
    this.host.received.push({ connectionId: this.id, phase: 'auth', message: msg, at: Date.now() })
    const formatError = authFormatError(msg)
    if (formatError) {
      this.rejectAuth(`Auth message incorrectly formatted: ${formatError}`)
      return
    }
    const token = (msg as Msg).access_token
    if (typeof token === 'string' && this.host.tokenValid(token)) {
      this.authenticated = true
      this.ws.send(JSON.stringify({ type: 'auth_ok', ha_version: this.host.haVersion }))
      return
    }
    this.rejectAuth('Invalid access token or password')
  }

  private rejectAuth(message: string): void {
    this.ws.send(JSON.stringify({ type: 'auth_invalid', message }))
    this.close()
  }

  /** Outgoing queue: HA's writer sends what is queued; with coalescing on, >1 queued messages go as one JSON array. */
  private send(msg: Msg): void {
    if (this.host.silent() || this.ws.readyState !== this.ws.OPEN) return
    this.queue.push(JSON.stringify(msg))
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.flushScheduled = false
    const batch = this.queue
    this.queue = []
    if (this.ws.readyState !== this.ws.OPEN || this.host.silent()) return
    const mode = this.host.coalesce
    const coalesce = mode === 'always' || (mode === 'when-enabled' && this.canCoalesce)
    if (coalesce && batch.length > 1) this.ws.send(`[${batch.join(',')}]`)
    else for (const message of batch) this.ws.send(message)
  }

  private result(id: number, result: unknown = null): void {
    this.send({ id, type: 'result', success: true, result })
  }

  private error(id: unknown, code: string, message: string, extra: Msg = {}): void {
    this.send({ id, type: 'result', success: false, error: { code, message, ...extra } })
  }

  /** connection.py `async_handle`. Note `last_id` is NOT advanced for unknown commands (HA returns early). */
  private handle(msg: unknown): void {
    this.host.received.push({ connectionId: this.id, phase: 'command', message: msg, at: Date.now() })
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.error(0, 'invalid_format', 'Message incorrectly formatted.')
      return
    }
    const m = msg as Msg
    const id = m.id
    if (!Number.isInteger(id) || id === 0 || typeof m.type !== 'string' || m.type === '') {
      this.error(id ?? null, 'invalid_format', 'Message incorrectly formatted.')
      return
    }
    const curId = id as number
    if (curId <= this.lastId) {
      this.error(curId, 'id_reuse', 'Identifier values have to increase.')
      return
    }
    const schema = SCHEMAS[m.type]
    if (!schema) {
      this.error(curId, 'unknown_command', 'Unknown command.')
      return
    }
    const invalid = validate(m, schema)
    if (invalid) this.error(curId, 'invalid_format', invalid)
    else this.dispatch(curId, m)
    this.lastId = curId
  }

  private dispatch(id: number, m: Msg): void {
    const { store } = this.host
    switch (m.type) {
      case 'ping':
        this.send({ id, type: 'pong' })
        break
      case 'get_states':
        this.result(id, store.all())
        break
      case 'get_config':
        this.result(id, {
          location_name: 'Home',
          time_zone: 'Europe/London',
          version: this.host.haVersion,
          state: 'RUNNING',
          unit_system: { temperature: this.host.temperatureUnit },
        })
        break
      case 'supported_features':
        // commands.py `handle_supported_features` → `can_coalesce = "coalesce_messages" in features`.
        this.canCoalesce = 'coalesce_messages' in (m.features as Msg)
        this.result(id)
        break
      case 'subscribe_events': {
        const eventType = typeof m.event_type === 'string' ? m.event_type : '*'
        const unsubscribe = store.listen((event) => {
          if (eventType === event.event_type || (eventType === '*' && event.event_type !== 'state_reported')) this.send({ id, type: 'event', event })
        })
        this.subscriptions.set(id, unsubscribe)
        this.result(id)
        break
      }
      case 'unsubscribe_events': {
        const unsubscribe = this.subscriptions.get(m.subscription as number)
        if (!unsubscribe) {
          this.error(id, 'not_found', 'Subscription not found.')
          return
        }
        unsubscribe()
        this.subscriptions.delete(m.subscription as number)
        this.result(id)
        break
      }
      case 'call_service':
        if (this.host.serviceLatencyMs > 0) this.later(this.host.serviceLatencyMs, () => this.callService(id, m))
        else this.callService(id, m)
    }
  }

  /** commands.py `handle_call_service`: result is `{context}`, plus `response` only when return_response was asked. */
  private callService(id: number, m: Msg): void {
    const domain = m.domain as string
    const service = m.service as string
    const serviceData = (m.service_data as Msg | undefined) ?? {}
    const target = m.target as Msg | undefined
    const returnResponse = m.return_response === true
    this.host.serviceCalls.push({ via: 'ws', domain, service, serviceData, target, returnResponse, at: Date.now() })
    const context = newContext(this.host.userId)
    try {
      const response = this.host.services.call(domain, service, serviceData, target, context, returnResponse)
      this.result(id, returnResponse ? { context, response } : { context })
    } catch (err) {
      if (err instanceof ServiceNotFoundError) {
        this.error(id, 'not_found', err.message, {
          translation_key: 'service_not_found',
          translation_domain: 'homeassistant',
          translation_placeholders: { domain: err.domain, service: err.service },
        })
      } else if (err instanceof InvalidServiceDataError) {
        this.error(id, 'invalid_format', err.message)
      } else if (err instanceof ServiceValidationError) {
        this.error(id, 'service_validation_error', `Validation error: ${err.message}`, {
          translation_key: err.translationKey,
          translation_domain: err.translationDomain,
          translation_placeholders: err.translationPlaceholders,
        })
      } else {
        this.error(id, 'unknown_error', err instanceof Error ? err.message : String(err))
      }
    }
  }
}

import WebSocket from 'ws'
import type { HaState } from '../../normalize/home-assistant.js'

/**
 * One authenticated WebSocket session with Home Assistant (external-protocols §2a): the auth
 * handshake, strictly increasing message ids, `subscribe_events` for `state_changed`, ping/pong
 * liveness. Frames may hold one message or an array of them (coalescing; older releases do it
 * unasked). A session never reconnects itself: when it ends, `closed` resolves with the reason and
 * the owner (HaSource) decides what next.
 */
export type SessionEnd = { readonly kind: 'auth_invalid' | 'closed' | 'timeout' | 'protocol'; readonly detail: string }

export interface HaSessionOptions {
  readonly wsUrl: string
  readonly token: string
  readonly onState: (state: HaState) => void
  readonly pingMs: number
  readonly pongTimeoutMs: number
  /** Handshake and each command must answer within this. */
  readonly answerTimeoutMs: number
}

interface Pending {
  resolve(result: unknown): void
  reject(err: Error): void
  timer: NodeJS.Timeout
}

export class HaSession {
  readonly closed: Promise<SessionEnd>
  readonly #o: HaSessionOptions
  readonly #ws: WebSocket
  #nextId = 1
  #subscription = -1
  readonly #pending = new Map<number, Pending>()
  #ping: NodeJS.Timeout | undefined
  #pongDue: NodeJS.Timeout | undefined
  #end: ((e: SessionEnd) => void) | undefined
  #ready: { resolve(): void; reject(e: Error): void } | undefined

  private constructor(o: HaSessionOptions) {
    this.#o = o
    this.closed = new Promise((resolve) => {
      this.#end = resolve
    })
    this.#ws = new WebSocket(o.wsUrl, { handshakeTimeout: o.answerTimeoutMs, maxPayload: 16 * 1024 * 1024 })
    this.#ws.on('message', (data, isBinary) => this.#frame(data.toString(), isBinary))
    this.#ws.on('close', (code, reason) =>
      this.#finish({ kind: 'closed', detail: `closed (${code}${reason.length ? ` ${reason.toString()}` : ''})` }),
    )
    this.#ws.on('error', (err) => this.#finish({ kind: 'closed', detail: err.message }))
  }

  /** Connect, authenticate and subscribe; rejects (and ends the session) if any step fails. */
  static async open(o: HaSessionOptions): Promise<HaSession> {
    const s = new HaSession(o)
    const ready = new Promise<void>((resolve, reject) => {
      s.#ready = { resolve, reject }
    })
    const timer = setTimeout(() => s.#finish({ kind: 'timeout', detail: `no auth_ok within ${o.answerTimeoutMs} ms` }), o.answerTimeoutMs)
    try {
      await Promise.race([ready, s.closed.then((e) => Promise.reject(new Error(`${e.kind}: ${e.detail}`)))])
    } finally {
      clearTimeout(timer)
    }
    s.#subscription = s.#nextId
    await s.command({ type: 'subscribe_events', event_type: 'state_changed' })
    s.#ping = setInterval(() => s.#sendPing(), o.pingMs)
    return s
  }

  /** Send a command with the next id; resolves with its `result`, rejects with HA's error. */
  command(message: Record<string, unknown>): Promise<unknown> {
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new Error(`no answer to ${String(message.type)} within ${this.#o.answerTimeoutMs} ms`))
      }, this.#o.answerTimeoutMs)
      this.#pending.set(id, { resolve, reject, timer })
      this.#ws.send(JSON.stringify({ ...message, id }))
    })
  }

  close(): void {
    this.#finish({ kind: 'closed', detail: 'closed by CareHub' })
  }

  #frame(text: string, isBinary: boolean): void {
    if (isBinary) {
      this.#finish({ kind: 'protocol', detail: 'binary frame' })
      return
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      this.#finish({ kind: 'protocol', detail: 'a frame that is not JSON' })
      return
    }
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) this.#message(m as Record<string, unknown>)
  }

  #message(m: Record<string, unknown>): void {
    switch (m.type) {
      case 'auth_required':
        this.#ws.send(JSON.stringify({ type: 'auth', access_token: this.#o.token }))
        return
      case 'auth_ok':
        this.#ready?.resolve()
        return
      case 'auth_invalid':
        this.#finish({ kind: 'auth_invalid', detail: typeof m.message === 'string' ? m.message : 'access token refused' })
        return
      case 'pong':
        clearTimeout(this.#pongDue)
        this.#pongDue = undefined
        this.#settle(m, undefined)
        return
      case 'result':
        this.#settle(m, m.success === true ? m.result : undefined, m.success === true ? undefined : m.error)
        return
      case 'event': {
        if (m.id !== this.#subscription) return
        const data = (m.event as { data?: { new_state?: HaState | null } } | undefined)?.data
        if (data?.new_state) this.#o.onState(data.new_state)
        return
      }
    }
  }

  #settle(m: Record<string, unknown>, result: unknown, error?: unknown): void {
    const p = typeof m.id === 'number' ? this.#pending.get(m.id) : undefined
    if (!p) return
    this.#pending.delete(m.id as number)
    clearTimeout(p.timer)
    if (error === undefined) p.resolve(result)
    else {
      const e = error as { code?: string; message?: string }
      p.reject(new Error(`${e.code ?? 'error'}: ${e.message ?? 'Home Assistant refused the command'}`))
    }
  }

  #sendPing(): void {
    // A pong must come back in time, or the connection is dead even if TCP has not noticed (a
    // half-open socket after a Wi-Fi drop can take minutes to error). The deadline runs from the
    // first unanswered ping: later pings must not push it back (pings may be more frequent than the
    // timeout is long).
    this.#pongDue ??= setTimeout(() => this.#finish({ kind: 'timeout', detail: `no pong within ${this.#o.pongTimeoutMs} ms` }), this.#o.pongTimeoutMs)
    this.command({ type: 'ping' }).catch(() => {})
  }

  #finish(end: SessionEnd): void {
    if (!this.#end) return
    const done = this.#end
    this.#end = undefined
    clearInterval(this.#ping)
    clearTimeout(this.#pongDue)
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer)
      p.reject(new Error(end.detail))
    }
    this.#pending.clear()
    this.#ready?.reject(new Error(`${end.kind}: ${end.detail}`))
    this.#ws.removeAllListeners('close')
    this.#ws.on('error', () => {})
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) this.#ws.terminate()
    done(end)
  }
}

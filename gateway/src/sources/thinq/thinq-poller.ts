import type { Logger } from 'pino'
import type { Clock } from '../../core/clock.js'
import { CarehubError } from '../../core/errors.js'
import type { HealthCheck, Service, ServiceHealth } from '../../core/service.js'
import { mapThinqState, thinqDeviceId } from '../../normalize/thinq.js'
import { ensureDevice, setAvailability } from '../../store/devices.js'
import type { JournalCommitter } from '../../store/journal-committer.js'
import type { Db } from '../../store/open.js'
import type { Json, ThinqApi, ThinqDevice } from './thinq-client.js'
import { ThinqError } from './thinq-protocol.js'

export interface ThinqPollerOptions {
  readonly api: ThinqApi
  readonly db: () => Db
  readonly committer: JournalCommitter
  readonly clock: Clock
  readonly log: Logger
  /** Seconds between polls of a device of this type. */
  readonly intervalOf: (deviceType: string) => number
  readonly requestsPerHour: number
  /** Wall-clock step of the scheduler (ms). */
  readonly tickMs: number
  readonly random?: () => number
}

interface Tracked {
  readonly device: ThinqDevice
  readonly id: string
  nextAt: number
  failures: number
}

type Status = { state: 'ok' | 'starting' | 'unauthorized' | 'rate-limited' | 'budget' | 'unreachable'; detail: string }

const RATE_PAUSE_MS = 15 * 60_000
const AUTH_RECHECK_MS = 60_000
const REDISCOVER_MS = 3_600_000

/**
 * Polls LG's cloud for appliance state (issue 6): each device at its type's interval, jittered so
 * devices do not poll in lockstep; per-device exponential backoff on errors; an offline appliance
 * (1222) is marked offline and polled at half speed; every request counts against an hourly budget
 * (LG enforces an unpublished per-user hourly limit — ours is configurable and conservative); a
 * rejected token or LG's own rate limit pauses everything and is one status change and one log line,
 * not a storm. Readings carry the poll time (ThinQ states have no timestamp).
 */
export class ThinqPoller implements Service {
  readonly name = 'thinq'
  readonly #o: ThinqPollerOptions
  readonly #devices = new Map<string, Tracked>()
  readonly #sent: number[] = []
  #timer: NodeJS.Timeout | undefined
  #pausedUntil = 0
  #discoveredAt = Number.NEGATIVE_INFINITY
  #busy = false
  #status: Status = { state: 'starting', detail: 'discovering devices' }

  constructor(options: ThinqPollerOptions) {
    this.#o = options
  }

  readonly healthCheck: HealthCheck = {
    name: 'thinq',
    critical: false,
    check: (): ServiceHealth =>
      this.#status.state === 'ok' ? { status: 'ok' } : { status: 'degraded', detail: `${this.#status.state}: ${this.#status.detail}` },
  }

  get status(): Status {
    return this.#status
  }

  /** Count a request against the hourly budget (the API client calls it for every request). */
  counted(): void {
    this.#sent.push(this.#o.clock.now())
  }

  async start(): Promise<void> {
    this.#timer = setInterval(() => void this.tick(), this.#o.tickMs)
    void this.tick()
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
  }

  /** One scheduler step (the timer calls it; tests too). */
  async tick(): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      const now = this.#o.clock.now()
      if (now < this.#pausedUntil) return
      if (now - this.#discoveredAt >= REDISCOVER_MS && !(await this.#discover(now))) return
      for (const t of [...this.#devices.values()].sort((a, b) => a.nextAt - b.nextAt)) {
        if (t.nextAt > this.#o.clock.now()) break
        if (!this.#budgetLeft()) {
          this.#set({ state: 'budget', detail: `hourly request budget (${this.#o.requestsPerHour}) used; polling slower` })
          break
        }
        if (!(await this.#poll(t))) break
      }
    } finally {
      this.#busy = false
    }
  }

  /** Control an appliance: a partial state document, validated by LG against the device profile. */
  async control(deviceId: string, partialState: Json): Promise<void> {
    const t = this.#devices.get(deviceId)
    if (!t) throw new CarehubError('CAREHUB_ERR_NOT_FOUND', `no ThinQ appliance "${deviceId}"`)
    try {
      await this.#o.api.control(t.device.deviceId, partialState)
    } catch (err) {
      if (!(err instanceof ThinqError)) throw err
      const code =
        err.failure === 'offline' || err.failure === 'transient' || err.failure === 'rate'
          ? 'CAREHUB_ERR_UPSTREAM_UNAVAILABLE'
          : err.failure === 'auth'
            ? 'CAREHUB_ERR_UNAUTHENTICATED'
            : 'CAREHUB_ERR_VALIDATION'
      throw new CarehubError(code, `${t.device.deviceInfo.alias ?? deviceId}: ${err.message}`, { cause: err })
    }
  }

  async #discover(now: number): Promise<boolean> {
    try {
      const list = await this.#o.api.devices()
      this.#discoveredAt = now
      const db = this.#o.db()
      for (const device of list) {
        const id = thinqDeviceId(device.deviceId)
        if (this.#devices.has(id)) continue
        const type = device.deviceInfo.deviceType.replace(/^DEVICE_/, '').toLowerCase()
        if (
          ensureDevice(db, { id, source: 'thinq', type, ...(device.deviceInfo.alias ? { name: device.deviceInfo.alias.slice(0, 80) } : {}) }, now)
        ) {
          this.#o.log.info({ device: id, type }, 'new LG ThinQ appliance')
        }
        const interval = this.#interval(device) * 1000
        this.#devices.set(id, { device, id, nextAt: now + Math.floor((this.#o.random ?? Math.random)() * interval), failures: 0 })
      }
      this.#set({ state: 'ok', detail: `${this.#devices.size} appliances` })
      return true
    } catch (err) {
      this.#failed(err, undefined)
      return false
    }
  }

  /** Poll one device; false when polling must stop for now (auth, rate limit). */
  async #poll(t: Tracked): Promise<boolean> {
    const now = this.#o.clock.now()
    const interval = this.#interval(t.device) * 1000
    try {
      const state = await this.#o.api.state(t.device.deviceId)
      await this.#record(t, state, this.#o.clock.now())
      t.failures = 0
      t.nextAt = now + interval * (0.9 + 0.2 * (this.#o.random ?? Math.random)())
      if (this.#status.state !== 'ok') this.#set({ state: 'ok', detail: `${this.#devices.size} appliances` })
      return true
    } catch (err) {
      return this.#failed(err, t)
    }
  }

  async #record(t: Tracked, state: Json, at: number): Promise<void> {
    const db = this.#o.db()
    setAvailability(db, t.id, 'online', at)
    const { targets, rejected } = mapThinqState(t.device.deviceInfo.deviceType, state)
    const pending: Promise<unknown>[] = targets.map((target) =>
      this.#o.committer.submit({
        reading: {
          deviceId: t.id,
          measurement: target.measurement,
          fields: target.fields,
          tags: {},
          ts: at,
          tsFromReceipt: true,
          receivedAt: at,
          source: 'thinq',
        },
      }),
    )
    for (const r of rejected) {
      const payload = new TextEncoder().encode(JSON.stringify(state).slice(0, 16_384))
      pending.push(
        this.#o.committer.submit({
          deadLetter: { receivedAt: at, source: 'thinq', origin: `thinq:${t.id}`, reasonCode: 'CAREHUB_ERR_VALIDATION', reason: r.reason, payload },
        }),
      )
    }
    await Promise.all(pending)
  }

  #failed(err: unknown, t: Tracked | undefined): boolean {
    const now = this.#o.clock.now()
    const e = err instanceof ThinqError ? err : new ThinqError('0000', 0, (err as Error).message)
    if (e.failure === 'auth') {
      this.#pausedUntil = now + AUTH_RECHECK_MS
      this.#set({ state: 'unauthorized', detail: `${e.message} — create a new personal access token and carehub secret set thinq.pat` })
      return false
    }
    if (e.failure === 'rate') {
      this.#pausedUntil = now + RATE_PAUSE_MS
      this.#set({ state: 'rate-limited', detail: `${e.message}; pausing ${RATE_PAUSE_MS / 60_000} min` })
      return false
    }
    if (!t) {
      this.#pausedUntil = now + AUTH_RECHECK_MS
      this.#set({ state: 'unreachable', detail: e.message })
      return false
    }
    const interval = this.#interval(t.device) * 1000
    if (e.failure === 'offline') {
      setAvailability(this.#o.db(), t.id, 'offline', now)
      t.nextAt = now + 2 * interval
      return true
    }
    t.failures++
    t.nextAt = now + Math.min(10 * 60_000, interval * 2 ** t.failures) * (0.75 + 0.5 * (this.#o.random ?? Math.random)())
    if (t.failures === 3) this.#o.log.warn({ device: t.id, err: e.message }, 'LG ThinQ keeps failing for this appliance; backing off')
    return true
  }

  #budgetLeft(): boolean {
    const hourAgo = this.#o.clock.now() - 3_600_000
    while ((this.#sent[0] ?? Number.POSITIVE_INFINITY) < hourAgo) this.#sent.shift()
    return this.#sent.length < this.#o.requestsPerHour
  }

  #interval(device: ThinqDevice): number {
    return this.#o.intervalOf(device.deviceInfo.deviceType)
  }

  #set(status: Status): void {
    const changed = status.state !== this.#status.state
    this.#status = status
    if (!changed) return
    if (status.state === 'ok') this.#o.log.info({ detail: status.detail }, 'LG ThinQ polling')
    else this.#o.log.warn({ state: status.state, detail: status.detail }, 'LG ThinQ not polled normally')
  }
}

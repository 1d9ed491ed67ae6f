import type { Logger } from 'pino'
import { Gauge, type Registry } from 'prom-client'
import type { Clock } from '../../core/clock.js'
import type { Service } from '../../core/service.js'
import type { Availability } from '../../store/devices.js'
import type { Db } from '../../store/open.js'

export interface PresenceOptions {
  readonly db: () => Db
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  /** Availability changes are written together every flushMs (a reconnect storm is one transaction). */
  readonly flushMs: number
  /** "Silent": no reading for silenceFactor × the device's usual interval (and at least minSilenceMs). */
  readonly silenceFactor: number
  readonly minSilenceMs: number
}

interface Rhythm {
  lastAt: number
  /** Exponentially weighted mean interval between readings, ms; null until two readings. */
  intervalMs: number | null
}

/**
 * Device presence: online/offline from MQTT connect/disconnect (keepalive expiry included) and from
 * the availability topic `care/{id}/status` (`online`/`offline`, the firmware's retained LWT), and
 * "silent" for a device that is connected but stopped reporting at its usual rhythm.
 */
export class Presence implements Service {
  readonly name = 'presence'
  readonly #o: PresenceOptions
  readonly #pending = new Map<string, Availability>()
  readonly #rhythm = new Map<string, Rhythm>()
  #timer: NodeJS.Timeout | undefined

  constructor(options: PresenceOptions) {
    this.#o = options
    const self = this
    new Gauge({
      name: 'carehub_devices_silent',
      help: 'Devices that stopped reporting at their usual rhythm',
      registers: [options.registry],
      collect() {
        this.set(self.silentDevices().length)
      },
    })
  }

  connected(deviceId: string): void {
    this.#pending.set(deviceId, 'online')
  }

  disconnected(deviceId: string): void {
    this.#pending.set(deviceId, 'offline')
  }

  statusMessage(deviceId: string, text: string): void {
    if (text === 'online' || text === 'offline') this.#pending.set(deviceId, text)
    else this.#o.log.debug({ deviceId, text: text.slice(0, 32) }, 'ignored availability payload (expected online/offline)')
  }

  readingSeen(deviceId: string, at: number): void {
    const r = this.#rhythm.get(deviceId)
    if (!r) {
      this.#rhythm.set(deviceId, { lastAt: at, intervalMs: null })
      return
    }
    const gap = at - r.lastAt
    if (gap > 0) r.intervalMs = r.intervalMs === null ? gap : 0.8 * r.intervalMs + 0.2 * gap
    r.lastAt = at
  }

  /** Devices whose last reading is older than silenceFactor × their usual interval. */
  silentDevices(now = this.#o.clock.now()): Array<{ deviceId: string; lastAt: number; usualIntervalMs: number }> {
    const out: Array<{ deviceId: string; lastAt: number; usualIntervalMs: number }> = []
    for (const [deviceId, r] of this.#rhythm) {
      if (r.intervalMs === null) continue
      if (now - r.lastAt > Math.max(this.#o.minSilenceMs, this.#o.silenceFactor * r.intervalMs)) {
        out.push({ deviceId, lastAt: r.lastAt, usualIntervalMs: Math.round(r.intervalMs) })
      }
    }
    return out
  }

  isSilent(deviceId: string): boolean {
    return this.silentDevices().some((d) => d.deviceId === deviceId)
  }

  flush(): void {
    if (this.#pending.size === 0) return
    const changes = [...this.#pending]
    this.#pending.clear()
    const now = this.#o.clock.now()
    const db = this.#o.db()
    const update = db.prepare('UPDATE devices SET availability = ?, updated_at = ? WHERE id = ?')
    db.transaction(() => {
      for (const [id, availability] of changes) update.run(availability, now, id)
    })()
  }

  async start(): Promise<void> {
    this.#timer = setInterval(() => {
      try {
        this.flush()
      } catch (err) {
        this.#o.log.error({ err }, 'presence update failed')
      }
    }, this.#o.flushMs)
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.flush()
  }
}

import type { Logger } from 'pino'
import { Gauge, type Registry } from 'prom-client'
import type { Clock } from '../../core/clock.js'
import type { Service } from '../../core/service.js'
import type { Availability } from '../../store/devices.js'
import { LAST_SEEN_SQL } from '../../store/last-seen.js'
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
  /**
   * Runs a write inside the journal's next group commit (JournalCommitter.write). The periodic flush
   * rides along there, sharing its fsync, instead of a transaction and fsync of its own every second
   * on the event loop (measured: the largest stall of the PUBACKs at 1k readings/s after the rollups).
   * Absent: the flush writes on its own.
   */
  readonly write?: (fn: (db: Db) => void) => Promise<void>
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
  /** Open sessions per device (a device may hold `id` and `id:suffix` at once). */
  readonly #sessions = new Map<string, number>()
  readonly #rhythmChanged = new Set<string>()
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
    this.#sessions.set(deviceId, (this.#sessions.get(deviceId) ?? 0) + 1)
    this.#pending.set(deviceId, 'online')
  }

  /** Offline only when the device's last session closed (keepalive expiry included). */
  disconnected(deviceId: string): void {
    const left = (this.#sessions.get(deviceId) ?? 1) - 1
    if (left > 0) {
      this.#sessions.set(deviceId, left)
      return
    }
    this.#sessions.delete(deviceId)
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
    if (gap > 0) {
      r.intervalMs = r.intervalMs === null ? gap : 0.8 * r.intervalMs + 0.2 * gap
      this.#rhythmChanged.add(deviceId)
    }
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

  /** Write the pending changes now, in a transaction of their own. */
  flush(): void {
    const write = this.#take()
    if (!write) return
    const db = this.#o.db()
    db.transaction(() => write(db)).immediate()
  }

  /** The pending changes as one write (undefined: nothing changed); the pending sets start empty again. */
  #take(): ((db: Db) => void) | undefined {
    if (this.#pending.size === 0 && this.#rhythmChanged.size === 0) return undefined
    const changes = [...this.#pending]
    const rhythms = [...this.#rhythmChanged].map((id) => [id, Math.round(this.#rhythm.get(id)?.intervalMs ?? 0)] as const)
    this.#pending.clear()
    this.#rhythmChanged.clear()
    const now = this.#o.clock.now()
    return (db) => {
      const update = db.prepare('UPDATE devices SET availability = ?, updated_at = ? WHERE id = ?')
      const interval = db.prepare('UPDATE devices SET report_interval_ms = ? WHERE id = ?')
      for (const [id, availability] of changes) update.run(availability, now, id)
      for (const [id, ms] of rhythms) interval.run(ms, id)
    }
  }

  #tick(): void {
    const ride = this.#o.write
    const write = ride && this.#take()
    if (!ride) this.flush()
    else if (write) ride(write).catch((err) => this.#o.log.error({ err }, 'presence update failed'))
  }

  async start(): Promise<void> {
    const db = this.#o.db()
    // Nothing is connected yet: an "online" left by a crash or power cut is not true any more.
    db.prepare("UPDATE devices SET availability = 'offline', updated_at = ? WHERE source = 'mqtt' AND availability = 'online'").run(
      this.#o.clock.now(),
    )
    // The rhythm survives restarts, so a sensor that died during the outage shows as silent.
    const rows = db
      .prepare(
        `SELECT id, ${LAST_SEEN_SQL} AS lastAt, report_interval_ms AS intervalMs FROM devices d WHERE source = 'mqtt' AND last_seen_at IS NOT NULL`,
      )
      .all() as Array<{ id: string; lastAt: number; intervalMs: number | null }>
    for (const r of rows) this.#rhythm.set(r.id, { lastAt: r.lastAt, intervalMs: r.intervalMs })
    this.#timer = setInterval(() => {
      try {
        this.#tick()
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

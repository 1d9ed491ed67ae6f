import type { Logger } from 'pino'
import type { Service } from '../core/service.js'
import type { HealthRegistry } from './health.js'
import type { SystemdNotifier } from './systemd-notifier.js'

/**
 * Pings systemd's watchdog at half the WatchdogSec period (sd_watchdog_enabled(3) advice), but only
 * while the critical parts report healthy: a gateway whose event loop is stuck, or whose store is
 * gone, stops pinging and systemd restarts it. Missing one ping is tolerated by the half period.
 */
export class Watchdog implements Service {
  readonly name = 'watchdog'
  readonly #notifier: SystemdNotifier
  readonly #health: HealthRegistry
  readonly #log: Logger
  #timer: NodeJS.Timeout | undefined

  constructor(deps: { notifier: SystemdNotifier; health: HealthRegistry; log: Logger }) {
    this.#notifier = deps.notifier
    this.#health = deps.health
    this.#log = deps.log
  }

  async start(): Promise<void> {
    const interval = this.#notifier.watchdogIntervalMs()
    if (interval === null) return
    const period = Math.max(50, Math.floor(interval / 2))
    this.#log.info({ periodMs: period }, 'systemd watchdog enabled')
    this.#timer = setInterval(() => void this.#tick(), period)
  }

  async #tick(): Promise<void> {
    const report = await this.#health.report()
    if (report.status === 'down') {
      this.#log.error({ checks: report.checks }, 'not pinging the systemd watchdog: a critical part is down')
      return
    }
    this.#notifier.watchdog()
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}

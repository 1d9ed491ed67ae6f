import type { Logger } from 'pino'
import type { Service } from './service.js'

export interface RunnerHooks {
  /** Before each part starts (the composition root reports it as systemd STATUS=). */
  readonly starting?: (name: string) => void
  readonly started?: (name: string) => void
  readonly stopped?: (name: string) => void
  /** A part failed to stop; the runner goes on stopping the others. */
  readonly stopFailed?: (name: string, err: unknown) => void
}

/**
 * Starts services in order and stops them in reverse — the lifecycle every long-lived part shares
 * (Zigbee2MQTT's controller). A part failing to start stops everything already started; stop()
 * during a start waits for it, so nothing is stopped while something before it is still starting.
 */
export class ServiceRunner {
  readonly #services: readonly Service[]
  readonly #hooks: RunnerHooks
  readonly #log: Logger
  readonly #started: Service[] = []
  #stopRequested = false
  #starting: Promise<void> | undefined

  constructor(services: readonly Service[], log: Logger, hooks: RunnerHooks = {}) {
    this.#services = services
    this.#log = log
    this.#hooks = hooks
  }

  get stopRequested(): boolean {
    return this.#stopRequested
  }

  async start(): Promise<void> {
    this.#starting = this.#startAll()
    await this.#starting
  }

  async #startAll(): Promise<void> {
    for (const service of this.#services) {
      // A signal arrived during start-up: stop() waits for this loop, then stops what started.
      if (this.#stopRequested) return
      this.#hooks.starting?.(service.name)
      try {
        await service.start()
      } catch (err) {
        await this.#stopAll()
        throw err
      }
      this.#started.push(service)
      this.#hooks.started?.(service.name)
    }
  }

  async stop(): Promise<void> {
    this.#stopRequested = true
    await this.#starting?.catch(() => {})
    await this.#stopAll()
  }

  async #stopAll(): Promise<void> {
    while (this.#started.length > 0) {
      const service = this.#started.pop() as Service
      try {
        await service.stop()
        this.#hooks.stopped?.(service.name)
      } catch (err) {
        this.#log.error({ err, service: service.name }, 'service failed to stop')
        this.#hooks.stopFailed?.(service.name, err)
      }
    }
  }
}

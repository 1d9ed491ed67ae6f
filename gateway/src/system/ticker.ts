import type { Logger } from 'pino'
import type { Service } from '../core/service.js'

/** A periodic job as a service: runs every periodMs, never overlapping itself, errors logged not thrown. */
export class Ticker implements Service {
  readonly name: string
  readonly #periodMs: number
  readonly #log: Logger
  readonly #job: () => Promise<void>
  #timer: NodeJS.Timeout | undefined
  #running = false

  constructor(name: string, periodMs: number, log: Logger, job: () => Promise<void>) {
    this.name = name
    this.#periodMs = periodMs
    this.#log = log
    this.#job = job
  }

  async start(): Promise<void> {
    this.#timer = setInterval(() => void this.run(), this.#periodMs)
  }

  async run(): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      await this.#job()
    } catch (err) {
      this.#log.error({ err, job: this.name }, 'periodic job failed')
    } finally {
      this.#running = false
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
  }
}

import { CarehubError } from '../core/errors.js'

/**
 * At most `concurrency` password hashes at once (argon2id at 19 MiB each: 200 simultaneous sign-ins
 * would need ~4 GB — security-reliability §4), a short queue behind them, and 429 beyond it.
 */
export class HashGate {
  readonly #concurrency: number
  readonly #queueLimit: number
  #active = 0
  readonly #queue: Array<() => void> = []

  constructor(concurrency: number, queueLimit: number) {
    this.#concurrency = concurrency
    this.#queueLimit = queueLimit
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#concurrency) {
      if (this.#queue.length >= this.#queueLimit) {
        throw new CarehubError('CAREHUB_ERR_RATE_LIMITED', 'the box is busy checking other sign-ins; try again in a second', {
          details: { retryAfterSeconds: 1 },
        })
      }
      await new Promise<void>((resolve) => this.#queue.push(resolve))
    } else {
      this.#active++
    }
    try {
      return await work()
    } finally {
      const next = this.#queue.shift()
      if (next) next()
      else this.#active--
    }
  }
}

import type { Logger } from 'pino'
import type { Service } from '../core/service.js'
import type { BrokerService } from './broker-service.js'

/**
 * Revocation made by another process (the `carehub device revoke` command writes the store) reaches
 * the broker by polling a cheap revocation fingerprint every intervalMs: new connections are refused
 * at once (the check at connect reads the store), connected clients are cut within one interval.
 */
export interface RevocationWatchDeps {
  readonly broker: BrokerService
  /** Changes whenever a certificate is revoked. */
  readonly version: () => string
  readonly problem: (serial: string, deviceId: string) => string | null
  readonly intervalMs: number
  readonly log: Logger
}

export class RevocationWatch implements Service {
  readonly name = 'revocation-watch'
  readonly #d: RevocationWatchDeps
  #timer: NodeJS.Timeout | undefined
  #seen = ''

  constructor(deps: RevocationWatchDeps) {
    this.#d = deps
  }

  /** Disconnect every connected client whose certificate is no longer acceptable. Returns how many. */
  sweep(): number {
    let cut = 0
    for (const { client, session } of this.#d.broker.connected()) {
      if (session.serial === null) continue
      const problem = this.#d.problem(session.serial, session.deviceId)
      if (problem === null) continue
      this.#d.log.warn({ deviceId: session.deviceId, problem }, 'disconnecting a client whose certificate was revoked')
      client.close()
      cut++
    }
    return cut
  }

  async start(): Promise<void> {
    this.#seen = this.#d.version()
    this.#timer = setInterval(() => {
      try {
        const version = this.#d.version()
        if (version === this.#seen) return
        this.#seen = version
        this.sweep()
      } catch (err) {
        this.#d.log.error({ err }, 'revocation check failed')
      }
    }, this.#d.intervalMs)
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
  }
}

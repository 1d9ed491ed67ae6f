import type { Logger } from 'pino'
import type { Clock } from '../core/clock.js'
import { CarehubError } from '../core/errors.js'
import type { HealthCheck, Service } from '../core/service.js'
import { type Db, openStore } from './open.js'

/** The SQLite store as a long-lived part: opened (and checked, migrated) on start, closed on stop. */
export class StoreService implements Service {
  readonly name = 'store'
  readonly #path: string
  readonly #log: Logger
  readonly #clock: Clock
  readonly #checkIntegrity: () => boolean
  #db: Db | undefined

  constructor(deps: { path: string; log: Logger; clock: Clock; checkIntegrity: () => boolean }) {
    this.#path = deps.path
    this.#log = deps.log
    this.#clock = deps.clock
    this.#checkIntegrity = deps.checkIntegrity
  }

  get db(): Db {
    if (!this.#db) throw new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', 'the store is not open')
    return this.#db
  }

  get isOpen(): boolean {
    return this.#db?.open === true
  }

  readonly healthCheck: HealthCheck = {
    name: 'store',
    critical: true,
    check: () => {
      if (!this.#db?.open) return { status: 'down', detail: 'not open' }
      this.#db.prepare('SELECT 1').get()
      return { status: 'ok' }
    },
  }

  async start(): Promise<void> {
    this.#db = openStore({ path: this.#path, log: this.#log, now: this.#clock.now(), checkIntegrity: this.#checkIntegrity() })
    this.#log.info({ path: this.#path }, 'store open (WAL, synchronous=FULL)')
  }

  async stop(): Promise<void> {
    const db = this.#db
    if (!db?.open) return
    try {
      // Fold the WAL back so a copy of the main file alone is a complete backup after a clean stop.
      db.pragma('wal_checkpoint(TRUNCATE)')
      db.pragma('optimize')
    } finally {
      db.close()
      this.#log.info('store closed')
    }
  }
}

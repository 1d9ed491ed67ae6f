import type { Logger } from 'pino'
import type { Clock } from '../core/clock.js'
import { CarehubError } from '../core/errors.js'
import type { HealthCheck, Service } from '../core/service.js'
import { type Db, openStore } from './open.js'
import { moveRollupsOut, openRollupDb } from './rollup-db.js'

/**
 * The SQLite store as a long-lived part: the journal (carehub.db) and the rollups (rollups.db,
 * rollup-db.ts), opened (and checked, migrated) on start, closed on stop.
 */
export class StoreService implements Service {
  readonly name = 'store'
  readonly #path: string
  readonly #rollupPath: string
  readonly #log: Logger
  readonly #clock: Clock
  readonly #checkIntegrity: () => boolean
  readonly #onUpgrade: ((fileBytes: number, worstMs: number) => void) | undefined
  #db: Db | undefined
  #rollupDb: Db | undefined

  constructor(deps: {
    path: string
    rollupPath: string
    log: Logger
    clock: Clock
    checkIntegrity: () => boolean
    /** Before migrations run on an existing journal (open.ts, onUpgrade). */
    onUpgrade?: (fileBytes: number, worstMs: number) => void
  }) {
    this.#onUpgrade = deps.onUpgrade
    this.#path = deps.path
    this.#rollupPath = deps.rollupPath
    this.#log = deps.log
    this.#clock = deps.clock
    this.#checkIntegrity = deps.checkIntegrity
  }

  get db(): Db {
    if (!this.#db) throw new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', 'the store is not open')
    return this.#db
  }

  /** The rollup database (rollups.db). */
  get rollupDb(): Db {
    if (!this.#rollupDb) throw new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', 'the store is not open')
    return this.#rollupDb
  }

  get isOpen(): boolean {
    return this.#db?.open === true
  }

  readonly healthCheck: HealthCheck = {
    name: 'store',
    critical: true,
    check: () => {
      if (!this.#db?.open || !this.#rollupDb?.open) return { status: 'down', detail: 'not open' }
      this.#db.prepare('SELECT 1').get()
      this.#rollupDb.prepare('SELECT 1').get()
      return { status: 'ok' }
    },
  }

  async start(): Promise<void> {
    const now = this.#clock.now()
    const checkIntegrity = this.#checkIntegrity()
    const db = openStore({ path: this.#path, log: this.#log, now, checkIntegrity, onUpgrade: this.#onUpgrade })
    try {
      this.#rollupDb = openRollupDb({ path: this.#rollupPath, journalPath: this.#path, log: this.#log, now, checkIntegrity })
      const moved = moveRollupsOut(db, this.#rollupDb)
      if (moved > 0) this.#log.info({ rows: moved, to: this.#rollupPath }, 'rollups moved out of the journal into their own file')
    } catch (err) {
      this.#rollupDb?.close()
      db.close()
      throw err
    }
    this.#db = db
    this.#log.info({ path: this.#path, rollups: this.#rollupPath }, 'store open (WAL, synchronous=FULL)')
  }

  async stop(): Promise<void> {
    for (const db of [this.#rollupDb, this.#db]) {
      if (!db?.open) continue
      try {
        // Fold the WAL back so a copy of the two files alone is a complete backup after a clean stop.
        db.pragma('main.wal_checkpoint(TRUNCATE)')
        db.pragma('main.optimize')
      } finally {
        db.close()
      }
    }
    this.#log.info('store closed')
  }
}

import Database from 'better-sqlite3'
import type { Logger } from 'pino'
import { CarehubError } from '../core/errors.js'
import { migrate } from './migrate.js'
import { MIGRATIONS } from './migrations/registry.js'

export type Db = Database.Database

export interface OpenStoreOptions {
  readonly path: string
  readonly log: Logger
  readonly now: number
  /** Run PRAGMA integrity_check before anything writes (after an unclean stop). */
  readonly checkIntegrity: boolean
}

/** SQLite result codes better-sqlite3 reports for a file that is not (or no longer) a database. */
const CORRUPTION_CODES = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_CORRUPT_INDEX', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_VTAB'])

function corrupt(path: string, reason: string, cause?: unknown): CarehubError {
  return new CarehubError(
    'CAREHUB_ERR_STORE_CORRUPT',
    `${path} is damaged (${reason}); it was left untouched — stop the gateway, move the file (with its -wal and -shm) aside and restore the latest backup, or start with an empty data folder`,
    { cause },
  )
}

/**
 * Open the store with the durability the design promises (DESIGN invariant 1):
 * WAL + synchronous=FULL, both read back and asserted, because better-sqlite3 is built with
 * SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 and would otherwise silently run NORMAL, where a committed
 * transaction "might roll back following a power loss" (sqlite.org pragma.html#pragma_synchronous).
 * Nothing is written before the integrity check, so a damaged file is refused unmodified.
 */
export function openStore(options: OpenStoreOptions): Db {
  const { path, log } = options
  let db: Db
  try {
    db = new Database(path, { fileMustExist: false })
  } catch (err) {
    throw new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', `cannot open ${path}: ${(err as Error).message}`, { cause: err })
  }
  try {
    // A read first: on a non-database file this fails before any pragma could write a WAL.
    db.pragma('schema_version', { simple: true })
    if (options.checkIntegrity) {
      const started = performance.now()
      const rows = db.pragma('integrity_check(20)') as Array<{ integrity_check: string }>
      const problems = rows.map((r) => r.integrity_check).filter((r) => r !== 'ok')
      if (problems.length > 0) throw corrupt(path, `integrity check: ${problems.slice(0, 3).join('; ')}`)
      log.info({ ms: Math.round(performance.now() - started) }, 'integrity check passed after an unclean stop')
    }
    const mode = db.pragma('journal_mode = WAL', { simple: true })
    if (mode !== 'wal') throw durability(path, `journal_mode is ${String(mode)}, expected wal`)
    db.pragma('synchronous = FULL')
    const sync = db.pragma('synchronous', { simple: true })
    if (sync !== 2) throw durability(path, `synchronous is ${String(sync)}, expected 2 (FULL)`)
    db.pragma('foreign_keys = ON')
    if (db.pragma('foreign_keys', { simple: true }) !== 1) throw durability(path, 'foreign_keys could not be enabled')
    db.pragma('busy_timeout = 5000')
    migrate(db, MIGRATIONS, options.now, path)
    return db
  } catch (err) {
    db.close()
    if (err instanceof CarehubError) throw err
    const code = (err as { code?: string }).code
    if (code && CORRUPTION_CODES.has(code)) throw corrupt(path, (err as Error).message, err)
    throw new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', `cannot use ${path}: ${(err as Error).message}`, { cause: err })
  }
}

function durability(path: string, what: string): CarehubError {
  return new CarehubError('CAREHUB_ERR_STORE_DURABILITY', `${path}: ${what}; refusing to acknowledge data that might not survive a power cut`)
}

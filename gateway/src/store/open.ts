import { existsSync, statSync } from 'node:fs'
import Database from 'better-sqlite3'
import type { Logger } from 'pino'
import { CarehubError } from '../core/errors.js'
import { migrate } from './migrate.js'
import { MIGRATIONS, type Migration } from './migrations/registry.js'
import { SAFETY_NET_AUTOCHECKPOINT_PAGES } from './wal-checkpointer.js'

export type Db = Database.Database

export interface OpenStoreOptions {
  readonly path: string
  readonly log: Logger
  readonly now: number
  /** Run PRAGMA integrity_check before anything writes (after an unclean stop). */
  readonly checkIntegrity: boolean
  /** The schema this file follows (default: the journal's). */
  readonly migrations?: readonly Migration[]
  /**
   * Called before migrations run on an existing file, with its size and how long they may take
   * at worst: some rebuild a table (008 the journal), minutes on a Pi's SD card for a large one.
   */
  readonly onUpgrade?: (fileBytes: number, worstMs: number) => void
}

/**
 * A table rebuild's pace at worst. Measured: migration 008 copied 1M readings (138 MiB) in 3.7 s
 * and 3M in 12 s on the bench's Xeon host (37 MiB/s); this allows an SD card twenty times slower.
 */
const UPGRADE_BYTES_PER_SECOND = 2 * 1024 * 1024

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
 * Nothing is written before the read-only checks pass, so a damaged file is refused unmodified.
 */
export function openStore(options: OpenStoreOptions): Db {
  const { path } = options
  // Checks run on a read-only connection first: closing a read-write connection on a damaged file
  // would checkpoint its WAL into it and delete the WAL — the evidence a person needs to recover.
  if (existsSync(path) && statSync(path).size > 0) checkReadOnly(options)
  let db: Db
  try {
    db = new Database(path, { fileMustExist: false })
  } catch (err) {
    throw new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', `cannot open ${path}: ${(err as Error).message}`, { cause: err })
  }
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true })
    if (mode !== 'wal') throw durability(path, `journal_mode is ${String(mode)}, expected wal`)
    db.pragma('synchronous = FULL')
    const sync = db.pragma('synchronous', { simple: true })
    if (sync !== 2) throw durability(path, `synchronous is ${String(sync)}, expected 2 (FULL)`)
    db.pragma('foreign_keys = ON')
    if (db.pragma('foreign_keys', { simple: true }) !== 1) throw durability(path, 'foreign_keys could not be enabled')
    db.pragma('busy_timeout = 5000')
    // Checkpoints run in a worker (wal-checkpointer.ts); this is only the safety net.
    db.pragma(`wal_autocheckpoint = ${SAFETY_NET_AUTOCHECKPOINT_PAGES}`)
    // No journal_size_limit: cutting a WAL back when it starts over, then growing it again, made
    // its fdatasync stall ~1 s in 2 of 2 bench W1 runs (none without). The -wal file keeps its
    // largest size (the checkpointer restarts it from 8,000 frames, ~33 MB, sampled once a second)
    // and is rewritten in place.
    const result = migrate(db, options.migrations ?? MIGRATIONS, options.now, path, (pending) => {
      const bytes = statSync(path).size
      const worstMs = 60_000 + (bytes / UPGRADE_BYTES_PER_SECOND) * 1000
      options.log.info(
        { path, mib: Math.round(bytes / 2 ** 20), migrations: pending.map((m) => m.name) },
        'upgrading the store; this can take a while',
      )
      options.onUpgrade?.(bytes, worstMs)
    })
    // A migration's transaction went through the WAL, which keeps its largest size (no
    // journal_size_limit, above): after a rebuilt journal that would be the journal's size again.
    if (result.from > 0 && result.applied.length > 0) db.pragma('wal_checkpoint(TRUNCATE)')
    return db
  } catch (err) {
    db.close()
    throw translate(err, path)
  }
}

/** Open an existing store read-only (for `carehub status`): never creates, migrates or writes. */
export function openStoreReadOnly(path: string): Db {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true })
    db.pragma('busy_timeout = 5000')
    return db
  } catch (err) {
    throw translate(err, path)
  }
}

function checkReadOnly(options: OpenStoreOptions): void {
  const { path, log } = options
  let ro: Db | undefined
  try {
    ro = new Database(path, { readonly: true, fileMustExist: true })
    // A read first: on a file that is not a database this fails before anything else.
    ro.pragma('schema_version', { simple: true })
    if (!options.checkIntegrity) return
    const started = performance.now()
    let rows: Array<{ integrity_check: string }>
    try {
      rows = ro.pragma('integrity_check(20)') as Array<{ integrity_check: string }>
    } catch (err) {
      // Damage in the schema itself stops the check before it can list anything: still its finding.
      const code = (err as { code?: string }).code
      if (code && CORRUPTION_CODES.has(code)) throw corrupt(path, `integrity check: ${(err as Error).message}`, err)
      throw err
    }
    const problems = rows.flatMap((r) => r.integrity_check.split('\n')).filter((r) => r !== 'ok')
    if (problems.length > 0) throw corrupt(path, `integrity check: ${problems.slice(0, 3).join('; ').slice(0, 300)}`)
    log.info({ ms: Math.round(performance.now() - started) }, 'integrity check passed after an unclean stop')
  } catch (err) {
    throw translate(err, path)
  } finally {
    ro?.close()
  }
}

function translate(err: unknown, path: string): CarehubError {
  if (err instanceof CarehubError) return err
  const code = (err as { code?: string }).code
  if (code && CORRUPTION_CODES.has(code)) return corrupt(path, (err as Error).message, err)
  if (code === 'SQLITE_CANTOPEN')
    return new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', `no database at ${path} (has the gateway run with this CAREHUB_DATA_DIR?)`, {
      cause: err,
    })
  return new CarehubError('CAREHUB_ERR_STORE_UNAVAILABLE', `cannot use ${path}: ${(err as Error).message}`, { cause: err })
}

function durability(path: string, what: string): CarehubError {
  return new CarehubError('CAREHUB_ERR_STORE_DURABILITY', `${path}: ${what}; refusing to acknowledge data that might not survive a power cut`)
}

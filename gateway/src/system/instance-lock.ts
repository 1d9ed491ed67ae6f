import { existsSync, readFileSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { CarehubError } from '../core/errors.js'
import { writeFileAtomic } from './atomic-file.js'
import { LOCK_FILE, PID_FILE } from './data-layout.js'

interface PidContent {
  readonly pid: number
  readonly startedAt: number
}

export interface AcquiredLock {
  /** True when the previous daemon left its pid file behind: it crashed or lost power. */
  readonly uncleanStop: boolean
  readonly previous: PidContent | null
  release(): void
}

/**
 * One daemon per data folder, enforced by an exclusive SQLite (fcntl) lock on `carehub.lock` held for
 * the daemon's whole life: the kernel releases it when the process dies, however it dies, so there
 * is no stale-lock guessing and no race between two starters. `carehub.pid` is the clean-stop
 * marker: written once the lock is held, removed on a clean stop; finding it means the last run
 * ended uncleanly and the store gets an integrity check.
 */
export function acquireInstanceLock(dataDir: string, me: PidContent): AcquiredLock {
  const lock = tryLock(dataDir)
  if (!lock) {
    const holder = readPidFile(dataDir)
    throw new CarehubError(
      'CAREHUB_ERR_ALREADY_RUNNING',
      `another CareHub gateway${holder ? ` (pid ${holder.pid})` : ''} is using this data folder; stop it first, or set CAREHUB_DATA_DIR to another folder`,
    )
  }
  const pidPath = join(dataDir, PID_FILE)
  const hadPidFile = existsSync(pidPath)
  const previous = hadPidFile ? (readPidFile(dataDir) ?? { pid: 0, startedAt: 0 }) : null
  try {
    writeFileAtomic(pidPath, JSON.stringify(me), 0o600)
  } catch (err) {
    lock.close()
    throw new CarehubError('CAREHUB_ERR_DATA_DIR', `cannot write ${pidPath}: ${(err as Error).message}`, { cause: err })
  }
  let released = false
  return {
    uncleanStop: hadPidFile,
    previous,
    release() {
      if (released) return
      released = true
      try {
        unlinkSync(pidPath)
      } finally {
        lock.close()
      }
    },
  }
}

/** For `carehub status`: the running daemon's pid file, if a daemon holds the lock; never blocks it. */
export function runningDaemon(dataDir: string): PidContent | null {
  if (!existsSync(join(dataDir, LOCK_FILE))) return null
  const lock = tryLock(dataDir, { probe: true })
  if (lock) {
    lock.close()
    return null
  }
  return readPidFile(dataDir) ?? { pid: 0, startedAt: 0 }
}

function tryLock(dataDir: string, options: { probe?: boolean } = {}): Database.Database | null {
  const path = join(dataDir, LOCK_FILE)
  let db: Database.Database
  try {
    db = new Database(path)
  } catch (err) {
    throw new CarehubError('CAREHUB_ERR_DATA_DIR', `cannot open ${path}: ${(err as Error).message}`, { cause: err })
  }
  try {
    // A probe gives up at once; a starter waits briefly in case a probe holds the lock that moment.
    db.pragma(`busy_timeout = ${options.probe ? 0 : 1000}`)
    if (options.probe) {
      db.exec('BEGIN IMMEDIATE; ROLLBACK')
    } else {
      // The lock file holds no data: without this, the never-ending transaction kept a
      // `carehub.lock-journal` beside it for the daemon's whole life.
      db.pragma('journal_mode = MEMORY')
      db.pragma('locking_mode = EXCLUSIVE')
      // The EXCLUSIVE lock stays held until this connection closes (locking_mode=EXCLUSIVE).
      db.exec('BEGIN EXCLUSIVE')
    }
    return db
  } catch (err) {
    db.close()
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return null
    throw new CarehubError('CAREHUB_ERR_DATA_DIR', `cannot lock ${path}: ${(err as Error).message}`, { cause: err })
  }
}

function readPidFile(dataDir: string): PidContent | null {
  try {
    const parsed = JSON.parse(readFileSync(join(dataDir, PID_FILE), 'utf8')) as Partial<PidContent>
    if (typeof parsed.pid === 'number') return { pid: parsed.pid, startedAt: Number(parsed.startedAt ?? 0) }
  } catch {
    // Missing, or half-written by a power cut: no usable content.
  }
  return null
}

import type { Database } from 'better-sqlite3'
import { CarehubError } from '../core/errors.js'
import type { Migration } from './migrations/registry.js'

export interface MigrationResult {
  readonly from: number
  readonly to: number
  readonly applied: readonly number[]
}

/**
 * Apply pending migrations, each in its own transaction together with its bookkeeping row, so a
 * crash leaves the database at a whole version. A database from a newer gateway is refused rather
 * than guessed at (forward-only: we never downgrade a schema).
 */
export function migrate(
  db: Database,
  migrations: readonly Migration[],
  now: number,
  path: string,
  /** Called once before any migration runs on a database that has some already (an upgrade). */
  beforeUpgrade?: (pending: readonly Migration[]) => void,
): MigrationResult {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`)
  const version = db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_migrations')
  const current = (version.get() as { v: number }).v
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0)
  if (current > latest) {
    throw new CarehubError(
      'CAREHUB_ERR_STORE_TOO_NEW',
      `${path} has schema version ${current} but this gateway knows only up to ${latest}; install the newer gateway again or restore a backup`,
    )
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
  const applied: number[] = []
  const pending = [...migrations].sort((a, b) => a.version - b.version).filter((m) => m.version > current)
  if (current > 0 && pending.length > 0) beforeUpgrade?.(pending)
  for (const m of pending) {
    // IMMEDIATE takes the write lock before reading the version again: the CLI and the daemon may
    // both open a new store at once, and only one may apply a migration.
    const ran = db
      .transaction(() => {
        if ((version.get() as { v: number }).v >= m.version) return false
        db.exec(m.sql)
        record.run(m.version, m.name, now)
        return true
      })
      .immediate()
    if (ran) applied.push(m.version)
  }
  return { from: current, to: Math.max(current, latest), applied }
}

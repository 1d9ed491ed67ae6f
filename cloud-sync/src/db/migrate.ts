import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import mysql from 'mysql2/promise'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url))

export interface MigrationReport {
  readonly from: number
  readonly to: number
  readonly applied: readonly string[]
}

/**
 * Apply the forward-only migrations (`migrations/NNN-name.sql`) not yet recorded in
 * schema_migrations, in order, under a named lock so two instances starting together do not both
 * migrate. MySQL DDL commits implicitly, so a file is one step: a failure stops with the file named,
 * and a database newer than this service is refused rather than guessed at.
 */
export async function migrate(url: string, dir = MIGRATIONS_DIR): Promise<MigrationReport> {
  const files = readdirSync(dir)
    .filter((f) => /^\d{3}-[a-z0-9-]+\.sql$/.test(f))
    .sort()
  const conn = await mysql.createConnection({ uri: url, multipleStatements: true })
  try {
    const [[lock]] = (await conn.query("SELECT GET_LOCK('carehub_cloud_migrate', 60) AS ok")) as unknown as [[{ ok: number }]]
    if (lock?.ok !== 1) throw new Error('another instance is migrating the database; try again in a minute')
    await conn.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, name VARCHAR(200) NOT NULL, applied_at BIGINT NOT NULL) ENGINE=InnoDB',
    )
    const [rows] = (await conn.query('SELECT version FROM schema_migrations')) as unknown as [Array<{ version: number }>]
    const done = new Set(rows.map((r) => r.version))
    const from = Math.max(0, ...done)
    const latest = files.length ? Number(files.at(-1)?.slice(0, 3)) : 0
    if (from > latest) throw new Error(`the database has schema version ${from}, this service knows only up to ${latest}: deploy the newer service`)
    const applied: string[] = []
    for (const file of files) {
      const version = Number(file.slice(0, 3))
      if (done.has(version)) continue
      try {
        await conn.query(readFileSync(join(dir, file), 'utf8'))
      } catch (err) {
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err })
      }
      await conn.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [version, file, Date.now()])
      applied.push(file)
    }
    await conn.query("SELECT RELEASE_LOCK('carehub_cloud_migrate')")
    return { from, to: Math.max(from, latest), applied }
  } finally {
    await conn.end()
  }
}

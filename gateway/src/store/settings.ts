import type { Db } from './open.js'

/** Small key/value facts the box keeps about itself (gateway id, …), JSON-encoded. */
export function getSetting<T>(db: Db, key: string): T | undefined {
  const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined
  return row ? (JSON.parse(row.value) as T) : undefined
}

export function setSetting(db: Db, key: string, value: unknown, now: number): void {
  db.prepare(
    `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
  ).run(key, JSON.stringify(value), now)
}

/** Read a setting, or store `make()` under it first; the first writer wins. */
export function getOrCreateSetting<T>(db: Db, key: string, make: () => T, now: number): T {
  return db
    .transaction(() => {
      const existing = getSetting<T>(db, key)
      if (existing !== undefined) return existing
      const value = make()
      setSetting(db, key, value, now)
      return value
    })
    .immediate()
}

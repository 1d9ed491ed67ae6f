import { type Rule, RuleSchema } from '../rules/rule-model.js'
import type { Db } from './open.js'

/** Rule definitions (the `rules` table): one JSON definition per rule, validated on the way in and out. */

export type RuleOrigin = 'api' | 'yaml'

export interface StoredRule {
  readonly rule: Rule
  readonly origin: RuleOrigin
  readonly version: number
  readonly createdAt: number
  readonly updatedAt: number
}

interface RuleRow {
  id: string
  name: string
  enabled: number
  definition: string
  origin: RuleOrigin
  version: number
  created_at: number
  updated_at: number
}

/**
 * Stored definitions passed the schema when written; parsing again keeps defaults current. One that
 * no longer parses (a schema tightened by an upgrade) is skipped, not fatal: the others run, and
 * `unreadableRules` names it so it can be deleted.
 */
const toStored = (r: RuleRow): StoredRule | null => {
  const parsed = RuleSchema.safeParse({ ...(JSON.parse(r.definition) as object), enabled: r.enabled === 1 })
  if (!parsed.success) return null
  return { rule: parsed.data, origin: r.origin, version: r.version, createdAt: r.created_at, updatedAt: r.updated_at }
}

export function listRules(db: Db): StoredRule[] {
  return (db.prepare('SELECT * FROM rules ORDER BY id').all() as RuleRow[]).map(toStored).filter((r) => r !== null)
}

export function getRule(db: Db, id: string): StoredRule | null {
  const row = db.prepare('SELECT * FROM rules WHERE id = ?').get(id) as RuleRow | undefined
  return row ? toStored(row) : null
}

/** Rules whose stored definition this version cannot read (reported at start; deletable by id). */
export function unreadableRules(db: Db): string[] {
  return (db.prepare('SELECT * FROM rules ORDER BY id').all() as RuleRow[]).filter((r) => toStored(r) === null).map((r) => r.id)
}

/** Where a rule came from, whether or not its definition can be read. */
export function ruleOrigin(db: Db, id: string): RuleOrigin | null {
  return (db.prepare('SELECT origin FROM rules WHERE id = ?').pluck().get(id) as RuleOrigin | undefined) ?? null
}

/** Insert or replace a rule; the version goes up only when the definition really changed. */
export function putRule(db: Db, rule: Rule, origin: RuleOrigin, now: number): { version: number; changed: boolean } {
  const definition = JSON.stringify(rule)
  const before = db.prepare('SELECT definition, version FROM rules WHERE id = ?').get(rule.id) as { definition: string; version: number } | undefined
  if (before?.definition === definition) return { version: before.version, changed: false }
  const version = (before?.version ?? 0) + 1
  db.prepare(
    `INSERT INTO rules (id, name, enabled, definition, origin, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, enabled = excluded.enabled, definition = excluded.definition,
       origin = excluded.origin, version = excluded.version, updated_at = excluded.updated_at`,
  ).run(rule.id, rule.name, rule.enabled ? 1 : 0, definition, origin, version, now, now)
  return { version, changed: true }
}

/** Rules at most (each reading is checked against every rule that watches its device or room). */
export const MAX_RULES = 500

export function countRules(db: Db): number {
  return db.prepare('SELECT count(*) FROM rules').pluck().get() as number
}

export function deleteRule(db: Db, id: string): boolean {
  return db.prepare('DELETE FROM rules WHERE id = ?').run(id).changes > 0
}

/** A number that changes whenever any rule does (the engine reloads when it moves; the CLI may edit). */
export function rulesVersion(db: Db): string {
  const row = db.prepare('SELECT count(*) AS n, coalesce(max(updated_at), 0) AS u, coalesce(sum(version), 0) AS v FROM rules').get() as {
    n: number
    u: number
    v: number
  }
  return `${row.n}:${row.u}:${row.v}`
}

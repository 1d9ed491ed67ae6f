import type { RuleState, Trace } from '../rules/evaluator.js'
import type { Db } from './open.js'
import { kept } from './statements.js'

/**
 * What makes the rules engine restart-safe: every rule's evaluator state and the journal seq it is
 * consistent with (the `rules` cursor), written together in one transaction, plus the traces.
 */

export const RULES_CURSOR = 'rules'

export interface SavedState {
  readonly ruleVersion: number
  readonly state: RuleState
}

export function rulesCursor(db: Db): number {
  return (db.prepare('SELECT seq FROM cursors WHERE consumer = ?').pluck().get(RULES_CURSOR) as number | undefined) ?? 0
}

export function loadRuleStates(db: Db): Map<string, SavedState> {
  const rows = db.prepare('SELECT rule_id, state FROM rule_state').all() as Array<{ rule_id: string; state: string }>
  return new Map(rows.map((r) => [r.rule_id, JSON.parse(r.state) as SavedState]))
}

/**
 * Must run inside the caller's transaction, with the effects of the same evaluations. The states
 * come as JSON text, serialised when the batch was taken: the live objects move on meanwhile.
 */
export function saveRuleStates(db: Db, states: ReadonlyMap<string, string>, cursor: number, now: number): void {
  const put = kept(
    db,
    'INSERT INTO rule_state (rule_id, state, updated_at, seq) VALUES (?, ?, ?, ?) ON CONFLICT (rule_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at, seq = excluded.seq',
  )
  for (const [ruleId, saved] of states) put.run(ruleId, saved, now, cursor)
  kept(
    db,
    'INSERT INTO cursors (consumer, seq, updated_at) VALUES (?, ?, ?) ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at',
  ).run(RULES_CURSOR, cursor, now)
}

export interface StoredTrace extends Trace {
  readonly id: number
  readonly ruleId: string
  readonly ruleVersion: number
  /** How much later than its own time the engine saw it (a timer that ran out while the box was off). */
  readonly lateMs: number
}

export function insertTraces(db: Db, ruleId: string, ruleVersion: number, traces: readonly Trace[], now: number): void {
  const put = kept(db, 'INSERT INTO rule_traces (rule_id, at, outcome, seq, detail) VALUES (?, ?, ?, ?, ?)')
  for (const t of traces) {
    const lateMs = Math.max(0, now - t.at)
    put.run(ruleId, t.at, t.outcome, t.seq, JSON.stringify({ reason: t.reason, message: t.message, views: t.views, ruleVersion, lateMs }))
  }
}

export function listTraces(db: Db, ruleId: string, q: { since?: number; outcome?: string; limit: number }): StoredTrace[] {
  const rows = db
    .prepare(
      `SELECT id, rule_id, at, outcome, seq, detail FROM rule_traces WHERE rule_id = ? AND at >= ? AND (? IS NULL OR outcome = ?)
       ORDER BY at DESC, id DESC LIMIT ?`,
    )
    .all(ruleId, q.since ?? 0, q.outcome ?? null, q.outcome ?? null, q.limit) as Array<{
    id: number
    rule_id: string
    at: number
    outcome: Trace['outcome']
    seq: number | null
    detail: string
  }>
  return rows.map((r) => {
    const d = JSON.parse(r.detail) as Pick<StoredTrace, 'reason' | 'message' | 'views' | 'ruleVersion' | 'lateMs'>
    return { id: r.id, ruleId: r.rule_id, at: r.at, outcome: r.outcome, seq: r.seq, ...d }
  })
}

/** Traces are for explaining recent behaviour: older than `before`, or beyond `keep` per rule, go. */
export function pruneTraces(db: Db, before: number, keep: number): number {
  let removed = db.prepare('DELETE FROM rule_traces WHERE at < ?').run(before).changes
  // Per rule through the (rule_id, at) index: the keep-th newest trace marks where to cut.
  const cut = db.prepare('SELECT at FROM rule_traces WHERE rule_id = ? ORDER BY at DESC LIMIT 1 OFFSET ?').pluck()
  const remove = db.prepare('DELETE FROM rule_traces WHERE rule_id = ? AND at <= ?')
  for (const ruleId of db.prepare('SELECT id FROM rules').pluck().all() as string[]) {
    const at = cut.get(ruleId, keep) as number | undefined
    if (at !== undefined) removed += remove.run(ruleId, at).changes
  }
  return removed
}

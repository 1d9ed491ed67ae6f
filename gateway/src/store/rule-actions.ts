import type { Db } from './open.js'
import { kept } from './statements.js'

/** The action journal: commands and webhooks a rule asked for, durable before they run, with their outcome. */

export type ActionKind = 'command' | 'webhook'
export type ActionStatus = 'pending' | 'done' | 'failed' | 'gave_up'

export interface RuleAction {
  readonly id: number
  readonly ruleId: string | null
  readonly alertId: number | null
  readonly kind: ActionKind
  readonly spec: Record<string, unknown>
  readonly key: string
  readonly status: ActionStatus
  readonly attempts: number
  readonly nextAttemptAt: number
  readonly outcome: Record<string, unknown> | null
  readonly createdAt: number
  readonly finishedAt: number | null
}

interface Row {
  id: number
  rule_id: string | null
  alert_id: number | null
  kind: ActionKind
  spec: string
  idempotency_key: string
  status: ActionStatus
  attempts: number
  next_attempt_at: number
  outcome: string | null
  created_at: number
  finished_at: number | null
}

const toAction = (r: Row): RuleAction => ({
  id: r.id,
  ruleId: r.rule_id,
  alertId: r.alert_id,
  kind: r.kind,
  spec: JSON.parse(r.spec) as Record<string, unknown>,
  key: r.idempotency_key,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  outcome: r.outcome === null ? null : (JSON.parse(r.outcome) as Record<string, unknown>),
  createdAt: r.created_at,
  finishedAt: r.finished_at,
})

/** Once per idempotency key: a replayed firing does not run its command twice. */
export function queueAction(
  db: Db,
  a: { ruleId: string; alertId: number | null; kind: ActionKind; spec: Record<string, unknown>; key: string },
  now: number,
): boolean {
  return (
    db
      .prepare(
        `INSERT INTO rule_actions (rule_id, alert_id, kind, spec, idempotency_key, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (idempotency_key) DO NOTHING`,
      )
      .run(a.ruleId, a.alertId, a.kind, JSON.stringify(a.spec), a.key, now, now).changes > 0
  )
}

export function dueActions(db: Db, now: number, limit: number): RuleAction[] {
  return (kept(db, "SELECT * FROM rule_actions WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?").all(now, limit) as Row[]).map(
    toAction,
  )
}

export function nextActionDue(db: Db): number | null {
  return (kept(db, "SELECT min(next_attempt_at) FROM rule_actions WHERE status = 'pending'", 'pluck').get() as number | null) ?? null
}

/** Record an attempt: finished (done / failed / gave_up) or pending again at `retryAt`. */
export function recordAttempt(db: Db, id: number, status: ActionStatus, outcome: Record<string, unknown>, now: number, retryAt?: number): void {
  db.prepare(
    'UPDATE rule_actions SET status = ?, attempts = attempts + 1, outcome = ?, next_attempt_at = coalesce(?, next_attempt_at), finished_at = ? WHERE id = ?',
  ).run(status, JSON.stringify(outcome), retryAt ?? null, status === 'pending' ? null : now, id)
}

export function actionsOfRule(db: Db, ruleId: string, limit: number): RuleAction[] {
  return (db.prepare('SELECT * FROM rule_actions WHERE rule_id = ? ORDER BY id DESC LIMIT ?').all(ruleId, limit) as Row[]).map(toAction)
}

/**
 * Finished actions and alert deliveries older than `before` go (their outcome was traced and
 * audited); pending ones stay whatever their age — alerts are never dropped.
 */
export function pruneFinished(db: Db, before: number): number {
  const actions = db.prepare("DELETE FROM rule_actions WHERE status != 'pending' AND finished_at < ?").run(before).changes
  const deliveries = db
    .prepare("DELETE FROM alert_deliveries WHERE status != 'pending' AND coalesce(delivered_at, next_attempt_at) < ?")
    .run(before).changes
  return actions + deliveries
}

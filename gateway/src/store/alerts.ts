import { CarehubError } from '../core/errors.js'
import type { Severity } from '../core/severity.js'
import type { Db } from './open.js'
import { kept } from './statements.js'

/**
 * Alerts and their lifecycle: open → acknowledged / snoozed → resolved (a snooze that runs out
 * re-opens the alert). Transitions are checked here, in one place, for the API and the engine.
 */

export const ALERT_STATES = ['open', 'acknowledged', 'snoozed', 'resolved'] as const
export type AlertState = (typeof ALERT_STATES)[number]

export interface Alert {
  readonly id: number
  readonly ruleId: string | null
  readonly ruleName: string | null
  readonly deviceId: string | null
  readonly severity: Severity
  readonly title: string
  readonly body: string | null
  readonly detail: Record<string, unknown>
  readonly seq: number | null
  readonly status: AlertState
  readonly autoResolve: boolean
  readonly raisedAt: number
  readonly createdAt: number
  readonly updatedAt: number
  readonly acknowledgedAt: number | null
  readonly acknowledgedBy: string | null
  readonly snoozedUntil: number | null
  readonly resolvedAt: number | null
  readonly resolvedBy: string | null
  /** Whether the asking user has marked it read (false when nobody asked). */
  readonly read: boolean
}

export interface NewAlert {
  readonly key: string
  readonly ruleId: string | null
  readonly ruleName: string | null
  readonly deviceId: string | null
  readonly severity: Severity
  readonly title: string
  readonly body: string | null
  readonly detail: Record<string, unknown>
  readonly seq: number | null
  readonly autoResolve: boolean
  readonly raisedAt: number
}

interface AlertRow {
  id: number
  rule_id: string | null
  rule_name: string | null
  device_id: string | null
  severity: Severity
  title: string
  body: string | null
  detail: string
  seq: number | null
  status: AlertState
  auto_resolve: number
  raised_at: number
  created_at: number
  updated_at: number
  acknowledged_at: number | null
  acknowledged_by: string | null
  snoozed_until: number | null
  resolved_at: number | null
  resolved_by: string | null
  read_at?: number | null
}

const toAlert = (r: AlertRow): Alert => ({
  id: r.id,
  ruleId: r.rule_id,
  ruleName: r.rule_name,
  deviceId: r.device_id,
  severity: r.severity,
  title: r.title,
  body: r.body,
  detail: JSON.parse(r.detail) as Record<string, unknown>,
  seq: r.seq,
  status: r.status,
  autoResolve: r.auto_resolve === 1,
  raisedAt: r.raised_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  acknowledgedAt: r.acknowledged_at,
  acknowledgedBy: r.acknowledged_by,
  snoozedUntil: r.snoozed_until,
  resolvedAt: r.resolved_at,
  resolvedBy: r.resolved_by,
  read: r.read_at !== null && r.read_at !== undefined,
})

/** Insert an alert once per idempotency key; a replay of the same firing returns the first one. */
export function raiseAlert(db: Db, a: NewAlert, now: number): { alert: Alert; created: boolean } {
  const info = kept(
    db,
    `INSERT INTO alerts (rule_id, rule_name, device_id, severity, title, body, detail, seq, auto_resolve, idempotency_key, raised_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
  ).run(
    a.ruleId,
    a.ruleName,
    a.deviceId,
    a.severity,
    a.title,
    a.body,
    JSON.stringify(a.detail),
    a.seq,
    a.autoResolve ? 1 : 0,
    a.key,
    a.raisedAt,
    now,
    now,
  )
  const row = kept(db, 'SELECT * FROM alerts WHERE idempotency_key = ?').get(a.key) as AlertRow
  return { alert: toAlert(row), created: info.changes > 0 }
}

export function getAlert(db: Db, id: number, userId?: number): Alert | null {
  const row = kept(db, 'SELECT a.*, r.at AS read_at FROM alerts a LEFT JOIN alert_reads r ON r.alert_id = a.id AND r.user_id = ? WHERE a.id = ?').get(
    userId ?? -1,
    id,
  ) as AlertRow | undefined
  return row ? toAlert(row) : null
}

export interface AlertFilter {
  readonly since?: number
  readonly states?: readonly AlertState[]
  readonly severity?: Severity
  readonly ruleId?: string
  readonly deviceId?: string
  readonly limit: number
  readonly beforeId?: number
}

/** Newest first; `beforeId` pages further back. */
export function listAlerts(db: Db, f: AlertFilter, userId?: number): Alert[] {
  const where: string[] = []
  const args: unknown[] = [userId ?? -1]
  if (f.since !== undefined) where.push('a.created_at >= ?') && args.push(f.since)
  if (f.states?.length) where.push(`a.status IN (${f.states.map(() => '?').join(',')})`) && args.push(...f.states)
  if (f.severity) where.push('a.severity = ?') && args.push(f.severity)
  if (f.ruleId) where.push('a.rule_id = ?') && args.push(f.ruleId)
  if (f.deviceId) where.push('a.device_id = ?') && args.push(f.deviceId)
  if (f.beforeId !== undefined) where.push('a.id < ?') && args.push(f.beforeId)
  const sql = `SELECT a.*, r.at AS read_at FROM alerts a LEFT JOIN alert_reads r ON r.alert_id = a.id AND r.user_id = ?
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY a.id DESC LIMIT ?`
  return (db.prepare(sql).all(...args, f.limit) as AlertRow[]).map(toAlert)
}

export type AlertTransition = { readonly to: 'acknowledged' } | { readonly to: 'snoozed'; readonly until: number } | { readonly to: 'resolved' }

const ALLOWED: Readonly<Record<AlertTransition['to'], readonly AlertState[]>> = {
  acknowledged: ['open', 'snoozed'],
  snoozed: ['open', 'acknowledged', 'snoozed'],
  resolved: ['open', 'acknowledged', 'snoozed'],
}

/** Move an alert along its lifecycle; a move the state does not allow is refused with the reason. */
export function transitionAlert(db: Db, id: number, t: AlertTransition, actor: string, now: number): { before: Alert; after: Alert } {
  const before = getAlert(db, id)
  if (!before) throw new CarehubError('CAREHUB_ERR_NOT_FOUND', `no alert ${id}`)
  if (!ALLOWED[t.to].includes(before.status)) {
    throw new CarehubError('CAREHUB_ERR_CONFLICT', `alert ${id} is ${before.status}; it cannot become ${t.to}`, {
      details: { status: before.status },
    })
  }
  if (t.to === 'acknowledged') {
    db.prepare(
      "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, snoozed_until = NULL, updated_at = ? WHERE id = ?",
    ).run(now, actor, now, id)
  } else if (t.to === 'snoozed') {
    db.prepare("UPDATE alerts SET status = 'snoozed', snoozed_until = ?, updated_at = ? WHERE id = ?").run(t.until, now, id)
  } else {
    db.prepare("UPDATE alerts SET status = 'resolved', resolved_at = ?, resolved_by = ?, snoozed_until = NULL, updated_at = ? WHERE id = ?").run(
      now,
      actor,
      now,
      id,
    )
  }
  return { before, after: getAlert(db, id) as Alert }
}

export function markRead(db: Db, id: number, userId: number, now: number): void {
  if (!getAlert(db, id)) throw new CarehubError('CAREHUB_ERR_NOT_FOUND', `no alert ${id}`)
  db.prepare('INSERT INTO alert_reads (alert_id, user_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(id, userId, now)
}

/**
 * The unresolved states by name, not `status != 'resolved'`: the (rule_id, status) index then seeks
 * each of them, where `!=` read every alert the rule ever raised (its history grows, these do not).
 */
export const RESOLVE_RULE_ALERTS = `UPDATE alerts SET status = 'resolved', resolved_at = ?, resolved_by = 'rule', snoozed_until = NULL, updated_at = ?
  WHERE rule_id = ? AND status IN ('open', 'acknowledged', 'snoozed') AND auto_resolve = 1 RETURNING id`

/** Auto-resolve: the rule's condition cleared, so its unresolved auto-resolving alerts resolve. */
export function resolveRuleAlerts(db: Db, ruleId: string, now: number): Alert[] {
  const ids = kept(db, RESOLVE_RULE_ALERTS, 'pluck').all(now, now, ruleId) as number[]
  return ids.map((id) => getAlert(db, id) as Alert)
}

/** Snoozes that ran out: the alerts open again (and are announced again). */
export function wakeSnoozed(db: Db, now: number): Alert[] {
  const ids = db
    .prepare("UPDATE alerts SET status = 'open', snoozed_until = NULL, updated_at = ? WHERE status = 'snoozed' AND snoozed_until <= ? RETURNING id")
    .pluck()
    .all(now, now) as number[]
  return ids.map((id) => getAlert(db, id) as Alert)
}

export function nextSnoozeEnd(db: Db): number | null {
  return (db.prepare("SELECT min(snoozed_until) FROM alerts WHERE status = 'snoozed'").pluck().get() as number | null) ?? null
}

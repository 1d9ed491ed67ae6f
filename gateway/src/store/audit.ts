import type { Db } from './open.js'

export interface AuditEntry {
  readonly at: number
  readonly actor: string
  readonly action: string
  readonly target?: string
  readonly outcome?: 'ok' | 'denied' | 'failed'
  readonly ip?: string
  readonly requestId?: string
  readonly detail?: Record<string, unknown>
}

/** Append to the audit log (append-only: triggers refuse UPDATE and DELETE). */
export function appendAudit(db: Db, e: AuditEntry): void {
  db.prepare(
    `INSERT INTO audit_log (at, actor, action, target, outcome, ip, request_id, detail)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(e.at, e.actor, e.action, e.target ?? null, e.outcome ?? 'ok', e.ip ?? null, e.requestId ?? null, JSON.stringify(e.detail ?? {}))
}

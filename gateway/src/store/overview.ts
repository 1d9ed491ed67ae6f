import type { Db } from './open.js'
import { countUsersByRole, type Role } from './users.js'

export interface ConsumerLag {
  readonly consumer: string
  readonly cursor: number
  /** Journal entries this consumer has not handled yet: its queue depth. */
  readonly pending: number
}

export interface StoreOverview {
  readonly schemaVersion: number
  readonly users: Record<Role, number>
  readonly devices: number
  readonly journal: { readonly firstSeq: number; readonly lastSeq: number }
  readonly consumers: readonly ConsumerLag[]
  readonly deadLetters: { readonly total: number; readonly last: readonly { at: number; source: string; reason: string }[] }
  /** Rules running, alerts not yet resolved (by severity) and alert deliveries waiting (by channel). */
  readonly rules: number
  readonly alerts: { readonly unresolved: Record<string, number>; readonly outbox: Record<string, number> }
}

/** What `carehub status` and /health/ready report about the data, in a handful of indexed reads. */
export function storeOverview(db: Db): StoreOverview {
  const scalar = (sql: string) => (db.prepare(sql).pluck().get() as number | null) ?? 0
  const lastSeq = scalar('SELECT max(seq) FROM readings')
  const consumers = (db.prepare('SELECT consumer, seq FROM cursors ORDER BY consumer').all() as Array<{ consumer: string; seq: number }>).map(
    (c) => ({ consumer: c.consumer, cursor: c.seq, pending: Math.max(0, lastSeq - c.seq) }),
  )
  const last = db.prepare('SELECT received_at AS at, source, reason FROM dead_letters ORDER BY id DESC LIMIT 5').all() as Array<{
    at: number
    source: string
    reason: string
  }>
  return {
    schemaVersion: scalar('SELECT max(version) FROM schema_migrations'),
    users: countUsersByRole(db),
    devices: scalar('SELECT count(*) FROM devices'),
    // min/max of the rowid are index lookups; count(*) would scan a large journal.
    journal: { firstSeq: scalar('SELECT min(seq) FROM readings'), lastSeq },
    consumers,
    deadLetters: { total: scalar('SELECT count(*) FROM dead_letters'), last },
    rules: scalar('SELECT count(*) FROM rules WHERE enabled = 1'),
    alerts: {
      unresolved: counts(db, "SELECT severity AS k, count(*) AS n FROM alerts WHERE status != 'resolved' GROUP BY severity"),
      outbox: counts(db, "SELECT channel AS k, count(*) AS n FROM alert_deliveries WHERE status = 'pending' GROUP BY channel"),
    },
  }
}

function counts(db: Db, sql: string): Record<string, number> {
  return Object.fromEntries((db.prepare(sql).all() as Array<{ k: string; n: number }>).map((r) => [r.k, r.n]))
}

import { createHash } from 'node:crypto'
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

/** The hash the first chained entry links to. */
export const GENESIS = 'carehub-audit-genesis'

interface AuditRow {
  id: number
  at: number
  actor: string
  action: string
  target: string | null
  outcome: string
  ip: string | null
  request_id: string | null
  detail: string
  prev_hash: string | null
  hash: string | null
}

/** SHA-256 over the previous hash and the entry's stored content, in a fixed field order. */
export function entryHash(prevHash: string, r: Omit<AuditRow, 'prev_hash' | 'hash'>): string {
  const content = JSON.stringify([r.id, r.at, r.actor, r.action, r.target, r.outcome, r.ip, r.request_id, r.detail])
  return createHash('sha256').update(prevHash).update('\n').update(content).digest('hex')
}

/**
 * Append to the audit log, linked to the previous entry. The read of the last hash and the insert
 * happen under the write lock (IMMEDIATE, or the caller's transaction), so the daemon and the CLI
 * can never both link to the same entry and fork the chain. UPDATE and DELETE are refused by triggers.
 */
export function appendAudit(db: Db, e: AuditEntry): void {
  const append = () => {
    const last = db.prepare('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1').get() as { id: number; hash: string | null } | undefined
    const prevHash = last?.hash ?? GENESIS
    const row = {
      id: (last?.id ?? 0) + 1,
      at: e.at,
      actor: e.actor,
      action: e.action,
      target: e.target ?? null,
      outcome: e.outcome ?? 'ok',
      ip: e.ip ?? null,
      request_id: e.requestId ?? null,
      detail: JSON.stringify(e.detail ?? {}),
    }
    db.prepare(
      `INSERT INTO audit_log (id, at, actor, action, target, outcome, ip, request_id, detail, prev_hash, hash)
       VALUES (@id, @at, @actor, @action, @target, @outcome, @ip, @request_id, @detail, @prev_hash, @hash)`,
    ).run({ ...row, prev_hash: prevHash, hash: entryHash(prevHash, row) })
  }
  if (db.inTransaction) append()
  else db.transaction(append).immediate()
}

export interface ChainReport {
  readonly entries: number
  /** Entries from before the chain existed (migration 3), not verifiable. */
  readonly unchained: number
  readonly head: string | null
  /** The first entry that does not verify, and why; null when the chain is intact. */
  readonly broken: { readonly id: number; readonly reason: string } | null
}

/** Walk the whole log in id order and recompute every link. */
export function verifyAuditChain(db: Db): ChainReport {
  let prev: string | null = null
  let entries = 0
  let unchained = 0
  let expectedId: number | null = null
  for (const row of db.prepare('SELECT * FROM audit_log ORDER BY id').iterate() as IterableIterator<AuditRow>) {
    entries++
    if (row.hash === null) {
      if (prev !== null) return { entries, unchained, head: prev, broken: { id: row.id, reason: 'an unchained entry after chained ones (inserted)' } }
      unchained++
      continue
    }
    if (expectedId !== null && row.id !== expectedId) {
      return { entries, unchained, head: prev, broken: { id: row.id, reason: `entry ${expectedId} is missing (removed)` } }
    }
    const link = prev ?? GENESIS
    if (row.prev_hash !== link) return { entries, unchained, head: prev, broken: { id: row.id, reason: 'does not link to the entry before it' } }
    if (entryHash(link, row) !== row.hash)
      return { entries, unchained, head: prev, broken: { id: row.id, reason: 'its content was changed after it was written' } }
    prev = row.hash
    expectedId = row.id + 1
  }
  return { entries, unchained, head: prev, broken: null }
}

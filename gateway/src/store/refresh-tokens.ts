import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { Db } from './open.js'

/** Opaque refresh tokens: 256 random bits, base64url; only their SHA-256 is stored. */
export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url')
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

interface Row {
  id: number
  family_id: string
  user_id: number
  expires_at: number
  family_expires_at: number
  used_at: number | null
  successor_id: number | null
  revoked_at: number | null
}

export interface IssuedRefresh {
  readonly id: number
  readonly token: string
  readonly familyId: string
  readonly expiresAt: number
}

export function startFamily(
  db: Db,
  o: { userId: number; now: number; ttlMs: number; familyTtlMs: number; userAgent?: string | null; ip?: string | null },
): IssuedRefresh {
  return insertToken(db, {
    familyId: randomUUID(),
    parentId: null,
    userId: o.userId,
    now: o.now,
    expiresAt: Math.min(o.now + o.ttlMs, o.now + o.familyTtlMs),
    familyExpiresAt: o.now + o.familyTtlMs,
    userAgent: o.userAgent ?? null,
    ip: o.ip ?? null,
  })
}

function insertToken(
  db: Db,
  o: {
    familyId: string
    parentId: number | null
    userId: number
    now: number
    expiresAt: number
    familyExpiresAt: number
    userAgent: string | null
    ip: string | null
  },
): IssuedRefresh {
  const token = newRefreshToken()
  const info = db
    .prepare(
      `INSERT INTO refresh_tokens (token_hash, family_id, parent_id, user_id, issued_at, expires_at, family_expires_at, user_agent, ip)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(hashToken(token), o.familyId, o.parentId, o.userId, o.now, o.expiresAt, o.familyExpiresAt, o.userAgent, o.ip)
  return { id: Number(info.lastInsertRowid), token, familyId: o.familyId, expiresAt: o.expiresAt }
}

export type RotateResult =
  | { readonly kind: 'rotated'; readonly userId: number; readonly parentId: number; readonly next: IssuedRefresh }
  | { readonly kind: 'already_rotated'; readonly userId: number; readonly parentId: number; readonly familyId: string; readonly usedAt: number }
  | { readonly kind: 'invalid'; readonly reason: 'unknown' | 'expired' | 'revoked' }
  | { readonly kind: 'reuse'; readonly userId: number; readonly familyId: string }

/**
 * RFC 9700 §4.14.2 rotation: a refresh token is consumed by one atomic `UPDATE … WHERE used_at IS
 * NULL`; its successor joins the same family with the same absolute end. A token already consumed
 * within `graceMs` is reported as such (the caller returns the successor it remembers — two tabs
 * refreshing at once); a consumed token presented later is reuse: the whole family is revoked.
 */
export function rotateRefreshToken(db: Db, token: string, o: { now: number; ttlMs: number; graceMs: number }): RotateResult {
  return db
    .transaction((): RotateResult => {
      const row = db.prepare('SELECT * FROM refresh_tokens WHERE token_hash = ?').get(hashToken(token)) as Row | undefined
      if (!row) return { kind: 'invalid', reason: 'unknown' }
      if (row.revoked_at !== null) return { kind: 'invalid', reason: 'revoked' }
      if (row.used_at !== null) {
        // The grace window covers only "the successor was not used yet" (two tabs racing); a replay
        // after the legitimate client moved on is reuse.
        const successorUsed =
          row.successor_id !== null && (db.prepare('SELECT used_at FROM refresh_tokens WHERE id = ?').pluck().get(row.successor_id) ?? null) !== null
        if (o.now - row.used_at <= o.graceMs && !successorUsed) {
          return { kind: 'already_rotated', userId: row.user_id, parentId: row.id, familyId: row.family_id, usedAt: row.used_at }
        }
        revokeFamily(db, row.family_id, o.now)
        return { kind: 'reuse', userId: row.user_id, familyId: row.family_id }
      }
      if (row.expires_at <= o.now || row.family_expires_at <= o.now) return { kind: 'invalid', reason: 'expired' }
      const consumed = db.prepare('UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL').run(o.now, row.id)
      if (consumed.changes !== 1) return { kind: 'invalid', reason: 'revoked' }
      const next = insertToken(db, {
        familyId: row.family_id,
        parentId: row.id,
        userId: row.user_id,
        now: o.now,
        expiresAt: Math.min(o.now + o.ttlMs, row.family_expires_at),
        familyExpiresAt: row.family_expires_at,
        userAgent: null,
        ip: null,
      })
      db.prepare('UPDATE refresh_tokens SET successor_id = ? WHERE id = ?').run(next.id, row.id)
      return { kind: 'rotated', userId: row.user_id, parentId: row.id, next }
    })
    .immediate()
}

export function revokeFamily(db: Db, familyId: string, now: number): number {
  return db.prepare('UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL').run(now, familyId).changes
}

/** Is this session (token family) still alive? Checked on every authenticated request. */
export function familyActive(db: Db, familyId: string, now: number): boolean {
  return (
    db.prepare('SELECT 1 FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NULL AND family_expires_at > ? LIMIT 1').get(familyId, now) !==
    undefined
  )
}

/** End every session of a user except one (after a factor change in that session). */
export function revokeOtherFamilies(db: Db, userId: number, keepFamilyId: string, now: number): number {
  return db
    .prepare('UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND family_id <> ? AND revoked_at IS NULL')
    .run(now, userId, keepFamilyId).changes
}

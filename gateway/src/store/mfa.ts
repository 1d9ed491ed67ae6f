import { createHash, randomBytes } from 'node:crypto'
import type { Db } from './open.js'

export interface MfaState {
  readonly enabled: boolean
  /** age-armored TOTP secret (active, and pending enrolment). */
  readonly secretEnc: string | null
  readonly pendingEnc: string | null
  readonly lastStep: number | null
}

export function mfaState(db: Db, userId: number): MfaState {
  const r = db.prepare('SELECT totp_enabled, totp_secret_enc, totp_pending_enc, totp_last_step FROM users WHERE id = ?').get(userId) as
    | { totp_enabled: number; totp_secret_enc: string | null; totp_pending_enc: string | null; totp_last_step: number | null }
    | undefined
  return {
    enabled: r?.totp_enabled === 1,
    secretEnc: r?.totp_secret_enc ?? null,
    pendingEnc: r?.totp_pending_enc ?? null,
    lastStep: r?.totp_last_step ?? null,
  }
}

export function setPendingSecret(db: Db, userId: number, secretEnc: string, now: number): void {
  db.prepare('UPDATE users SET totp_pending_enc = ?, updated_at = ? WHERE id = ?').run(secretEnc, now, userId)
}

/**
 * Record an accepted TOTP step, atomically refusing a step at or before the last one: two requests
 * racing with the same code cannot both pass (RFC 6238 §5.2).
 */
export function acceptStep(db: Db, userId: number, step: number): boolean {
  return (
    db.prepare('UPDATE users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)').run(step, userId, step)
      .changes === 1
  )
}

/** One-time recovery codes: 80 random bits each, shown once, stored as SHA-256 (high entropy: no KDF needed). */
export function newRecoveryCodes(count = 10): string[] {
  return Array.from({ length: count }, () => {
    const hex = randomBytes(10).toString('hex')
    return `${hex.slice(0, 5)}-${hex.slice(5, 10)}-${hex.slice(10, 15)}-${hex.slice(15, 20)}`
  })
}

const hashCode = (code: string) => createHash('sha256').update(code.toLowerCase()).digest('hex')

/** Make the pending secret the active one, with new recovery codes. */
export function activateMfa(db: Db, userId: number, step: number, codes: readonly string[], now: number): void {
  db.transaction(() => {
    db.prepare(
      'UPDATE users SET totp_secret_enc = totp_pending_enc, totp_pending_enc = NULL, totp_enabled = 1, totp_last_step = ?, updated_at = ? WHERE id = ?',
    ).run(step, now, userId)
    db.prepare('DELETE FROM mfa_recovery_codes WHERE user_id = ?').run(userId)
    const insert = db.prepare('INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES (?, ?)')
    for (const code of codes) insert.run(userId, hashCode(code))
  }).immediate()
}

/** Spend a recovery code: true once per code. */
export function useRecoveryCode(db: Db, userId: number, code: string, now: number): boolean {
  return (
    db.prepare('UPDATE mfa_recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL').run(now, userId, hashCode(code))
      .changes === 1
  )
}

export const RECOVERY_CODE = /^[0-9a-f]{5}-[0-9a-f]{5}-[0-9a-f]{5}-[0-9a-f]{5}$/i

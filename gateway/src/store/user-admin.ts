import { CarehubError } from '../core/errors.js'
import type { Db } from './open.js'
import type { Role } from './users.js'

export interface UserProfile {
  readonly id: number
  readonly username: string
  readonly role: Role
  readonly displayName: string | null
  readonly email: string | null
  readonly disabled: boolean
  readonly mfaEnabled: boolean
  readonly createdAt: number
  readonly updatedAt: number
  readonly passwordChangedAt: number
}

interface Row {
  id: number
  username: string
  role: Role
  display_name: string | null
  email: string | null
  disabled: number
  totp_enabled: number
  created_at: number
  updated_at: number
  password_changed_at: number
}

const COLUMNS = 'id, username, role, display_name, email, disabled, totp_enabled, created_at, updated_at, password_changed_at'
const toProfile = (r: Row): UserProfile => ({
  id: r.id,
  username: r.username,
  role: r.role,
  displayName: r.display_name,
  email: r.email,
  disabled: r.disabled === 1,
  mfaEnabled: r.totp_enabled === 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  passwordChangedAt: r.password_changed_at,
})

export function userProfile(db: Db, id: number): UserProfile | undefined {
  const row = db.prepare(`SELECT ${COLUMNS} FROM users WHERE id = ?`).get(id) as Row | undefined
  return row ? toProfile(row) : undefined
}

export function listUsers(db: Db): UserProfile[] {
  return (db.prepare(`SELECT ${COLUMNS} FROM users ORDER BY username`).all() as Row[]).map(toProfile)
}

export interface UserPatch {
  readonly role?: Role
  readonly disabled?: boolean
  readonly displayName?: string | null
  readonly email?: string | null
}

/**
 * Apply a change and return the profile before and after (for the audit log). A change of role or
 * a disable ends the user's sessions (ASVS 7.4.2/7.4.5). The last enabled admin cannot be demoted
 * or disabled: nobody could manage the box any more.
 */
export function updateUser(db: Db, id: number, patch: UserPatch, now: number): { before: UserProfile; after: UserProfile } {
  return db
    .transaction(() => {
      const before = userProfile(db, id)
      if (!before) throw new CarehubError('CAREHUB_ERR_NOT_FOUND', `no user ${id}`)
      const losesAdmin =
        before.role === 'admin' && !before.disabled && ((patch.role !== undefined && patch.role !== 'admin') || patch.disabled === true)
      if (losesAdmin && activeAdmins(db) <= 1) {
        throw new CarehubError('CAREHUB_ERR_CONFLICT', 'this is the last enabled admin; make another user admin first')
      }
      const endsSessions = (patch.role !== undefined && patch.role !== before.role) || (patch.disabled === true && !before.disabled)
      db.prepare(
        `UPDATE users SET role = ?, disabled = ?, display_name = ?, email = ?, updated_at = ?,
         sessions_valid_after = CASE WHEN ? THEN ? ELSE sessions_valid_after END WHERE id = ?`,
      ).run(
        patch.role ?? before.role,
        (patch.disabled ?? before.disabled) ? 1 : 0,
        patch.displayName === undefined ? before.displayName : patch.displayName,
        patch.email === undefined ? before.email : patch.email,
        now,
        endsSessions ? 1 : 0,
        sessionCutoff(now),
        id,
      )
      if (endsSessions) revokeAllFamilies(db, id, now)
      return { before, after: userProfile(db, id) as UserProfile }
    })
    .immediate()
}

/** Set a new password hash; every session of the user ends (ASVS 7.4.3). */
export function setPassword(db: Db, id: number, passwordHash: string, now: number): void {
  db.transaction(() => {
    db.prepare('UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?').run(passwordHash, now, now, id)
    endSessions(db, id, now)
  }).immediate()
}

/** End every session of a user now (admin revocation, password change). */
export function endSessions(db: Db, id: number, now: number): void {
  db.prepare('UPDATE users SET sessions_valid_after = ?, updated_at = ? WHERE id = ?').run(sessionCutoff(now), now, id)
  revokeAllFamilies(db, id, now)
}

/**
 * The cut-off is stored to the millisecond (so a sign-in racing the change can be detected); the
 * access-token check compares it at JWT `iat` resolution (whole seconds, rounded down), so a
 * sign-in right after the change works. Precision for tokens issued in that same second comes from
 * revoking the sessions themselves: every refresh-token family of the user is revoked too, and each
 * request checks its family.
 */
function sessionCutoff(now: number): number {
  return now
}

function revokeAllFamilies(db: Db, id: number, now: number): void {
  db.prepare('UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL').run(now, id)
}

function activeAdmins(db: Db): number {
  return db.prepare("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0").pluck().get() as number
}

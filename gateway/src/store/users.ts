import { CarehubError } from '../core/errors.js'
import type { Db } from './open.js'
import { kept } from './statements.js'

export const ROLES = ['admin', 'caregiver', 'installer', 'viewer'] as const
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$/
export type Role = (typeof ROLES)[number]

export interface UserRow {
  readonly id: number
  readonly username: string
  readonly role: Role
  readonly disabled: boolean
  readonly createdAt: number
}

export interface NewUser {
  readonly username: string
  readonly role: Role
  readonly passwordHash: string
  readonly now: number
}

export function insertUser(db: Db, user: NewUser): UserRow {
  try {
    const info = db
      .prepare(
        `INSERT INTO users (username, role, password_hash, created_at, updated_at, password_changed_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(user.username, user.role, user.passwordHash, user.now, user.now, user.now)
    return { id: Number(info.lastInsertRowid), username: user.username, role: user.role, disabled: false, createdAt: user.now }
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new CarehubError('CAREHUB_ERR_CONFLICT', `a user named "${user.username}" already exists`)
    }
    throw err
  }
}

/** A user as sign-in sees it, with the password hash (never leaves the auth module). */
export function findUserByUsername(db: Db, username: string): (UserAuthState & { passwordHash: string }) | undefined {
  const row = db.prepare(`SELECT ${AUTH_COLUMNS}, password_hash FROM users WHERE username = ?`).get(username) as
    | (AuthRow & { password_hash: string })
    | undefined
  return row ? { ...toAuthState(row), passwordHash: row.password_hash } : undefined
}

export function countUsersByRole(db: Db): Record<Role, number> {
  const counts: Record<Role, number> = { admin: 0, caregiver: 0, installer: 0, viewer: 0 }
  for (const row of db.prepare('SELECT role, count(*) AS n FROM users GROUP BY role').all() as Array<{ role: Role; n: number }>) {
    counts[row.role] = row.n
  }
  return counts
}

export interface UserAuthState {
  readonly id: number
  readonly username: string
  readonly role: Role
  readonly disabled: boolean
  /** Access tokens issued before this (ms) are void: password/role/MFA change, admin revocation. */
  readonly sessionsValidAfter: number
  readonly passwordChangedAt: number
}

const AUTH_COLUMNS = 'id, username, role, disabled, sessions_valid_after, password_changed_at'

interface AuthRow {
  id: number
  username: string
  role: Role
  disabled: number
  sessions_valid_after: number
  password_changed_at: number
}

const toAuthState = (row: AuthRow): UserAuthState => ({
  id: row.id,
  username: row.username,
  role: row.role,
  disabled: row.disabled === 1,
  sessionsValidAfter: row.sessions_valid_after,
  passwordChangedAt: row.password_changed_at,
})

export function userAuthState(db: Db, id: number): UserAuthState | undefined {
  // Kept compiled (statements.ts): every authenticated API request reads it.
  const row = kept(db, `SELECT ${AUTH_COLUMNS} FROM users WHERE id = ?`).get(id) as AuthRow | undefined
  return row ? toAuthState(row) : undefined
}

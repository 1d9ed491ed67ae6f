import { hash, verify } from '@node-rs/argon2'
import { CarehubError } from '../core/errors.js'
import { COMMON_PASSWORDS } from './common-passwords.js'

/**
 * OWASP Password Storage Cheat Sheet (current): argon2id, m=19 MiB, t=2, p=1. Node 20 has no
 * built-in argon2, so the maintained prebuilt @node-rs/argon2 is used. The encoded PHC string keeps
 * its parameters, so raising them later re-hashes on the next login without a migration.
 */
// algorithm 2 = Argon2id (the package's `Algorithm` is a const enum, unusable under verbatimModuleSyntax).
export const ARGON2_PARAMS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

/** ASVS 6.2.1 / 6.2.9: at least 8 characters, at least 64 allowed (we allow 128). */
export const PASSWORD_MIN = 8
export const PASSWORD_MAX = 128

/** Why a password is refused, or null when it is acceptable. */
export function passwordProblem(password: string, username: string): string | null {
  const length = [...password].length
  if (length < PASSWORD_MIN) return `a password needs at least ${PASSWORD_MIN} characters`
  if (length > PASSWORD_MAX) return `a password may have at most ${PASSWORD_MAX} characters`
  const lower = password.toLowerCase()
  if (COMMON_PASSWORDS.has(lower)) return 'this password is among the most common ones attackers try first; choose another'
  if (username.length >= 4 && lower.includes(username.toLowerCase())) return 'a password must not contain the username'
  return null
}

export async function hashPassword(password: string, username: string): Promise<string> {
  const problem = passwordProblem(password, username)
  if (problem) throw new CarehubError('CAREHUB_ERR_VALIDATION', problem)
  return hash(password, ARGON2_PARAMS)
}

export async function verifyPassword(encoded: string, password: string): Promise<boolean> {
  try {
    return await verify(encoded, password)
  } catch {
    return false
  }
}

import { randomBytes, randomUUID, webcrypto } from 'node:crypto'
import { existsSync } from 'node:fs'
import { SignJWT } from 'jose'
import type { Logger } from 'pino'
import type { Clock } from '../core/clock.js'
import { CarehubError } from '../core/errors.js'
import type { Service } from '../core/service.js'
import type { SecretBox } from '../secrets/secret-box.js'
import { appendAudit } from '../store/audit.js'
import { mfaState } from '../store/mfa.js'
import type { Db } from '../store/open.js'
import { familyActive, revokeFamily, revokeOtherFamilies, rotateRefreshToken, startFamily } from '../store/refresh-tokens.js'
import { findUserByUsername, type Role, userAuthState } from '../store/users.js'
import { createFileExclusive } from '../system/atomic-file.js'
import { verifyAccessToken } from './access-token.js'
import { HashGate } from './hash-gate.js'
import { LoginThrottle } from './login-throttle.js'
import { hashPassword, verifyPassword } from './password.js'
import { checkSecondFactor, confirmTotp, enrolTotp } from './second-factor.js'

export interface AuthSettings {
  readonly accessTtlMs: number
  readonly refreshTtlMs: number
  /** Absolute session lifetime (ASVS 7.3.2 / 10.4.8): no refresh extends a session past it. */
  readonly sessionMaxMs: number
  /** RFC 9700 §4.14.2 pitfall: a consumed token presented again within this window gets the same successor. */
  readonly graceMs: number
}

export interface Principal {
  readonly userId: number
  readonly username: string
  readonly role: Role
  readonly sessionId: string
}

export interface TokenPair {
  readonly accessToken: string
  readonly refreshToken: string
  readonly tokenType: 'Bearer'
  readonly expiresIn: number
}

interface Client {
  readonly ip: string
  readonly userAgent: string | null
}

/**
 * Sign-in and sessions: HS256 access JWTs (claims sub, role, sid, iat, exp, jti — minimal), signed
 * with a random key kept age-encrypted in the data folder; rotating refresh tokens grouped in a
 * family per sign-in (the `sid`). Every request re-checks the user and the family, so logout,
 * password or role change and admin revocation take effect on the next request (ASVS 7.4.1).
 */
export interface AuthDeps {
  readonly db: () => Db
  readonly secrets: () => SecretBox
  /** Where the age-encrypted signing key lives (created on first start). */
  readonly keyPath: string
  /** `iss` of the tokens: the gateway id, so a token from another box is refused. */
  readonly issuer: () => string
  readonly clock: Clock
  readonly log: Logger
  readonly settings: AuthSettings
  /** Is the clock known to be right (TOTP)? */
  readonly clockTrusted: (now: number) => boolean
}

export class AuthService implements Service {
  readonly name = 'auth'
  readonly #d: AuthDeps
  readonly #throttle = new LoginThrottle({ freeFailures: 5, freeFailuresPerUser: 20, maxDelayMs: 15 * 60_000 })
  /** Successors handed out within the grace window, by the consumed token's row id (memory only). */
  readonly #recent = new Map<number, { pair: Promise<TokenPair>; until: number }>()
  #key: webcrypto.CryptoKey | undefined
  #rawKey: Buffer | undefined
  readonly #hashing = new HashGate(2, 16)
  readonly #inFlight = new Set<string>()
  /** A real argon2id hash to verify against when the user does not exist: the same work, so timing does not reveal usernames. */
  #dummyHash: Promise<string> | undefined

  constructor(deps: AuthDeps) {
    this.#d = deps
  }

  async start(): Promise<void> {
    const { keyPath, secrets } = this.#d
    if (!existsSync(keyPath)) createFileExclusive(keyPath, await secrets().encrypt(randomBytes(32).toString('base64')), 0o600)
    const raw = Buffer.from(await secrets().readFile(keyPath), 'base64')
    if (raw.length !== 32) throw new CarehubError('CAREHUB_ERR_SECRETS', `${keyPath} does not hold a 256-bit signing key`)
    this.#rawKey = raw
    // For signing with jose (sign-in, refresh), imported once: given raw bytes it imports a key each time.
    this.#key = await webcrypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  }

  async stop(): Promise<void> {
    this.#recent.clear()
  }

  async login(username: string, password: string, client: Client, secondFactor?: string): Promise<TokenPair> {
    const now = this.#d.clock.now()
    const wait = this.#throttle.waitMs(client.ip, username, now)
    if (wait > 0) {
      throw new CarehubError('CAREHUB_ERR_RATE_LIMITED', `too many failed sign-ins; try again in ${Math.ceil(wait / 1000)} s`, {
        details: { retryAfterSeconds: Math.ceil(wait / 1000) },
      })
    }
    // One attempt at a time per address and account: a burst cannot slip many guesses past the
    // back-off while the first ones are still being hashed.
    const attemptKey = `${client.ip}\u0000${username.toLowerCase()}`
    if (this.#inFlight.has(attemptKey)) {
      throw new CarehubError('CAREHUB_ERR_RATE_LIMITED', 'a sign-in for this account is already being checked', { details: { retryAfterSeconds: 1 } })
    }
    this.#inFlight.add(attemptKey)
    try {
      return await this.#login(username, password, client, secondFactor, now)
    } finally {
      this.#inFlight.delete(attemptKey)
    }
  }

  async #login(username: string, password: string, client: Client, secondFactor: string | undefined, now: number): Promise<TokenPair> {
    const db = this.#d.db()
    const user = findUserByUsername(db, username)
    const ok = await this.#checkPassword(user?.passwordHash, password)
    if (!user || !ok || user.disabled) {
      this.#throttle.failed(client.ip, username, now)
      appendAudit(db, {
        at: now,
        actor: user ? `user:${user.id}` : 'anonymous',
        action: 'auth.login',
        target: `username:${username.slice(0, 64)}`,
        outcome: 'denied',
        ip: client.ip,
      })
      throw new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', 'wrong username or password')
    }
    try {
      await checkSecondFactor({ db, secrets: this.#d.secrets(), clockTrusted: this.#d.clockTrusted(now), now }, user.id, secondFactor)
    } catch (err) {
      // A missing code is a prompt, not a failure; a wrong one counts like a wrong password.
      if ((err as CarehubError).code === 'CAREHUB_ERR_UNAUTHENTICATED') {
        this.#throttle.failed(client.ip, username, now)
        appendAudit(db, {
          at: now,
          actor: `user:${user.id}`,
          action: 'auth.login',
          target: `username:${username.slice(0, 64)}`,
          outcome: 'denied',
          ip: client.ip,
          detail: { factor: 'otp' },
        })
      }
      throw err
    }
    this.#throttle.succeeded(client.ip, username)
    const s = this.#d.settings
    // Re-read the account with the session's creation: a password change, disable or admin
    // revocation that landed while the password was being hashed must win over this sign-in.
    const refresh = db
      .transaction(() => {
        const fresh = userAuthState(db, user.id)
        if (!fresh || fresh.disabled || fresh.passwordChangedAt > now || fresh.sessionsValidAfter > now) {
          throw new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', 'the account changed while signing in; sign in again')
        }
        return startFamily(db, {
          userId: user.id,
          now,
          ttlMs: s.refreshTtlMs,
          familyTtlMs: s.sessionMaxMs,
          userAgent: client.userAgent,
          ip: client.ip,
        })
      })
      .immediate()
    appendAudit(db, { at: now, actor: `user:${user.id}`, action: 'auth.login', target: `session:${refresh.familyId}`, ip: client.ip })
    return {
      accessToken: await this.#sign(user.id, user.role, refresh.familyId, now),
      refreshToken: refresh.token,
      tokenType: 'Bearer',
      expiresIn: s.accessTtlMs / 1000,
    }
  }

  async refresh(token: string, client: Client): Promise<TokenPair> {
    const now = this.#d.clock.now()
    const db = this.#d.db()
    const s = this.#d.settings
    const result = rotateRefreshToken(db, token, { now, ttlMs: s.refreshTtlMs, graceMs: s.graceMs })
    if (result.kind === 'already_rotated') {
      const recent = this.#recent.get(result.parentId)
      if (recent && recent.until >= now) return await recent.pair
      throw new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', 'this refresh token was just used; use the new one')
    }
    if (result.kind === 'reuse') {
      this.#d.log.warn({ userId: result.userId, familyId: result.familyId }, 'refresh token reuse: session revoked')
      appendAudit(db, {
        at: now,
        actor: 'system',
        action: 'auth.refresh_reuse',
        target: `session:${result.familyId}`,
        outcome: 'denied',
        ip: client.ip,
      })
      throw new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', 'this refresh token was already used; the session was ended for safety, sign in again')
    }
    if (result.kind === 'invalid') throw new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', `refresh token ${result.reason}; sign in again`)
    const user = userAuthState(db, result.userId)
    if (!user || user.disabled) throw new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', 'the account is disabled')
    // Registered before the first await: a second tab arriving while this one signs its token must
    // find the successor (and wait for the same pair), not see a "just used" token.
    const pair = this.#sign(user.id, user.role, result.next.familyId, now).then(
      (accessToken): TokenPair => ({ accessToken, refreshToken: result.next.token, tokenType: 'Bearer', expiresIn: s.accessTtlMs / 1000 }),
    )
    this.#recent.set(result.parentId, { pair, until: now + s.graceMs })
    for (const [id, r] of this.#recent) if (r.until < now) this.#recent.delete(id)
    return pair
  }

  /**
   * Check the signed-in user's current password (password change, MFA change): the same back-off,
   * hashing limit and audit as sign-in, so a stolen access token cannot be used to guess it.
   */
  async verifyCurrentPassword(principal: Principal, password: string, ip: string): Promise<void> {
    const now = this.#d.clock.now()
    const db = this.#d.db()
    const wait = this.#throttle.waitMs(ip, principal.username, now)
    if (wait > 0)
      throw new CarehubError('CAREHUB_ERR_RATE_LIMITED', `too many wrong passwords; try again in ${Math.ceil(wait / 1000)} s`, {
        details: { retryAfterSeconds: Math.ceil(wait / 1000) },
      })
    if (await this.#checkPassword(findUserByUsername(db, principal.username)?.passwordHash, password)) return
    this.#throttle.failed(ip, principal.username, now)
    appendAudit(db, {
      at: now,
      actor: `user:${principal.userId}`,
      action: 'auth.password_check',
      target: `user:${principal.userId}`,
      outcome: 'denied',
      ip,
    })
    throw new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', 'the current password is wrong')
  }

  async #checkPassword(hash: string | undefined, password: string): Promise<boolean> {
    this.#dummyHash ??= hashPassword(randomBytes(24).toString('base64url'), '')
    const against = hash ?? (await this.#dummyHash)
    return this.#hashing.run(() => verifyPassword(against, password))
  }

  /**
   * Start TOTP enrolment for the signed-in user. Replacing an active factor needs the password and
   * a current code (or a recovery code): a stolen access token must not be able to swap the factor.
   */
  async enrolMfa(principal: Principal, proof: { password?: string; code?: string }, ip: string): Promise<{ otpauthUri: string; secret: string }> {
    const now = this.#d.clock.now()
    if (mfaState(this.#d.db(), principal.userId).enabled) {
      await this.verifyCurrentPassword(principal, proof.password ?? '', ip)
      await checkSecondFactor(
        { db: this.#d.db(), secrets: this.#d.secrets(), clockTrusted: this.#d.clockTrusted(now), now },
        principal.userId,
        proof.code,
      )
    }
    return enrolTotp(
      { db: this.#d.db(), secrets: this.#d.secrets(), clockTrusted: this.#d.clockTrusted(now), now },
      principal.userId,
      principal.username,
      `CareHub ${this.#d.issuer().replace(/^carehub:/, '')}`,
    )
  }

  /** Confirm enrolment with a first code; other sessions of the user end (ASVS 7.4.3: factor change). */
  async confirmMfa(principal: Principal, code: string, ip: string): Promise<{ recoveryCodes: string[] }> {
    const now = this.#d.clock.now()
    const db = this.#d.db()
    const recoveryCodes = await confirmTotp({ db, secrets: this.#d.secrets(), clockTrusted: this.#d.clockTrusted(now), now }, principal.userId, code)
    revokeOtherFamilies(db, principal.userId, principal.sessionId, now)
    appendAudit(db, { at: now, actor: `user:${principal.userId}`, action: 'auth.mfa_enabled', target: `user:${principal.userId}`, ip })
    return { recoveryCodes }
  }

  logout(principal: Principal, ip: string): void {
    const now = this.#d.clock.now()
    const db = this.#d.db()
    revokeFamily(db, principal.sessionId, now)
    appendAudit(db, { at: now, actor: `user:${principal.userId}`, action: 'auth.logout', target: `session:${principal.sessionId}`, ip })
  }

  /** Verify an access token and the live state behind it; throws CAREHUB_ERR_UNAUTHENTICATED. */
  async authenticate(accessToken: string): Promise<Principal> {
    const deny = (why: string) => new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', why)
    if (!this.#rawKey) throw new CarehubError('CAREHUB_ERR_SECRETS', 'auth is not started')
    // Synchronous (access-token.ts): an API request is answered in the event-loop turn it arrives in.
    const check = verifyAccessToken(accessToken, this.#rawKey, { issuer: this.#d.issuer(), now: this.#d.clock.now() })
    if (!check.ok) throw deny(check.expired ? 'the access token expired; refresh it' : 'invalid access token')
    const claims = check.claims as { sub?: unknown; sid?: unknown; iat?: number }
    const db = this.#d.db()
    // We issue sub as a user id in decimal; anything else is not one of our tokens.
    if (typeof claims.sub !== 'string' || !/^[1-9]\d*$/.test(claims.sub)) throw deny('invalid access token')
    const user = userAuthState(db, Number(claims.sub))
    if (!user || user.disabled) throw deny('the account is disabled')
    if (typeof claims.sid !== 'string' || !familyActive(db, claims.sid, this.#d.clock.now())) throw deny('the session has ended; sign in again')
    if ((claims.iat ?? 0) * 1000 < Math.floor(user.sessionsValidAfter / 1000) * 1000) throw deny('the session has ended; sign in again')
    return { userId: user.id, username: user.username, role: user.role, sessionId: claims.sid }
  }

  #signingKey(): webcrypto.CryptoKey {
    if (!this.#key) throw new CarehubError('CAREHUB_ERR_SECRETS', 'auth is not started')
    return this.#key
  }

  #sign(userId: number, role: Role, sessionId: string, now: number): Promise<string> {
    const iat = Math.floor(now / 1000)
    return new SignJWT({ role, sid: sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(userId))
      .setIssuer(this.#d.issuer())
      .setIssuedAt(iat)
      .setExpirationTime(iat + Math.round(this.#d.settings.accessTtlMs / 1000))
      .setJti(randomUUID())
      .sign(this.#signingKey())
  }
}

import { CarehubError } from '../core/errors.js'
import type { Db } from '../store/open.js'
import type { SecretBox } from './secret-box.js'

/** Secret names: lowercase, dotted by owner — `influx.token`, `homeassistant.token`, `ha-webhook.<client>`. */
export const SECRET_NAME = /^[a-z][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*){0,3}$/

export interface SecretInfo {
  readonly name: string
  readonly version: number
  readonly updatedAt: number
  /** A previous value is still accepted until then (rotation), else null. */
  readonly previousUntil: number | null
}

interface Row {
  name: string
  value_enc: string
  version: number
  updated_at: number
  previous_enc: string | null
  previous_until: number | null
}

/**
 * Named secrets, encrypted with the box's age identity, in the database. The daemon and the
 * `carehub` command share them through the store; values are decrypted on use and cached by version
 * (X25519 costs ~15 ms, too much per webhook request), so a `carehub secret set` reaches the running
 * daemon at its next lookup (the version check is one indexed read, at most once per second per name).
 */
export class SecretStore {
  readonly #db: () => Db
  readonly #box: () => SecretBox
  readonly #now: () => number
  readonly #cache = new Map<string, { version: number; checkedAt: number; values: readonly string[] }>()

  constructor(db: () => Db, box: () => SecretBox, now: () => number) {
    this.#db = db
    this.#box = box
    this.#now = now
  }

  /**
   * Store `value` under `name`. With `graceMs`, the value it replaces stays valid that long (rotation:
   * old and new both accepted while clients are switched over); without, it is gone at once.
   */
  async set(name: string, value: string, graceMs = 0): Promise<SecretInfo> {
    if (!SECRET_NAME.test(name)) {
      throw new CarehubError(
        'CAREHUB_ERR_VALIDATION',
        `secret name "${name.slice(0, 40)}": lowercase letters, digits, "_" or "-", in up to 4 dotted parts`,
      )
    }
    if (value.length === 0) throw new CarehubError('CAREHUB_ERR_VALIDATION', `secret ${name}: the value is empty`)
    const enc = await this.#box().encrypt(value)
    const now = this.#now()
    const db = this.#db()
    db.transaction(() => {
      const old = db.prepare('SELECT value_enc FROM secrets WHERE name = ?').pluck().get(name) as string | undefined
      db.prepare(
        `INSERT INTO secrets (name, value_enc, version, updated_at, previous_enc, previous_until) VALUES (?, ?, 1, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET value_enc = excluded.value_enc, version = version + 1, updated_at = excluded.updated_at,
           previous_enc = excluded.previous_enc, previous_until = excluded.previous_until`,
      ).run(name, enc, now, graceMs > 0 && old ? old : null, graceMs > 0 && old ? now + graceMs : null)
    }).immediate()
    this.#cache.delete(name)
    return this.info(name) as SecretInfo
  }

  delete(name: string): boolean {
    this.#cache.delete(name)
    return this.#db().prepare('DELETE FROM secrets WHERE name = ?').run(name).changes > 0
  }

  info(name: string): SecretInfo | undefined {
    const r = this.#db().prepare('SELECT name, version, updated_at, previous_until FROM secrets WHERE name = ?').get(name) as Row | undefined
    return r && { name: r.name, version: r.version, updatedAt: r.updated_at, previousUntil: r.previous_until }
  }

  list(): SecretInfo[] {
    const rows = this.#db().prepare('SELECT name, version, updated_at, previous_until FROM secrets ORDER BY name').all() as Row[]
    return rows.map((r) => ({ name: r.name, version: r.version, updatedAt: r.updated_at, previousUntil: r.previous_until }))
  }

  /** The current value, or undefined when the secret is not set. */
  async get(name: string): Promise<string | undefined> {
    return (await this.accepted(name))[0]
  }

  /** Every value accepted now: the current one, then the previous one while its rotation grace lasts. */
  async accepted(name: string): Promise<readonly string[]> {
    const now = this.#now()
    const cached = this.#cache.get(name)
    if (cached && now - cached.checkedAt < 1000) return cached.values
    const version = this.#db().prepare('SELECT version FROM secrets WHERE name = ?').pluck().get(name) as number | undefined
    if (version === undefined) {
      this.#cache.delete(name)
      return []
    }
    if (cached && cached.version === version && !this.#graceEnded(name, now)) {
      cached.checkedAt = now
      return cached.values
    }
    const r = this.#db().prepare('SELECT * FROM secrets WHERE name = ?').get(name) as Row
    const values = [await this.#box().decrypt(r.value_enc, `secret ${name}`)]
    if (r.previous_enc && r.previous_until !== null && r.previous_until > now)
      values.push(await this.#box().decrypt(r.previous_enc, `secret ${name} (previous)`))
    this.#cache.set(name, { version: r.version, checkedAt: now, values })
    return values
  }

  #graceEnded(name: string, now: number): boolean {
    const until = this.#db().prepare('SELECT previous_until FROM secrets WHERE name = ?').pluck().get(name) as number | null
    return until !== null && until <= now && (this.#cache.get(name)?.values.length ?? 0) > 1
  }
}

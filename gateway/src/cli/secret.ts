import { join } from 'node:path'
import { CarehubError } from '../core/errors.js'
import { SecretBox } from '../secrets/secret-box.js'
import { SecretStore } from '../secrets/secret-store.js'
import { appendAudit } from '../store/audit.js'
import type { Db } from '../store/open.js'
import { SECRETS_DIR } from '../system/data-layout.js'
import { type CliContext, type CliIo, withStore } from './context.js'

const GRACE = /^([1-9]\d{0,4})([mhd])$/
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** The well-known names, for the usage text and a friendly hint on a typo. */
export const KNOWN_SECRETS = ['influx.token', 'influx.password', 'homeassistant.token', 'thinq.pat', 'ha-webhook.<client_id>'] as const

async function withSecrets<T>(ctx: CliContext, io: CliIo, use: (store: SecretStore, db: Db) => Promise<T>): Promise<T> {
  const box = await SecretBox.open(join(ctx.config.dataDir, SECRETS_DIR))
  return withStore(ctx, io.now(), (db) =>
    use(
      new SecretStore(
        () => db,
        () => box,
        io.now,
      ),
      db,
    ),
  )
}

/**
 * `carehub secret set <name> [--grace 7d]` — the value comes on standard input (never argv: `ps` and
 * shell history would show it). `--grace` keeps the replaced value valid that long (rotation).
 */
export async function secretSet(ctx: CliContext, io: CliIo, name: string | undefined, grace: string | undefined): Promise<void> {
  if (!name) throw new CarehubError('CAREHUB_ERR_USAGE', `give the secret's name: carehub secret set <name>  (e.g. ${KNOWN_SECRETS.join(', ')})`)
  let graceMs = 0
  if (grace !== undefined) {
    const m = GRACE.exec(grace)
    if (!m) throw new CarehubError('CAREHUB_ERR_VALIDATION', `--grace "${grace}": a duration such as 30m, 12h or 7d`)
    graceMs = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
  }
  const value = (await io.stdin()).replace(/\r?\n$/, '')
  if (value.length === 0)
    throw new CarehubError('CAREHUB_ERR_VALIDATION', 'no value arrived on standard input: printf %s "$VALUE" | carehub secret set <name>')
  const info = await withSecrets(ctx, io, async (store, db) => {
    const saved = await store.set(name, value, graceMs)
    appendAudit(db, { at: io.now(), actor: 'cli', action: 'secret.set', target: `secret:${name}`, detail: { version: saved.version, graceMs } })
    return saved
  })
  const rotation = info.previousUntil ? `; the previous value stays valid until ${new Date(info.previousUntil).toISOString()}` : ''
  io.stdout(`secret ${name} stored encrypted (version ${info.version})${rotation}; a running gateway uses it within 2 s\n`)
}

/** `carehub secret list [--json]` — names and dates, never values. */
export async function secretList(ctx: CliContext, io: CliIo, json: boolean): Promise<void> {
  const rows = await withSecrets(ctx, io, async (store) => store.list())
  if (json) return io.stdout(`${JSON.stringify(rows)}\n`)
  if (rows.length === 0) return io.stdout('no secrets stored\n')
  for (const r of rows) {
    const grace = r.previousUntil && r.previousUntil > io.now() ? `  (previous value valid until ${new Date(r.previousUntil).toISOString()})` : ''
    io.stdout(`${r.name}  version ${r.version}  set ${new Date(r.updatedAt).toISOString()}${grace}\n`)
  }
}

/** `carehub secret delete <name>` */
export async function secretDelete(ctx: CliContext, io: CliIo, name: string | undefined): Promise<void> {
  if (!name) throw new CarehubError('CAREHUB_ERR_USAGE', 'give the secret name: carehub secret delete <name>')
  const deleted = await withSecrets(ctx, io, async (store, db) => {
    const done = store.delete(name)
    if (done) appendAudit(db, { at: io.now(), actor: 'cli', action: 'secret.delete', target: `secret:${name}` })
    return done
  })
  if (!deleted) throw new CarehubError('CAREHUB_ERR_NOT_FOUND', `no secret named "${name}" (carehub secret list shows them)`)
  io.stdout(`secret ${name} deleted\n`)
}

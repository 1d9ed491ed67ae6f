import { createHash, timingSafeEqual } from 'node:crypto'
import { getRouterParam, type H3, type H3Event, readValidatedBody } from 'h3'
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import { z } from 'zod'
import { newEnrolmentCode } from '../crypto/enrolment-code.js'
import { cloudError } from '../http/errors.js'

export interface AdminDeps {
  readonly pool: Pool
  readonly adminToken: string
  readonly now: () => number
}

const NewHome = z.strictObject({ name: z.string().min(1).max(120) })
const NewCode = z.strictObject({
  ttlMinutes: z
    .number()
    .int()
    .min(5)
    .max(7 * 24 * 60)
    .default(60),
})

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

/**
 * The installer's side: homes and one-time enrolment codes, behind the admin token (a deployment
 * secret; a real operator console would sit in front). A code is shown once; only its hash is kept.
 */
/** The installer's admin token, compared in constant time (both sides hashed to one length first). */
export function requireAdmin(event: H3Event, adminToken: string): void {
  const given = /^Bearer (\S+)$/.exec(event.req.headers.get('authorization') ?? '')?.[1] ?? ''
  if (!given || !timingSafeEqual(Buffer.from(sha256(given)), Buffer.from(sha256(adminToken)))) {
    throw cloudError('CLOUD_ERR_UNAUTHENTICATED', 'the admin token is required')
  }
}

export function adminRoutes(app: H3, deps: AdminDeps): void {
  app.post('/v1/admin/homes', async (event) => {
    requireAdmin(event, deps.adminToken)
    const body = await readValidatedBody(event, NewHome)
    const [r] = await deps.pool.query<ResultSetHeader>('INSERT INTO homes (name, created_at) VALUES (?, ?)', [body.name, deps.now()])
    event.res.status = 201
    return { id: r.insertId, name: body.name }
  })

  app.post('/v1/admin/homes/:id/enrolment-codes', async (event) => {
    requireAdmin(event, deps.adminToken)
    const param = getRouterParam(event, 'id') ?? ''
    if (!/^\d{1,15}$/.test(param)) throw cloudError('CLOUD_ERR_NOT_FOUND', 'no such home')
    const homeId = Number(param)
    const body = await readValidatedBody(event, NewCode)
    const [homes] = await deps.pool.query<RowDataPacket[]>('SELECT id FROM homes WHERE id = ?', [homeId])
    if (homes.length === 0) throw cloudError('CLOUD_ERR_NOT_FOUND', `no home ${homeId}`)
    const code = newEnrolmentCode()
    const expiresAt = deps.now() + body.ttlMinutes * 60_000
    await deps.pool.query('INSERT INTO enrolment_codes (code_hash, home_id, expires_at, created_at) VALUES (?, ?, ?, ?)', [
      sha256(code),
      homeId,
      expiresAt,
      deps.now(),
    ])
    event.res.status = 201
    return { code, homeId, expiresAt }
  })
}

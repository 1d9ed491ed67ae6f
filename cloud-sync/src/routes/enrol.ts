import { randomBytes } from 'node:crypto'
import { type H3, readValidatedBody } from 'h3'
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import { z } from 'zod'
import type { CredentialBox } from '../crypto/credential-box.js'
import { cloudError } from '../http/errors.js'
import { sha256 } from './admin.js'

const Enrol = z.strictObject({
  code: z.string().min(16).max(64),
  gatewayId: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { error: 'the box gateway id (lowercase letters, digits, "_" or "-")' }),
  name: z.string().max(120).optional(),
})

/**
 * POST /v1/enrol {code, gatewayId, name}: a one-time code for a home becomes this gateway's
 * credential (a 256-bit HMAC secret, returned once, stored encrypted). Enrolling again with a new
 * code for the same home replaces the secret (a reinstalled box); a gateway id of another home is
 * refused.
 */
export function enrolRoutes(app: H3, deps: { pool: Pool; box: CredentialBox; now: () => number }): void {
  app.post('/v1/enrol', async (event) => {
    const body = await readValidatedBody(event, Enrol)
    const now = deps.now()
    const conn = await deps.pool.getConnection()
    try {
      await conn.beginTransaction()
      const [codes] = await conn.query<RowDataPacket[]>(
        'SELECT home_id FROM enrolment_codes WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? FOR UPDATE',
        [sha256(body.code), now],
      )
      const homeId = (codes[0] as { home_id: number } | undefined)?.home_id
      if (homeId === undefined)
        throw cloudError('CLOUD_ERR_CODE_INVALID', 'the enrolment code is unknown, used or expired: ask the installer for a new one')
      const [existing] = await conn.query<RowDataPacket[]>('SELECT home_id FROM gateways WHERE id = ? FOR UPDATE', [body.gatewayId])
      const other = existing[0] as { home_id: number } | undefined
      if (other && other.home_id !== homeId) throw cloudError('CLOUD_ERR_CONFLICT', `gateway ${body.gatewayId} belongs to another home`)
      const secret = randomBytes(32).toString('base64url')
      await conn.query<ResultSetHeader>(
        `INSERT INTO gateways (id, home_id, name, secret_enc, epoch, enrolled_at) VALUES (?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE secret_enc = VALUES(secret_enc), name = VALUES(name), epoch = VALUES(epoch), enrolled_at = VALUES(enrolled_at), revoked_at = NULL`,
        [body.gatewayId, homeId, body.name ?? null, deps.box.seal(secret), now, now],
      )
      await conn.query('UPDATE enrolment_codes SET used_at = ?, used_by = ? WHERE code_hash = ?', [now, body.gatewayId, sha256(body.code)])
      await conn.commit()
      event.res.status = 201
      return { gatewayId: body.gatewayId, homeId, secret }
    } catch (err) {
      await conn.rollback()
      throw err
    } finally {
      conn.release()
    }
  })
}

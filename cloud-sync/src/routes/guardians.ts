import { randomBytes, randomUUID } from 'node:crypto'
import { getRouterParam, type H3, type H3Event, readValidatedBody } from 'h3'
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import { z } from 'zod'
import { cloudError } from '../http/errors.js'
import { stopLadder } from '../relay/schedule.js'
import { type AdminDeps, requireAdmin, sha256 } from './admin.js'

const Kind = z.enum(['push', 'email', 'sms'])
const NewGuardian = z.strictObject({
  // "guardian:<name>" is the actor recorded (120 characters at most).
  name: z.string().min(1).max(100),
  channels: z
    .array(z.strictObject({ kind: Kind, target: z.string().min(3).max(512) }))
    .min(1)
    .max(10),
})
const Ladder = z.strictObject({
  steps: z
    .array(z.strictObject({ afterSeconds: z.number().int().min(0).max(86_400), guardianId: z.number().int().positive(), kind: Kind }))
    .min(1)
    .max(10),
})

const idParam = (event: H3Event, name: string) => {
  const p = getRouterParam(event, name) ?? ''
  if (!/^\d{1,15}$/.test(p)) throw cloudError('CLOUD_ERR_NOT_FOUND', `no such ${name === 'id' ? 'home' : 'alert'}`)
  return Number(p)
}

/**
 * Guardians, their channels and a home's escalation ladder (installer, admin token), and the
 * guardian's acknowledgement (their own token): it stops the ladder and goes down to the box.
 */
export function guardianRoutes(app: H3, deps: AdminDeps & { pool: Pool }): void {
  app.post('/v1/admin/homes/:id/guardians', async (event) => {
    requireAdmin(event, deps.adminToken)
    const homeId = idParam(event, 'id')
    const body = await readValidatedBody(event, NewGuardian)
    const token = randomBytes(32).toString('base64url')
    const conn = await deps.pool.getConnection()
    try {
      await conn.beginTransaction()
      const [homes] = await conn.query<RowDataPacket[]>('SELECT id FROM homes WHERE id = ?', [homeId])
      if (homes.length === 0) throw cloudError('CLOUD_ERR_NOT_FOUND', `no home ${homeId}`)
      const [g] = await conn.query<ResultSetHeader>('INSERT INTO guardians (home_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)', [
        homeId,
        body.name,
        sha256(token),
        deps.now(),
      ])
      for (const c of body.channels)
        await conn.query('INSERT INTO guardian_channels (guardian_id, kind, target) VALUES (?, ?, ?)', [g.insertId, c.kind, c.target])
      await conn.commit()
      event.res.status = 201
      return { id: g.insertId, name: body.name, token }
    } catch (err) {
      await conn.rollback()
      throw err
    } finally {
      conn.release()
    }
  })

  app.put('/v1/admin/homes/:id/escalation', async (event) => {
    requireAdmin(event, deps.adminToken)
    const homeId = idParam(event, 'id')
    const body = await readValidatedBody(event, Ladder)
    const conn = await deps.pool.getConnection()
    try {
      await conn.beginTransaction()
      const [own] = await conn.query<RowDataPacket[]>(
        `SELECT id FROM guardians WHERE home_id = ? AND id IN (${body.steps.map(() => '?').join(',')})`,
        [homeId, ...body.steps.map((s) => s.guardianId)],
      )
      if (new Set(own.map((r) => r.id)).size !== new Set(body.steps.map((s) => s.guardianId)).size) {
        throw cloudError('CLOUD_ERR_VALIDATION', 'every step must name a guardian of this home')
      }
      await conn.query('DELETE FROM escalation_steps WHERE home_id = ?', [homeId])
      for (const [i, s] of body.steps.entries()) {
        await conn.query('INSERT INTO escalation_steps (home_id, step, after_seconds, guardian_id, kind) VALUES (?, ?, ?, ?, ?)', [
          homeId,
          i,
          s.afterSeconds,
          s.guardianId,
          s.kind,
        ])
      }
      await conn.commit()
      return { homeId, steps: body.steps.length }
    } catch (err) {
      await conn.rollback()
      throw err
    } finally {
      conn.release()
    }
  })

  const guardianOf = async (event: H3Event) => {
    const token = /^Bearer (\S+)$/.exec(event.req.headers.get('authorization') ?? '')?.[1] ?? ''
    const [gs] = await deps.pool.query<RowDataPacket[]>('SELECT id, home_id, name FROM guardians WHERE token_hash = ?', [sha256(token)])
    const guardian = gs[0] as { id: number; home_id: number; name: string } | undefined
    if (!token || !guardian) throw cloudError('CLOUD_ERR_UNAUTHENTICATED', 'a guardian token is required')
    return guardian
  }

  /**
   * A guardian's answer to an alert of their home: acknowledge ("I'm on it") or snooze ("remind me
   * in 30 minutes"). Either stops the ladder; both go down to the box (GET /v1/sync/changes).
   */
  const answer = (path: 'ack' | 'snooze', body: z.ZodType<{ minutes?: number }> | null) =>
    app.post(`/v1/alerts/:alertId/${path}`, async (event) => {
      const guardian = await guardianOf(event)
      const alertId = idParam(event, 'alertId')
      const input = body ? await readValidatedBody(event, body) : {}
      const conn = await deps.pool.getConnection()
      try {
        await conn.beginTransaction()
        // The gateway's row first: cloud events of one gateway are numbered in commit order, so the
        // box reading them by id after its position never skips one committed late.
        const [owner] = await conn.query<RowDataPacket[]>('SELECT gateway_id FROM alerts WHERE id = ? AND home_id = ?', [alertId, guardian.home_id])
        if (owner[0]) await conn.query('SELECT id FROM gateways WHERE id = ? FOR UPDATE', [(owner[0] as { gateway_id: string }).gateway_id])
        const [rows] = await conn.query<RowDataPacket[]>('SELECT id, status FROM alerts WHERE id = ? AND home_id = ? FOR UPDATE', [
          alertId,
          guardian.home_id,
        ])
        const alert = rows[0] as { id: number; status: string } | undefined
        if (!alert) throw cloudError('CLOUD_ERR_NOT_FOUND', `no alert ${alertId} in your home`)
        if (alert.status === 'resolved') throw cloudError('CLOUD_ERR_CONFLICT', 'the alert is already resolved')
        const now = deps.now()
        const who = `guardian:${guardian.name}`
        const event_ = path === 'ack' ? 'acknowledged' : `snoozed:${now + (input.minutes ?? 30) * 60_000}`
        if (path === 'ack' && alert.status !== 'acknowledged') {
          await conn.query("UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, updated_at = ? WHERE id = ?", [
            now,
            who,
            now,
            alertId,
          ])
        } else if (path === 'snooze') {
          await conn.query("UPDATE alerts SET status = 'snoozed', updated_at = ? WHERE id = ?", [now, alertId])
        }
        await conn.query(
          "INSERT INTO alert_events (alert_id, home_id, idempotency_key, event, at, actor, origin, received_at) VALUES (?, ?, ?, ?, ?, ?, 'cloud', ?)",
          [alertId, guardian.home_id, `c:${randomUUID()}`, event_, now, who, now],
        )
        await stopLadder(conn, alertId)
        await conn.commit()
        return { alertId, event: event_, by: guardian.name }
      } catch (err) {
        await conn.rollback()
        throw err
      } finally {
        conn.release()
      }
    })
  answer('ack', null)
  answer(
    'snooze',
    z.strictObject({
      minutes: z
        .number()
        .int()
        .min(5)
        .max(24 * 60)
        .default(30),
    }),
  )
}

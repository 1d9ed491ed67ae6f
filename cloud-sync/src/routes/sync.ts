import { getRouterParam, type H3, type H3Event } from 'h3'
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import { z } from 'zod'
import type { CredentialBox } from '../crypto/credential-box.js'
import { cloudError } from '../http/errors.js'
import { authenticateGateway, type GatewayPrincipal } from '../http/gateway-auth.js'
import { scheduleNotice, stopLadder } from '../relay/schedule.js'

export interface SyncDeps {
  readonly pool: Pool
  readonly box: CredentialBox
  readonly maxSkewMs: number
  readonly now: () => number
}

const Severity = z.enum(['info', 'warning', 'critical'])
const AlertState = z.enum(['open', 'acknowledged', 'snoozed', 'resolved'])
export const AlertEvent = z.strictObject({
  /** The gateway's outbox position: with the gateway id, the idempotency key. */
  seq: z.number().int().positive(),
  event: z
    .string()
    .regex(/^[a-z]+(:\d+)?$/)
    .max(32),
  at: z.number().int().nonnegative(),
  actor: z.string().max(120).nullable().optional(),
  alert: z.strictObject({
    id: z.number().int().positive(),
    ruleId: z.string().max(64).nullable(),
    ruleName: z.string().max(120).nullable(),
    deviceId: z.string().max(64).nullable(),
    severity: Severity,
    title: z.string().min(1).max(200),
    body: z.string().max(4000).nullable(),
    status: AlertState,
    raisedAt: z.number().int(),
    updatedAt: z.number().int(),
    acknowledgedAt: z.number().int().nullable(),
    acknowledgedBy: z.string().max(120).nullable(),
  }),
})
const AlertBatch = z.strictObject({ events: z.array(AlertEvent).min(1).max(500) })
const DeviceBatch = z.strictObject({
  devices: z
    .array(
      z.strictObject({
        id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/),
        name: z.string().max(120).nullable(),
        room: z.string().max(64).nullable(),
        type: z.string().min(1).max(32),
        source: z.string().min(1).max(16),
        updatedAt: z.number().int().nonnegative(),
      }),
    )
    .min(1)
    .max(500),
})
const Heartbeat = z.strictObject({ at: z.number().int(), health: z.record(z.string(), z.unknown()) })

/** Read the raw body (the signature covers it), authenticate the gateway, then validate the JSON. */
async function signed<T>(event: H3Event, deps: SyncDeps, schema: z.ZodType<T> | null): Promise<{ who: GatewayPrincipal; body: T }> {
  const raw = event.req.method === 'GET' ? '' : await event.req.text()
  const who = await authenticateGateway(event, raw, deps)
  if (!schema) return { who, body: undefined as T }
  let json: unknown
  try {
    json = JSON.parse(raw)
  } catch {
    throw cloudError('CLOUD_ERR_VALIDATION', 'the body is not JSON')
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) throw cloudError('CLOUD_ERR_VALIDATION', 'invalid body', { issues: parsed.error.issues })
  return { who, body: parsed.data }
}

/**
 * What gateways send and read, each only for itself: its home comes from its credential, never
 * from the body, and every query is bound to it (tenant isolation).
 */
export function syncRoutes(app: H3, deps: SyncDeps): void {
  // Alert events in the gateway's outbox order. Idempotent: an event already stored (same gateway
  // and seq) is counted as a duplicate and changes nothing; the alert row takes the state of the
  // event with the highest seq, whatever order retries arrive in.
  app.post('/v1/sync/alerts', async (event) => {
    const { who, body } = await signed(event, deps, AlertBatch)
    const events = [...body.events].sort((a, b) => a.seq - b.seq)
    const now = deps.now()
    const conn = await deps.pool.getConnection()
    let duplicates = 0
    try {
      await conn.beginTransaction()
      for (const e of events) {
        const a = e.alert
        const values = [
          a.ruleId,
          a.ruleName,
          a.deviceId,
          a.severity,
          a.title,
          a.body,
          a.status,
          a.raisedAt,
          a.updatedAt,
          a.acknowledgedAt,
          a.acknowledgedBy,
        ]
        // source_seq is assigned last: MySQL evaluates the assignments left to right.
        await conn.query(
          `INSERT INTO alerts (home_id, gateway_id, epoch, local_id, rule_id, rule_name, device_id, severity, title, body, status, raised_at, updated_at, acknowledged_at, acknowledged_by, source_seq)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON DUPLICATE KEY UPDATE
             status = IF(VALUES(source_seq) > source_seq, VALUES(status), status),
             title = IF(VALUES(source_seq) > source_seq, VALUES(title), title),
             body = IF(VALUES(source_seq) > source_seq, VALUES(body), body),
             updated_at = IF(VALUES(source_seq) > source_seq, VALUES(updated_at), updated_at),
             acknowledged_at = IF(VALUES(source_seq) > source_seq, VALUES(acknowledged_at), acknowledged_at),
             acknowledged_by = IF(VALUES(source_seq) > source_seq, VALUES(acknowledged_by), acknowledged_by),
             source_seq = GREATEST(source_seq, VALUES(source_seq))`,
          [who.homeId, who.gatewayId, who.epoch, a.id, ...values, e.seq],
        )
        const [ids] = await conn.query<RowDataPacket[]>(
          'SELECT id, status, severity FROM alerts WHERE gateway_id = ? AND epoch = ? AND local_id = ?',
          [who.gatewayId, who.epoch, a.id],
        )
        const row = ids[0] as { id: number; status: string; severity: string }
        const alertId = row.id
        const [r] = await conn.query<ResultSetHeader>(
          `INSERT IGNORE INTO alert_events (alert_id, home_id, idempotency_key, seq, event, at, actor, origin, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'gateway', ?)`,
          [alertId, who.homeId, `g:${who.gatewayId}:${who.epoch}:${e.seq}`, e.seq, e.event, e.at, e.actor ?? null, now],
        )
        if (r.affectedRows === 0) {
          duplicates++
          continue
        }
        // Guardians hear of warnings and critical alerts; a critical one climbs the ladder until
        // someone acknowledges it (at home or away). Handled here already: nothing more to send.
        const handled = row.status === 'acknowledged' || row.status === 'resolved'
        // A snooze that ran out on the box re-opens the alert: the ladder starts again (a new key per re-opening).
        const reopened = e.event.startsWith('reopened') && row.status === 'open'
        if ((e.event === 'raised' || reopened) && row.severity !== 'info' && !handled) {
          await scheduleNotice(conn, {
            homeId: who.homeId,
            alertId,
            gatewayId: who.gatewayId,
            notice: 'raised',
            key: reopened ? `a:${alertId}:r${e.seq}` : `a:${alertId}`,
            critical: row.severity === 'critical',
            at: now,
          })
        }
        if (handled) await stopLadder(conn, alertId)
      }
      await conn.commit()
    } catch (err) {
      await conn.rollback()
      throw err
    } finally {
      conn.release()
    }
    return { accepted: events.length - duplicates, duplicates, lastSeq: events.at(-1)?.seq }
  })

  app.get('/v1/sync/alerts/:localId', async (event) => {
    const { who } = await signed(event, deps, null)
    const param = getRouterParam(event, 'localId') ?? ''
    if (!/^\d{1,15}$/.test(param)) throw cloudError('CLOUD_ERR_NOT_FOUND', 'no such alert')
    const localId = Number(param)
    const [rows] = await deps.pool.query<RowDataPacket[]>(
      'SELECT local_id AS id, status, severity, title, raised_at AS raisedAt, acknowledged_at AS acknowledgedAt, acknowledged_by AS acknowledgedBy, source_seq AS sourceSeq FROM alerts WHERE gateway_id = ? AND home_id = ? AND epoch = ? AND local_id = ?',
      [who.gatewayId, who.homeId, who.epoch, localId],
    )
    if (rows.length === 0) throw cloudError('CLOUD_ERR_NOT_FOUND', `no alert ${localId} from this gateway`)
    const [events] = await deps.pool.query<RowDataPacket[]>(
      // In the order they happened on the box (its outbox seq), whatever order they arrived in.
      'SELECT e.event, e.at, e.actor, e.origin FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE a.gateway_id = ? AND a.epoch = ? AND a.local_id = ? ORDER BY e.seq IS NULL, e.seq, e.id',
      [who.gatewayId, who.epoch, localId],
    )
    return { ...rows[0], events }
  })

  // What happened in the cloud to this gateway's alerts (guardians' acknowledgements), after a
  // position the box keeps: it applies them to its own alerts.
  app.get('/v1/sync/changes', async (event) => {
    const { who } = await signed(event, deps, null)
    const after = new URL(event.req.url).searchParams.get('after') ?? '0'
    if (!/^\d{1,15}$/.test(after)) throw cloudError('CLOUD_ERR_VALIDATION', 'after must be an event id (a whole number)')
    const [rows] = await deps.pool.query<RowDataPacket[]>(
      `SELECT e.id, a.local_id AS localId, e.event, e.actor, e.at FROM alert_events e JOIN alerts a ON a.id = e.alert_id
       WHERE a.gateway_id = ? AND a.home_id = ? AND a.epoch = ? AND e.origin = 'cloud' AND e.id > ? ORDER BY e.id LIMIT 100`,
      [who.gatewayId, who.homeId, who.epoch, Number(after)],
    )
    return { changes: rows }
  })

  // Device metadata, after the alerts: a row changes only for a newer version of it.
  app.post('/v1/sync/devices', async (event) => {
    const { who, body } = await signed(event, deps, DeviceBatch)
    for (const d of body.devices) {
      await deps.pool.query(
        `INSERT INTO devices (gateway_id, device_id, home_id, name, room, type, source, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE
           name = IF(VALUES(version) > version, VALUES(name), name),
           room = IF(VALUES(version) > version, VALUES(room), room),
           type = IF(VALUES(version) > version, VALUES(type), type),
           version = GREATEST(version, VALUES(version))`,
        [who.gatewayId, d.id, who.homeId, d.name, d.room, d.type, d.source, d.updatedAt],
      )
    }
    return { accepted: body.devices.length }
  })

  app.post('/v1/heartbeat', async (event) => {
    const { who, body } = await signed(event, deps, Heartbeat)
    await deps.pool.query('UPDATE gateways SET last_seen_at = ?, last_health = ? WHERE id = ? AND home_id = ?', [
      deps.now(),
      JSON.stringify(body.health),
      who.gatewayId,
      who.homeId,
    ])
    return { serverTime: deps.now() }
  })
}

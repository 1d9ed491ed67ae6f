import type { Pool, RowDataPacket } from 'mysql2/promise'
import type { Logger } from 'pino'
import { scheduleNotice } from './schedule.js'

/**
 * The box that went silent: no heartbeat from a gateway for `silentMs` opens an outage and tells
 * the home's guardians through the ladder (as a critical notice: a silent box can hide anything);
 * the next heartbeat closes it and tells them it is back. Safe to run on every relay instance: the
 * outage row is taken under a lock, and the notices are keyed by the outage.
 */
export async function watchGateways(
  pool: Pool,
  o: { silentMs: number; now: () => number; log: Logger },
): Promise<{ opened: number; closed: number }> {
  const now = o.now()
  let opened = 0
  let closed = 0
  const conn = await pool.getConnection()
  try {
    await conn.beginTransaction()
    const [silent] = await conn.query<RowDataPacket[]>(
      `SELECT g.id, g.home_id FROM gateways g
       WHERE g.revoked_at IS NULL AND g.last_seen_at IS NOT NULL AND g.last_seen_at < ?
         AND NOT EXISTS (SELECT 1 FROM gateway_outages o WHERE o.gateway_id = g.id AND o.ended_at IS NULL)
       FOR UPDATE SKIP LOCKED`,
      [now - o.silentMs],
    )
    for (const g of silent as Array<{ id: string; home_id: number }>) {
      // One open outage per gateway (a unique key): a second relay racing here inserts nothing.
      const [r] = await conn.query('INSERT IGNORE INTO gateway_outages (gateway_id, home_id, started_at) VALUES (?, ?, ?)', [g.id, g.home_id, now])
      if ((r as { affectedRows: number }).affectedRows === 0) continue
      const outage = (r as { insertId: number }).insertId
      await scheduleNotice(conn, {
        homeId: g.home_id,
        alertId: null,
        gatewayId: g.id,
        notice: 'offline',
        key: `o:${outage}`,
        critical: true,
        at: now,
      })
      opened++
      o.log.warn({ gateway: g.id }, 'gateway silent: guardians told it is offline')
    }
    const [back] = await conn.query<RowDataPacket[]>(
      `SELECT o.id, o.gateway_id, o.home_id FROM gateway_outages o JOIN gateways g ON g.id = o.gateway_id
       WHERE o.ended_at IS NULL AND g.last_seen_at >= o.started_at FOR UPDATE SKIP LOCKED`,
    )
    for (const b of back as Array<{ id: number; gateway_id: string; home_id: number }>) {
      await conn.query('UPDATE gateway_outages SET ended_at = ? WHERE id = ?', [now, b.id])
      // The escalations of "offline" not yet sent are moot now.
      await conn.query("UPDATE deliveries SET status = 'cancelled' WHERE idempotency_key LIKE ? AND status = 'pending'", [`o:${b.id}:%`])
      await scheduleNotice(conn, {
        homeId: b.home_id,
        alertId: null,
        gatewayId: b.gateway_id,
        notice: 'online',
        key: `r:${b.id}`,
        critical: false,
        at: now,
      })
      closed++
      o.log.info({ gateway: b.gateway_id }, 'gateway back: guardians told it is online')
    }
    await conn.commit()
    // Replay-window rows whose window has passed (every signed request adds one).
    await pool.query('DELETE FROM request_nonces WHERE expires_at < ? LIMIT 10000', [now])
  } catch (err) {
    await conn.rollback()
    throw err
  } finally {
    conn.release()
  }
  return { opened, closed }
}

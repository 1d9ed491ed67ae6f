import type { PoolConnection, RowDataPacket } from 'mysql2/promise'

interface Step {
  step: number
  after_seconds: number
  guardian_id: number
  kind: 'push' | 'email' | 'sms'
}

/**
 * Queue the messages for a notice (an alert raised, a box gone offline): one delivery per step of
 * the home's escalation ladder and per enabled channel of that step's kind, due after the step's
 * delay. Only critical notices climb the ladder; others go to the steps due at once. Idempotent by
 * key, so a replayed sync or a second relay instance queues nothing twice.
 */
export async function scheduleNotice(
  conn: PoolConnection,
  n: { homeId: number; alertId: number | null; gatewayId: string | null; notice: string; key: string; critical: boolean; at: number },
): Promise<number> {
  const [steps] = await conn.query<RowDataPacket[]>(
    'SELECT step, after_seconds, guardian_id, kind FROM escalation_steps WHERE home_id = ? ORDER BY step',
    [n.homeId],
  )
  let queued = 0
  for (const s of steps as Step[]) {
    if (!n.critical && s.after_seconds > 0) continue
    const [channels] = await conn.query<RowDataPacket[]>(
      'SELECT id FROM guardian_channels WHERE guardian_id = ? AND kind = ? AND disabled_at IS NULL ORDER BY id',
      [s.guardian_id, s.kind],
    )
    for (const c of channels as Array<{ id: number }>) {
      const [r] = await conn.query(
        `INSERT IGNORE INTO deliveries (idempotency_key, home_id, alert_id, gateway_id, notice, step, guardian_id, channel_id, kind, due_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          `${n.key}:s${s.step}:c${c.id}`,
          n.homeId,
          n.alertId,
          n.gatewayId,
          n.notice,
          s.step,
          s.guardian_id,
          c.id,
          s.kind,
          n.at + s.after_seconds * 1000,
        ],
      )
      queued += (r as { affectedRows: number }).affectedRows
    }
  }
  return queued
}

/** The ladder stops: an acknowledged or resolved alert cancels the escalations not yet sent. */
export async function stopLadder(conn: PoolConnection, alertId: number): Promise<void> {
  await conn.query("UPDATE deliveries SET status = 'cancelled' WHERE alert_id = ? AND status = 'pending' AND step > 0", [alertId])
}

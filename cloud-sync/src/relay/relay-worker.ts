import type { Pool, RowDataPacket } from 'mysql2/promise'
import type { Logger } from 'pino'
import type { Channel, Notification, SendResult } from './channels/channel.js'

export interface RelayOptions {
  readonly pool: Pool
  readonly channels: Partial<Record<'push' | 'email' | 'sms', Channel>>
  /** This instance's name (claims carry it). */
  readonly id: string
  readonly log: Logger
  readonly now: () => number
  readonly batch?: number
  readonly maxAttempts?: number
  /** A claim not finished within this long is taken over by another instance (a crashed relay). */
  readonly leaseMs?: number
}

interface Row {
  id: number
  alert_id: number | null
  notice: string
  step: number
  kind: 'push' | 'email' | 'sms'
  attempts: number
  target: string | null
  disabled_at: number | null
  severity: string | null
  title: string | null
  body: string | null
  status: string | null
  raised_at: number | null
  home_name: string
  gateway_id: string | null
}

/**
 * The relay: any number of instances against one MySQL. Each claims due deliveries with
 * `SELECT … FOR UPDATE SKIP LOCKED` (MariaDB ≥ 10.6 / MySQL 8) — instances never wait on each other
 * and never take the same row — marks them `sending` under a lease, sends outside the transaction,
 * and records the receipt. A transient failure goes back to `pending` with backoff; an escalation
 * for an alert acknowledged meanwhile is cancelled instead of sent.
 */
export class RelayWorker {
  readonly #o: RelayOptions
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = true

  constructor(o: RelayOptions) {
    this.#o = o
  }

  start(pollMs = 1000): void {
    this.#stopped = false
    const loop = async () => {
      if (this.#stopped) return
      try {
        while (!this.#stopped && (await this.runOnce()) > 0);
      } catch (err) {
        this.#o.log.error({ err }, 'relay round failed; retrying')
      }
      if (!this.#stopped) this.#timer = setTimeout(() => (this.#running = loop()), pollMs)
    }
    this.#running = loop()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#running
  }

  /** Claim one batch of due deliveries and send them; returns how many were claimed. */
  async runOnce(): Promise<number> {
    const ids = await this.#claim()
    for (const id of ids) await this.#deliver(id)
    return ids.length
  }

  async #claim(): Promise<number[]> {
    const now = this.#o.now()
    const conn = await this.#o.pool.getConnection()
    try {
      // READ COMMITTED: no gap locks, so claims and the updates of sent rows never deadlock (a
      // queue's classic trap under REPEATABLE READ).
      await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
      await conn.beginTransaction()
      const [rows] = await conn.query<RowDataPacket[]>(
        `SELECT id FROM deliveries
         WHERE (status = 'pending' AND due_at <= ?) OR (status = 'sending' AND claimed_until < ?)
         ORDER BY due_at, id LIMIT ? FOR UPDATE SKIP LOCKED`,
        [now, now, this.#o.batch ?? 20],
      )
      const ids = (rows as Array<{ id: number }>).map((r) => r.id)
      if (ids.length > 0) {
        await conn.query(
          `UPDATE deliveries SET status = 'sending', claimed_by = ?, claimed_until = ? WHERE id IN (${ids.map(() => '?').join(',')})`,
          [this.#o.id, now + (this.#o.leaseMs ?? 60_000), ...ids],
        )
      }
      await conn.commit()
      return ids
    } catch (err) {
      await conn.rollback()
      // Chosen as a deadlock victim: nothing was claimed; the next round tries again.
      if ((err as { code?: string }).code === 'ER_LOCK_DEADLOCK') return []
      throw err
    } finally {
      conn.release()
    }
  }

  async #deliver(id: number): Promise<void> {
    const [rows] = await this.#o.pool.query<RowDataPacket[]>(
      `SELECT d.id, d.alert_id, d.notice, d.step, d.kind, d.attempts, d.gateway_id, c.target, c.disabled_at,
              a.severity, a.title, a.body, a.status, a.raised_at, h.name AS home_name
       FROM deliveries d JOIN homes h ON h.id = d.home_id
       LEFT JOIN guardian_channels c ON c.id = d.channel_id
       LEFT JOIN alerts a ON a.id = d.alert_id
       WHERE d.id = ? AND d.claimed_by = ?`,
      [id, this.#o.id],
    )
    const d = rows[0] as Row | undefined
    if (!d) return
    if (d.step > 0 && (d.status === 'acknowledged' || d.status === 'resolved'))
      return this.#finish(d, 'cancelled', null, 'acknowledged before this step was due')
    // Renew the lease for this one send: a slow provider must not let another instance take over a
    // row this one is still sending (the lease covers one send, not the whole batch).
    const [renewed] = await this.#o.pool.query('UPDATE deliveries SET claimed_until = ? WHERE id = ? AND claimed_by = ? AND claimed_until > ?', [
      this.#o.now() + (this.#o.leaseMs ?? 60_000),
      d.id,
      this.#o.id,
      this.#o.now(),
    ])
    if ((renewed as { affectedRows: number }).affectedRows === 0) return
    const channel = this.#o.channels[d.kind]
    if (!channel || d.target === null || d.disabled_at !== null)
      return this.#finish(d, 'failed', null, channel ? 'the channel is disabled' : `no ${d.kind} channel configured`)
    const n: Notification = {
      deliveryId: d.id,
      alertId: d.alert_id ?? 0,
      severity: (d.severity ?? 'critical') as Notification['severity'],
      title:
        d.title ?? (d.notice === 'offline' ? `The CareHub box of ${d.home_name} is offline` : `The CareHub box of ${d.home_name} is back online`),
      body: d.body,
      homeName: d.home_name,
      raisedAt: d.raised_at ?? this.#o.now(),
      kind: d.step > 0 && d.notice === 'raised' ? 'escalated' : d.notice,
    }
    let result: SendResult
    try {
      result = await channel.send(d.target, n)
    } catch (err) {
      result = { ok: false, permanent: false, disableTarget: false, retryAfterMs: null, reason: (err as Error).message }
    }
    if (result.ok) return this.#finish(d, 'sent', result.receipt, null)
    if (result.disableTarget) {
      await this.#o.pool.query('UPDATE guardian_channels SET disabled_at = ?, disabled_reason = ? WHERE target = ? AND kind = ?', [
        this.#o.now(),
        result.reason.slice(0, 200),
        d.target,
        d.kind,
      ])
    }
    const attempts = d.attempts + 1
    if (result.permanent || attempts >= (this.#o.maxAttempts ?? 8)) return this.#finish(d, 'failed', null, result.reason)
    const delay = result.retryAfterMs ?? Math.min(600_000, 1000 * 2 ** attempts)
    await this.#o.pool.query(
      "UPDATE deliveries SET status = 'pending', attempts = ?, due_at = ?, last_error = ?, claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ?",
      [attempts, this.#o.now() + delay, result.reason.slice(0, 500), d.id, this.#o.id],
    )
  }

  async #finish(d: Row, status: 'sent' | 'failed' | 'cancelled', receipt: string | null, error: string | null): Promise<void> {
    await this.#o.pool.query(
      'UPDATE deliveries SET status = ?, attempts = attempts + ?, receipt = ?, last_error = ?, sent_at = ?, claimed_until = NULL WHERE id = ? AND claimed_by = ?',
      [status, status === 'cancelled' ? 0 : 1, receipt, error?.slice(0, 500) ?? null, status === 'sent' ? this.#o.now() : null, d.id, this.#o.id],
    )
    if (status === 'failed') this.#o.log.warn({ delivery: d.id, kind: d.kind, error }, 'notification not delivered')
  }
}

import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { CommandOutcome, CommandRequest } from '../actions/device-command.js'
import type { AutomationsConfig } from '../config/automations-schema.js'
import { backoffDelay } from '../core/backoff.js'
import type { Clock } from '../core/clock.js'
import type { Service } from '../core/service.js'
import { type Alert, getAlert } from '../store/alerts.js'
import { getDevice } from '../store/devices.js'
import type { Db } from '../store/open.js'
import { kept } from '../store/statements.js'
import type { AlertMessage } from './alert-email.js'
import { EmailError } from './email-error.js'

export interface AlertDeliveryOptions {
  readonly db: () => Db
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  /** Present when email is configured. */
  readonly email: { send(message: AlertMessage): Promise<void>; close(): void } | undefined
  readonly commands: { run(req: CommandRequest): Promise<CommandOutcome> }
  readonly fallback: AutomationsConfig['criticalFallback']
  /** Whether a critical alert was handed to the cloud (false while no cloud is configured). */
  readonly cloudHasIt: (alertId: number) => boolean
  readonly gatewayName: string
  readonly timeZone: string
}

interface DeliveryRow {
  id: number
  alert_id: number
  channel: 'email' | 'fallback'
  event: string
  attempts: number
}

/** Email attempts before giving up (backoff 30 s … 1 h: about a day of trying). */
const EMAIL_ATTEMPTS = 30

/**
 * Local alert channels that can fail: email (retried with backoff; a refused recipient is final) and
 * the critical fallback (commands to a siren or a lamp when the cloud cannot take a critical alert —
 * run at once, because the cloud is the guardians' only other way to hear of it). Deliveries are
 * rows in alert_deliveries written with the alert, so a restart resumes them. The panel's live
 * stream needs no row: it is told directly.
 */
export class AlertDelivery implements Service {
  readonly name = 'alert-delivery'
  readonly #o: AlertDeliveryOptions
  #timer: NodeJS.Timeout | undefined
  readonly #lanes = { email: { running: false, again: false }, fallback: { running: false, again: false } }
  #stopped = true
  readonly #sent: Counter<'channel' | 'status'>

  constructor(o: AlertDeliveryOptions) {
    this.#o = o
    const registers = [o.registry]
    this.#sent = new Counter({
      name: 'carehub_alert_deliveries_total',
      help: 'Alert deliveries attempted',
      labelNames: ['channel', 'status'],
      registers,
    })
    const db = () => o.db()
    new Gauge({
      name: 'carehub_alert_outbox_depth',
      help: 'Alert deliveries waiting, per channel (cloud: waiting for the cloud uploader)',
      labelNames: ['channel'],
      registers,
      collect() {
        try {
          const rows = db().prepare("SELECT channel, count(*) AS n FROM alert_deliveries WHERE status = 'pending' GROUP BY channel").all() as Array<{
            channel: string
            n: number
          }>
          this.reset()
          for (const r of rows) this.set({ channel: r.channel }, r.n)
        } catch {
          // The store is closed (shutting down): keep the last figures.
        }
      },
    })
  }

  async start(): Promise<void> {
    this.#stopped = false
    this.wake()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    // The pooled SMTP connection goes with us (it would idle on for 20 s).
    this.#o.email?.close()
  }

  /** New deliveries were written (after the engine's transaction), or a timer ran out. */
  wake(): void {
    if (this.#stopped) return
    clearTimeout(this.#timer)
    // Two lanes: the fallback (a one-second promise) never waits behind slow email sends — and
    // email is slow exactly when the internet is down, which is when the fallback matters.
    this.#lane('fallback')
    this.#lane('email')
  }

  #lane(channel: 'email' | 'fallback'): void {
    const lane = this.#lanes[channel]
    if (lane.running) {
      lane.again = true
      return
    }
    lane.running = true
    void this.#drain(channel)
      .catch((err: unknown) => this.#o.log.error({ err, channel }, 'alert delivery failed; retrying in 5 s'))
      .finally(() => {
        lane.running = false
        if (lane.again) {
          lane.again = false
          this.#lane(channel)
        } else this.#schedule()
      })
  }

  async #drain(channel: 'email' | 'fallback'): Promise<void> {
    for (;;) {
      if (this.#stopped) return
      const due = kept(
        this.#o.db(),
        "SELECT id, alert_id, channel, event, attempts FROM alert_deliveries WHERE status = 'pending' AND channel = ? AND next_attempt_at <= ? ORDER BY id LIMIT 20",
      ).all(channel, this.#o.clock.now()) as DeliveryRow[]
      if (due.length === 0) return
      if (channel === 'fallback') await Promise.all(due.map((d) => this.#fallback(d)))
      else for (const d of due) await this.#email(d)
    }
  }

  async #fallback(d: DeliveryRow): Promise<void> {
    if (this.#o.cloudHasIt(d.alert_id)) return this.#finish(d, 'sent', 'not needed: the cloud has the alert')
    const outcomes = await Promise.all(
      this.#o.fallback.map((f) =>
        this.#o.commands.run({ deviceId: f.device, capability: f.capability, params: f.params, actor: `alert:${d.alert_id}`, timeoutMs: 2000 }),
      ),
    )
    const failed = outcomes.filter((o) => o.status !== 'ok')
    const detail = outcomes.map((o) => `${o.deviceId} ${o.capability}: ${o.status}${o.detail ? ` (${o.detail})` : ''}`).join('; ')
    this.#finish(d, failed.length === 0 ? 'sent' : 'failed', failed.length === 0 ? null : detail)
    this.#o.log.info({ alert: d.alert_id, detail }, 'critical fallback ran')
  }

  async #email(d: DeliveryRow): Promise<void> {
    const email = this.#o.email
    const alert = getAlert(this.#o.db(), d.alert_id)
    if (!email || !alert) return this.#finish(d, 'gave_up', email ? 'the alert no longer exists' : 'email is not configured')
    try {
      await email.send(this.#message(alert, d.event))
      this.#finish(d, 'sent', null)
    } catch (err) {
      const e = err instanceof EmailError ? err : null
      const attempts = d.attempts + 1
      if (e?.kind === 'permanent') return this.#finish(d, 'failed', e.message)
      if (attempts >= EMAIL_ATTEMPTS) return this.#finish(d, 'gave_up', (err as Error).message)
      // A wrong password will not fix itself within seconds: wait longer before asking the server again.
      const delay = e?.kind === 'auth' ? Math.max(600_000, backoffDelay(attempts, 30_000, 3_600_000)) : backoffDelay(attempts, 30_000, 3_600_000)
      this.#o
        .db()
        .prepare('UPDATE alert_deliveries SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?')
        .run(attempts, (err as Error).message.slice(0, 500), this.#o.clock.now() + delay, d.id)
      this.#sent.inc({ channel: 'email', status: 'retry' })
      if (attempts === 1) this.#o.log.warn({ err, alert: d.alert_id }, 'alert email not sent; retrying with backoff')
    }
  }

  #message(a: Alert, event: string): AlertMessage {
    const device = a.deviceId ? getDevice(this.#o.db(), a.deviceId) : null
    return {
      id: a.id,
      event: event === 'resolved' ? 'resolved' : event.startsWith('reopened') ? 'reopened' : 'raised',
      severity: a.severity,
      title: a.title,
      body: a.body,
      deviceId: a.deviceId,
      deviceName: device?.name ?? null,
      ruleName: a.ruleName,
      raisedAt: a.raisedAt,
      values: Object.fromEntries(
        ((a.detail.views as Array<{ detail: string; value?: unknown }> | undefined) ?? []).map((v) => [v.detail, v.value ?? null]),
      ),
      gatewayName: this.#o.gatewayName,
      timeZone: this.#o.timeZone,
      panelUrl: null,
    }
  }

  #finish(d: DeliveryRow, status: 'sent' | 'failed' | 'gave_up', error: string | null): void {
    const now = this.#o.clock.now()
    this.#o
      .db()
      .prepare('UPDATE alert_deliveries SET status = ?, attempts = attempts + 1, last_error = ?, delivered_at = ? WHERE id = ?')
      .run(status, error, status === 'sent' ? now : null, d.id)
    this.#sent.inc({ channel: d.channel, status })
    if (status !== 'sent') this.#o.log.warn({ alert: d.alert_id, channel: d.channel, error }, 'alert delivery failed')
  }

  #schedule(): void {
    if (this.#stopped) return
    clearTimeout(this.#timer)
    let next: number | null
    try {
      next = kept(
        this.#o.db(),
        "SELECT min(next_attempt_at) FROM alert_deliveries WHERE status = 'pending' AND channel IN ('email', 'fallback')",
        'pluck',
      ).get() as number | null
    } catch (err) {
      this.#o.log.error({ err }, 'reading alert deliveries failed; retrying in 5 s')
      next = this.#o.clock.now() + 5000
    }
    if (next === null) return
    this.#timer = setTimeout(() => this.wake(), Math.min(60_000, Math.max(50, next - this.#o.clock.now())))
  }
}

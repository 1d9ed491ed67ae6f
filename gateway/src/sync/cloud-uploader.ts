import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { addDelivery } from '../actions/effect-writer.js'
import { backoffDelay, Sleeper } from '../core/backoff.js'
import type { Clock } from '../core/clock.js'
import type { HealthCheck, Service, ServiceHealth } from '../core/service.js'
import { type Alert, getAlert, transitionAlert } from '../store/alerts.js'
import { appendAudit } from '../store/audit.js'
import type { Db } from '../store/open.js'
import { getSetting, setSetting } from '../store/settings.js'
import { CloudClient, CloudError } from './cloud-client.js'

/** What `carehub cloud enroll` stored: where the service is, and as whom the box talks to it. */
export interface CloudEnrolment {
  readonly url: string
  readonly gatewayId: string
  readonly homeId: number
  readonly enrolledAt: number
}
export const CLOUD_SETTING = 'cloud'
export const CLOUD_SECRET = 'cloud.secret'

export interface UploaderOptions {
  readonly db: () => Db
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  readonly secret: (name: string) => Promise<string | undefined>
  readonly batchSize: number
  readonly timeoutMs: number
  readonly heartbeatMs: number
  readonly backoffMinMs: number
  readonly backoffMaxMs: number
  /** The health summary sent with each heartbeat. */
  readonly health: () => Promise<Record<string, unknown>>
  /** A guardian acknowledged or snoozed an alert in the cloud: it was applied here; tell the panel. */
  readonly onRemoteChange: (alert: Alert) => void
}

/** Where the box is in the cloud's stream of changes to its alerts. */
const CHANGES_CURSOR = 'cloud.changes'
/** The newest device change the cloud has (device rows' updated_at). */
const DEVICES_CURSOR = 'cloud.devices'

interface OutboxRow {
  id: number
  alert_id: number
  event: string
}

/**
 * The edge uploader (issue 8): drains the cloud outbox (alert_deliveries, channel `cloud`) in id
 * order — alerts and their lifecycle events come before anything else the box will ever sync — in
 * batches, each event keyed by the gateway id and its outbox id, so a resend after a lost answer
 * is recognised as a duplicate. Rows are marked sent only after a 2xx. An outage means backoff with
 * jitter, one warning, and `/health/ready` degraded; nothing is dropped. A heartbeat every minute.
 * Idle until the box is enrolled (`carehub cloud enroll`).
 */
export class CloudUploader implements Service {
  readonly name = 'cloud-sync'
  readonly #o: UploaderOptions
  readonly #sleeper = new Sleeper()
  #loop: Promise<void> | undefined
  #stopped = true
  #failures = 0
  #problem: string | null = null
  #lastHeartbeat = 0
  #lastPull = 0
  /** After the service refused a batch: send one event at a time to find the one it refuses. */
  #singles = false
  readonly #sent: Counter<'kind'>

  constructor(o: UploaderOptions) {
    this.#o = o
    this.#sent = new Counter({
      name: 'carehub_cloud_sent_total',
      help: 'Alert events and heartbeats the cloud accepted',
      labelNames: ['kind'],
      registers: [o.registry],
    })
  }

  readonly healthCheck: HealthCheck = {
    name: 'cloud',
    critical: false,
    check: (): ServiceHealth => {
      if (!this.#enrolment()) return { status: 'ok', detail: 'not enrolled (optional)' }
      return this.#problem ? { status: 'degraded', detail: this.#problem } : { status: 'ok' }
    },
  }

  async start(): Promise<void> {
    this.#stopped = false
    this.#loop = this.#run()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#sleeper.wake()
    await this.#loop
  }

  /** New outbox rows were written: send them now rather than at the next poll. */
  wake(): void {
    this.#sleeper.wake()
  }

  /** Whether the cloud has this alert (its 'raised' event was accepted): the critical fallback asks. */
  hasAlert(alertId: number): boolean {
    const row = this.#o
      .db()
      .prepare("SELECT 1 FROM alert_deliveries WHERE alert_id = ? AND channel = 'cloud' AND event = 'raised' AND status = 'sent'")
      .get(alertId)
    return row !== undefined
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let wait = 5000
      try {
        const enrolment = this.#enrolment()
        if (enrolment) {
          const client = new CloudClient({
            url: enrolment.url,
            gatewayId: enrolment.gatewayId,
            secret: () => this.#o.secret(CLOUD_SECRET),
            timeoutMs: this.#o.timeoutMs,
            now: () => this.#o.clock.now(),
          })
          // The heartbeat goes whatever else fails: a box that is up must not be reported offline
          // because its alert uploads are refused.
          if (this.#o.clock.now() - this.#lastHeartbeat >= this.#o.heartbeatMs)
            await this.#heartbeat(client).catch((err: unknown) => this.#failed(err))
          const more = await this.#drain(client)
          // Device metadata only once no alert event is waiting: alerts always go first.
          const moreDevices = more ? false : await this.#devices(client)
          // At most once a second: two identical signed GETs in one second are one replayed request.
          if (this.#o.clock.now() - this.#lastPull >= 1000) {
            this.#lastPull = this.#o.clock.now()
            await this.#pullChanges(client)
          }
          this.#recovered()
          wait = more || moreDevices ? 0 : Math.min(5000, this.#o.heartbeatMs)
        }
      } catch (err) {
        wait = this.#failed(err)
      }
      if (wait > 0) await this.#sleeper.sleep(wait)
    }
  }

  /** Send one batch; true when more are waiting. */
  async #drain(client: CloudClient): Promise<boolean> {
    const rows = this.#o
      .db()
      .prepare(
        "SELECT id, alert_id, event FROM alert_deliveries WHERE channel = 'cloud' AND status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
      )
      .all(this.#o.clock.now(), this.#singles ? 1 : this.#o.batchSize) as OutboxRow[]
    if (rows.length === 0) return false
    const events = rows.flatMap((r) => {
      const alert = getAlert(this.#o.db(), r.alert_id)
      return alert ? [toEvent(r, alert)] : []
    })
    try {
      if (events.length > 0) await client.send('POST', '/v1/sync/alerts', { events })
    } catch (err) {
      if (!(err instanceof CloudError) || err.kind !== 'rejected') throw err
      if (rows.length > 1) {
        this.#singles = true
        return true
      }
      // The one event the service refuses (it says why): kept here, marked failed, the rest go on.
      this.#o.log.error({ err, delivery: rows[0]?.id }, 'the cloud refused an alert event; it stays on the box only')
      this.#o
        .db()
        .prepare("UPDATE alert_deliveries SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?")
        .run(err.message.slice(0, 500), rows[0]?.id)
      return true
    }
    this.#singles = false
    const now = this.#o.clock.now()
    const mark = this.#o
      .db()
      .prepare("UPDATE alert_deliveries SET status = 'sent', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ?")
    this.#o
      .db()
      .transaction(() => {
        for (const r of rows) mark.run(now, r.id)
      })
      .immediate()
    this.#sent.inc({ kind: 'alert_event' }, events.length)
    return rows.length === this.#o.batchSize
  }

  /** Devices changed since the last sync (names, rooms, types), in batches; true when more are waiting. */
  async #devices(client: CloudClient): Promise<boolean> {
    const db = this.#o.db()
    // (updated_at, id): a position that neither skips nor repeats rows changed in the same millisecond.
    const after = getSetting<{ at: number; id: string }>(db, DEVICES_CURSOR) ?? { at: 0, id: '' }
    const rows = db
      .prepare(
        'SELECT id, name, room, type, source, updated_at AS updatedAt FROM devices WHERE updated_at > ? OR (updated_at = ? AND id > ?) ORDER BY updated_at, id LIMIT ?',
      )
      .all(after.at, after.at, after.id, this.#o.batchSize) as Array<{
      id: string
      name: string | null
      room: string | null
      type: string
      source: string
      updatedAt: number
    }>
    if (rows.length === 0) return false
    await client.send('POST', '/v1/sync/devices', { devices: rows })
    const last = rows.at(-1) as { id: string; updatedAt: number }
    setSetting(db, DEVICES_CURSOR, { at: last.updatedAt, id: last.id }, this.#o.clock.now())
    this.#sent.inc({ kind: 'device' }, rows.length)
    return rows.length === this.#o.batchSize
  }

  /**
   * Guardians' acknowledgements made in the cloud come down and update the local alert (audited as
   * the guardian); the local change goes back up as an ordinary lifecycle event.
   */
  async #pullChanges(client: CloudClient): Promise<void> {
    const db = this.#o.db()
    const after = getSetting<number>(db, CHANGES_CURSOR) ?? 0
    const answer = await client.send('GET', `/v1/sync/changes?after=${after}`)
    const changes = (answer.body as { changes?: Array<{ id: number; localId: number; event: string; actor: string | null }> }).changes ?? []
    if (changes.length === 0) return
    const now = this.#o.clock.now()
    const changed: Alert[] = []
    db.transaction(() => {
      for (const c of changes) {
        const alert = getAlert(db, c.localId)
        if (c.event === 'acknowledged' && alert && (alert.status === 'open' || alert.status === 'snoozed')) {
          const { after: updated } = transitionAlert(db, c.localId, { to: 'acknowledged' }, c.actor ?? 'cloud', now)
          addDelivery(db, c.localId, 'cloud', `acknowledged:${now}`, now)
          appendAudit(db, {
            at: now,
            actor: c.actor ?? 'cloud',
            action: 'alert.ack',
            target: `alert:${c.localId}`,
            detail: { via: 'cloud', from: alert.status },
          })
          changed.push(updated)
        }
        // "snoozed:<until>": a guardian asked to be reminded; an alert already handled here stays so.
        const until = c.event.startsWith('snoozed:') ? Number(c.event.slice(8)) : Number.NaN
        if (Number.isFinite(until) && until > now && alert && (alert.status === 'open' || alert.status === 'acknowledged')) {
          const { after: updated } = transitionAlert(db, c.localId, { to: 'snoozed', until }, c.actor ?? 'cloud', now)
          addDelivery(db, c.localId, 'cloud', `snoozed:${now}`, now)
          appendAudit(db, {
            at: now,
            actor: c.actor ?? 'cloud',
            action: 'alert.snooze',
            target: `alert:${c.localId}`,
            detail: { via: 'cloud', until },
          })
          changed.push(updated)
        }
      }
      setSetting(db, CHANGES_CURSOR, changes.at(-1)?.id ?? after, now)
    }).immediate()
    for (const a of changed) this.#o.onRemoteChange(a)
  }

  async #heartbeat(client: CloudClient): Promise<void> {
    await client.send('POST', '/v1/heartbeat', { at: this.#o.clock.now(), health: await this.#o.health() })
    this.#lastHeartbeat = this.#o.clock.now()
    this.#sent.inc({ kind: 'heartbeat' })
  }

  #enrolment(): CloudEnrolment | undefined {
    return getSetting<CloudEnrolment>(this.#o.db(), CLOUD_SETTING)
  }

  #failed(err: unknown): number {
    this.#failures++
    const message = err instanceof Error ? err.message : String(err)
    if (this.#problem === null) this.#o.log.warn({ err }, 'cloud sync failing; the outbox keeps everything and retries with backoff')
    this.#problem = message
    // A refused credential will not fix itself within seconds.
    const min = err instanceof CloudError && err.kind === 'unauthorized' ? Math.max(this.#o.backoffMinMs, 60_000) : this.#o.backoffMinMs
    return backoffDelay(this.#failures, min, this.#o.backoffMaxMs)
  }

  #recovered(): void {
    if (this.#problem !== null) this.#o.log.info({ after: this.#failures }, 'cloud sync works again')
    this.#problem = null
    this.#failures = 0
  }
}

function toEvent(r: OutboxRow, a: Alert) {
  return {
    seq: r.id,
    event: r.event,
    at: r.event === 'raised' ? a.raisedAt : Number(r.event.split(':')[1] ?? a.updatedAt),
    actor: r.event.startsWith('acknowledged') ? a.acknowledgedBy : null,
    alert: {
      id: a.id,
      ruleId: a.ruleId,
      ruleName: a.ruleName,
      deviceId: a.deviceId,
      severity: a.severity,
      title: a.title,
      body: a.body,
      status: a.status,
      raisedAt: a.raisedAt,
      updatedAt: a.updatedAt,
      acknowledgedAt: a.acknowledgedAt,
      acknowledgedBy: a.acknowledgedBy,
    },
  }
}

import { EventStream, getQuery, getRouterParam, type H3, type H3Event, HTTPError, readValidatedBody } from 'h3'
import { z } from 'zod'
import { type AlertEvent, type AlertNotice, addDelivery } from '../../actions/effect-writer.js'
import type { Clock } from '../../core/clock.js'
import { Duration } from '../../core/duration.js'
import { CarehubError } from '../../core/errors.js'
import { SEVERITIES } from '../../core/severity.js'
import { ALERT_STATES, type Alert, type AlertTransition, getAlert, listAlerts, markRead, transitionAlert } from '../../store/alerts.js'
import { appendAudit } from '../../store/audit.js'
import type { Db } from '../../store/open.js'
import { actorOf, clientOf, requirePermission, requireSignedIn } from '../_internal/authenticate.js'
import { Instant } from '../_internal/query-values.js'

export interface AlertRouteDeps {
  readonly db: () => Db
  readonly clock: Clock
  /** After a lifecycle change: the panel stream and the email channel hear of it. */
  readonly announce: (notice: AlertNotice) => void
  /** Live alert changes (the SSE stream); returns the unsubscribe. */
  readonly subscribe: (listener: (notice: AlertNotice) => void) => () => void
  /** Streams end when the gateway stops (so the HTTP drain does not wait for them). */
  readonly streams: Set<EventStream>
  /** Checks an access token again (each heartbeat): a stream outlives no sign-out, disable or expiry (ASVS 7.4). */
  readonly reauthenticate: (accessToken: string) => Promise<unknown>
  readonly heartbeatMs: number
}

export const AlertQuery = z.strictObject({
  since: Instant.optional().describe('Alerts created at or after this time.'),
  state: z
    .string()
    .regex(/^[a-z]+(,[a-z]+)*$/)
    .transform((s) => s.split(','))
    .pipe(z.array(z.enum(ALERT_STATES)))
    .optional()
    .describe('One or more of open, acknowledged, snoozed, resolved (comma-separated).'),
  severity: z.enum(SEVERITIES).optional(),
  rule: z.string().max(64).optional(),
  device: z.string().max(64).optional(),
  before: z.coerce.number().int().positive().optional().describe('Page back: alerts with an id below this.'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
})
export const SnoozeBody = z
  .strictObject({ for: Duration.optional(), until: z.union([z.number().int().nonnegative(), Instant]).optional() })
  .refine((b) => (b.for === undefined) !== (b.until === undefined), { error: 'give either for (e.g. "30m") or until' })

/** Streams at most, per person and in all (a panel needs one per open tab). */
const STREAMS_PER_USER = 5
const STREAMS_IN_ALL = 50
/** Messages written but not yet taken by a client at most: a client that stopped reading is cut off. */
const MAX_UNSENT = 256

/** Alerts and their lifecycle (issue 7), and the live stream of alert changes for the panel (SSE). */
export function alertRoutes(app: H3, deps: AlertRouteDeps): void {
  const idOf = (event: H3Event) => {
    const id = Number(getRouterParam(event, 'id'))
    if (!Number.isSafeInteger(id) || id <= 0) throw new HTTPError({ status: 404, message: 'no such alert' })
    return id
  }

  app.get('/api/alerts', (event) => {
    const p = requirePermission(event, 'alerts:read')
    const q = AlertQuery.safeParse(getQuery(event))
    if (!q.success) throw new HTTPError({ status: 400, message: 'invalid alert query', data: { issues: q.error.issues } })
    const { state, rule, device, before, ...rest } = q.data
    return listAlerts(
      deps.db(),
      {
        ...rest,
        ...(state ? { states: state } : {}),
        ...(rule ? { ruleId: rule } : {}),
        ...(device ? { deviceId: device } : {}),
        ...(before ? { beforeId: before } : {}),
      },
      p.userId,
    )
  })

  app.get('/api/alerts/:id', (event) => {
    const p = requirePermission(event, 'alerts:read')
    const alert = getAlert(deps.db(), idOf(event), p.userId)
    if (!alert) throw new HTTPError({ status: 404, message: 'no such alert' })
    return alert
  })

  app.post('/api/alerts/:id/read', (event) => {
    const p = requirePermission(event, 'alerts:read')
    const id = idOf(event)
    markRead(deps.db(), id, p.userId, deps.clock.now())
    return getAlert(deps.db(), id, p.userId)
  })

  const transition = (path: string, event: AlertEvent, body: (e: H3Event) => Promise<AlertTransition>) =>
    app.post(`/api/alerts/:id/${path}`, async (e) => {
      const p = requirePermission(e, 'alerts:ack')
      const id = idOf(e)
      const t = await body(e)
      const db = deps.db()
      const now = deps.clock.now()
      const { before, after } = db
        .transaction(() => {
          const r = transitionAlert(db, id, t, actorOf(p), now)
          // Guardians see what the family did at home (the cloud outbox; each change its own event).
          addDelivery(db, id, 'cloud', `${event}:${now}`, now)
          appendAudit(db, {
            at: now,
            actor: actorOf(p),
            action: `alert.${path}`,
            target: `alert:${id}`,
            ip: clientOf(e).ip,
            requestId: e.context.requestId,
            detail: { from: r.before.status, to: r.after.status, ...(t.to === 'snoozed' ? { until: t.until } : {}) },
          })
          return r
        })
        .immediate()
      if (before.status !== after.status || t.to === 'snoozed') deps.announce({ alert: after, event, triggerReceivedAt: null })
      return getAlert(db, id, p.userId)
    })
  transition('ack', 'acknowledged', async () => ({ to: 'acknowledged' }))
  transition('resolve', 'resolved', async () => ({ to: 'resolved' }))
  transition('snooze', 'snoozed', async (e) => {
    const b = await readValidatedBody(e, SnoozeBody)
    const now = deps.clock.now()
    const until = b.until ?? now + (b.for as number)
    if (until <= now) throw new HTTPError({ status: 400, message: 'a snooze must end in the future' })
    if (until - now > 7 * 86_400_000) throw new HTTPError({ status: 400, message: 'a snooze lasts at most 7d' })
    return { to: 'snoozed', until }
  })

  // The panel's live stream: open alerts first (a snapshot), then every change as it happens.
  const owners = new Map<EventStream, number>()
  app.get('/api/events', async (event) => {
    requirePermission(event, 'alerts:read')
    const me = requireSignedIn(event)
    const mine = [...owners.values()].filter((u) => u === me.userId).length
    if (mine >= STREAMS_PER_USER || owners.size >= STREAMS_IN_ALL) {
      throw new CarehubError(
        'CAREHUB_ERR_RATE_LIMITED',
        `too many live streams open (${STREAMS_PER_USER} per person, ${STREAMS_IN_ALL} in all); close a panel tab`,
      )
    }
    const token = /^Bearer (\S+)$/.exec(event.req.headers.get('authorization') ?? '')?.[1] ?? ''
    const stream = new EventStream(event)
    let unsent = 0
    const write = (p: Promise<void>) => {
      if (++unsent > MAX_UNSENT) return void stream.close()
      p.then(
        () => void unsent--,
        () => void stream.close(),
      )
    }
    const send = (name: string, data: unknown) => write(stream.push({ event: name, data: JSON.stringify(data) }))
    const open = listAlerts(deps.db(), { states: ['open', 'acknowledged', 'snoozed'], limit: 500 }, me.userId)
    send('snapshot', { alerts: open })
    const unsubscribe = deps.subscribe((n) => send('alert', { event: n.event, alert: withoutRead(n.alert) }))
    const heartbeat = setInterval(() => {
      deps.reauthenticate(token).then(
        () => write(stream.pushComment('keep-alive')),
        () => void stream.close(),
      )
    }, deps.heartbeatMs)
    deps.streams.add(stream)
    owners.set(stream, me.userId)
    stream.onClosed(() => {
      unsubscribe()
      clearInterval(heartbeat)
      deps.streams.delete(stream)
      owners.delete(stream)
    })
    return stream
  })
}

// The stream is shared by every listener; whether *this* user has read it is asked per user.
const withoutRead = ({ read: _read, ...a }: Alert) => a

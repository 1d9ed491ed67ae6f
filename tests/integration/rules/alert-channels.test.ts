import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { IncomingHttpHeaders } from 'node:http'
import { request } from 'node:https'
import { after, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { SMTPServer } from 'smtp-server'
import { api } from '../../_support/api-client.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { waitFor } from '../../_support/history-data.js'
import { connectDevice } from '../../_support/mqtt-clients.js'
import { parseMail, type ReceivedMail, startSmtpSink } from '../../_support/smtp-sink.js'

/**
 * Where an alert goes once a rule raised it (issue 7): email through a real SMTP server (the
 * smtp-server package) on 127.0.0.1, held back in quiet hours and retried when the server is down;
 * the critical fallback (a command to a siren, an mqtt.js device) within a second; the panel's live
 * stream (GET /api/events, SSE over real HTTPS); and a snooze that runs out.
 */

// ---- the SMTP server; its open sessions are counted (the gateway's pooled connections) ----
const sessions = new Set<string>()
const track = {
  onConnect: (session: { id: string }, callback: (err?: Error | null) => void) => {
    sessions.add(session.id)
    callback()
  },
  onClose: (session: { id: string }) => void sessions.delete(session.id),
}
const sink = await startSmtpSink({ hideSTARTTLS: true, ...track })
const inbox: ReceivedMail[] = sink.received
/** Servers closed when the file ends (an after() inside a test would run when that test ends). */
const closeAtEnd: Array<() => Promise<void>> = [() => sink.close()]
after(() => Promise.all(closeAtEnd.map((close) => close())))

const h = await startGateway({
  gateway: { timezone: 'UTC' },
  http: { eventsHeartbeatSeconds: 1 },
  notify: {
    email: {
      enabled: true,
      host: '127.0.0.1',
      port: sink.port,
      security: 'none',
      from: 'carehub@home.test',
      to: ['anna@family.test'],
      minSeverity: 'warning',
      timeoutMs: 2000,
    },
  },
  automations: { checkpointMs: 200, criticalFallback: [{ device: 'siren', capability: 'alarm', params: { seconds: 5 } }] },
})
await h.addUser('anna', 'caregiver')
const anna = (await h.login('anna')).accessToken
const db = h.gateway.store.db

// ---- the devices: a sensor that trips the rules, a siren that answers its commands ----
const sensor: MqttClient = await connectDevice(h.mqttPort, await h.enrol('sensor'), { clientId: 'sensor' })
const sirenCommands: Array<{ topic: string; msg: { id: string; params: Record<string, unknown> }; at: number }> = []
const siren = await connectDevice(h.mqttPort, await h.enrol('siren'), { clientId: 'siren' })
await siren.subscribeAsync('care/siren/cmd/+', { qos: 1 })
siren.on('message', (topic, payload) => {
  const at = Date.now()
  const msg = JSON.parse(payload.toString()) as { id: string; params: Record<string, unknown> }
  sirenCommands.push({ topic, msg, at })
  void siren.publishAsync(`${topic}/result`, JSON.stringify({ id: msg.id, ok: true, result: { sounding: true } }), { qos: 1 })
})

/** Publish a reading of the sensor; resolves at the PUBACK (the reading is stored). */
const publish = (measurement: string, fields: Record<string, number | boolean>) =>
  sensor.publishAsync(`care/sensor/${measurement}`, JSON.stringify({ fields }), { qos: 1 })

async function rule(id: string, when: unknown, alert: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await api(h, 'POST', '/api/automations', { id, name: `Rule ${id}`, when, actions: [{ alert }], ...extra }, anna)
  assert.equal(res.status, 201, JSON.stringify(res.body))
}
const over = (measurement: string, field: string, value: number) => ({ threshold: { device: 'sensor', measurement, field, op: '>', value } })

interface AlertBody {
  id: number
  status: string
  ruleId: string
  severity: string
  title: string
  deviceId: string
}
const alertsOf = async (ruleId: string) => (await api(h, 'GET', `/api/alerts?rule=${ruleId}`, undefined, anna)).body as AlertBody[]
async function theAlert(ruleId: string): Promise<AlertBody> {
  await waitFor(`an alert of ${ruleId}`, async () => (await alertsOf(ruleId)).length > 0, 5000)
  const all = await alertsOf(ruleId)
  assert.equal(all.length, 1)
  return all[0] as AlertBody
}

interface DeliveryRow {
  channel: string
  event: string
  status: string
  attempts: number
  last_error: string | null
  next_attempt_at: number
  delivered_at: number | null
}
const deliveries = (alertId: number, channel: string): DeliveryRow[] =>
  db.prepare('SELECT * FROM alert_deliveries WHERE alert_id = ? AND channel = ? ORDER BY id').all(alertId, channel) as DeliveryRow[]
const emailsOf = (alertId: number) => inbox.map((m) => parseMail(m.raw)).filter((m) => m.headers.get('x-carehub-alert') === String(alertId))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// ---- the panel's live stream, read over real HTTPS as a browser would ----
interface SseEvent {
  readonly event: string
  readonly data: { event?: string; alert?: AlertBody & Record<string, unknown>; alerts?: AlertBody[] }
}
interface EventsStream {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly events: SseEvent[]
  readonly closed: Promise<void>
  close(): void
}
function openEvents(token?: string): Promise<EventsStream> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) }
    const req = request(`https://127.0.0.1:${h.httpPort}/api/events`, { ca: h.gateway.pki.ca.certPem, servername: 'localhost', headers }, (res) => {
      const events: SseEvent[] = []
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk.replace(/\r\n/g, '\n')
        for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, at)
          buffer = buffer.slice(at + 2)
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim()
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
          }
          if (data.length > 0) events.push({ event, data: JSON.parse(data.join('\n')) as SseEvent['data'] })
        }
      })
      const closed = new Promise<void>((done) => res.once('close', () => done()))
      resolve({ status: res.statusCode ?? 0, headers: res.headers, events, closed, close: () => req.destroy() })
    })
    req.on('error', reject)
    req.end()
  })
}
const alertEvents = (s: EventsStream, kind: string, alertId?: number) =>
  s.events.filter((e) => e.event === 'alert' && e.data.event === kind && (alertId === undefined || e.data.alert?.id === alertId))

describe('alert email', () => {
  test('a warning alert: one email with its title, device and values; its auto-resolution a second, "Resolved"', async () => {
    await rule('too-warm', over('climate', 'temp_c', 30), { severity: 'warning', title: 'Bathroom too warm' })
    await publish('climate', { temp_c: 31.5 })
    const alert = await theAlert('too-warm')
    await waitFor('the email', () => emailsOf(alert.id).length >= 1, 5000)
    await sleep(300)
    const [raised] = emailsOf(alert.id)
    assert.equal(emailsOf(alert.id).length, 1)
    assert.ok(raised)
    assert.equal(raised.headers.get('subject'), '[CareHub] WARNING: Bathroom too warm — sensor')
    assert.equal(raised.headers.get('x-carehub-event'), 'raised')
    const text = (raised.parts.get('text/plain') ?? '').replace(/\r\n/g, '\n')
    assert.match(text, /^Device: sensor$/m)
    assert.match(text, /^Rule: Rule too-warm$/m)
    assert.match(text, /^Values:\n {2}.*temp_c.*: 31\.5$/m)
    assert.deepEqual(
      deliveries(alert.id, 'email').map((d) => [d.event, d.status, d.attempts]),
      [['raised', 'sent', 1]],
    )

    await publish('climate', { temp_c: 24 })
    await waitFor('the resolution email', () => emailsOf(alert.id).length >= 2, 5000)
    await sleep(300)
    assert.equal(emailsOf(alert.id).length, 2)
    const resolved = emailsOf(alert.id)[1]
    assert.equal(resolved?.headers.get('subject'), '[CareHub] Resolved: Bathroom too warm — sensor')
    assert.equal(resolved?.headers.get('x-carehub-event'), 'resolved')
    assert.match(resolved?.parts.get('text/plain') ?? '', /This alert has been resolved\./)
    assert.equal((await alertsOf('too-warm'))[0]?.status, 'resolved')
  })

  test('an info alert (below minSeverity) sends no email', async () => {
    await rule('humid', over('climate', 'humid_pct', 80), { severity: 'info', title: 'Humid' })
    await publish('climate', { humid_pct: 85 })
    const alert = await theAlert('humid')
    await sleep(500)
    assert.deepEqual(deliveries(alert.id, 'email'), [])
    assert.equal(emailsOf(alert.id).length, 0)
  })

  test('quiet hours: the alert is there at once, its email waits for the end of quiet hours', async () => {
    const hour = new Date().getUTCHours()
    const hh = (n: number) => `${String((n + 24) % 24).padStart(2, '0')}:00`
    // From an hour ago to two hours ahead (UTC, the gateway's zone in this test): now is inside.
    const quietHours = { from: hh(hour - 1), to: hh(hour + 2) }
    const now = new Date()
    const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hour + 2)
    await rule('stuffy', over('climate', 'co2_ppm', 2000), { severity: 'warning', title: 'Stuffy air' }, { quietHours })
    await publish('climate', { co2_ppm: 2500 })
    const alert = await theAlert('stuffy')
    assert.equal(alert.status, 'open')
    const [email] = deliveries(alert.id, 'email')
    assert.equal(email?.status, 'pending')
    assert.equal(email?.attempts, 0)
    assert.equal(email?.next_attempt_at, end, `held until ${new Date(end).toISOString()}, not ${new Date(email?.next_attempt_at ?? 0).toISOString()}`)
    await sleep(500)
    assert.equal(emailsOf(alert.id).length, 0)
    const traces = (
      (await api(h, 'GET', '/api/automations/stuffy/traces', undefined, anna)).body as { traces: Array<{ outcome: string; reason: string }> }
    ).traces
    assert.ok(traces.some((t) => t.outcome === 'fired' && t.reason === 'quiet_hours'))
  })

  test('each time a snooze runs out, the email recipients hear of it again', async () => {
    await rule('snooze-twice', over('snooze_twice', 'level', 5), { severity: 'warning', title: 'Snoozed twice' })
    await publish('snooze_twice', { level: 9 })
    const alert = await theAlert('snooze-twice')
    await waitFor('the raised email', () => emailsOf(alert.id).length === 1, 5000)
    for (const round of [1, 2]) {
      assert.equal((await api(h, 'POST', `/api/alerts/${alert.id}/snooze`, { until: Date.now() + 800 }, anna)).status, 200)
      await waitFor(`open again (${round})`, async () => (await alertsOf('snooze-twice'))[0]?.status === 'open', 3000)
      const ok = await waitFor(`reopened email ${round}`, () => emailsOf(alert.id).length === 1 + round, 2000).then(
        () => true,
        () => false,
      )
      assert.ok(
        ok,
        `after snooze ${round}: ${emailsOf(alert.id).length - 1} "reopened" emails; deliveries ${JSON.stringify(deliveries(alert.id, 'email').map((d) => [d.event, d.status]))}`,
      )
      assert.match(emailsOf(alert.id)[round]?.headers.get('subject') ?? '', /WARNING again: Snoozed twice/)
    }
  })
})

describe('critical fallback', () => {
  test('a critical alert sounds the siren within a second of the reading being acknowledged', async (t) => {
    await rule(
      'fall',
      { threshold: { device: 'sensor', measurement: 'event', field: 'fall', op: '==', value: true } },
      { severity: 'critical', title: 'Fall' },
    )
    const before = sirenCommands.length
    await publish('event', { fall: true })
    const acknowledged = Date.now()
    await waitFor('the siren', () => sirenCommands.length > before, 3000)
    const cmd = sirenCommands[before]
    assert.ok(cmd)
    const latency = cmd.at - acknowledged
    t.diagnostic(`the siren got its command ${latency} ms after the PUBACK`)
    assert.ok(latency < 1000, `the siren got its command ${latency} ms after the PUBACK`)
    assert.equal(cmd.topic, 'care/siren/cmd/alarm')
    assert.deepEqual(cmd.msg.params, { seconds: 5 })
    const alert = await theAlert('fall')
    assert.equal(alert.severity, 'critical')
    await waitFor('the fallback delivery', () => deliveries(alert.id, 'fallback')[0]?.status === 'sent', 3000)
    const [fallback] = deliveries(alert.id, 'fallback')
    assert.equal(fallback?.attempts, 1)
    assert.notEqual(fallback?.delivered_at, null)
    const audit = db.prepare("SELECT actor FROM audit_log WHERE action = 'device.command' AND target = 'device:siren'").pluck().all()
    assert.deepEqual(audit, [`alert:${alert.id}`])
  })
})

describe('the live stream (GET /api/events)', () => {
  test('no token: 401', async () => {
    const s = await openEvents()
    assert.equal(s.status, 401)
    await s.closed
  })

  test('a snapshot of the open alerts first, then raised and acknowledged as they happen', async () => {
    const open = (await api(h, 'GET', '/api/alerts?state=open,acknowledged,snoozed', undefined, anna)).body as AlertBody[]
    assert.ok(open.length > 0)
    const s = await openEvents(anna)
    after(() => s.close())
    assert.equal(s.status, 200)
    assert.match(String(s.headers['content-type']), /^text\/event-stream/)
    await waitFor('the snapshot', () => s.events.length > 0, 3000)
    const [first] = s.events
    assert.equal(first?.event, 'snapshot')
    assert.deepEqual(first?.data.alerts?.map((a) => a.id).sort(), open.map((a) => a.id).sort())

    await rule('sse', over('sse', 'level', 5), { severity: 'warning', title: 'Live' })
    await publish('sse', { level: 9 })
    await waitFor('the raised event', () => s.events.some((e) => e.event === 'alert' && e.data.alert?.ruleId === 'sse'), 3000)
    const raised = s.events.find((e) => e.event === 'alert' && e.data.alert?.ruleId === 'sse')
    assert.equal(raised?.data.event, 'raised')
    assert.equal(raised?.data.alert?.title, 'Live')
    assert.equal(raised?.data.alert?.status, 'open')
    assert.ok(!('read' in (raised?.data.alert ?? {})), 'read is per person, not in the shared stream')

    const id = raised?.data.alert?.id as number
    assert.equal((await api(h, 'POST', `/api/alerts/${id}/ack`, undefined, anna)).status, 200)
    await waitFor('the acknowledged event', () => alertEvents(s, 'acknowledged', id).length > 0, 3000)
    assert.equal(alertEvents(s, 'acknowledged', id)[0]?.data.alert?.status, 'acknowledged')
    assert.equal(s.events[0]?.event, 'snapshot')
  })

  test('a snoozed alert re-opens when the snooze runs out, and the stream says so', async () => {
    await rule('snooze', over('snooze', 'level', 5), { severity: 'warning', title: 'Snoozy' })
    const s = await openEvents(anna)
    after(() => s.close())
    await publish('snooze', { level: 9 })
    const alert = await theAlert('snooze')
    const snoozed = await api(h, 'POST', `/api/alerts/${alert.id}/snooze`, { until: Date.now() + 1500 }, anna)
    assert.equal(snoozed.status, 200, JSON.stringify(snoozed.body))
    assert.equal((snoozed.body as AlertBody).status, 'snoozed')
    await waitFor('the snoozed event', () => alertEvents(s, 'snoozed', alert.id).length > 0, 2000)
    const started = Date.now()
    await waitFor('open again', async () => (await alertsOf('snooze'))[0]?.status === 'open', 3000)
    assert.ok(Date.now() - started >= 1000, 'not before the snooze ran out')
    await waitFor('the reopened event', () => alertEvents(s, 'reopened', alert.id).length > 0, 1000)
    assert.equal(alertEvents(s, 'reopened', alert.id)[0]?.data.alert?.status, 'open')
  })
})

describe('the live stream ends with the session', () => {
  test('signing out ends an open stream at the next heartbeat; a person has at most 5 streams', async () => {
    await h.addUser('bea', 'viewer')
    const bea = await h.login('bea')
    const s = await openEvents(bea.accessToken)
    assert.equal(s.status, 200)
    const extra = await Promise.all([1, 2, 3, 4].map(() => openEvents(bea.accessToken)))
    assert.ok(extra.every((x) => x.status === 200))
    const sixth = await openEvents(bea.accessToken)
    assert.equal(sixth.status, 429, 'the sixth stream of one person is refused')
    await sixth.closed
    for (const x of extra) x.close()
    // Still signed in: heartbeats keep it open.
    await sleep(1500)
    assert.equal(await Promise.race([s.closed.then(() => 'closed'), sleep(10).then(() => 'open')]), 'open')
    assert.equal((await api(h, 'POST', '/api/auth/logout', { refreshToken: bea.refreshToken }, bea.accessToken)).status, 204)
    const started = Date.now()
    await s.closed
    assert.ok(Date.now() - started < 2500, 'closed within a heartbeat of signing out')
  })
})

describe('email while the SMTP server is down', () => {
  test('the send fails and is retried with backoff; once the server is back, the email arrives', async () => {
    const port = sink.port
    await sink.close()
    await rule('damp', over('damp', 'level', 5), { severity: 'warning', title: 'Damp' })
    const raisedAt = Date.now()
    await publish('damp', { level: 9 })
    const alert = await theAlert('damp')
    await waitFor('the failed attempt', () => (deliveries(alert.id, 'email')[0]?.attempts ?? 0) >= 1, 5000)
    const [failed] = deliveries(alert.id, 'email')
    assert.equal(failed?.status, 'pending')
    assert.equal(failed?.attempts, 1)
    assert.match(failed?.last_error ?? '', /connection refused/)
    // backoffDelay(1, 30 s): the next attempt between 15 and 30 s later.
    const wait = (failed?.next_attempt_at ?? 0) - raisedAt
    assert.ok(wait >= 14_000 && wait <= 31_000, `next attempt after ${wait} ms`)

    // The server comes back on the same port. Waiting out the backoff would take up to 30 s: the
    // row is made due now instead (as if that time had passed) and the delivery woken.
    const back = new SMTPServer({
      logger: false,
      disableReverseLookup: true,
      closeTimeout: 200,
      authOptional: true,
      hideSTARTTLS: true,
      ...track,
      onData(stream, session, callback) {
        const chunks: Buffer[] = []
        stream.on('data', (c: Buffer) => chunks.push(c))
        stream.on('end', () => {
          inbox.push({
            mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            rcptTo: session.envelope.rcptTo.map((r) => r.address),
            secure: session.secure,
            user: undefined,
            raw: Buffer.concat(chunks).toString('utf8'),
          })
          callback(null)
        })
      },
    })
    back.on('error', () => {})
    back.listen(port, '127.0.0.1')
    await once(back.server, 'listening')
    closeAtEnd.push(() => new Promise<void>((resolve) => back.close(() => resolve())))
    db.prepare("UPDATE alert_deliveries SET next_attempt_at = ? WHERE alert_id = ? AND channel = 'email'").run(Date.now(), alert.id)
    h.gateway.rules.delivery.wake()
    await waitFor('the email, on the retry', () => emailsOf(alert.id).length === 1, 5000)
    const [sent] = deliveries(alert.id, 'email')
    assert.equal(sent?.status, 'sent')
    assert.equal(sent?.attempts, 2)
    assert.match(emailsOf(alert.id)[0]?.headers.get('subject') ?? '', /WARNING: Damp/)
  })
})

describe('stopping the gateway', () => {
  let stoppedAt = 0

  test('an open live stream ends, without holding up the stop', async () => {
    const s = await openEvents(anna)
    assert.equal(s.status, 200)
    await waitFor('the snapshot', () => s.events.length > 0, 3000)
    assert.ok(sessions.size > 0, 'the gateway has a pooled SMTP connection open while it runs')
    const started = Date.now()
    await h.gateway.stop()
    stoppedAt = Date.now()
    const took = stoppedAt - started
    assert.ok(took < 2000, `stop took ${took} ms with a live stream open`)
    await Promise.race([s.closed, sleep(1000).then(() => assert.fail('the stream did not end when the gateway stopped'))])
  })

  test('no SMTP connection of the stopped gateway is left open', async () => {
    assert.ok(stoppedAt > 0, 'the gateway was stopped')
    // The pool closes an idle connection after 20 s by itself; a stopped gateway should not wait for that.
    await waitFor('the SMTP sessions to close', () => sessions.size === 0, 1000).catch(() => {})
    assert.equal(sessions.size, 0, `${sessions.size} SMTP session(s) still open ${Date.now() - stoppedAt} ms after the gateway stopped`)
  })
})

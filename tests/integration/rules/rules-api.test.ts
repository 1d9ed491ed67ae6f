import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { api } from '../../_support/api-client.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { reading, waitFor } from '../../_support/history-data.js'
import { connectDevice } from '../../_support/mqtt-clients.js'

// One gateway for the file (started at top level: the harness stops it when the file ends).
const h = await startGateway()
await h.addUser('anna', 'caregiver')
await h.addUser('victor', 'viewer')
const anna = (await h.login('anna')).accessToken
const victor = (await h.login('victor')).accessToken

const door = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: `Front door open (${id})`,
  when: { threshold: { device: 'front-door', measurement: 'contact', field: 'open', op: '==', value: true } },
  for: '1s',
  actions: [{ alert: { severity: 'warning', title: 'Front door open', message: 'The door of {device} has been open' } }],
  ...extra,
})

type AlertBody = {
  id: number
  status: string
  ruleId: string
  title: string
  body: string
  deviceId: string
  read: boolean
  detail: { views: unknown[] }
}
type TraceBody = { outcome: string; reason: string | null; message: string; views: Array<{ holds: boolean; value?: unknown; detail: string }> }

const alertsOf = async (rule: string) => (await api(h, 'GET', `/api/alerts?rule=${rule}`, undefined, anna)).body as AlertBody[]
const tracesOf = async (rule: string) =>
  ((await api(h, 'GET', `/api/automations/${rule}/traces`, undefined, anna)).body as { traces: TraceBody[] }).traces
const submit = (deviceId: string, measurement: string, fields: Record<string, number | boolean | string>) =>
  h.gateway.journal.submit({ reading: reading(deviceId, measurement, fields, Date.now()) })

describe('rules through the API, with a real device over MQTT', () => {
  test('a `for` rule fires once after the condition held, with a trace, and resolves itself when it clears', async () => {
    const created = await api(h, 'POST', '/api/automations', door('door-1'), anna)
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const certs = await h.enrol('front-door')
    const device = await connectDevice(h.mqttPort, certs, { clientId: 'front-door' })
    await device.publishAsync('care/front-door/contact', JSON.stringify({ fields: { open: true } }), { qos: 1 })
    // Held for a second: still nothing before that.
    await new Promise((r) => setTimeout(r, 300))
    assert.equal((await alertsOf('door-1')).length, 0)
    await waitFor('the alert', async () => (await alertsOf('door-1')).length === 1, 5000)
    const [alert] = await alertsOf('door-1')
    assert.equal(alert?.status, 'open')
    assert.equal(alert?.deviceId, 'front-door')
    assert.equal(alert?.body, 'The door of front-door has been open')
    // Still open a while later: fired once per episode.
    await device.publishAsync('care/front-door/contact', JSON.stringify({ fields: { open: true } }), { qos: 1 })
    await new Promise((r) => setTimeout(r, 1300))
    assert.equal((await alertsOf('door-1')).length, 1)
    await device.publishAsync('care/front-door/contact', JSON.stringify({ fields: { open: false } }), { qos: 1 })
    await waitFor('auto-resolve', async () => (await alertsOf('door-1'))[0]?.status === 'resolved', 5000)
    const outcomes = (await tracesOf('door-1')).map((t) => t.outcome).reverse()
    assert.deepEqual(outcomes, ['armed', 'fired', 'cleared'])
    // The reading behind the alert is pinned against the disk budget.
    const pinned = h.gateway.store.db.prepare("SELECT count(*) FROM reading_pins WHERE reason = 'rule:door-1'").pluck().get()
    assert.equal(pinned, 1)
  })

  test('a near miss is traced with the values seen: the reading matched, the time window did not', async () => {
    const hour = new Date().getUTCHours()
    const closed = { from: `${String((hour + 2) % 24).padStart(2, '0')}:00`, to: `${String((hour + 3) % 24).padStart(2, '0')}:00` }
    const rule = {
      id: 'hot-at-night',
      name: 'Kitchen hot at night',
      when: { all: [{ threshold: { device: 'kitchen', measurement: 'climate', field: 'temp_c', op: '>', value: 30 } }, { time: closed }] },
      actions: [{ alert: { severity: 'info', title: 'Hot' } }],
    }
    assert.equal((await api(h, 'POST', '/api/automations', rule, anna)).status, 201)
    await submit('kitchen', 'climate', { temp_c: 31.5 })
    await waitFor('near miss', async () => (await tracesOf('hot-at-night')).some((t) => t.outcome === 'near_miss'), 5000)
    const miss = (await tracesOf('hot-at-night')).find((t) => t.outcome === 'near_miss') as TraceBody
    assert.equal(miss.reason, 'condition')
    assert.match(miss.message, /not met: .*UTC|not met: \d\d:00/)
    assert.deepEqual(
      miss.views.map((v) => [v.holds, v.value ?? null]),
      [
        [true, 31.5],
        [false, null],
      ],
    )
    assert.equal((await alertsOf('hot-at-night')).length, 0)
  })

  test('alert lifecycle: read, acknowledge, snooze, resolve — with role checks and refused transitions', async () => {
    assert.equal((await api(h, 'POST', '/api/automations', door('door-2', { for: undefined, id: 'door-2' }), anna)).status, 201)
    await submit('front-door', 'contact', { open: false })
    await submit('front-door', 'contact', { open: true })
    await waitFor('alert', async () => (await alertsOf('door-2')).length === 1, 5000)
    const id = (await alertsOf('door-2'))[0]?.id
    assert.equal((await api(h, 'POST', `/api/alerts/${id}/ack`, undefined, victor)).status, 403)
    const seen = await api(h, 'POST', `/api/alerts/${id}/read`, undefined, victor)
    assert.equal((seen.body as AlertBody).read, true)
    assert.equal(((await api(h, 'GET', `/api/alerts/${id}`, undefined, anna)).body as AlertBody).read, false, 'read is per person')
    const acked = await api(h, 'POST', `/api/alerts/${id}/ack`, undefined, anna)
    assert.equal((acked.body as AlertBody).status, 'acknowledged')
    const snoozed = await api(h, 'POST', `/api/alerts/${id}/snooze`, { for: '30m' }, anna)
    assert.equal((snoozed.body as AlertBody).status, 'snoozed')
    assert.equal((await api(h, 'POST', `/api/alerts/${id}/snooze`, { for: 'soon' }, anna)).status, 400)
    assert.equal((await api(h, 'POST', `/api/alerts/${id}/resolve`, undefined, anna)).status, 200)
    const again = await api(h, 'POST', `/api/alerts/${id}/ack`, undefined, anna)
    assert.equal(again.status, 409)
    assert.match(JSON.stringify(again.body), /resolved; it cannot become acknowledged/)
    const open = (await api(h, 'GET', '/api/alerts?state=open,snoozed', undefined, anna)).body as AlertBody[]
    assert.ok(!open.some((a) => a.id === id))
    const audit = h.gateway.store.db.prepare('SELECT action FROM audit_log WHERE target = ? ORDER BY id').pluck().all(`alert:${id}`)
    assert.deepEqual(audit, ['alert.ack', 'alert.snooze', 'alert.resolve'])
  })

  test('bad rules are refused with the reason; viewers read rules but cannot change them', async () => {
    const bad = await api(h, 'POST', '/api/automations', { ...door('bad'), for: '5 minutes' }, anna)
    assert.equal(bad.status, 400)
    assert.match(JSON.stringify(bad.body), /a duration such as/)
    const edge = await api(
      h,
      'POST',
      '/api/automations',
      { ...door('edge'), when: { change: { device: 'front-door', measurement: 'contact', field: 'open', to: true } } },
      anna,
    )
    assert.equal(edge.status, 400)
    assert.match(JSON.stringify(edge.body), /lasts an instant/)
    assert.equal((await api(h, 'POST', '/api/automations', door('door-1'), anna)).status, 409)
    // Deeply nested JSON is refused before it is walked (a 2,000-deep tree would overflow the stack).
    let deep: unknown = { time: { days: ['mon'] } }
    for (let i = 0; i < 2000; i++) deep = { not: deep }
    const nested = await api(h, 'POST', '/api/automations', { ...door('deep'), when: deep }, anna)
    assert.equal(nested.status, 400)
    assert.match(JSON.stringify(nested.body), /nests at most 32 levels/)
    const wide = { any: Array.from({ length: 20 }, () => ({ all: Array.from({ length: 3 }, () => ({ time: { days: ['mon'] } })) })) }
    assert.match(JSON.stringify((await api(h, 'POST', '/api/automations', { ...door('wide'), when: wide }, anna)).body), /at most 50 conditions/)
    assert.equal((await api(h, 'GET', '/api/automations', undefined, victor)).status, 200)
    assert.equal((await api(h, 'PUT', '/api/automations/door-1', door('door-1'), victor)).status, 403)
  })

  test('dry-run: what would fire and why not, without touching the live rule', async () => {
    const now = Date.now()
    const dry = await api(
      h,
      'POST',
      '/api/automations/door-1/test',
      {
        from: 'fresh',
        readings: [{ device: 'front-door', measurement: 'contact', fields: { open: true }, at: now }],
        until: now + 500,
      },
      anna,
    )
    assert.equal(dry.status, 200, JSON.stringify(dry.body))
    const body = dry.body as { wouldFire: boolean; traces: TraceBody[]; now: { holds: boolean; holding: boolean } }
    assert.equal(body.wouldFire, false, 'held 0.5 s of the 1 s needed')
    assert.equal(body.now.holds, true)
    const longer = await api(
      h,
      'POST',
      '/api/automations/door-1/test',
      { from: 'fresh', readings: [{ device: 'front-door', measurement: 'contact', fields: { open: true }, at: now }], until: now + 1500 },
      anna,
    )
    assert.equal((longer.body as { wouldFire: boolean }).wouldFire, true)
    // A dry-run stays near now: a reading a thousand years out is refused, not walked through.
    const far = await api(
      h,
      'POST',
      '/api/automations/door-1/test',
      { readings: [{ device: 'front-door', measurement: 'contact', fields: { open: true }, at: now + 1000 * 365 * 86_400_000 }] },
      anna,
    )
    assert.equal(far.status, 400)
    assert.match(JSON.stringify(far.body), /within 31 days of now/)
    assert.equal((await alertsOf('door-1')).length, 1, 'a dry-run raises nothing')
  })
})

describe('a rule whose evaluation throws', () => {
  test('is stopped and says so in its status; the other rules go on; an edit starts it again', async () => {
    const ok = { ...door('door-ok'), for: undefined }
    assert.equal((await api(h, 'POST', '/api/automations', door('door-broken'), anna)).status, 201)
    assert.equal((await api(h, 'POST', '/api/automations', ok, anna)).status, 201)
    await waitFor(
      'both running',
      () => h.gateway.rules.engine.rules.get('door-broken') !== undefined && h.gateway.rules.engine.rules.get('door-ok') !== undefined,
    )
    // An evaluator bug, as it would show: every step of door-broken throws.
    const bug = () => {
      throw new TypeError('a bug in the evaluator')
    }
    Object.defineProperty(h.gateway.rules.engine.rules.get('door-broken')?.state as object, 'at', { get: bug, set: bug })
    const seq = (await submit('front-door', 'contact', { open: true })) as number
    const view = async (id: string) => (await api(h, 'GET', `/api/automations/${id}`, undefined, anna)).body as { status: unknown; stopped: unknown }
    await waitFor('the broken rule stopped', async () => (await view('door-broken')).stopped !== null)
    const broken = await view('door-broken')
    assert.deepEqual(broken.stopped, { error: 'a bug in the evaluator', at: (broken.stopped as { at: number }).at, seq })
    assert.equal(broken.status, null)
    await waitFor('the other rule fired on the same reading', async () => (await alertsOf('door-ok')).length === 1)
    assert.equal((await view('door-ok')).stopped, null)
    // Editing the rule loads it again, from its stored state.
    assert.equal((await api(h, 'PUT', '/api/automations/door-broken', door('door-broken', { name: 'Front door (fixed)' }), anna)).status, 200)
    await waitFor('running again', async () => (await view('door-broken')).stopped === null)
    assert.notEqual((await view('door-broken')).status, null)
  })
})

import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { AutomationsSchema } from '../../../gateway/src/config/automations-schema.js'
import { api } from '../../_support/api-client.js'
import { type DeviceCerts, type Harness, startGateway } from '../../_support/gateway-harness.js'
import { waitFor } from '../../_support/history-data.js'
import { connectDevice } from '../../_support/mqtt-clients.js'

/**
 * What a rule does besides raising alerts (issue 7): device commands and signed webhooks, run by the
 * ActionRunner from the rule_actions journal after the firing is durable. Real parts throughout: the
 * gateway over TLS, mqtt.js as the devices (a sensor that trips the rules, a lamp that takes
 * commands), a node:http server on 127.0.0.1 as the webhook receiver.
 */

// ---- the webhook receiver: records every POST; a path may have scripted answers (then 200) ----
interface Hook {
  readonly path: string
  readonly method: string
  readonly headers: IncomingHttpHeaders
  readonly raw: string
  readonly at: number
}
const hooks: Hook[] = []
const answers = new Map<string, number[]>([
  ['/flaky', [503]],
  ['/strict', [400]],
])
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const path = req.url ?? ''
    hooks.push({ path, method: req.method ?? '', headers: req.headers, raw: Buffer.concat(chunks).toString('utf8'), at: Date.now() })
    const status = answers.get(path)?.shift() ?? 200
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'thanks' : 'not now')
  })
})
receiver.listen(0, '127.0.0.1')
await once(receiver, 'listening')
after(() => {
  receiver.closeAllConnections()
  receiver.close()
})
const hookUrl = (path: string) => `http://127.0.0.1:${(receiver.address() as AddressInfo).port}${path}`
const posts = (path: string) => hooks.filter((x) => x.path === path)

const target = (id: string, path: string, maxAttempts = 3) => ({ id, url: hookUrl(path), timeoutMs: 2000, maxAttempts })
const config = {
  automations: {
    checkpointMs: 200,
    webhooks: [
      target('family', '/family'),
      target('flaky', '/flaky'),
      target('strict', '/strict'),
      target('unsigned', '/unsigned'),
      target('once', '/once'),
    ],
  },
}

// One gateway for the file (top level: the harness stops it when the file ends); replaced by h.restart().
let h: Harness = await startGateway(config)
await h.addUser('anna', 'caregiver')
let anna = (await h.login('anna')).accessToken
const SECRET = 'a-long-random-webhook-secret-0123456789'
for (const id of ['family', 'flaky', 'strict', 'once']) await h.gateway.secrets.set(`webhook.${id}`, SECRET)

// ---- the devices ----
interface Command {
  readonly topic: string
  readonly capability: string
  readonly msg: { id: string; params: Record<string, unknown>; ts: number }
}
const commands: Command[] = []
const sensorCerts = await h.enrol('sensor')
const lampCerts = await h.enrol('lamp')
await h.enrol('porch') // enrolled, never connected
let sensor: MqttClient
let lamp: MqttClient

/** The lamp answers every command ok, except `chime`, which it never answers. */
async function connectLamp(certs: DeviceCerts): Promise<MqttClient> {
  const client = await connectDevice(h.mqttPort, certs, { clientId: 'lamp' })
  await client.subscribeAsync('care/lamp/cmd/+', { qos: 1 })
  client.on('message', (topic, payload) => {
    const msg = JSON.parse(payload.toString()) as Command['msg']
    const capability = topic.split('/')[3] ?? ''
    commands.push({ topic, capability, msg })
    if (capability !== 'chime') void client.publishAsync(`${topic}/result`, JSON.stringify({ id: msg.id, ok: true, result: msg.params }), { qos: 1 })
  })
  return client
}
sensor = await connectDevice(h.mqttPort, sensorCerts, { clientId: 'sensor' })
lamp = await connectLamp(lampCerts)

/** A reading of the sensor on its own measurement per rule; resolves at the PUBACK (the reading is stored). */
const trip = (measurement: string, level: number) =>
  sensor.publishAsync(`care/sensor/${measurement}`, JSON.stringify({ fields: { level } }), { qos: 1 })

/**
 * A rule: when the sensor's `measurement` level is over 5, run `actions` — after an info alert unless
 * `alert` is false. (The alert is there because a firing that raises none never wakes the action
 * runner: see the first test below. With it, the other tests show everything else the runner does.)
 */
async function rule(id: string, actions: unknown[], alert = true): Promise<void> {
  const when = { threshold: { device: 'sensor', measurement: id.replaceAll('-', '_'), field: 'level', op: '>', value: 5 } }
  const body = { id, name: `Rule ${id}`, when, actions: alert ? [{ alert: { severity: 'info', title: `Rule ${id} fired` } }, ...actions] : actions }
  const res = await api(h, 'POST', '/api/automations', body, anna)
  assert.equal(res.status, 201, JSON.stringify(res.body))
}
const fire = (id: string, level = 9) => trip(id.replaceAll('-', '_'), level)

interface ActionRow {
  id: number
  kind: string
  status: string
  attempts: number
  idempotency_key: string
  next_attempt_at: number
  finished_at: number | null
  outcome: Record<string, unknown> & { status?: string; detail?: string; correlationId?: string }
}
const rows = (ruleId: string): ActionRow[] =>
  (
    h.gateway.store.db.prepare('SELECT * FROM rule_actions WHERE rule_id = ? ORDER BY id').all(ruleId) as Array<
      ActionRow & { outcome: string | null }
    >
  ).map((r) => ({ ...r, outcome: r.outcome === null ? {} : (JSON.parse(r.outcome) as ActionRow['outcome']) }))
const row = (ruleId: string): ActionRow => {
  const all = rows(ruleId)
  assert.equal(all.length, 1, `one rule_actions row for ${ruleId}: ${JSON.stringify(all)}`)
  return all[0] as ActionRow
}
const settled = async (ruleId: string, status: string, timeoutMs = 5000) =>
  waitFor(`${ruleId}: action ${status}`, () => rows(ruleId).some((r) => r.status === status), timeoutMs)

type TraceBody = { outcome: string; reason: string | null; message: string }
const traces = async (ruleId: string): Promise<TraceBody[]> =>
  ((await api(h, 'GET', `/api/automations/${ruleId}/traces`, undefined, anna)).body as { traces: TraceBody[] }).traces
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('rule actions: device commands', () => {
  test('a rule whose only actions are a command and a webhook runs them (no alert raised with them)', async () => {
    await rule(
      'no-alert',
      [{ command: { device: 'lamp', capability: 'dim', params: { level: 10 } } }, { webhook: { target: 'family', note: 'no alert' } }],
      false,
    )
    await fire('no-alert')
    const ran = await waitFor('both actions done', () => rows('no-alert').filter((r) => r.status === 'done').length === 2, 3000).then(
      () => true,
      () => false,
    )
    assert.ok(
      ran,
      `the firing queued its actions but the runner never took them up: ${JSON.stringify(rows('no-alert').map((r) => [r.kind, r.status, r.attempts]))}`,
    )
    assert.equal(commands.filter((c) => c.capability === 'dim').length, 1)
    assert.equal(posts('/family').filter((p) => (JSON.parse(p.raw) as { note: string }).note === 'no alert').length, 1)
  })

  test('the device gets the command with a correlation id, answers ok; the row, the trace and the audit log say so', async () => {
    await rule('lamp-on', [{ command: { device: 'lamp', capability: 'switch', params: { on: true, level: 80 } } }])
    const before = Date.now()
    await fire('lamp-on')
    await settled('lamp-on', 'done')

    const sent = commands.filter((c) => c.capability === 'switch')
    assert.equal(sent.length, 1, JSON.stringify(sent))
    const cmd = sent[0] as Command
    assert.equal(cmd.topic, 'care/lamp/cmd/switch')
    assert.match(cmd.msg.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    assert.deepEqual(cmd.msg.params, { on: true, level: 80 })
    assert.ok(cmd.msg.ts >= before - 1000 && cmd.msg.ts <= Date.now(), `ts ${cmd.msg.ts}`)

    const r = row('lamp-on')
    assert.equal(r.kind, 'command')
    assert.equal(r.attempts, 1)
    assert.notEqual(r.finished_at, null)
    assert.equal(r.outcome.status, 'ok')
    assert.equal(r.outcome.correlationId, cmd.msg.id)
    assert.deepEqual(r.outcome.result, { on: true, level: 80 })
    assert.ok(r.idempotency_key.startsWith(`${h.gateway.gatewayId}:rule:lamp-on:`), r.idempotency_key)

    const t = await traces('lamp-on')
    assert.ok(
      t.some((x) => x.outcome === 'action' && x.message === 'command done'),
      JSON.stringify(t),
    )
    assert.ok(t.some((x) => x.outcome === 'fired'))

    const audit = h.gateway.store.db
      .prepare("SELECT actor, target, outcome, detail FROM audit_log WHERE action = 'device.command' AND actor = 'rule:lamp-on'")
      .all() as Array<{ actor: string; target: string; outcome: string; detail: string }>
    assert.equal(audit.length, 1)
    assert.equal(audit[0]?.target, 'device:lamp')
    assert.equal(audit[0]?.outcome, 'ok')
    const detail = JSON.parse(audit[0]?.detail ?? '{}') as { correlationId: string; params: unknown; status: string }
    assert.equal(detail.correlationId, cmd.msg.id)
    assert.deepEqual(detail.params, { on: true, level: 80 })
    assert.equal(detail.status, 'ok')
  })

  test('a device that never answers: the row ends failed (timeout) after one attempt — not retried, it may have acted', async () => {
    await rule('lamp-chime', [{ command: { device: 'lamp', capability: 'chime', timeoutMs: 300 } }])
    await fire('lamp-chime')
    await settled('lamp-chime', 'failed')
    const r = row('lamp-chime')
    assert.equal(r.attempts, 1)
    assert.equal(r.outcome.status, 'timeout')
    assert.match(r.outcome.detail ?? '', /did not answer within 300 ms/)
    assert.ok((await traces('lamp-chime')).some((x) => x.outcome === 'action' && /^command failed: .*did not answer/.test(x.message)))
    // A retry would come after 2.5–5 s; failed is final, and nothing more reaches the device meanwhile.
    await sleep(600)
    assert.equal(commands.filter((c) => c.capability === 'chime').length, 1)
    assert.equal(row('lamp-chime').attempts, 1)
    const audited = h.gateway.store.db
      .prepare("SELECT outcome FROM audit_log WHERE action = 'device.command' AND actor = 'rule:lamp-chime'")
      .pluck()
      .all()
    assert.deepEqual(audited, ['failed'])
  })

  test('a device that is not connected: the command stays pending and is retried with backoff', async () => {
    await rule('porch-light', [{ command: { device: 'porch', capability: 'switch', params: { on: true } } }])
    const fired = Date.now()
    await fire('porch-light')
    await waitFor('first attempt', () => rows('porch-light').some((r) => r.attempts >= 1), 5000)
    const first = row('porch-light')
    assert.equal(first.status, 'pending')
    assert.equal(first.attempts, 1)
    assert.equal(first.outcome.status, 'unavailable')
    assert.match(first.outcome.detail ?? '', /not connected/)
    assert.equal(first.finished_at, null)
    // backoffDelay(1, 5 s): between 2.5 and 5 s after the attempt.
    assert.ok(
      first.next_attempt_at >= fired + 2000 && first.next_attempt_at <= Date.now() + 5000,
      `next attempt at +${first.next_attempt_at - fired} ms`,
    )
    assert.ok((await traces('porch-light')).some((x) => x.outcome === 'action' && /^command attempt 1 failed, retrying: /.test(x.message)))

    await waitFor('second attempt', () => row('porch-light').attempts >= 2, 7000)
    const second = row('porch-light')
    assert.equal(second.status, 'pending', 'two attempts of three: still retrying')
    assert.ok(second.next_attempt_at > first.next_attempt_at)
  })
})

describe('rule actions: webhooks', () => {
  test('a signed POST: X-Timestamp, X-Signature (HMAC-SHA256 over "<ts>.<body>"), Idempotency-Key, the firing in the body', async () => {
    await rule('tell-family', [{ webhook: { target: 'family', note: 'kitchen too hot' } }])
    const before = Date.now()
    await fire('tell-family', 7.5)
    await settled('tell-family', 'done')
    const got = posts('/family').filter((p) => (JSON.parse(p.raw) as { rule: { id: string } }).rule.id === 'tell-family')
    assert.equal(got.length, 1)
    const post = got[0] as Hook
    assert.equal(post.method, 'POST')
    assert.equal(post.headers['content-type'], 'application/json')

    const ts = String(post.headers['x-timestamp'])
    assert.match(ts, /^\d{10}$/)
    assert.ok(Math.abs(Number(ts) - post.at / 1000) <= 2, `X-Timestamp ${ts} vs ${post.at}`)
    const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${post.raw}`).digest('hex')}`
    assert.equal(post.headers['x-signature'], expected)
    const wrong = `sha256=${createHmac('sha256', 'another secret').update(`${ts}.${post.raw}`).digest('hex')}`
    assert.notEqual(post.headers['x-signature'], wrong)

    const r = row('tell-family')
    assert.equal(post.headers['idempotency-key'], r.idempotency_key)
    const body = JSON.parse(post.raw) as {
      gateway: string
      idempotencyKey: string
      note: string
      rule: { id: string; name: string }
      firedAt: number
      alertId: number | null
      values: Array<{ holds: boolean; value?: unknown; detail: string }>
    }
    assert.deepEqual(body.rule, { id: 'tell-family', name: 'Rule tell-family' })
    assert.equal(body.gateway, h.gateway.gatewayId)
    assert.equal(body.idempotencyKey, r.idempotency_key)
    assert.equal(body.note, 'kitchen too hot')
    assert.equal(body.alertId, h.gateway.store.db.prepare("SELECT id FROM alerts WHERE rule_id = 'tell-family'").pluck().get())
    assert.ok(body.firedAt >= before - 1000 && body.firedAt <= post.at, `firedAt ${body.firedAt}`)
    assert.deepEqual(
      body.values.map((v) => [v.holds, v.value]),
      [[true, 7.5]],
    )
    assert.equal(r.attempts, 1)
    assert.equal(r.outcome.status, 200)
  })

  test('503, then 200: retried after a backoff with the same Idempotency-Key, and done', async () => {
    await rule('flaky-hook', [{ webhook: { target: 'flaky' } }])
    await fire('flaky-hook')
    await waitFor('the first POST', () => posts('/flaky').length === 1, 5000)
    await waitFor('the retry', () => row('flaky-hook').status === 'done', 8000)
    const [first, second] = posts('/flaky')
    assert.equal(posts('/flaky').length, 2)
    assert.ok(first && second)
    assert.ok(second.at - first.at >= 900, `retried after ${second.at - first.at} ms (backoff 1–2 s)`)
    assert.equal(second.headers['idempotency-key'], first.headers['idempotency-key'])
    assert.equal(second.raw, first.raw)
    const ts = String(second.headers['x-timestamp'])
    assert.equal(second.headers['x-signature'], `sha256=${createHmac('sha256', SECRET).update(`${ts}.${second.raw}`).digest('hex')}`)
    const r = row('flaky-hook')
    assert.equal(r.attempts, 2)
    assert.equal(r.outcome.status, 200)
    const messages = (await traces('flaky-hook')).filter((x) => x.outcome === 'action').map((x) => x.message)
    assert.deepEqual(messages.reverse(), ['webhook attempt 1 failed, retrying: HTTP 503', 'webhook done: HTTP 200'])
  })

  test('400: failed at once, not retried', async () => {
    await rule('strict-hook', [{ webhook: { target: 'strict' } }])
    await fire('strict-hook')
    await settled('strict-hook', 'failed')
    const r = row('strict-hook')
    assert.equal(r.attempts, 1)
    assert.equal(r.outcome.status, 400)
    assert.notEqual(r.finished_at, null)
    // A pending row would be tried again within 1–2 s.
    await sleep(2100)
    assert.equal(posts('/strict').length, 1)
    assert.equal(row('strict-hook').status, 'failed')
  })

  test('an unknown target: failed at once with a reason that names the setting; nothing is sent', async () => {
    const before = hooks.length
    await rule('to-nowhere', [{ webhook: { target: 'nowhere' } }])
    await fire('to-nowhere')
    await settled('to-nowhere', 'failed')
    const r = row('to-nowhere')
    assert.equal(r.attempts, 1)
    assert.equal(r.outcome.detail, 'no webhook target "nowhere" in the config (automations.webhooks)')
    assert.ok(
      (await traces('to-nowhere')).some((x) => x.message === 'webhook failed: no webhook target "nowhere" in the config (automations.webhooks)'),
    )
    assert.equal(hooks.length, before)
  })

  test('a target whose secret is not set: nothing unsigned goes out; pending, naming the secret to set', async () => {
    await rule('unsigned-hook', [{ webhook: { target: 'unsigned' } }])
    await fire('unsigned-hook')
    await waitFor('an attempt', () => rows('unsigned-hook').some((r) => r.attempts >= 1), 5000)
    const r = row('unsigned-hook')
    assert.equal(r.status, 'pending')
    assert.match(r.outcome.detail ?? '', /the secret webhook\.unsigned is not set \(carehub secret set webhook\.unsigned\)/)
    assert.equal(posts('/unsigned').length, 0)
  })

  test('a target id that could not name its secret webhook.<id> is refused by the config', async () => {
    const bad = AutomationsSchema.safeParse({ webhooks: [{ id: 'care:team', url: 'http://127.0.0.1:1/x' }] })
    assert.equal(bad.success, false)
    assert.match(JSON.stringify(bad.error?.issues), /names the secret webhook/)
    // Every id the config accepts is a valid secret name.
    const ok = AutomationsSchema.parse({ webhooks: [{ id: 'care-team_2', url: 'http://127.0.0.1:1/x' }] })
    await assert.doesNotReject(h.gateway.secrets.set(`webhook.${ok.webhooks[0]?.id}`, SECRET))
  })
})

describe('rule actions fire once per episode', () => {
  test('one command and one webhook per episode, also across a restart; a new episode fires again', async () => {
    await rule(
      'once',
      [
        { alert: { severity: 'info', title: 'Once' } },
        { command: { device: 'lamp', capability: 'blink', params: { times: 3 } } },
        { webhook: { target: 'once' } },
      ],
      false,
    )
    const blinks = () => commands.filter((c) => c.capability === 'blink').length
    const alerts = () => h.gateway.store.db.prepare("SELECT count(*) FROM alerts WHERE rule_id = 'once'").pluck().get() as number
    const maxSeq = () => h.gateway.store.db.prepare('SELECT max(seq) FROM readings').pluck().get() as number
    /** Every stored reading evaluated and no action waiting. */
    const quiet = () =>
      waitFor(
        'the engine and the runner to be idle',
        () => h.gateway.rules.engine.cursor >= maxSeq() && rows('once').every((r) => r.status !== 'pending'),
        5000,
      )

    await fire('once', 9)
    await waitFor('both actions done', () => rows('once').length === 2 && rows('once').every((r) => r.status === 'done'), 5000)
    // Still holding: the same episode, nothing more.
    await fire('once', 9.5)
    await fire('once', 8)
    await quiet()
    await sleep(300)
    assert.equal(rows('once').length, 2)
    assert.equal(blinks(), 1)
    assert.equal(posts('/once').length, 1)

    // Restart on the same data folder; the devices come back.
    await sensor.endAsync()
    await lamp.endAsync()
    h = await h.restart()
    anna = (await h.login('anna')).accessToken
    sensor = await connectDevice(h.mqttPort, sensorCerts, { clientId: 'sensor' })
    lamp = await connectLamp(lampCerts)
    await fire('once', 9.7)
    await quiet()
    await sleep(500)
    assert.deepEqual(
      rows('once').map((r) => [r.kind, r.status, r.attempts]),
      [
        ['command', 'done', 1],
        ['webhook', 'done', 1],
      ],
    )
    assert.equal(blinks(), 1, 'no second command after the restart')
    assert.equal(posts('/once').length, 1, 'no second POST after the restart')
    assert.equal(alerts(), 1)

    // The engine is alive after the restart: a new episode fires again, once.
    await fire('once', 1)
    await fire('once', 9)
    await waitFor('the second episode', () => rows('once').length === 4 && rows('once').every((r) => r.status === 'done'), 5000)
    await fire('once', 9.9)
    await quiet()
    await sleep(300)
    assert.equal(rows('once').length, 4)
    assert.equal(blinks(), 2)
    assert.equal(posts('/once').length, 2)
    assert.equal(alerts(), 2)
    const keys = posts('/once').map((p) => p.headers['idempotency-key'])
    assert.notEqual(keys[0], keys[1])
  })
})

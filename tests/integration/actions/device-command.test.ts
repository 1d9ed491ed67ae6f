import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { api } from '../../_support/api-client.js'
import { type Harness, startGateway } from '../../_support/gateway-harness.js'
import { metricValue, waitFor } from '../../_support/history-data.js'
import { certFiles, connectDevice, mosquitto } from '../../_support/mqtt-clients.js'

/**
 * The device command path for MQTT devices, end to end: real gateway, real HTTPS, real aedes over
 * mutual TLS, and a real MQTT client (mqtt.js; mosquitto_pub for one reply) acting as the device.
 */
interface Received {
  readonly topic: string
  readonly msg: { id: string; params: Record<string, unknown>; ts: number }
}

type Body = {
  status?: string
  code?: string
  detail?: string
  correlationId?: string
  result?: unknown
  outcome?: { status: string; correlationId: string; detail?: string }
}

// The setup runs in the suite body (not in before()): the harness's after() then stops the gateway
// when the suite ends, not when a hook ends.
describe('device commands to MQTT devices', async () => {
  let h: Harness
  let device: MqttClient
  const received: Received[] = []
  const tokens: Record<string, string> = {}
  const users: Record<string, number> = {}
  let files: { ca: string; cert: string; key: string }

  const reply = (topic: string, body: unknown) =>
    device.publishAsync(`${topic}/result`, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 })
  const command = (role: string, id: string, body: unknown) => api(h, 'POST', `/api/devices/${id}/command`, body, tokens[role])
  const readings = (id: string) => h.gateway.store.db.prepare('SELECT count(*) FROM readings WHERE device_id = ?').pluck().get(id) as number
  const deadLetters = () => h.gateway.store.db.prepare('SELECT count(*) FROM dead_letters').pluck().get() as number

  {
    h = await startGateway()
    for (const role of ['admin', 'caregiver', 'installer', 'viewer'] as const) {
      users[role] = await h.addUser(`u_${role}`, role)
      tokens[role] = (await h.login(`u_${role}`)).accessToken
    }
    const certs = await h.enrol('lamp')
    files = certFiles(certs)
    await h.enrol('door') // enrolled, never connected
    device = await connectDevice(h.mqttPort, certs, { clientId: 'lamp' })
    // `cmd/+`, not `cmd/#`: the device must not get its own …/result publishes back.
    await device.subscribeAsync('care/lamp/cmd/+', { qos: 1 })
    device.on('message', (topic, payload) => {
      const msg = JSON.parse(payload.toString()) as Received['msg']
      received.push({ topic, msg })
      const capability = topic.split('/')[3]
      if (capability === 'switch') void reply(topic, { id: msg.id, ok: true, result: { on: msg.params.on } })
      if (capability === 'unlock') void reply(topic, { id: msg.id, ok: false, error: 'the door is bolted from inside' })
      if (capability === 'noisy') {
        // Junk first — none of it may disturb the wait — then the real answer.
        void (async () => {
          await reply(topic, 'not json {')
          await reply(topic, { ok: true })
          await reply(topic, { id: 'nobody-asked', ok: true })
          await reply(topic, { id: msg.id, ok: true, result: 'done' })
        })()
      }
      if (capability === 'brew') {
        // An independent MQTT implementation answers, as a second session of the device.
        const args = ['-h', 'localhost', '-p', String(h.mqttPort), '--cafile', files.ca, '--cert', files.cert, '--key', files.key]
        void mosquitto('mosquitto_pub', [
          ...args,
          '-i',
          'lamp:reply',
          '-q',
          '1',
          '-t',
          `${topic}/result`,
          '-m',
          JSON.stringify({ id: msg.id, ok: true }),
        ])
      }
      // 'sleep': never answers.
    })
  }

  test('the device answers ok: 200 with its result; the correlation id is the one it received; audited and counted', async () => {
    const res = await command('caregiver', 'lamp', { capability: 'switch', params: { on: true } })
    const body = res.body as Body
    assert.equal(res.status, 200, JSON.stringify(body))
    assert.equal(body.status, 'ok')
    assert.deepEqual(body.result, { on: true })
    const got = received.find((r) => r.msg.id === body.correlationId)
    assert.ok(got, 'the device received the command with the same correlation id')
    assert.equal(got.topic, 'care/lamp/cmd/switch')
    assert.deepEqual(got.msg.params, { on: true })
    assert.ok(Math.abs(got.msg.ts - Date.now()) < 10_000)
    const audit = h.gateway.store.db
      .prepare("SELECT actor, target, outcome, request_id, detail FROM audit_log WHERE action = 'device.command' ORDER BY id DESC LIMIT 1")
      .get() as { actor: string; target: string; outcome: string; request_id: string; detail: string }
    assert.equal(audit.actor, `user:${users.caregiver}`)
    assert.equal(audit.target, 'device:lamp')
    assert.equal(audit.outcome, 'ok')
    assert.equal(audit.request_id, res.headers['x-request-id'])
    const detail = JSON.parse(audit.detail) as Record<string, unknown>
    assert.equal(detail.correlationId, body.correlationId)
    assert.equal(detail.source, 'mqtt')
    assert.deepEqual(detail.params, { on: true })
    assert.equal(await metricValue(h.gateway, 'carehub_device_commands_total', { source: 'mqtt', status: 'ok' }), 1)
    // The admin may too.
    assert.equal((await command('admin', 'lamp', { capability: 'switch', params: { on: false } })).status, 200)
  })

  test('no answer: 504 after timeoutMs, as problem+json carrying the outcome; a late reply is ignored', async () => {
    const started = Date.now()
    const res = await command('caregiver', 'lamp', { capability: 'sleep', params: {}, timeoutMs: 300 })
    const elapsed = Date.now() - started
    const body = res.body as Body
    assert.equal(res.status, 504, JSON.stringify(body))
    assert.equal(res.headers['content-type'], 'application/problem+json')
    assert.equal(body.code, 'CAREHUB_ERR_COMMAND_TIMEOUT')
    assert.match(String(body.detail), /did not answer within 300 ms/)
    assert.equal(body.outcome?.status, 'timeout')
    assert.ok(elapsed >= 300 && elapsed < 3000, `${elapsed} ms`)
    const id = body.outcome?.correlationId
    assert.ok(received.some((r) => r.msg.id === id))
    const unknown = await metricValue(h.gateway, 'carehub_device_command_replies_total', { result: 'unknown' })
    await reply('care/lamp/cmd/sleep', { id, ok: true })
    await waitFor(
      'the late reply counted',
      async () =>
        (await metricValue(h.gateway, 'carehub_device_command_replies_total', { result: 'unknown' })) > (Number.isNaN(unknown) ? 0 : unknown),
    )
  })

  test("the device says no: 422 with the device's reason", async () => {
    const res = await command('caregiver', 'lamp', { capability: 'unlock', params: { code: 1234 } })
    const body = res.body as Body
    assert.equal(res.status, 422, JSON.stringify(body))
    assert.equal(body.code, 'CAREHUB_ERR_COMMAND_REFUSED')
    assert.equal(body.detail, 'the door is bolted from inside')
    assert.equal(body.outcome?.status, 'refused')
    const outcome = h.gateway.store.db.prepare("SELECT outcome FROM audit_log WHERE action = 'device.command' ORDER BY id DESC LIMIT 1").pluck().get()
    assert.equal(outcome, 'denied')
  })

  test('a device without a live session: 503 at once, nothing waits', async () => {
    const started = Date.now()
    const res = await command('caregiver', 'door', { capability: 'lock', params: {} })
    assert.equal(res.status, 503, JSON.stringify(res.body))
    assert.equal((res.body as Body).code, 'CAREHUB_ERR_COMMAND_UNAVAILABLE')
    assert.match(String((res.body as Body).detail), /not connected/)
    assert.ok(Date.now() - started < 2000)
  })

  test('malformed replies and unknown ids are counted and ignored — not readings, not dead letters — and do not break the wait', async () => {
    const before = { readings: readings('lamp'), deadLetters: deadLetters() }
    const malformed = await metricValue(h.gateway, 'carehub_device_command_replies_total', { result: 'malformed' })
    const res = await command('caregiver', 'lamp', { capability: 'noisy', params: {} })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal((res.body as Body).result, 'done')
    assert.equal(
      (await metricValue(h.gateway, 'carehub_device_command_replies_total', { result: 'malformed' })) - (Number.isNaN(malformed) ? 0 : malformed),
      2,
    )
    assert.equal(readings('lamp'), before.readings)
    assert.equal(deadLetters(), before.deadLetters)
    assert.equal(await metricValue(h.gateway, 'carehub_ingest_rejected_total'), Number.NaN, 'nothing was refused as a reading')
    assert.ok(device.connected, 'the device keeps its connection (each reply was PUBACKed)')
    // A reply from mosquitto_pub (another session of the same device) settles the command too.
    const brewed = await command('caregiver', 'lamp', { capability: 'brew', params: {}, timeoutMs: 10_000 })
    assert.equal(brewed.status, 200, JSON.stringify(brewed.body))
  })

  test('roles: viewers and installers may not send commands', async () => {
    for (const role of ['viewer', 'installer']) {
      const res = await command(role, 'lamp', { capability: 'switch', params: { on: true } })
      assert.equal(res.status, 403, role)
    }
    assert.equal((await api(h, 'POST', '/api/devices/lamp/command', { capability: 'switch' })).status, 401)
  })

  test('bad bodies are 400; an unknown device 404; a virtual one 422', async () => {
    for (const body of [
      {},
      { capability: 'Bad Cap' },
      { capability: 'a/b' },
      { capability: 'switch', params: [1] },
      { capability: 'switch', params: 'on' },
      { capability: 'switch', params: { s: 'x'.repeat(5000) } },
      { capability: 'switch', timeoutMs: 60_000 },
      { capability: 'switch', extra: true },
    ]) {
      const res = await command('caregiver', 'lamp', body)
      assert.equal(res.status, 400, JSON.stringify(body))
    }
    assert.equal((await command('caregiver', 'nobody', { capability: 'switch' })).status, 404)
    assert.equal((await api(h, 'POST', '/api/devices', { id: 'v_note', source: 'virtual' }, tokens.admin)).status, 201)
    const virtual = await command('caregiver', 'v_note', { capability: 'switch' })
    assert.equal(virtual.status, 422)
    assert.match(String((virtual.body as Body).detail), /virtual/)
  })

  test('a Home Assistant device on a gateway without Home Assistant: 503', async () => {
    assert.equal((await api(h, 'POST', '/api/devices', { id: 'ha_light_x', source: 'homeassistant' }, tokens.admin)).status, 201)
    const res = await command('caregiver', 'ha_light_x', { capability: 'light.turn_on' })
    assert.equal(res.status, 503, JSON.stringify(res.body))
    assert.match(String((res.body as Body).detail), /Home Assistant is not enabled/)
  })
})

describe('device commands when the gateway stops', () => {
  test('a pending command ends as failed ("gateway stopping"), the stop does not wait for its timeout', async () => {
    const h = await startGateway()
    await h.addUser('carer', 'caregiver')
    const { accessToken } = await h.login('carer')
    const certs = await h.enrol('radio')
    const client = await connectDevice(h.mqttPort, certs, { clientId: 'radio' })
    await client.subscribeAsync('care/radio/cmd/+', { qos: 1 })
    const gotIt = new Promise((resolve) => client.once('message', resolve))
    const pending = h.gateway.commands.run({ deviceId: 'radio', capability: 'play', params: {}, actor: 'rule:7', timeoutMs: 30_000 })
    const viaHttp = api(h, 'POST', '/api/devices/radio/command', { capability: 'play', timeoutMs: 30_000 }, accessToken)
    await gotIt
    const started = Date.now()
    await h.gateway.commands.stop()
    const outcome = await pending
    assert.equal(outcome.status, 'failed')
    assert.equal(outcome.detail, 'gateway stopping')
    const res = await viaHttp
    assert.equal(res.status, 502, JSON.stringify(res.body))
    assert.equal((res.body as Body).code, 'CAREHUB_ERR_COMMAND_FAILED')
    assert.ok(Date.now() - started < 2000)
    const actors = h.gateway.store.db.prepare("SELECT actor FROM audit_log WHERE action = 'device.command' ORDER BY id").pluck().all()
    assert.ok(actors.includes('rule:7'), JSON.stringify(actors))
  })
})

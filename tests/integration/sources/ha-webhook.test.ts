import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type Harness, startGateway } from '../../_support/gateway-harness.js'
import { httpsJson } from '../../_support/https-get.js'
import { tempDir } from '../../_support/temp.js'

const SCRIPT = fileURLToPath(new URL('../../../config/homeassistant/carehub-webhook.sh', import.meta.url))
const SECRET = 'webhook-secret-4f1c9a7e55d2'
const HOUR = 3_600_000

const kitchen = (state: string, at = new Date(Date.now() - 60_000).toISOString()) => ({
  entity_id: 'sensor.kitchen_temperature',
  state,
  attributes: { device_class: 'temperature', unit_of_measurement: '°C', friendly_name: 'Kitchen temperature' },
  last_changed: at,
  last_updated: at,
})

describe('POST /api/ingest/ha/:client_id (signed Home Assistant webhook, real HTTPS)', () => {
  const started = startGateway({
    homeassistant: {
      enabled: true,
      webhook: {
        clients: [{ id: 'ha-main' }, { id: 'ha-bearer', mode: 'bearer' }, { id: 'ha-tiny', perMinute: 1 }, { id: 'ha-nosecret' }],
      },
    },
  })
  let h: Harness
  before(async () => {
    h = await started
    await h.gateway.secrets.set('ha-webhook.ha-main', SECRET)
    await h.gateway.secrets.set('ha-webhook.ha-bearer', 'bearer-secret-9d8e7f6a')
    await h.gateway.secrets.set('ha-webhook.ha-tiny', SECRET)
  })

  const sign = (body: string, ts: number, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`
  const post = (client: string, body: unknown, headers: Record<string, string>) =>
    httpsJson('POST', `https://127.0.0.1:${h.httpPort}/api/ingest/ha/${client}`, h.gateway.pki.ca.certPem, body, headers)
  const signed = (client: string, body: unknown, o: { ts?: number; secret?: string; sendBody?: unknown } = {}) => {
    const ts = o.ts ?? Math.floor(Date.now() / 1000)
    return post(client, o.sendBody ?? body, {
      'x-client-id': client,
      'x-timestamp': String(ts),
      'x-signature': sign(JSON.stringify(body), ts, o.secret),
    })
  }
  const codeOf = (r: { body: unknown }) => (r.body as { code?: string }).code

  test('a signed state is stored before the 200, mapped (°C → climate.temp_c), its device registered', async () => {
    const res = await signed('ha-main', kitchen('21.5'))
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.deepEqual(res.body, { accepted: 1, unavailable: 0, ignored: 0, rejected: [] })
    const row = h.gateway.store.db
      .prepare("SELECT measurement, fields, tags, source FROM readings WHERE device_id = 'ha_sensor_kitchen_temperature'")
      .get()
    assert.deepEqual(row, {
      measurement: 'climate',
      fields: '{"temp_c":21.5}',
      tags: '{"entity":"sensor.kitchen_temperature"}',
      source: 'homeassistant',
    })
    const device = h.gateway.store.db.prepare("SELECT source, name, availability FROM devices WHERE id = 'ha_sensor_kitchen_temperature'").get()
    assert.deepEqual(device, { source: 'homeassistant', name: 'Kitchen temperature', availability: 'online' })
  })

  test('each refusal has its own code: tampered, wrong secret, stale, future, replay, unknown client, no secret, quota', async () => {
    const body = kitchen('22')
    const now = Math.floor(Date.now() / 1000)
    assert.equal(codeOf(await signed('ha-main', body, { sendBody: kitchen('99') })), 'CAREHUB_ERR_WEBHOOK_SIGNATURE', 'tampered body')
    assert.equal(codeOf(await signed('ha-main', body, { secret: 'not-the-secret' })), 'CAREHUB_ERR_WEBHOOK_SIGNATURE', 'wrong secret')
    assert.equal(codeOf(await signed('ha-main', body, { ts: now - 330 })), 'CAREHUB_ERR_WEBHOOK_TIMESTAMP', 'stale')
    assert.equal(codeOf(await signed('ha-main', body, { ts: now + 330 })), 'CAREHUB_ERR_WEBHOOK_TIMESTAMP', 'future')
    assert.equal(
      codeOf(await post('ha-main', body, { 'x-client-id': 'ha-main', 'x-signature': sign(JSON.stringify(body), now) })),
      'CAREHUB_ERR_WEBHOOK_TIMESTAMP',
    )
    const once = { 'x-client-id': 'ha-main', 'x-timestamp': String(now), 'x-signature': sign(JSON.stringify(body), now) }
    assert.equal((await post('ha-main', body, once)).status, 200)
    const replay = await post('ha-main', body, once)
    assert.equal(replay.status, 409)
    assert.equal(codeOf(replay), 'CAREHUB_ERR_WEBHOOK_REPLAY')
    const unknown = await signed('nobody', body)
    assert.equal(unknown.status, 401)
    assert.equal(codeOf(unknown), 'CAREHUB_ERR_WEBHOOK_UNKNOWN_CLIENT')
    assert.equal(
      codeOf(await post('ha-main', body, { ...once, 'x-client-id': 'ha-tiny' })),
      'CAREHUB_ERR_WEBHOOK_UNKNOWN_CLIENT',
      'header and URL disagree',
    )
    const noSecret = await signed('ha-nosecret', body)
    assert.equal(codeOf(noSecret), 'CAREHUB_ERR_WEBHOOK_SIGNATURE')
    assert.match((noSecret.body as { detail: string }).detail, /carehub secret set ha-webhook\.ha-nosecret/)
    let quota: Awaited<ReturnType<typeof signed>> | undefined
    for (let i = 0; i < 12 && quota?.status !== 429; i++) quota = await signed('ha-tiny', kitchen(String(20 + i)))
    assert.equal(quota?.status, 429)
    assert.equal(codeOf(quota as { body: unknown }), 'CAREHUB_ERR_WEBHOOK_QUOTA')
    assert.ok(Number(quota?.headers['retry-after']) >= 1)
    // Nothing refused was stored: only the two accepted kitchen states and ha-tiny's burst.
    const stored = h.gateway.store.db.prepare('SELECT count(*) FROM readings WHERE fields = \'{"temp_c":99}\'').pluck().get()
    assert.equal(stored, 0)
  })

  test('rotation: with a grace period the old secret keeps working beside the new one, then stops', async () => {
    let now = Date.now()
    const rotating = await startGateway({ homeassistant: { enabled: true, webhook: { clients: [{ id: 'ha-main' }] } } }, undefined, {
      clock: { now: () => now },
    })
    const send = (secret: string, state: string) => {
      const body = kitchen(state, new Date(now - 1000).toISOString())
      const ts = Math.floor(now / 1000)
      return httpsJson('POST', `https://127.0.0.1:${rotating.httpPort}/api/ingest/ha/ha-main`, rotating.gateway.pki.ca.certPem, body, {
        'x-client-id': 'ha-main',
        'x-timestamp': String(ts),
        'x-signature': sign(JSON.stringify(body), ts, secret),
      })
    }
    await rotating.gateway.secrets.set('ha-webhook.ha-main', 'old-secret-aaaaaaaa')
    await rotating.gateway.secrets.set('ha-webhook.ha-main', 'new-secret-bbbbbbbb', HOUR)
    assert.equal((await send('old-secret-aaaaaaaa', '20')).status, 200)
    assert.equal((await send('new-secret-bbbbbbbb', '21')).status, 200)
    now += HOUR + 2000
    assert.equal(codeOf(await send('old-secret-aaaaaaaa', '22')), 'CAREHUB_ERR_WEBHOOK_SIGNATURE')
    assert.equal((await send('new-secret-bbbbbbbb', '23')).status, 200)
  })

  test('bearer mode (weaker, opt-in per client): the secret as a bearer token, nothing else', async () => {
    const body = [kitchen('19'), { entity_id: 'binary_sensor.front_door', state: 'on', attributes: { device_class: 'door' } }]
    assert.equal((await post('ha-bearer', body, { authorization: 'Bearer bearer-secret-9d8e7f6a' })).status, 200)
    assert.equal(codeOf(await post('ha-bearer', body, { authorization: 'Bearer wrong' })), 'CAREHUB_ERR_WEBHOOK_SIGNATURE')
    // A signature is no substitute on a bearer client, and a bearer token none on an hmac client.
    assert.equal(codeOf(await signed('ha-bearer', body, { secret: 'bearer-secret-9d8e7f6a' })), 'CAREHUB_ERR_WEBHOOK_SIGNATURE')
    assert.equal(codeOf(await post('ha-main', body, { authorization: `Bearer ${SECRET}` })), 'CAREHUB_ERR_WEBHOOK_TIMESTAMP')
    const door = h.gateway.store.db.prepare("SELECT fields FROM readings WHERE device_id = 'ha_binary_sensor_front_door'").pluck().get()
    assert.equal(door, '{"door":"open"}')
  })

  test('unavailable is availability, not a number; a bad unit is a dead letter with a reason; nothing crashes on junk', async () => {
    const res = await signed('ha-main', {
      states: [
        { entity_id: 'sensor.outdoor_temperature', state: 'unavailable', attributes: { device_class: 'temperature', unit_of_measurement: '°C' } },
        { entity_id: 'sensor.odd_power', state: '5', attributes: { device_class: 'power', unit_of_measurement: 'horsepower' } },
        { entity_id: 'sun.sun', state: 'above_horizon' },
      ],
    })
    assert.equal(res.status, 200)
    const report = res.body as { accepted: number; unavailable: number; ignored: number; rejected: Array<{ entityId: string; reason: string }> }
    assert.deepEqual([report.accepted, report.unavailable, report.ignored], [0, 1, 1])
    assert.equal(report.rejected[0]?.entityId, 'sensor.odd_power')
    assert.match(report.rejected[0]?.reason ?? '', /unit "horsepower"/)
    const availability = h.gateway.store.db.prepare("SELECT availability FROM devices WHERE id = 'ha_sensor_outdoor_temperature'").pluck().get()
    assert.equal(availability, 'unavailable')
    assert.equal(h.gateway.store.db.prepare("SELECT count(*) FROM readings WHERE device_id = 'ha_sensor_outdoor_temperature'").pluck().get(), 0)
    const dead = h.gateway.store.db.prepare("SELECT origin, reason FROM dead_letters WHERE source = 'homeassistant'").all() as Array<{
      origin: string
      reason: string
    }>
    assert.ok(dead.some((d) => d.origin === 'webhook:ha-main' && /horsepower/.test(d.reason)))
    for (const junk of [{ hello: 'world' }, []]) assert.equal((await signed('ha-main', junk)).status, 400)
  })

  test('the documented signing script (sh + openssl + curl, as Home Assistant runs it) is accepted', async () => {
    const dir = tempDir()
    const secretFile = join(dir, 'carehub.secret')
    const caFile = join(dir, 'ca.crt')
    writeFileSync(secretFile, `${SECRET}\n`)
    writeFileSync(caFile, h.gateway.pki.ca.certPem)
    const body = JSON.stringify(kitchen('23.25'))
    const child = execFile('sh', [SCRIPT, `https://localhost:${h.httpPort}`, 'ha-main', secretFile, caFile])
    child.stdin?.end(body)
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      let err = ''
      child.stderr?.on('data', (d) => {
        err += d
      })
      child.on('exit', (c) => resolve({ code: c, stderr: err }))
    })
    assert.equal(code, 0, stderr)
    assert.equal(h.gateway.store.db.prepare('SELECT count(*) FROM readings WHERE fields = \'{"temp_c":23.25}\'').pluck().get(), 1)
    // As Home Assistant runs it: no shell, no pipe — the body is the last argument.
    const asArg = JSON.stringify(kitchen('23.5'))
    await promisify(execFile)('sh', [SCRIPT, `https://localhost:${h.httpPort}`, 'ha-main', secretFile, caFile, asArg])
    assert.equal(h.gateway.store.db.prepare('SELECT count(*) FROM readings WHERE fields = \'{"temp_c":23.5}\'').pluck().get(), 1)
    // …and refused (exit 1, the reason on stderr) with the wrong secret.
    writeFileSync(secretFile, 'wrong')
    const bad = await promisify(execFile)('sh', [
      '-c',
      `echo '${body}' | sh ${SCRIPT} https://localhost:${h.httpPort} ha-main ${secretFile} ${caFile}`,
    ]).catch((e: { code: number; stderr: string }) => e)
    assert.equal((bad as { code: number }).code, 1)
    assert.match((bad as { stderr: string }).stderr, /CAREHUB_ERR_WEBHOOK_SIGNATURE/)
  })
})

import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { type FakeThinq, startFakeThinq } from '../../fakes/thinq.js'

// Self-test of the fake ThinQ Connect API (tests/fakes/thinq.ts); spec §1a of external-protocols.md.

const messageId = () => Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url')

interface CallOptions {
  body?: unknown
  headers?: Record<string, string | undefined>
}

async function call(fake: FakeThinq, method: string, path: string, opts: CallOptions = {}) {
  const headers: Record<string, string | undefined> = {
    authorization: `Bearer ${fake.token}`,
    'x-country': fake.expectedCountry,
    'x-message-id': messageId(),
    'x-client-id': 'carehub-test-client',
    'x-api-key': fake.apiKey,
    'x-service-phase': 'OP',
    ...(method === 'POST' ? { 'x-conditional-control': 'true', 'content-type': 'application/json' } : {}),
    ...opts.headers,
  }
  const sent = Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined))
  const res = await fetch(`${fake.url}/${path}`, { method, headers: sent, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) })
  const json = (await res.json()) as { messageId: string; timestamp: string; response?: unknown; error?: { code: string; message: string } }
  return { status: res.status, json, sentId: sent['x-message-id'] }
}

const control = (fake: FakeThinq, id: string, body: unknown, headers?: Record<string, string | undefined>) =>
  call(fake, 'POST', `devices/${id}/control`, { body, headers })

async function expectError(p: ReturnType<typeof call>, code: string, status: number) {
  const r = await p
  assert.equal(r.json.error?.code, code, JSON.stringify(r.json))
  assert.equal(r.status, status)
  assert.equal(r.json.response, undefined)
}

describe('fake ThinQ Connect API', () => {
  let fake: FakeThinq
  let ac: string
  let washer: string
  let fridge: string
  let purifier: string
  before(async () => {
    fake = await startFakeThinq()
    ac = fake.idOf('DEVICE_AIR_CONDITIONER')
    washer = fake.idOf('DEVICE_WASHER')
    fridge = fake.idOf('DEVICE_REFRIGERATOR')
    purifier = fake.idOf('DEVICE_AIR_PURIFIER')
  })
  after(() => fake.stop())

  test('success envelope echoes the message id and carries the device list', async () => {
    assert.match(fake.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(fake.realBaseUrl, 'https://api-eic.lgthinq.com')
    const r = await call(fake, 'GET', 'devices')
    assert.equal(r.status, 200)
    assert.equal(r.json.messageId, r.sentId)
    assert.match(r.json.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/)
    const list = r.json.response as Array<{ deviceId: string; deviceInfo: { deviceType: string; reportable: boolean } }>
    assert.deepEqual(list.map((d) => d.deviceInfo.deviceType).sort(), [
      'DEVICE_AIR_CONDITIONER',
      'DEVICE_AIR_PURIFIER',
      'DEVICE_REFRIGERATOR',
      'DEVICE_WASHER',
    ])
    const profile = await call(fake, 'GET', `devices/${washer}/profile`)
    assert.ok(Array.isArray((profile.json.response as { property: unknown }).property))
    const state = await call(fake, 'GET', `devices/${purifier}/state`)
    assert.equal((state.json.response as { operation: { airPurifierOperationMode: string } }).operation.airPurifierOperationMode, 'POWER_ON')
  })

  test('headers are validated like the real service, with string error codes', async () => {
    await expectError(call(fake, 'GET', 'devices', { headers: { 'x-message-id': 'not-a-message-id' } }), '1104', 400)
    await expectError(call(fake, 'GET', 'devices', { headers: { 'x-message-id': `${messageId()}==` } }), '1104', 400)
    await expectError(call(fake, 'GET', 'devices', { headers: { 'x-message-id': undefined } }), '1104', 400)
    await expectError(call(fake, 'GET', 'devices', { headers: { authorization: 'Bearer wrong' } }), '1103', 400)
    await expectError(call(fake, 'GET', 'devices', { headers: { 'x-api-key': 'wrong' } }), '1301', 401)
    await expectError(call(fake, 'GET', 'devices', { headers: { 'x-country': 'US' } }), '1307', 401)
    await expectError(call(fake, 'GET', 'devices', { headers: { 'x-client-id': undefined } }), '1216', 400)
    await expectError(call(fake, 'GET', 'devices', { headers: { 'x-service-phase': 'QA' } }), '1216', 400)
    const r = await control(fake, ac, { powerSave: { powerSaveEnabled: true } }, { 'x-conditional-control': undefined })
    assert.equal(r.json.error?.code, '1216')
    assert.equal(r.json.messageId, r.sentId)
    await expectError(call(fake, 'GET', 'devices/no-such-device/state'), '1205', 404)
  })

  test('AC set-point: both payload shapes, both units, all representations kept in sync', async () => {
    assert.deepEqual((await control(fake, ac, { temperatureInUnits: { targetTemperature: 22, unit: 'C' } })).json.response, {})
    let s = fake.getState(ac) as { temperature: { targetTemperature: number }; temperatureInUnits: Array<{ targetTemperature: number }> }
    assert.equal(s.temperature.targetTemperature, 22)
    assert.deepEqual(
      s.temperatureInUnits.map((e) => e.targetTemperature),
      [22, 72],
    )
    await control(fake, ac, { temperature: { targetTemperature: 24 } }) // SDK ≤1.0.1 shape
    await control(fake, ac, { temperatureInUnits: { targetTemperature: 70, unit: 'F' } })
    s = fake.getState(ac) as typeof s
    assert.deepEqual([s.temperature.targetTemperature, ...s.temperatureInUnits.map((e) => e.targetTemperature)], [21, 21, 70])
    await control(fake, ac, { airFlow: { windStrength: 'HIGH' } })
    assert.equal((fake.getState(ac) as { airFlow: { windStrength: string } }).airFlow.windStrength, 'HIGH')
  })

  test('controls are checked against the profile', async () => {
    await expectError(control(fake, ac, { temperatureInUnits: { targetTemperature: 31, unit: 'C' } }), '2201', 503)
    await expectError(control(fake, ac, { temperatureInUnits: { targetTemperature: 71, unit: 'F' } }), '2201', 503) // step 2
    await expectError(control(fake, ac, { temperatureInUnits: { targetTemperature: 22 } }), '1101', 400) // unit missing
    await expectError(control(fake, ac, { airFlow: { windStrength: 'TURBO' } }), '1102', 400)
    await expectError(control(fake, ac, { powerSave: { powerSaveEnabled: 'yes' } }), '1102', 400)
    await expectError(control(fake, ac, { temperature: { currentTemperature: 20 } }), '2207', 400) // read-only
    await expectError(control(fake, ac, { rocket: { launch: true } }), '2207', 400)
    await expectError(control(fake, ac, {}), '1101', 400)
    await expectError(control(fake, washer, { operation: { washerOperationMode: 'START' } }), '1101', 400) // no location
  })

  test('device-state refusals and washer / fridge effects', async () => {
    const start = { location: { locationName: 'MAIN' }, operation: { washerOperationMode: 'START' } }
    fake.setState(washer, { remoteControlEnable: { remoteControlEnabled: false } })
    await expectError(control(fake, washer, start), '2301', 400)
    fake.setState(washer, { remoteControlEnable: { remoteControlEnabled: true } })
    assert.equal((await control(fake, washer, start)).status, 200)
    assert.equal((fake.getState(washer) as { runState: { currentState: string } }).runState.currentState, 'RUNNING')
    await expectError(control(fake, washer, start), '2302', 400)

    await control(fake, ac, { airConJobMode: { currentJobMode: 'FAN' } })
    await expectError(control(fake, ac, { temperature: { targetTemperature: 22 } }), '2305', 400)
    await control(fake, ac, { operation: { airConOperationMode: 'POWER_OFF' } })
    await expectError(control(fake, ac, { airFlow: { windStrength: 'LOW' } }), '2304', 400)
    await control(fake, ac, { operation: { airConOperationMode: 'POWER_ON' }, airConJobMode: { currentJobMode: 'COOL' } })

    await control(fake, fridge, { temperatureInUnits: { locationName: 'FRIDGE', targetTemperatureC: 5 } })
    await control(fake, fridge, { temperature: { locationName: 'FREEZER', targetTemperature: -20, unit: 'C' } })
    const f = fake.getState(fridge) as { temperature: Array<{ targetTemperature: number }>; temperatureInUnits: Array<Record<string, number>> }
    assert.deepEqual(
      f.temperature.map((e) => e.targetTemperature),
      [5, -20],
    )
    assert.deepEqual(
      f.temperatureInUnits.map((e) => [e.targetTemperatureC, e.targetTemperatureF]),
      [
        [5, 41],
        [-20, -4],
      ],
    )
    fake.setState(fridge, { doorStatus: [{ locationName: 'MAIN', doorState: 'OPEN' }] })
    const door = await call(fake, 'GET', `devices/${fridge}/state`)
    assert.deepEqual((door.json.response as { doorStatus: unknown }).doorStatus, [{ locationName: 'MAIN', doorState: 'OPEN' }])
  })

  test('offline devices, injected failures, latency', async () => {
    fake.setOffline(purifier, true)
    await expectError(call(fake, 'GET', `devices/${purifier}/state`), '1222', 416)
    await expectError(control(fake, purifier, { airFlow: { windStrength: 'HIGH' } }), '1222', 416)
    assert.equal((await call(fake, 'GET', `devices/${purifier}/profile`)).status, 200)
    fake.setOffline(purifier, false)

    fake.failNext(2, { code: '2209' })
    await expectError(call(fake, 'GET', 'devices'), '2209', 400)
    await expectError(call(fake, 'GET', 'devices'), '2209', 400)
    assert.equal((await call(fake, 'GET', 'devices')).status, 200)
    fake.failNext(1, { status: 503, code: '2000', message: 'maintenance' })
    const r = await call(fake, 'GET', 'devices')
    assert.deepEqual([r.status, r.json.error], [503, { code: '2000', message: 'maintenance' }])
    fake.failNext(1, { reset: true })
    await assert.rejects(call(fake, 'GET', 'devices'))

    fake.setLatency(120)
    const t0 = performance.now()
    assert.equal((await call(fake, 'GET', 'devices')).status, 200)
    assert.ok(performance.now() - t0 >= 110)
    fake.setLatency(0)
  })
})

describe('fake ThinQ quota, token revocation and request log', () => {
  test('hourly quota gives 1306 until the window moves; a revoked PAT gives 1103', async () => {
    let clock = Date.parse('2026-01-05T08:00:00Z')
    const fake = await startFakeThinq({ now: () => clock, fixtures: ['washer'], country: 'US' })
    try {
      assert.equal(fake.region, 'aic')
      fake.setRateLimit({ perHour: 3 })
      for (let i = 0; i < 3; i++) assert.equal((await call(fake, 'GET', 'devices')).status, 200)
      await expectError(call(fake, 'GET', 'devices'), '1306', 401)
      assert.equal(fake.requestsPerHour(), 4)
      clock += 3_600_001
      assert.equal(fake.requestsPerHour(), 0)
      assert.equal((await call(fake, 'GET', 'devices')).status, 200)
      fake.setRateLimit(null)

      fake.revokeToken()
      await expectError(call(fake, 'GET', 'devices'), '1103', 400)
      const last = fake.requests.at(-1)
      assert.deepEqual([last?.method, last?.path, last?.status, last?.errorCode], ['GET', '/devices', 400, '1103'])
      assert.equal(last?.headers['x-client-id'], 'carehub-test-client')
      assert.equal(last?.time, clock)
    } finally {
      await fake.stop()
    }
  })

  test('per-code HTTP status overrides', async () => {
    const fake = await startFakeThinq({ fixtures: ['air_conditioner'], httpStatus: { '1103': 401 } })
    try {
      await expectError(call(fake, 'GET', 'devices', { headers: { authorization: 'Bearer nope' } }), '1103', 401)
    } finally {
      await fake.stop()
    }
  })
})

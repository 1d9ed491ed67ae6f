import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { HaSession } from '../../../gateway/src/sources/homeassistant/ha-websocket.js'
import { type Harness, startGateway } from '../../_support/gateway-harness.js'
import { waitFor } from '../../_support/history-data.js'
import { freePort } from '../../_support/temp.js'
import { startFakeHomeAssistant } from '../../fakes/home-assistant.js'

const readingsOf = (h: Harness, device: string) =>
  h.gateway.store.db.prepare('SELECT measurement, fields FROM readings WHERE device_id = ? ORDER BY seq').all(device) as Array<{
    measurement: string
    fields: string
  }>

async function setup(overrides: { websocket?: boolean } = {}, fake: { temperatureUnit?: '°C' | '°F' } = {}) {
  const ha = await startFakeHomeAssistant({ port: await freePort(), ...fake })
  after(() => ha.stop())
  const h = await startGateway({ homeassistant: { enabled: true, url: ha.url, pingSeconds: 5, pollSeconds: 5, ...overrides } })
  await h.gateway.secrets.set('homeassistant.token', ha.token)
  const source = h.gateway.homeassistant.source
  assert.ok(source)
  return { ha, h, source }
}

describe('following Home Assistant (fake HA over real WebSocket and HTTP)', () => {
  test('connects, resyncs every entity from /api/states, then records state changes as they happen', async () => {
    const { ha, h, source } = await setup()
    await waitFor('connected', () => source.status.state === 'connected', 20_000)
    await waitFor('the resync', () => readingsOf(h, 'ha_sensor_kitchen_temperature').length === 1)
    assert.equal(
      h.gateway.store.db.prepare("SELECT availability FROM devices WHERE id = 'ha_sensor_outdoor_temperature'").pluck().get(),
      'unavailable',
    )
    assert.deepEqual(readingsOf(h, 'ha_binary_sensor_front_door'), [{ measurement: 'event', fields: '{"door":"closed"}' }])

    ha.setState('binary_sensor.front_door', 'on')
    await waitFor('the live event', () => readingsOf(h, 'ha_binary_sensor_front_door').length === 2)
    assert.equal(readingsOf(h, 'ha_binary_sensor_front_door')[1]?.fields, '{"door":"open"}')

    // Ids strictly increase on the connection (HA refuses a reused one with id_reuse).
    const last = Math.max(...ha.received.map((r) => r.connectionId))
    const ids = ha.received.filter((r) => r.phase === 'command' && r.connectionId === last).map((r) => (r.message as { id: number }).id)
    assert.ok(
      ids.every((id, i) => i === 0 || id > (ids[i - 1] as number)),
      JSON.stringify(ids),
    )
    assert.deepEqual(source.healthCheck.check(), { status: 'ok' })
  })

  test('Home Assistant restarts: what changed while it was down arrives by the resync, once; unchanged states are not recorded again', async () => {
    const { ha, h, source } = await setup()
    await waitFor('connected', () => source.status.state === 'connected', 20_000)
    await waitFor('the resync', () => readingsOf(h, 'ha_sensor_kitchen_temperature').length === 1)
    await ha.goDown()
    await waitFor('the outage noticed', () => source.status.state !== 'connected')
    ha.setState('sensor.kitchen_temperature', '24.5')
    await ha.comeBack({ resetTimestamps: false })
    await waitFor('reconnected', () => source.status.state === 'connected', 20_000)
    await waitFor('the missed change', () => readingsOf(h, 'ha_sensor_kitchen_temperature').length === 2)
    assert.equal(readingsOf(h, 'ha_sensor_kitchen_temperature')[1]?.fields, '{"temp_c":24.5}')
    // The fridge did not change: its one reading stays one.
    assert.equal(
      readingsOf(h, 'ha_sensor_fridge_power').length,
      1,
      JSON.stringify(h.gateway.store.db.prepare("SELECT * FROM readings WHERE device_id = 'ha_sensor_fridge_power'").all()),
    )
    assert.equal(h.lines().filter((l) => l.msg === 'Home Assistant not followed live').length >= 1, true)
  })

  test('a refused token is a status and one warning, not a crash or a log storm; a new token recovers', async () => {
    const { ha, h, source } = await setup()
    ha.rejectTokens(true)
    await waitFor('unauthorized', () => source.status.state === 'unauthorized', 20_000)
    assert.match((source.healthCheck.check() as { detail: string }).detail, /renew the token/)
    await new Promise((r) => setTimeout(r, 2500))
    const warnings = h.lines().filter((l) => l.msg === 'Home Assistant not followed live' && l.state === 'unauthorized')
    assert.equal(warnings.length, 1)
    ha.rejectTokens(false)
    await waitFor('recovered', () => source.status.state === 'connected', 20_000)
  })

  test('a Fahrenheit Home Assistant: climate entities (which carry no unit) are converted to °C', async () => {
    const { ha, h, source } = await setup({}, { temperatureUnit: '°F' })
    await waitFor('connected', () => source.status.state === 'connected', 20_000)
    ha.setState('climate.living_room', 'heat', { current_temperature: 68, temperature: 70 })
    await waitFor('the climate reading', () => readingsOf(h, 'ha_climate_living_room').some((r) => r.fields === '{"temp_c":20}'))
    const state = readingsOf(h, 'ha_climate_living_room')
      .filter((r) => r.measurement === 'state')
      .at(-1)
    assert.deepEqual(JSON.parse(state?.fields ?? '{}'), { hvac_mode: 'heat', target_temp_c: 21.111111 })
  })

  test('without the WebSocket, REST polling records the states', async () => {
    const { h, source } = await setup({ websocket: false })
    await waitFor('a poll', () => readingsOf(h, 'ha_sensor_kitchen_humidity').length === 1, 20_000)
    // A committed row is visible a moment before its WAL sync acknowledges it (store/wal-sync.ts);
    // the source reports "polling" once the poll's readings are acknowledged.
    await waitFor('polling', () => source.status.state === 'polling', 5_000)
  })

  test('control: a service call through REST reaches Home Assistant, and the change comes back as a reading', async () => {
    const { ha, h, source } = await setup()
    await waitFor('connected', () => source.status.state === 'connected', 20_000)
    const rest = h.gateway.homeassistant.rest
    assert.ok(rest)
    const changed = await rest.callService('switch', 'turn_on', { entity_id: 'switch.kettle' })
    assert.equal(changed[0]?.state, 'on')
    assert.deepEqual(
      ha.serviceCalls.map((c) => [c.via, c.domain, c.service, c.serviceData.entity_id]),
      [['rest', 'switch', 'turn_on', 'switch.kettle']],
    )
    await waitFor('the kettle reading', () => readingsOf(h, 'ha_switch_kettle').some((r) => r.fields === '{"on":true}'))
    await assert.rejects(rest.callService('no_such', 'thing', {}), /HTTP 400/)
  })
})

describe('HaSession liveness', () => {
  test('a connection that stops answering (no pong) is ended within the pong timeout', async () => {
    const ha = await startFakeHomeAssistant({ port: await freePort() })
    const session = await HaSession.open({
      wsUrl: ha.wsUrl,
      token: ha.token,
      onState: () => {},
      pingMs: 100,
      pongTimeoutMs: 300,
      answerTimeoutMs: 2000,
    })
    ha.setSilentAfterAuth(true)
    const started = Date.now()
    const end = await session.closed
    assert.equal(end.kind, 'timeout')
    assert.ok(Date.now() - started < 2000)
    await ha.stop()
  })

  test('a wrong token ends the handshake with auth_invalid', async () => {
    const ha = await startFakeHomeAssistant({ port: await freePort() })
    await assert.rejects(
      HaSession.open({ wsUrl: ha.wsUrl, token: 'wrong', onState: () => {}, pingMs: 1000, pongTimeoutMs: 1000, answerTimeoutMs: 2000 }),
      /auth_invalid/,
    )
    await ha.stop()
  })
})

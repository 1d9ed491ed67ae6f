import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { thinqDeviceId } from '../../../gateway/src/normalize/thinq.js'
import { api } from '../../_support/api-client.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { waitFor } from '../../_support/history-data.js'
import { freePort } from '../../_support/temp.js'
import { startFakeHomeAssistant } from '../../fakes/home-assistant.js'
import { startFakeThinq } from '../../fakes/thinq.js'

/** Commands to LG ThinQ appliances and Home Assistant entities, through the fakes of those clouds (real HTTP on loopback). */
type Body = { status?: string; code?: string; detail?: string; result?: unknown; outcome?: { status: string; correlationId: string } }

describe('device commands to LG ThinQ appliances (fake ThinQ Connect)', async () => {
  const fake = await startFakeThinq()
  after(() => fake.stop())
  let now = Date.now()
  const h = await startGateway(
    { thinq: { enabled: true, apiKey: fake.apiKey, baseUrl: fake.url, country: 'DE', pollSeconds: 30, pollSecondsByType: {} } },
    undefined,
    { clock: { now: () => now } },
  )
  await h.gateway.secrets.set('thinq.pat', fake.token)
  now += 61_000
  await h.gateway.thinq?.tick() // discovers the appliances
  await h.addUser('carer', 'caregiver')
  const { accessToken } = await h.login('carer')
  const lgId = fake.idOf('DEVICE_AIR_CONDITIONER')
  const ac = thinqDeviceId(lgId)
  const command = (id: string, body: unknown) => api(h, 'POST', `/api/devices/${id}/command`, body, accessToken)

  test('capability operation + params → the partial state LG applies: 200', async () => {
    const res = await command(ac, { capability: 'operation', params: { airConOperationMode: 'POWER_OFF' } })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal((res.body as Body).status, 'ok')
    const sent = fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/control')).at(-1)
    assert.deepEqual(sent?.body, { operation: { airConOperationMode: 'POWER_OFF' } })
    assert.equal(sent?.headers['x-conditional-control'], 'true')
    assert.equal((fake.getState(lgId) as { operation: { airConOperationMode: string } }).operation.airConOperationMode, 'POWER_OFF')
  })

  test("LG's refusals are 422 with LG's reason: powered off (2304), a value not in the profile (1102), an unknown resource (2207)", async () => {
    const off = await command(ac, { capability: 'temperature', params: { targetTemperature: 22, unit: 'C' } })
    assert.equal(off.status, 422, JSON.stringify(off.body))
    assert.equal((off.body as Body).code, 'CAREHUB_ERR_COMMAND_REFUSED')
    assert.match(String((off.body as Body).detail), /2304/)
    const mode = await command(ac, { capability: 'airConJobMode', params: { currentJobMode: 'DISCO' } })
    assert.equal(mode.status, 422, JSON.stringify(mode.body))
    assert.match(String((mode.body as Body).detail), /1102/)
    const unknown = await command(ac, { capability: 'laserBeam', params: { on: true } })
    assert.equal(unknown.status, 422, JSON.stringify(unknown.body))
    assert.match(String((unknown.body as Body).detail), /2207/)
  })

  test('an appliance LG reports as not connected (1222) is 503; one the poller never discovered too', async () => {
    fake.setOffline(lgId, true)
    const res = await command(ac, { capability: 'operation', params: { airConOperationMode: 'POWER_ON' } })
    fake.setOffline(lgId, false)
    assert.equal(res.status, 503, JSON.stringify(res.body))
    assert.equal((res.body as Body).code, 'CAREHUB_ERR_COMMAND_UNAVAILABLE')
    assert.match(String((res.body as Body).detail), /1222/)
    await h.addUser('root', 'admin')
    const admin = (await h.login('root')).accessToken
    assert.equal((await api(h, 'POST', '/api/devices', { id: 'thinq_unknown', source: 'thinq' }, admin)).status, 201)
    const unknown = await command('thinq_unknown', { capability: 'operation', params: {} })
    assert.equal(unknown.status, 503, JSON.stringify(unknown.body))
  })
})

describe('device commands to Home Assistant entities (fake Home Assistant)', async () => {
  const ha = await startFakeHomeAssistant({ port: await freePort() })
  after(() => ha.stop())
  const h = await startGateway({ homeassistant: { enabled: true, url: ha.url, pingSeconds: 5, pollSeconds: 5 } })
  await h.gateway.secrets.set('homeassistant.token', ha.token)
  await h.addUser('carer', 'caregiver')
  const { accessToken } = await h.login('carer')
  const command = (id: string, body: unknown) => api(h, 'POST', `/api/devices/${id}/command`, body, accessToken)
  await waitFor('the resync', () => h.gateway.homeassistant.source?.status.state === 'connected', 20_000)
  await waitFor('the hall light', () => h.gateway.store.db.prepare("SELECT 1 FROM devices WHERE id = 'ha_light_hall'").get() !== undefined)

  test('the entity id is learnt at ingest; light.turn_on calls HA for it with the params as data: 200 with the changed state', async () => {
    const device = await api(h, 'GET', '/api/devices/ha_light_hall', undefined, accessToken)
    assert.deepEqual((device.body as { metadata: unknown }).metadata, { ha_entities: ['light.hall'] })
    const res = await command('ha_light_hall', { capability: 'light.turn_on', params: { brightness: 128 } })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    const call = ha.serviceCalls.at(-1)
    assert.equal(call?.via, 'rest')
    assert.equal(call?.domain, 'light')
    assert.equal(call?.service, 'turn_on')
    assert.deepEqual(call?.serviceData, { brightness: 128, entity_id: 'light.hall' })
    assert.equal(ha.getState('light.hall')?.state, 'on')
    assert.deepEqual((res.body as Body).result, { entityId: 'light.hall', changed: [{ entity_id: 'light.hall', state: 'on' }] })
  })

  test('refused: a service HA does not have (its 400), a domain the device has no entity of (HA not asked)', async () => {
    const res = await command('ha_light_hall', { capability: 'light.explode' })
    assert.equal(res.status, 422, JSON.stringify(res.body))
    assert.match(String((res.body as Body).detail), /HTTP 400/)
    const calls = ha.serviceCalls.length
    const wrong = await command('ha_light_hall', { capability: 'switch.turn_on' })
    assert.equal(wrong.status, 422, JSON.stringify(wrong.body))
    assert.match(String((wrong.body as Body).detail), /no switch entity/)
    assert.equal(ha.serviceCalls.length, calls)
  })

  test('a refused token is 502 (failed); Home Assistant down is 503', async () => {
    ha.rejectTokens(true)
    const token = await command('ha_switch_kettle', { capability: 'switch.turn_on' })
    ha.rejectTokens(false)
    assert.equal(token.status, 502, JSON.stringify(token.body))
    assert.match(String((token.body as Body).detail), /refused the token/)
    await ha.goDown()
    const down = await command('ha_switch_kettle', { capability: 'switch.turn_on' })
    assert.equal(down.status, 503, JSON.stringify(down.body))
    assert.equal((down.body as Body).code, 'CAREHUB_ERR_COMMAND_UNAVAILABLE')
    assert.match(String((down.body as Body).detail), /unreachable/)
  })
})

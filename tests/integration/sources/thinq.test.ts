import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { thinqDeviceId } from '../../../gateway/src/normalize/thinq.js'
import type { ThinqPoller } from '../../../gateway/src/sources/thinq/thinq-poller.js'
import { type Harness, startGateway } from '../../_support/gateway-harness.js'
import { startFakeThinq } from '../../fakes/thinq.js'

/**
 * The ThinQ poller against the fake ThinQ Connect API (real HTTP on loopback), with the gateway's
 * clock under the test's control: each `step(ms)` moves time and runs one scheduler tick.
 */
async function setup(thinq: Record<string, unknown> = {}) {
  const fake = await startFakeThinq()
  after(() => fake.stop())
  let now = Date.now()
  const h = await startGateway(
    { thinq: { enabled: true, apiKey: fake.apiKey, baseUrl: fake.url, country: 'DE', pollSeconds: 30, pollSecondsByType: {}, ...thinq } },
    undefined,
    { clock: { now: () => now } },
  )
  // The gateway started before the token existed: it said so and re-checks within a minute.
  await h.gateway.secrets.set('thinq.pat', fake.token)
  now += 61_000
  const poller = h.gateway.thinq as ThinqPoller
  assert.ok(poller)
  const step = async (ms: number) => {
    now += ms
    await poller.tick()
  }
  return { fake, h, poller, step }
}

const readings = (h: Harness, device: string, measurement: string) =>
  (
    h.gateway.store.db
      .prepare('SELECT fields FROM readings WHERE device_id = ? AND measurement = ? ORDER BY seq')
      .pluck()
      .all(device, measurement) as string[]
  ).map((f) => JSON.parse(f) as Record<string, unknown>)

describe('LG ThinQ source (fake ThinQ Connect API)', () => {
  test('discovers appliances, polls each at its interval with jitter, maps state to CareHub measurements', async () => {
    const { fake, h, poller, step } = await setup()
    await step(0)
    await step(31_000) // every device's first poll falls inside its first interval
    assert.equal(poller.status.state, 'ok')
    const ac = thinqDeviceId(fake.idOf('DEVICE_AIR_CONDITIONER'))
    const fridge = thinqDeviceId(fake.idOf('DEVICE_REFRIGERATOR'))
    const washer = thinqDeviceId(fake.idOf('DEVICE_WASHER'))
    const purifier = thinqDeviceId(fake.idOf('DEVICE_AIR_PURIFIER'))
    assert.deepEqual(h.gateway.store.db.prepare('SELECT id, name, type FROM devices WHERE id = ?').get(ac), {
      id: ac,
      name: 'Living room AC',
      type: 'air_conditioner',
    })
    assert.deepEqual(readings(h, ac, 'climate'), [{ temp_c: 25 }])
    assert.equal(readings(h, ac, 'state')[0]?.on, true)
    assert.deepEqual(readings(h, fridge, 'event'), [{ door: 'closed' }])
    assert.equal(typeof readings(h, washer, 'state')[0]?.run_state, 'string')
    assert.equal(readings(h, purifier, 'air')[0]?.pm25_ugm3, 9)
    // Unknown properties are kept as generic fields, not lost.
    assert.equal(readings(h, fridge, 'appliance')[0]?.water_filter_info_used_time, 4)
    // Every request carried LG's headers (the fake refuses otherwise); one state read per appliance.
    const stateCalls = fake.requests.filter((r) => r.path.endsWith('/state'))
    assert.equal(stateCalls.length, 4)
    fake.setState(fake.idOf('DEVICE_REFRIGERATOR'), { doorStatus: [{ locationName: 'MAIN', doorState: 'OPEN' }] })
    await step(70_000)
    assert.deepEqual(readings(h, fridge, 'event').at(-1), { door: 'open' })
  })

  test('an offline appliance is marked offline; a revoked token pauses polling with one warning; LG rate limits pause too', async () => {
    const { fake, h, poller, step } = await setup()
    await step(0)
    fake.setOffline(fake.idOf('DEVICE_WASHER'), true)
    await step(31_000)
    const washer = thinqDeviceId(fake.idOf('DEVICE_WASHER'))
    assert.equal(h.gateway.store.db.prepare('SELECT availability FROM devices WHERE id = ?').pluck().get(washer), 'offline')
    assert.equal(readings(h, washer, 'state').length, 0)

    const warned = () => h.lines().filter((l) => l.msg === 'LG ThinQ not polled normally' && l.state === 'unauthorized').length
    const warnedBefore = warned()
    fake.revokeToken()
    await step(31_000)
    await step(31_000)
    assert.equal(poller.status.state, 'unauthorized')
    assert.match((poller.healthCheck.check() as { detail: string }).detail, /carehub secret set thinq\.pat/)
    const before = fake.requests.length
    await step(10_000)
    await step(10_000)
    assert.equal(fake.requests.length, before, 'paused: no requests while the token is refused')
    assert.equal(warned() - warnedBefore, 1, 'one warning for the episode, not one per attempt')
  })

  test('a server error (2000) or a slow answer backs that appliance off; the others keep their rhythm', async () => {
    const { fake, step } = await setup({ timeoutMs: 1000 })
    await step(0)
    fake.failNext(1, { status: 500, code: '2000', message: 'Internal server error' })
    await step(31_000)
    const failed = fake.requests.find((r) => r.status === 500)
    assert.ok(failed, 'one state read failed')
    const polls = (path: string) => fake.requests.filter((r) => r.path === path).length
    // 40 s on: the others are due again (interval 30 s ±10 %), the failed one waits 2 × 30 s ± 25 % = 45–75 s.
    await step(40_000)
    assert.equal(polls(failed.path), 1)
    for (const r of fake.requests.filter((x) => x.path.endsWith('/state') && x.path !== failed.path)) assert.equal(polls(r.path), 2, r.path)
    // Slower than the timeout: the request is abandoned (no hang), the appliance backs off too.
    fake.setLatency(1500)
    const before = fake.requests.length
    await step(31_000)
    assert.ok(fake.requests.length > before)
    fake.setLatency(0)
  })

  test('the hourly request budget is never exceeded', async () => {
    const { fake, poller, step } = await setup({ requestsPerHour: 10, pollSeconds: 15 })
    for (let i = 0; i < 40; i++) await step(15_000)
    const inLastHour = fake.requests.filter((r) => r.time > 0).length
    assert.ok(inLastHour <= 10 + 1, `${inLastHour} requests`)
    assert.equal(poller.status.state, 'budget')
  })

  test('LG rate limit (1306) pauses all polling', async () => {
    const { fake, poller, step } = await setup()
    fake.setRateLimit({ perHour: 2 })
    await step(0)
    await step(31_000)
    assert.equal(poller.status.state, 'rate-limited')
    const before = fake.requests.length
    await step(60_000)
    assert.equal(fake.requests.length, before)
  })

  test('control: a partial state document through LG; refusals become CareHub errors with LG’s reason', async () => {
    const { fake, poller, step } = await setup()
    await step(0)
    const ac = thinqDeviceId(fake.idOf('DEVICE_AIR_CONDITIONER'))
    await poller.control(ac, { operation: { airConOperationMode: 'POWER_OFF' } })
    assert.equal(
      (fake.getState(fake.idOf('DEVICE_AIR_CONDITIONER')) as { operation: { airConOperationMode: string } }).operation.airConOperationMode,
      'POWER_OFF',
    )
    const control = fake.requests.find((r) => r.path.endsWith('/control'))
    assert.equal(control?.headers['x-conditional-control'], 'true')
    await assert.rejects(
      poller.control(ac, { airConJobMode: { currentJobMode: 'NOT_A_MODE' } }),
      (e: { code: string }) => e.code === 'CAREHUB_ERR_VALIDATION',
    )
    fake.setOffline(fake.idOf('DEVICE_AIR_CONDITIONER'), true)
    await assert.rejects(
      poller.control(ac, { operation: { airConOperationMode: 'POWER_ON' } }),
      (e: { code: string }) => e.code === 'CAREHUB_ERR_UPSTREAM_UNAVAILABLE',
    )
    await assert.rejects(poller.control('thinq_nobody', {}), (e: { code: string }) => e.code === 'CAREHUB_ERR_NOT_FOUND')
  })
})

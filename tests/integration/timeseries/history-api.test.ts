import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import type { FieldValue, Reading } from '../../../gateway/src/core/reading.js'
import { ensureDevice, updateDeviceMetadata } from '../../../gateway/src/store/devices.js'
import { api } from '../../_support/api-client.js'
import { type Harness, startGateway } from '../../_support/gateway-harness.js'

const MIN = 60_000
const HOUR = 60 * MIN

/** mulberry32: deterministic data, so a failure can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Point {
  readonly ts: number
  readonly value: number
}

describe('local history through the API: series tiers, anomaly flags, presets', () => {
  let h: Harness
  let token: string
  const base = Math.floor(Date.now() / HOUR) * HOUR - 4 * HOUR
  const temps = new Map<string, Point[]>()
  const spikeAt = base + 2 * HOUR + 40_000

  const submit = (deviceId: string, measurement: string, fields: Record<string, FieldValue>, ts: number) => {
    const reading: Reading = { deviceId, measurement, fields, tags: {}, ts, tsFromReceipt: false, receivedAt: Date.now(), source: 'virtual' }
    return h.gateway.journal.submit({ reading })
  }

  // Started from the file's top level (not inside a hook), so the harness stops it when the file ends.
  const started = startGateway({ history: { rollupFlushMs: 60_000 } })
  before(async () => {
    h = await started
    const db = h.gateway.store.db
    const now = Date.now()
    for (const [id, room] of [
      ['kitchen_temp', 'kitchen'],
      ['kitchen_temp2', 'kitchen'],
      ['fridge_plug', 'kitchen'],
      ['hall_door', 'hall'],
      ['hall_motion', 'hall'],
    ] as const) {
      ensureDevice(db, { id, source: 'virtual' }, now)
      updateDeviceMetadata(db, id, { room }, now)
    }
    const rnd = prng(42)
    const pending: Promise<unknown>[] = []
    for (const [id, offset] of [
      ['kitchen_temp', 20],
      ['kitchen_temp2', 22],
    ] as const) {
      const points: Point[] = []
      for (let ts = base; ts < base + 3 * HOUR; ts += 20_000) {
        const value = ts === spikeAt && id === 'kitchen_temp' ? 60 : Math.round((offset + rnd()) * 100) / 100
        points.push({ ts, value })
        pending.push(submit(id, 'climate', { temp_c: value }, ts))
      }
      temps.set(id, points)
    }
    // A meter counting 10 Wh every 5 minutes for 3 hours: 360 Wh in all.
    for (let i = 0; i <= 36; i++) pending.push(submit('fridge_plug', 'power', { energy_wh: 5000 + i * 10, power_w: 120 }, base + i * 5 * MIN))
    // Five openings of the hall door, each closed a minute later.
    for (let i = 0; i < 5; i++) {
      pending.push(submit('hall_door', 'event', { door: 'open' }, base + i * 20 * MIN))
      pending.push(submit('hall_door', 'event', { door: 'closed' }, base + i * 20 * MIN + MIN))
    }
    for (const at of [10, 20, 150]) pending.push(submit('hall_motion', 'event', { motion: true }, base + at * MIN))
    // Device-supplied state names that collide with Object.prototype members.
    for (const [k, mode] of ['constructor', '__proto__', 'toString', 'idle'].entries())
      pending.push(submit('hall_door', 'state', { mode }, base + k * MIN))
    await Promise.all(pending)
    await h.gateway.history.rollups.flush()
    await h.addUser('viewer', 'viewer')
    token = (await h.login('viewer')).accessToken
  })

  const get = async (path: string, expected = 200) => {
    const res = await api(h, 'GET', path, undefined, token)
    assert.equal(res.status, expected, `${path}: ${JSON.stringify(res.body)}`)
    return res.body as Record<string, unknown>
  }

  const brute = (points: readonly Point[], from: number, width: number) => {
    const inside = points.filter((p) => p.ts >= from && p.ts < from + width).map((p) => p.value)
    return { count: inside.length, min: Math.min(...inside), max: Math.max(...inside), avg: inside.reduce((a, b) => a + b, 0) / inside.length }
  }

  for (const step of ['5m', '15m']) {
    test(`rollup series with step=${step} matches a brute-force computation over the raw values`, async () => {
      const width = step === '5m' ? 5 * MIN : 15 * MIN
      const body = await get(`/api/devices/kitchen_temp2/series?measurement=climate&field=temp_c&range=3h&step=${step}&end=${base + 3 * HOUR}`)
      assert.equal(body.tier, '5m')
      assert.equal(body.stepMs, width)
      const points = body.points as Array<{ t: number; count: number; min: number; max: number; avg: number }>
      assert.equal(points.length, (3 * HOUR) / width)
      for (const p of points) {
        const expected = brute(temps.get('kitchen_temp2') as Point[], p.t, width)
        assert.equal(p.count, expected.count)
        assert.equal(p.min, expected.min)
        assert.equal(p.max, expected.max)
        assert.ok(Math.abs(p.avg - expected.avg) < 1e-9, `avg at ${p.t}`)
      }
    })
  }

  test('a step under a minute answers raw readings, with the anomalous spike flagged (kept, not dropped)', async () => {
    const body = await get(`/api/devices/kitchen_temp/series?measurement=climate&field=temp_c&range=1h&step=10s&end=${base + 3 * HOUR}`)
    assert.equal(body.tier, 'raw')
    const points = body.points as Array<{ t: number; value: number; anomaly: boolean }>
    const expected = (temps.get('kitchen_temp') as Point[]).filter((p) => p.ts >= base + 2 * HOUR)
    assert.deepEqual(
      points.map((p) => [p.t, p.value]),
      expected.map((p) => [p.ts, p.value]),
    )
    assert.deepEqual(
      points.filter((p) => p.anomaly).map((p) => p.t),
      [spikeAt],
    )
    const minute = await get(`/api/devices/kitchen_temp/series?measurement=climate&field=temp_c&range=1m&step=1m&end=${spikeAt - 40_000 + MIN}`)
    assert.equal((minute.points as Array<{ anomalies: number }>)[0]?.anomalies, 1)
  })

  test('a long range picks the hourly tier and a step that is a whole number of hours', async () => {
    const body = await get('/api/devices/kitchen_temp/series?measurement=climate&field=temp_c&range=30d')
    assert.equal(body.tier, '1h')
    assert.equal(body.stepMs, 3 * HOUR)
    const total = (body.points as Array<{ count: number }>).reduce((a, p) => a + p.count, 0)
    assert.equal(total, temps.get('kitchen_temp')?.length)
  })

  test('state series: the door rollup counts entries into each state and time spent in it', async () => {
    const body = await get(`/api/devices/hall_door/series?measurement=event&field=door&range=4h&step=1h&end=${base + 4 * HOUR}`)
    const first = (body.points as Array<{ states: Record<string, { ms: number; entries: number; n: number }>; changes: number }>)[0]
    assert.equal(first?.states.open?.entries, 3)
    assert.equal(first?.states.open?.ms, 3 * MIN)
    assert.equal(first?.states.open?.n, 3)
    // The first reading of a series is an entry into its state, not a change.
    assert.equal(first?.changes, 5)
  })

  test('state names such as "constructor" or "__proto__" are just states, stored and answered like any other', async () => {
    const body = await get(`/api/devices/hall_door/series?measurement=state&field=mode&range=1h&step=1h&end=${base + HOUR}`)
    const states = (body.points as Array<{ states: Record<string, { ms: number; entries: number; n: number }> }>)[0]?.states
    // Built from JSON text: in an object literal `__proto__:` would set the prototype, not a key.
    const held = '{"ms":60000,"entries":1,"n":1}'
    assert.deepEqual(
      JSON.parse(JSON.stringify(states)),
      JSON.parse(`{"constructor":${held},"__proto__":${held},"toString":${held},"idle":{"ms":0,"entries":1,"n":1}}`),
    )
    assert.equal(typeof Object.entries, 'function')
  })

  test('presets: latest, room_hourly, daily_energy, door_openings, inactivity', async () => {
    // The answer is written as JSON text (latest-preset.ts), and says so, with the query it answers.
    const raw = await api(h, 'GET', '/api/telemetry/query?preset=latest&room=kitchen', undefined, token)
    assert.equal(raw.headers['content-type'], 'application/json;charset=UTF-8')
    const answer = raw.body as { preset: string; params: unknown; generatedAt: number }
    assert.deepEqual([answer.preset, answer.params, typeof answer.generatedAt], ['latest', { room: 'kitchen' }, 'number'])
    const latest = (await get('/api/telemetry/query?preset=latest&room=kitchen')).rows as Array<{ deviceId: string; measurement: string }>
    assert.deepEqual(latest.map((r) => `${r.deviceId}/${r.measurement}`).sort(), [
      'fridge_plug/power',
      'kitchen_temp/climate',
      'kitchen_temp2/climate',
    ])

    const hourly = (await get('/api/telemetry/query?preset=room_hourly&room=kitchen&hours=6')).rows as Array<{
      t: number
      avg: number
      devices: number
    }>
    const all = [...(temps.get('kitchen_temp') as Point[]), ...(temps.get('kitchen_temp2') as Point[])]
    assert.equal(hourly.length, 3)
    for (const row of hourly) {
      assert.equal(row.devices, 2)
      assert.ok(Math.abs(row.avg - brute(all, row.t, HOUR).avg) < 1e-9, `room average at ${row.t}`)
    }

    const energy = (await get('/api/telemetry/query?preset=daily_energy&device=fridge_plug&days=2')).rows as Array<{ wh: number; method: string }>
    assert.equal(
      energy.reduce((a, r) => a + r.wh, 0),
      360,
    )
    assert.ok(energy.every((r) => r.method === 'energy_meter'))

    const doors = (await get('/api/telemetry/query?preset=door_openings&room=hall&days=1')).rows as Array<{ deviceId: string; openings: number }>
    assert.equal(
      doors.reduce((a, r) => a + r.openings, 0),
      5,
    )

    const gaps = (await get('/api/telemetry/query?preset=inactivity&room=hall&hours=6&minGapMinutes=60')).rows as Array<{
      from: number
      to: number
      minutes: number
      ongoing: boolean
    }>
    assert.ok(
      gaps.some((g) => g.from === base + 21 * MIN && g.to === base + 150 * MIN && g.minutes === 129),
      JSON.stringify(gaps),
    )
    assert.equal(gaps.at(-1)?.ongoing, true)
    assert.equal(gaps.at(-1)?.from, base + 151 * MIN)
  })

  test('preset and series parameters are validated; injection attempts are refused or inert', async () => {
    for (const bad of [
      '/api/telemetry/query?preset=latest&sql=SELECT%201',
      '/api/telemetry/query?preset=DROP%20TABLE%20devices',
      '/api/telemetry/query',
      '/api/telemetry/query?preset=daily_energy&days=7;DROP%20TABLE%20readings',
      '/api/telemetry/query?preset=room_hourly',
      '/api/telemetry/query?preset=latest&measurement=climate%27--',
      '/api/telemetry/query?preset=latest&room=a%00b',
      '/api/telemetry/query?preset=inactivity&hours=100000',
      '/api/devices/kitchen_temp/series?measurement=climate%27--&field=temp_c',
      '/api/devices/kitchen_temp/series?measurement=climate&field=temp_c)%20OR%201=1',
      '/api/devices/kitchen_temp/series?measurement=climate&field=temp_c&range=abc',
      '/api/devices/kitchen_temp/series?measurement=climate&field=temp_c&step=0m',
      '/api/devices/kitchen_temp/series?measurement=climate&field=temp_c&range=2y&step=1h',
    ]) {
      const body = await get(bad, 400)
      assert.equal(body.code, 'CAREHUB_ERR_VALIDATION', bad)
      assert.ok(typeof body.detail === 'string' && body.detail.length > 0, bad)
    }
    // A quote in a room name is just a room name: bound as a parameter, it matches nothing.
    assert.deepEqual((await get('/api/telemetry/query?preset=latest&room=%27%20OR%20%271%27=%271')).rows, [])
    await get('/api/devices/nobody/series?measurement=climate&field=temp_c', 404)
    const unauthenticated = await api(h, 'GET', '/api/telemetry/query?preset=latest')
    assert.equal(unauthenticated.status, 401)
    assert.equal(h.gateway.store.db.prepare('SELECT count(*) FROM devices').pluck().get(), 5)
  })
})

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { before, describe, test } from 'node:test'
import { fixedFieldNames } from '../../../gateway/src/normalize/measurements.js'
import { type InfluxV1Server, influxRows, startInfluxV1, tsdbAvailable } from '../../_support/tsdb-servers.js'

const read = (path: string) => readFileSync(new URL(`../../../config/${path}`, import.meta.url), 'utf8')
const SETUP = read('influxdb/v1/setup.influxql')
const STATEMENTS = SETUP.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('--'))

// What the gateway writes, from its own schemas: measurement → fields (`state` takes any field name).
const FIELDS: Record<string, readonly string[]> = {
  climate: fixedFieldNames('climate'),
  power: fixedFieldNames('power'),
  event: fixedFieldNames('event'),
  state: [],
}
const TAGS = ['device', 'source']
const TIERS = ['1m', '5m', '1h'] as const

const HOUR = 3_600_000
// Whole hours, six of them back: beyond every CQ's RESAMPLE … FOR window (3 h at most), so the CQs
// the server runs on its own schedule never write into the range this test checks.
const T0 = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR
const POINTS = [
  `climate,device=d1,source=mqtt temp_c=20 ${T0}`,
  `climate,device=d1,source=mqtt temp_c=21 ${T0 + 20_000}`,
  `climate,device=d1,source=mqtt humid_pct=40,temp_c=22 ${T0 + 40_000}`,
  `climate,device=d1,source=mqtt temp_c=30 ${T0 + 60_000}`,
  `climate,device=d2,room=hall,source=homeassistant temp_c=10 ${T0 + 10_000}`,
  `power,device=p1,source=mqtt energy_wh=1000,power_w=100 ${T0}`,
  `power,device=p1,source=mqtt energy_wh=1001.5,power_w=200 ${T0 + 30_000}`,
  `power,device=p1,source=mqtt energy_wh=1002,power_w=50 ${T0 + 61_000}`,
  `event,device=door1,source=mqtt door="open" ${T0 + 5_000}`,
  `event,device=door1,source=mqtt door="closed" ${T0 + 65_000}`,
  `event,device=pir1,source=mqtt motion=true ${T0 + 7_000}`,
  `event,device=pend1,source=mqtt confidence=0.9,fall=true ${T0 + 8_000}`,
  `event,device=btn1,source=mqtt button="single" ${T0 + 9_000}`,
  `state,device=ac,source=thinq mode="cool",on=true,target_c=21 ${T0 + 3_000}`,
].join('\n')

interface Target {
  datasource?: { uid?: string }
  query: string
  resultFormat?: string
}
interface Panel {
  id: number
  title: string
  datasource?: { uid?: string }
  gridPos: { h: number; w: number; x: number; y: number }
  targets: Target[]
}
const DASHBOARD = JSON.parse(read('grafana/dashboards/carehub.json')) as {
  schemaVersion: number
  panels: Panel[]
  templating: { list: Array<{ name: string; query: string; datasource?: { uid?: string } }> }
}
const QUERIES = [...DASHBOARD.panels.flatMap((p) => p.targets.map((t) => t.query)), ...DASHBOARD.templating.list.map((v) => v.query)]

const { influx } = tsdbAvailable()
const skip = influx ? false : 'influxd is not installed (scripts/install-test-deps.sh installs Debian influxdb as root)'

describe('config/influxdb/v1/setup.influxql on a real InfluxDB 1.x', { skip }, () => {
  let server: InfluxV1Server
  const ms = (t: number) => `${t}ms`
  const range = `time >= ${ms(T0)} AND time < ${ms(T0 + HOUR)}`

  before(async () => {
    server = await startInfluxV1()
    for (const statement of STATEMENTS) await server.query('', statement)
    await server.write('carehub', POINTS, 'raw')
  })

  test('makes the database, raw (90 d, default) and agg (730 d), and every CQ; applying it again is harmless', async () => {
    const rps = influxRows(await server.query('carehub', 'SHOW RETENTION POLICIES ON "carehub"'))
    assert.deepEqual(
      rps.map((r) => [r.name, r.duration, r.default]),
      [
        ['raw', '2160h0m0s', true],
        ['agg', '17520h0m0s', false],
      ],
    )
    const expected = Object.keys(FIELDS)
      .filter((m) => m === 'climate' || m === 'power')
      .flatMap((m) => TIERS.map((t) => `cq_${m}_${t}`))
    const listed = () => server.query('', 'SHOW CONTINUOUS QUERIES')
    const names = async () => influxRows(await listed()).map((r) => String(r.name))
    assert.deepEqual((await names()).sort(), expected.sort())
    // The README applies the whole file in one POST; over an existing setup that changes nothing.
    await server.query('', SETUP)
    assert.deepEqual((await names()).sort(), expected.sort())
  })

  test("each CQ's SELECT … INTO, run over the written hour tier by tier, gives the right rollups", async () => {
    // CQs only run on their schedule, so run what they would run: the inner SELECT over [T0, T0+1h).
    for (const tier of TIERS) {
      for (const line of STATEMENTS.filter((s) => s.includes(`"cq_`) && s.includes(`_${tier}" ON`))) {
        const select = /\bBEGIN (SELECT .*) END;$/.exec(line)?.[1]
        assert.ok(select, line)
        const written = await server.query('carehub', select.replace(' GROUP BY ', ` WHERE ${range} GROUP BY `))
        assert.ok(Number(influxRows(written)[0]?.written) > 0, `nothing written by ${select.slice(0, 80)}…`)
      }
    }
    const rows = async (measurement: string) =>
      influxRows(await server.query('carehub', `SELECT * FROM "carehub"."agg"."${measurement}" WHERE ${range}`))
    const one = (all: Array<Record<string, unknown>>, device: string, time = T0) => {
      const row = all.find((r) => r.device === device && r.time === time)
      assert.ok(row, `no row for ${device} at ${time} in ${JSON.stringify(all)}`)
      return row
    }
    const pick = (row: Record<string, unknown>, field: string) =>
      Object.fromEntries(['mean', 'min', 'max', 'sum', 'count'].map((a) => [a, row[`${field}_${a}`]]))

    const c1m = await rows('climate_1m')
    assert.deepEqual(pick(one(c1m, 'd1'), 'temp_c'), { mean: 21, min: 20, max: 22, sum: 63, count: 3 })
    assert.deepEqual(pick(one(c1m, 'd1'), 'humid_pct'), { mean: 40, min: 40, max: 40, sum: 40, count: 1 })
    assert.deepEqual(pick(one(c1m, 'd1', T0 + 60_000), 'temp_c'), { mean: 30, min: 30, max: 30, sum: 30, count: 1 })
    // Tags are kept: devices stay apart, and a tag only one device sent stays with it.
    assert.equal(one(c1m, 'd2').room, 'hall')
    assert.equal(one(c1m, 'd2').source, 'homeassistant')
    assert.equal(one(c1m, 'd2').temp_c_mean, 10)

    // 5m and 1h: the mean over all 4 readings (93 / 4), not the mean of the minute means (25.5).
    for (const m of ['climate_5m', 'climate_1h']) {
      const all = await rows(m)
      assert.deepEqual(pick(one(all, 'd1'), 'temp_c'), { mean: 23.25, min: 20, max: 30, sum: 93, count: 4 }, m)
      assert.deepEqual(pick(one(all, 'd2'), 'temp_c'), { mean: 10, min: 10, max: 10, sum: 10, count: 1 }, m)
      assert.equal(all.length, 2, m)
    }
    assert.deepEqual(pick(one(await rows('power_1m'), 'p1'), 'power_w'), { mean: 150, min: 100, max: 200, sum: 300, count: 2 })
    const p1h = one(await rows('power_1h'), 'p1')
    assert.ok(Math.abs(Number(p1h.power_w_mean) - 350 / 3) < 1e-9, String(p1h.power_w_mean))
    assert.deepEqual([p1h.energy_wh_min, p1h.energy_wh_max, p1h.energy_wh_count], [1000, 1002, 3])
  })

  test('every dashboard query runs on InfluxDB 1.x and finds the points written', async () => {
    const macros = (q: string) =>
      q
        .replaceAll('$timeFilter', `time >= ${ms(T0 - HOUR)} AND time <= ${ms(Date.now())}`)
        .replaceAll('$__interval', '1m')
        .replaceAll('$device', '.*')
    for (const q of QUERIES) {
      const rows = influxRows(await server.query('carehub', macros(q)))
      assert.ok(rows.length > 0, `no rows for ${q}`)
    }
    const energy = DASHBOARD.panels.find((p) => p.title === 'Energy per day')?.targets[0]?.query ?? ''
    const daily = influxRows(await server.query('carehub', macros(energy)))
    // 1000 → 1001.5 → 1002 Wh on one day: 2 Wh = 0.002 kWh.
    assert.ok(
      daily.some((r) => r.device === 'p1' && Math.abs(Number(r.sum) - 0.002) < 1e-9),
      JSON.stringify(daily),
    )
  })
})

describe('Grafana and InfluxDB 2.x files match what the gateway writes', () => {
  test('panels use a provisioned datasource, sit on the grid, and query only measurements, fields and tags that exist', () => {
    const uids = [...read('grafana/provisioning/datasources/carehub.yaml').matchAll(/^\s*uid:\s*([\w-]+)\s*$/gm)].map((m) => m[1])
    assert.ok(uids.includes('carehub-influxql') && uids.includes('carehub-flux'), String(uids))
    assert.equal(typeof DASHBOARD.schemaVersion, 'number')
    assert.equal(new Set(DASHBOARD.panels.map((p) => p.id)).size, DASHBOARD.panels.length)
    for (const p of DASHBOARD.panels) {
      const { h, w, x, y } = p.gridPos
      assert.ok([h, w, x, y].every(Number.isInteger) && x + w <= 24 && h > 0, `${p.title} gridPos`)
      assert.ok(p.targets.length > 0, p.title)
      for (const uid of [p.datasource?.uid, ...p.targets.map((t) => t.datasource?.uid)]) assert.ok(uids.includes(uid ?? ''), `${p.title}: ${uid}`)
    }
    for (const v of DASHBOARD.templating.list) assert.ok(uids.includes(v.datasource?.uid ?? ''), v.name)

    for (const q of QUERIES) {
      const measurements = [
        ...[...q.matchAll(/\bFROM\s+"(\w+)"/g)].map((m) => m[1] as string),
        ...[...q.matchAll(/\bFROM\s+\/\^\(([\w|]+)\)\$\//g)].flatMap((m) => (m[1] as string).split('|')),
      ]
      assert.ok(measurements.length > 0, q)
      for (const m of measurements) assert.ok(m in FIELDS, `${m} in ${q}`)
      const aliases = [...q.matchAll(/\bAS\s+"(\w+)"/g)].map((m) => m[1])
      const allowed = new Set([...measurements, ...measurements.flatMap((m) => FIELDS[m] ?? []), ...TAGS, ...aliases])
      for (const [, ident] of q.matchAll(/"(\w+)"/g)) assert.ok(allowed.has(ident as string), `"${ident}" is not written by the gateway: ${q}`)
    }
  })

  test('the v1 CQs roll up every climate and power field, and nothing else', () => {
    for (const m of ['climate', 'power']) {
      const line = STATEMENTS.find((s) => s.includes(`"cq_${m}_1m"`)) ?? ''
      assert.ok(line.includes(`FROM "carehub"."raw"."${m}"`), line)
      const used = new Set([...line.matchAll(/\b(?:mean|min|max|sum|count)\("(\w+)"\)/g)].map((x) => x[1]))
      assert.deepEqual([...used].sort(), [...(FIELDS[m] ?? [])].sort(), m)
    }
  })

  test('the Flux tasks read and write the buckets setup.sh creates, each tier from the one before', () => {
    const setup = read('influxdb/v2/setup.sh')
    assert.match(setup, /ensure_bucket sensors 90d\b/)
    assert.match(setup, /ensure_bucket sensors_agg 730d\b/)
    assert.match(setup, /for tier in 1m 5m 1h; do/)
    TIERS.forEach((tier, i) => {
      const flux = read(`influxdb/v2/downsample-${tier}.flux`)
      const buckets = [...flux.matchAll(/\bbucket:\s*"([^"]*)"/g)].map((m) => m[1])
      assert.deepEqual(buckets, [i === 0 ? 'sensors' : 'sensors_agg', 'sensors_agg'], tier)
      assert.match(flux, new RegExp(`option task = \\{name: "carehub-downsample-${tier}", every: ${tier}, offset: \\w+\\}`))
      assert.match(flux, new RegExp(`\\|> set\\(key: "tier", value: "${tier}"\\)\\s*\\|> to\\(bucket: "sensors_agg"\\)`))
      if (i > 0) assert.match(flux, new RegExp(`r\\.tier == "${TIERS[i - 1]}"`))
      for (const [, m] of flux.matchAll(/r\._measurement == "(\w+)"/g)) assert.ok(m === 'climate' || m === 'power', `${tier}: ${m}`)
    })
  })
})

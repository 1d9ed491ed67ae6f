import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { startGateway } from '../../_support/gateway-harness.js'
import { expectedTemp, metricValue, reading, submitClimate, waitFor } from '../../_support/history-data.js'
import { influxRows, startInfluxV1, startVictoriaMetrics, tsdbAvailable } from '../../_support/tsdb-servers.js'

const HOUR = 3_600_000
const available = tsdbAvailable()
const fast = { pollMs: 20, backoffMinMs: 50, backoffMaxMs: 400 }

describe('forwarding the journal to InfluxDB v2 (VictoriaMetrics, real server)', {
  skip: !available.vm && 'victoria-metrics is not installed',
}, () => {
  test('every reading arrives point by point; an outage mid-stream loses nothing and duplicates nothing', async () => {
    const vm = await startVictoriaMetrics({ dedup: true })
    const h = await startGateway({ influx: { version: 2, url: vm.url, batchSize: 500, ...fast } })
    const forwarder = h.gateway.history.forwarder
    assert.ok(forwarder)
    const t0 = Math.floor(Date.now() / 1000) * 1000 - HOUR
    let last = await submitClimate(h.gateway, t0, 0, 3000)
    await waitFor('the first 3,000 points to be forwarded', () => forwarder.cursor >= last)

    // The server goes away while devices keep reporting: readings wait in the journal.
    await vm.stop()
    last = await submitClimate(h.gateway, t0, 3000, 6000)
    await waitFor('the forwarder to notice the outage', () => (forwarder.healthCheck.check() as { status: string }).status === 'degraded')
    assert.ok((await metricValue(h.gateway, 'carehub_timeseries_queue_depth', { sink: 'influx-v2' })) >= 3000)
    assert.ok((await metricValue(h.gateway, 'carehub_timeseries_oldest_unforwarded_seconds', { sink: 'influx-v2' })) >= 0)
    await new Promise((r) => setTimeout(r, 600)) // several failed retries
    assert.ok((await metricValue(h.gateway, 'carehub_timeseries_write_failures_total', { sink: 'influx-v2', kind: 'unavailable' })) >= 2)
    const warnings = h.lines().filter((l) => l.msg === 'cannot write to the time-series server; readings are kept and retried')
    assert.equal(warnings.length, 1, 'one warning per outage, not one per retry')

    await vm.start()
    // The cursor moves when the journal has it; the forwarder's worker reports health and counts
    // just after, each in a message of its own (a slow machine saw the cursor and health before the
    // last batch's count).
    const forwarded = () => metricValue(h.gateway, 'carehub_timeseries_points_forwarded_total', { sink: 'influx-v2' })
    await waitFor(
      'the backlog to be forwarded after the outage, counted, and health ok',
      async () => forwarder.cursor >= last && (forwarder.healthCheck.check() as { status: string }).status === 'ok' && (await forwarded()) >= 6000,
    )
    assert.equal(await metricValue(h.gateway, 'carehub_timeseries_queue_depth', { sink: 'influx-v2' }), 0)
    assert.equal(await forwarded(), 6000)
    assert.ok(h.lines().some((l) => l.msg === 'time-series server reachable again; catching up'))

    const series = await vm.exportSeries('{__name__="climate_temp_c"}')
    assert.deepEqual(
      series.map((s) => s.metric.device),
      ['dev0', 'dev1'],
    )
    for (const s of series) {
      const parity = s.metric.device === 'dev0' ? 0 : 1
      const expected = Array.from({ length: 3000 }, (_, k) => 2 * k + parity)
      // Exactly the journal's points, each once, in time order, with its value.
      assert.deepEqual(
        s.timestamps,
        expected.map((i) => t0 + i * 1000),
      )
      // VictoriaMetrics keeps values as decimals of 12 significant digits: 17.240000000000002 → 17.24.
      assert.equal(s.values.length, expected.length)
      for (const [k, i] of expected.entries()) assert.ok(Math.abs((s.values[k] as number) - expectedTemp(i)) < 1e-9, `value ${k}`)
      assert.equal(s.metric.source, 'virtual')
    }
  })
})

describe('forwarding the journal to InfluxDB 1.x (real influxd)', { skip: !available.influx && 'influxd is not installed' }, () => {
  test('points arrive as written; a point the server refuses goes to dead letters and does not wedge the queue', async () => {
    const influx = await startInfluxV1()
    await influx.createDatabase('carehub')
    const h = await startGateway({ influx: { version: 1, url: influx.url, database: 'carehub', batchSize: 400, ...fast } })
    const forwarder = h.gateway.history.forwarder
    assert.ok(forwarder)
    const t0 = Math.floor(Date.now() / 1000) * 1000 - HOUR
    await submitClimate(h.gateway, t0, 0, 1000)
    // A free-form measurement whose field changes type: InfluxDB refuses the second (400 field type conflict).
    await h.gateway.journal.submit({ reading: reading('dev0', 'misc', { x: 1.5 }, t0) })
    await h.gateway.journal.submit({ reading: reading('dev0', 'misc', { x: 'text' }, t0 + 1000) })
    const last = await submitClimate(h.gateway, t0, 1000, 2000)
    await waitFor('everything to be forwarded', () => forwarder.cursor >= last)
    await waitFor(
      'the worker to have counted it',
      async () => (await metricValue(h.gateway, 'carehub_timeseries_points_forwarded_total', { sink: 'influx-v1' })) === 2001,
    )

    const rows = influxRows(await influx.query('carehub', 'SELECT temp_c, humid_pct, device, source FROM climate ORDER BY time'))
    assert.equal(rows.length, 2000)
    rows.forEach((r, i) => {
      assert.equal(r.time, t0 + i * 1000)
      assert.equal(r.temp_c, expectedTemp(i))
      assert.equal(r.humid_pct, i % 100)
      assert.equal(r.device, `dev${i % 2}`)
    })
    assert.deepEqual(influxRows(await influx.query('carehub', 'SELECT x FROM misc')), [{ name: 'misc', time: t0, x: 1.5 }])

    const dead = h.gateway.store.db
      .prepare("SELECT origin, reason_code, reason, CAST(payload AS TEXT) AS line FROM dead_letters WHERE source = 'timeseries'")
      .all() as Array<Record<string, string>>
    assert.equal(dead.length, 1)
    assert.equal(dead[0]?.reason_code, 'CAREHUB_ERR_UPSTREAM_REJECTED')
    assert.match(dead[0]?.reason ?? '', /HTTP 400: .*type conflict/)
    assert.match(dead[0]?.line ?? '', /^misc,device=dev0,source=virtual x="text" \d+$/)
    assert.equal(await metricValue(h.gateway, 'carehub_timeseries_points_failed_total', { sink: 'influx-v1' }), 1)
    assert.equal(await metricValue(h.gateway, 'carehub_timeseries_points_forwarded_total', { sink: 'influx-v1' }), 2001)
  })

  test('a missing database is a configuration problem: nothing is dead-lettered, the queue waits and drains once it exists', async () => {
    const influx = await startInfluxV1()
    const h = await startGateway({ influx: { version: 1, url: influx.url, database: 'later', ...fast } })
    const forwarder = h.gateway.history.forwarder
    assert.ok(forwarder)
    const t0 = Math.floor(Date.now() / 1000) * 1000 - HOUR
    const last = await submitClimate(h.gateway, t0, 0, 100)
    await waitFor('the failure to show in health', () => (forwarder.healthCheck.check() as { status: string }).status === 'degraded')
    assert.match((forwarder.healthCheck.check() as { detail: string }).detail, /HTTP 404: database not found/)
    assert.ok((await metricValue(h.gateway, 'carehub_timeseries_write_failures_total', { sink: 'influx-v1', kind: 'misconfigured' })) >= 1)
    assert.equal(forwarder.cursor, 0)
    assert.equal(h.gateway.store.db.prepare('SELECT count(*) FROM dead_letters').pluck().get(), 0)

    await influx.createDatabase('later')
    await waitFor('the queue to drain', () => forwarder.cursor >= last)
    assert.equal(influxRows(await influx.query('later', 'SELECT count(temp_c) FROM climate'))[0]?.count, 100)
  })
})

import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { spawnDaemon } from '../_support/daemon.js'
import { startGateway } from '../_support/gateway-harness.js'
import { expectedTemp, submitClimate, waitFor } from '../_support/history-data.js'
import { httpsGet } from '../_support/https-get.js'
import { parsePrometheus } from '../_support/prometheus.js'
import { freePort, tempDir } from '../_support/temp.js'
import { influxRows, startInfluxV1, tsdbAvailable } from '../_support/tsdb-servers.js'

const TOTAL = 40_000
const BATCH = 1000

describe('forwarder across a power cut', { skip: !tsdbAvailable().influx && 'influxd is not installed' }, () => {
  test('kill -9 mid-forwarding: after restart every reading is in InfluxDB exactly once, resumed from the cursor', async () => {
    const influx = await startInfluxV1()
    await influx.createDatabase('carehub')
    const where = { dataDir: join(tempDir(), 'data'), mqttPort: await freePort(), httpPort: await freePort() }
    // A backlog in the journal, written by a gateway without InfluxDB (as if it had been down for a while).
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 12 * 3600_000
    const h = await startGateway({}, where)
    await submitClimate(h.gateway, t0, 0, TOTAL)
    await h.gateway.stop()

    const config = join(tempDir(), 'gateway.yaml')
    writeFileSync(
      config,
      `influx:\n  version: 1\n  url: ${influx.url}\n  database: carehub\n  batchSize: ${BATCH}\n  pollMs: 50\n  backoffMinMs: 100\n`,
    )
    const env = {
      CAREHUB_CONFIG: config,
      CAREHUB_LOG_LEVEL: 'info',
      CAREHUB_HTTP_PORT: String(where.httpPort),
      CAREHUB_MQTT_PORT: String(where.mqttPort),
    }
    const stored = async () => Number(influxRows(await influx.query('carehub', 'SELECT count(temp_c) FROM climate'))[0]?.count ?? 0)

    const first = await spawnDaemon({ dataDir: where.dataDir, env })
    await waitFor('the first batches to land', async () => (await stored()) > 0, 60_000)
    first.proc.kill('SIGKILL')
    await first.exited
    const beforeRestart = await stored()
    assert.ok(beforeRestart < TOTAL, `killed mid-way (${beforeRestart} of ${TOTAL} stored) — the backlog must outlast the first batch`)

    const second = await spawnDaemon({ dataDir: where.dataDir, env })
    await waitFor('every reading to arrive', async () => (await stored()) >= TOTAL, 60_000)
    const ca = readFileSync(join(where.dataDir, 'pki', 'ca.crt'))
    const metrics = parsePrometheus((await httpsGet(`https://127.0.0.1:${where.httpPort}/metrics`, ca)).body)
    const forwarded = Number(metrics.find((f) => f.name === 'carehub_timeseries_points_forwarded_total')?.metrics[0]?.value)
    // Resumed from its cursor: at most the batch in flight at the kill is sent again.
    assert.ok(forwarded <= TOTAL - beforeRestart + BATCH, `second run sent ${forwarded}; ${beforeRestart} were stored before it`)
    second.proc.kill('SIGTERM')
    await second.exited

    const rows = influxRows(await influx.query('carehub', 'SELECT temp_c, device FROM climate ORDER BY time'))
    assert.equal(rows.length, TOTAL, 'each reading exactly once')
    rows.forEach((r, i) => {
      assert.equal(r.time, t0 + i * 1000)
      assert.equal(r.temp_c, expectedTemp(i))
      assert.equal(r.device, `dev${i % 2}`)
    })
  })
})

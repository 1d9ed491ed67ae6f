import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import mqtt from 'mqtt'
import { runCli } from '../../gateway/src/cli/run.js'
import { spawnDaemon } from '../_support/daemon.js'
import { freePort, tempDir } from '../_support/temp.js'

const TRIALS = 5

/**
 * The rollups are folded on a worker thread with its own SQLite connection; its cursor and the
 * buckets it writes commit together. The daemon is SIGKILLed under QoS 1 load while folds run
 * every 20 ms; after a last clean catch-up every stored reading must be counted exactly once in
 * every tier (none lost, none twice).
 */
describe('rollups stay exactly-once across SIGKILL (worker-thread fold)', () => {
  test(`${TRIALS} kills mid-fold: per tier, the rollup count and sum equal the stored readings`, async () => {
    const dataDir = join(tempDir(), 'data')
    const certDir = tempDir()
    const io = {
      env: { CAREHUB_DATA_DIR: dataDir },
      cwd: certDir,
      stdout: () => {},
      stderr: (t: string) => void process.stderr.write(t),
      stdin: async () => '',
      now: () => Date.now(),
    }
    assert.equal(await runCli(['device', 'add', 'fold_dev', '--out', certDir], io), 0)
    const tls = {
      ca: readFileSync(join(certDir, 'ca.crt')),
      cert: readFileSync(join(certDir, 'fold_dev.crt')),
      key: readFileSync(join(certDir, 'fold_dev.key')),
    }
    const configPath = join(certDir, 'gateway.yaml')
    writeFileSync(configPath, 'history:\n  rollupFlushMs: 20\n')
    const env = {
      CAREHUB_HTTP_PORT: String(await freePort()),
      CAREHUB_MQTT_PORT: String(await freePort()),
      CAREHUB_LOG_LEVEL: 'warn',
      CAREHUB_CONFIG: configPath,
    }
    const mqttPort = Number(env.CAREHUB_MQTT_PORT)
    let n = 0
    for (let trial = 0; trial < TRIALS; trial++) {
      const d = await spawnDaemon({ dataDir, env })
      const client = await connectWithRetry(mqttPort, tls)
      let stop = false
      const pump = (async () => {
        while (!stop) {
          const batch = Array.from({ length: 16 }, () => {
            n++
            return client.publishAsync('care/fold_dev/test', JSON.stringify({ fields: { seq: n } }), { qos: 1 }).catch(() => {})
          })
          await Promise.all(batch)
        }
      })()
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 600))
      d.proc.kill('SIGKILL')
      await d.exited
      stop = true
      client.end(true)
      await Promise.race([pump, new Promise((r) => setTimeout(r, 500))])
    }
    // One clean run folds whatever the kills left behind, then stops.
    const last = await spawnDaemon({ dataDir, env })
    const db = new Database(join(dataDir, 'carehub.db'), { readonly: true })
    const rollupDb = new Database(join(dataDir, 'rollups.db'), { readonly: true })
    const q = (sql: string) => db.prepare(sql).pluck().get() as number
    const qr = (sql: string) => rollupDb.prepare(sql).pluck().get() as number
    const stored = q("SELECT count(*) FROM readings WHERE device_id = 'fold_dev'")
    const lastSeq = q('SELECT max(seq) FROM readings')
    for (let i = 0; i < 200 && (qr('SELECT coalesce(max(seq), 0) FROM fold_cursor') ?? 0) < lastSeq; i++) {
      await new Promise((r) => setTimeout(r, 50))
    }
    last.proc.kill('SIGTERM')
    await last.exited
    const sumSeq = q("SELECT sum(json_extract(fields, '$.seq')) FROM readings WHERE device_id = 'fold_dev'")
    const tiers = rollupDb
      .prepare(
        "SELECT tier, sum(count) AS count, sum(sum) AS total FROM rollups WHERE device_id = 'fold_dev' AND field = 'seq' GROUP BY tier ORDER BY tier",
      )
      .all() as Array<{ tier: string; count: number; total: number }>
    rollupDb.close()
    db.close()
    assert.ok(stored > TRIALS * 50, `enough load to mean something: ${stored} readings stored`)
    process.stdout.write(`# rollups: ${stored} readings stored over ${TRIALS} SIGKILLs\n`)
    assert.deepEqual(
      tiers,
      ['1h', '1m', '5m'].map((tier) => ({ tier, count: stored, total: sumSeq })),
    )
  })
})

async function connectWithRetry(port: number, tls: { ca: Buffer; cert: Buffer; key: Buffer }) {
  for (let i = 0; i < 100; i++) {
    try {
      return await mqtt.connectAsync(
        `mqtts://127.0.0.1:${port}`,
        { ...tls, servername: 'localhost', clientId: 'fold_dev', protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 2000 },
        false,
      )
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error('the gateway did not accept MQTT connections')
}

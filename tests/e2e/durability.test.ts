import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import mqtt from 'mqtt'
import { runCli } from '../../gateway/src/cli/run.js'
import { spawnDaemon } from '../_support/daemon.js'
import { freePort, tempDir } from '../_support/temp.js'

const TRIALS = 8

/**
 * DESIGN invariant 1 under power-cut conditions: a gateway under QoS 1 load is SIGKILLed at a
 * random moment; every message whose PUBACK the publisher saw must be in the journal afterwards.
 */
describe('acknowledged means stored, across SIGKILL', () => {
  test(`${TRIALS} trials of kill -9 under QoS 1 load: 0 acknowledged readings missing`, async () => {
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
    assert.equal(await runCli(['device', 'add', 'load_dev', '--out', certDir], io), 0)
    const ca = readFileSync(join(certDir, 'ca.crt'))
    const cert = readFileSync(join(certDir, 'load_dev.crt'))
    const key = readFileSync(join(certDir, 'load_dev.key'))
    const httpPort = await freePort()
    const mqttPort = await freePort()
    const acked = new Set<number>()
    let seq = 0
    let totalAcked = 0
    for (let trial = 0; trial < TRIALS; trial++) {
      const d = await spawnDaemon({
        dataDir,
        env: { CAREHUB_HTTP_PORT: String(httpPort), CAREHUB_MQTT_PORT: String(mqttPort), CAREHUB_LOG_LEVEL: 'warn' },
      })
      // Logging at warn keeps the run quiet; readiness is seen by the MQTT connection itself.
      const client = await connectWithRetry(mqttPort, { ca, cert, key })
      let stop = false
      const inFlight = new Set<Promise<void>>()
      const pump = (async () => {
        while (!stop) {
          const n = ++seq
          const p = client
            .publishAsync('care/load_dev/test', JSON.stringify({ fields: { seq: n } }), { qos: 1 })
            .then(() => void acked.add(n))
            .catch(() => {})
            .finally(() => inFlight.delete(p))
          inFlight.add(p)
          if (inFlight.size >= 32) await Promise.race(inFlight)
        }
      })()
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 600))
      d.proc.kill('SIGKILL')
      await d.exited
      stop = true
      client.end(true)
      await Promise.race([pump, new Promise((r) => setTimeout(r, 500))])
      totalAcked = acked.size
    }
    const db = new Database(join(dataDir, 'carehub.db'), { readonly: true })
    const stored = new Set(db.prepare("SELECT json_extract(fields, '$.seq') FROM readings WHERE device_id = 'load_dev'").pluck().all() as number[])
    db.close()
    const missing = [...acked].filter((n) => !stored.has(n))
    assert.ok(totalAcked > TRIALS * 50, `enough load to mean something: ${totalAcked} acknowledged`)
    process.stdout.write(`# durability: ${totalAcked} readings acknowledged over ${TRIALS} SIGKILLs, ${stored.size} stored\n`)
    assert.deepEqual(missing, [], `${missing.length} of ${acked.size} acknowledged readings missing`)
  })
})

async function connectWithRetry(port: number, tls: { ca: Buffer; cert: Buffer; key: Buffer }) {
  for (let i = 0; i < 100; i++) {
    try {
      return await mqtt.connectAsync(
        `mqtts://127.0.0.1:${port}`,
        { ...tls, servername: 'localhost', clientId: 'load_dev', protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 2000 },
        false,
      )
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error('the gateway did not accept MQTT connections')
}

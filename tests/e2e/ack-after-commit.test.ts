import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import mqtt from 'mqtt'
import { runCli } from '../../gateway/src/cli/run.js'
import { isReadyLine, spawnDaemon } from '../_support/daemon.js'
import { tempDir } from '../_support/temp.js'

/**
 * The PUBACK must wait for the commit. Another process holds SQLite's write lock, so the gateway's
 * journal commit cannot happen; a gateway that acknowledged before committing would PUBACK at once.
 */
describe('the PUBACK waits for the journal commit', () => {
  test('no PUBACK while the store cannot commit; PUBACK right after it can, and the row is there', async () => {
    const dataDir = join(tempDir(), 'data')
    const certDir = tempDir()
    const io = { env: { CAREHUB_DATA_DIR: dataDir }, cwd: certDir, stdout: () => {}, stderr: () => {}, stdin: async () => '', now: () => Date.now() }
    assert.equal(await runCli(['device', 'add', 'door_1', '--out', certDir], io), 0)
    const d = await spawnDaemon({ dataDir })
    await d.waitForLog(isReadyLine)
    const client = await mqtt.connectAsync(
      `mqtts://127.0.0.1:${d.mqttPort}`,
      {
        ca: readFileSync(join(certDir, 'ca.crt')),
        cert: readFileSync(join(certDir, 'door_1.crt')),
        key: readFileSync(join(certDir, 'door_1.key')),
        servername: 'localhost',
        clientId: 'door_1',
        reconnectPeriod: 0,
      },
      false,
    )
    const blocker = new Database(join(dataDir, 'carehub.db'))
    blocker.pragma('busy_timeout = 5000')
    blocker.exec('BEGIN IMMEDIATE') // the write lock: the gateway's commit waits (busy_timeout 5 s)
    let ackedAt = 0
    const acked = client.publishAsync('care/door_1/event', '{"fields":{"door":"open"}}', { qos: 1 }).then(() => {
      ackedAt = Date.now()
    })
    await new Promise((r) => setTimeout(r, 1000))
    assert.equal(ackedAt, 0, 'no PUBACK while the reading could not be committed')
    const releasedAt = Date.now()
    blocker.exec('ROLLBACK')
    blocker.close()
    await acked
    assert.ok(ackedAt >= releasedAt, 'the PUBACK came after the commit became possible')
    const reader = new Database(join(dataDir, 'carehub.db'), { readonly: true })
    assert.equal(reader.prepare("SELECT fields FROM readings WHERE device_id = 'door_1'").pluck().get(), '{"door":"open"}')
    reader.close()
    client.end(true)
    d.proc.kill('SIGTERM')
    assert.equal((await d.exited).code, 0)
  })
})

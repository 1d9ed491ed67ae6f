import assert from 'node:assert/strict'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { isReadyLine, spawnDaemon } from '../_support/daemon.js'
import { httpsGet } from '../_support/https-get.js'
import { parsePrometheus } from '../_support/prometheus.js'

describe('the daemon, started as production starts it', () => {
  test('start → ready → /health 200 over TLS → SIGTERM → clean exit with the store closed', async () => {
    const d = await spawnDaemon()
    const ready = await d.waitForLog(isReadyLine)
    assert.equal(typeof ready.startupMs, 'number')
    assert.deepEqual(ready.urls, [`https://127.0.0.1:${d.port}/`])

    const ca = readFileSync(join(d.dataDir, 'pki', 'ca.crt'))
    const health = await httpsGet(`https://127.0.0.1:${d.port}/health`, ca)
    assert.equal(health.status, 200)
    assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok')
    assert.ok(health.headers['x-request-id'])

    const readyRes = await httpsGet(`https://127.0.0.1:${d.port}/health/ready`, ca)
    assert.equal(readyRes.status, 200)
    assert.equal((JSON.parse(readyRes.body) as { checks: Record<string, { status: string }> }).checks.store?.status, 'ok')

    // Loopback is allowed to scrape; the answer is valid Prometheus text.
    const metrics = await httpsGet(`https://127.0.0.1:${d.port}/metrics`, ca)
    assert.equal(metrics.status, 200)
    assert.ok(parsePrometheus(metrics.body).some((f) => f.name === 'carehub_http_request_duration_seconds'))

    // The request log line carries the same id the client saw.
    await d.waitForLog((l) => l.msg === 'request' && l.reqId === health.headers['x-request-id'])

    const dbPath = join(d.dataDir, 'carehub.db')
    assert.equal(statSync(dbPath).mode & 0o777, 0o600, 'the database is private to the gateway user')
    assert.ok(existsSync(join(d.dataDir, 'carehub.pid')))

    d.proc.kill('SIGTERM')
    const { code } = await d.exited
    assert.equal(code, 0)
    const msgs = d.logs().map((l) => l.msg)
    assert.ok(msgs.includes('store closed'))
    assert.ok(msgs.indexOf('store closed') < msgs.indexOf('stopped cleanly'))
    assert.equal(existsSync(join(d.dataDir, 'carehub.pid')), false, 'a clean stop removes the pid file')
    // The WAL was checkpointed into the main file, so the file alone is complete.
    assert.ok(!existsSync(`${dbPath}-wal`) || statSync(`${dbPath}-wal`).size === 0)
    const db = new Database(dbPath, { readonly: true })
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
    db.close()
  })

  test('a restart keeps the gateway id and the CA; an unclean stop triggers the integrity check', async () => {
    const first = await spawnDaemon()
    const r1 = await first.waitForLog(isReadyLine)
    const ca1 = readFileSync(join(first.dataDir, 'pki', 'ca.crt'), 'utf8')
    first.proc.kill('SIGKILL')
    await first.exited

    const second = await spawnDaemon({ dataDir: first.dataDir })
    const r2 = await second.waitForLog(isReadyLine)
    assert.equal(r2.gatewayId, r1.gatewayId)
    assert.equal(readFileSync(join(first.dataDir, 'pki', 'ca.crt'), 'utf8'), ca1)
    assert.ok(second.logs().some((l) => l.msg === 'the last run did not stop cleanly; checking the store'))
    assert.ok(second.logs().some((l) => l.msg === 'integrity check passed after an unclean stop'))
    second.proc.kill('SIGTERM')
    assert.equal((await second.exited).code, 0)

    const third = await spawnDaemon({ dataDir: first.dataDir })
    await third.waitForLog(isReadyLine)
    assert.ok(!third.logs().some((l) => l.msg === 'the last run did not stop cleanly; checking the store'), 'after a clean stop: no check')
    third.proc.kill('SIGINT')
    assert.equal((await third.exited).code, 0)
  })
})

import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { migrate } from '../../gateway/src/store/migrate.js'
import { MIGRATIONS } from '../../gateway/src/store/migrations/registry.js'
import { isReadyLine, spawnDaemon } from '../_support/daemon.js'
import { fakeNotifySocket } from '../_support/fake-notify-socket.js'
import { tempDir } from '../_support/temp.js'

describe('systemd notifications on a fake NOTIFY_SOCKET', () => {
  test('STATUS while starting, READY=1 with MAINPID once up, WATCHDOG=1 pings, STOPPING=1 on SIGTERM', async () => {
    const sock = fakeNotifySocket()
    const d = await spawnDaemon({ env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '300000' } })
    const ready = await sock.waitFor((m) => m.READY === '1')
    assert.equal(ready.MAINPID, String(d.proc.pid), 'sent from the main PID, so NotifyAccess=main suffices')
    assert.match(ready.STATUS ?? '', new RegExp(`ready: https://127\\.0\\.0\\.1:${d.port}/`))
    const readyIndex = sock.messages.indexOf(ready)
    assert.ok(
      sock.messages.slice(0, readyIndex).some((m) => m.STATUS === 'starting store'),
      'progress STATUS lines come before READY',
    )
    await d.waitForLog(isReadyLine)
    // WatchdogSec=0.3 s → a ping every 150 ms; wait for three after READY.
    await sock.waitFor(() => sock.messages.slice(readyIndex).filter((m) => m.WATCHDOG === '1').length >= 3, 3000)

    d.proc.kill('SIGTERM')
    const stopping = await sock.waitFor((m) => m.STOPPING === '1')
    assert.match(stopping.STATUS ?? '', /SIGTERM/)
    assert.equal((await d.exited).code, 0)
  })

  test('no watchdog pings when WATCHDOG_PID names another process', async () => {
    const sock = fakeNotifySocket()
    const d = await spawnDaemon({ env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '100000', WATCHDOG_PID: '1' } })
    await sock.waitFor((m) => m.READY === '1')
    await new Promise((r) => setTimeout(r, 400))
    assert.equal(sock.messages.filter((m) => m.WATCHDOG === '1').length, 0)
    d.proc.kill('SIGTERM')
    assert.equal((await d.exited).code, 0)
  })

  test('an upgrade that rebuilds the journal asks for more start time before it runs, then starts as usual', async () => {
    // A data folder as a version-7 gateway left it, with readings in its journal.
    const dataDir = join(tempDir(), 'data')
    mkdirSync(dataDir, { mode: 0o700 })
    const path = join(dataDir, 'carehub.db')
    const old = new Database(path)
    old.pragma('journal_mode = WAL')
    migrate(
      old,
      MIGRATIONS.filter((m) => m.version <= 7),
      Date.now(),
      path,
    )
    const put = old.prepare(
      "INSERT INTO readings (device_id, measurement, fields, ts, received_at, source) VALUES ('d1', 'env', '{\"t\":1}', ?, ?, 'mqtt')",
    )
    for (let i = 0; i < 1000; i++) put.run(Date.now() - i, Date.now() - i)
    old.close()

    const sock = fakeNotifySocket()
    const d = await spawnDaemon({ dataDir, env: { NOTIFY_SOCKET: sock.path } })
    const ready = await sock.waitFor((m) => m.READY === '1')
    const before = sock.messages.slice(0, sock.messages.indexOf(ready))
    const extend = before.find((m) => m.EXTEND_TIMEOUT_USEC !== undefined)
    assert.ok(extend, `EXTEND_TIMEOUT_USEC before READY=1: ${JSON.stringify(before)}`)
    assert.ok(Number(extend.EXTEND_TIMEOUT_USEC) >= 60_000_000, extend.EXTEND_TIMEOUT_USEC)
    assert.match(extend.STATUS ?? '', /^upgrading the store \(\d+ MiB\)$/)
    assert.ok(d.logs().some((l) => l.msg === 'upgrading the store; this can take a while'))
    d.proc.kill('SIGTERM')
    assert.equal((await d.exited).code, 0)

    const db = new Database(path, { readonly: true })
    assert.equal(db.prepare('SELECT count(*) FROM readings').pluck().get(), 1000)
    assert.doesNotMatch(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'readings'").pluck().get() as string, /AUTOINCREMENT/)
    db.close()
  })

  test('without NOTIFY_SOCKET the daemon runs the same and sends nothing', async () => {
    const d = await spawnDaemon()
    await d.waitForLog(isReadyLine)
    d.proc.kill('SIGTERM')
    assert.equal((await d.exited).code, 0)
    assert.ok(!d.logs().some((l) => l.msg === 'systemd notification failed'))
  })
})

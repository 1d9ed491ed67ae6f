import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isReadyLine, spawnDaemon } from '../_support/daemon.js'
import { fakeNotifySocket } from '../_support/fake-notify-socket.js'

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

  test('without NOTIFY_SOCKET the daemon runs the same and sends nothing', async () => {
    const d = await spawnDaemon()
    await d.waitForLog(isReadyLine)
    d.proc.kill('SIGTERM')
    assert.equal((await d.exited).code, 0)
    assert.ok(!d.logs().some((l) => l.msg === 'systemd notification failed'))
  })
})

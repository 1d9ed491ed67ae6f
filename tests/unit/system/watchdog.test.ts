import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { HealthRegistry } from '../../../gateway/src/system/health.js'
import type { SystemdNotifier } from '../../../gateway/src/system/systemd-notifier.js'
import { Watchdog } from '../../../gateway/src/system/watchdog.js'
import { captureLogger } from '../../_support/log-capture.js'

function notifier(intervalMs: number | null): SystemdNotifier & { pings: number } {
  const n = {
    pings: 0,
    enabled: true,
    ready: () => {},
    status: () => {},
    watchdog: () => {
      n.pings++
    },
    stopping: () => {},
    extendStart: () => {},
    watchdogIntervalMs: () => intervalMs,
    close: () => {},
  }
  return n
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('systemd watchdog', () => {
  test('pings at half the period while critical parts are healthy, and stops pinging while one is down', async () => {
    let storeUp = true
    const health = new HealthRegistry()
    health.add({ name: 'store', critical: true, check: () => (storeUp ? { status: 'ok' } : { status: 'down', detail: 'closed' }) })
    const n = notifier(100)
    const { log, lines } = captureLogger()
    const dog = new Watchdog({ notifier: n, health, log })
    await dog.start()
    await sleep(230)
    const healthy = n.pings
    assert.ok(healthy >= 3, `pinged ${healthy} times in 230 ms at a 50 ms period`)
    storeUp = false
    await sleep(20)
    const atOutage = n.pings
    await sleep(200)
    assert.equal(n.pings, atOutage, 'no pings while the store is down: systemd will restart us')
    assert.ok(lines().some((l) => l.msg === 'not pinging the systemd watchdog: a critical part is down'))
    await dog.stop()
  })

  test('does nothing when systemd set no watchdog', async () => {
    const n = notifier(null)
    const dog = new Watchdog({ notifier: n, health: new HealthRegistry(), log: captureLogger().log })
    await dog.start()
    await sleep(60)
    assert.equal(n.pings, 0)
    await dog.stop()
  })
})

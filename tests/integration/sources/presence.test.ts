import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Registry } from 'prom-client'
import { Presence } from '../../../gateway/src/sources/mqtt/presence.js'
import { getDevice } from '../../../gateway/src/store/devices.js'
import { openStore } from '../../../gateway/src/store/open.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

function setup() {
  let now = Date.parse('2026-11-27T10:00:00Z')
  const clock = { now: () => now }
  const { log } = captureLogger()
  const db = openStore({ path: join(tempDir(), 'p.db'), log, now, checkIntegrity: false })
  db.prepare("INSERT INTO devices (id, source, created_at, updated_at) VALUES ('door', 'mqtt', 0, 0), ('temp', 'mqtt', 0, 0)").run()
  const registry = new Registry()
  const presence = new Presence({ db: () => db, clock, log, registry, flushMs: 1000, silenceFactor: 3, minSilenceMs: 120_000 })
  return { presence, db, registry, advance: (ms: number) => (now += ms), at: () => now }
}

describe('device presence', () => {
  test('connect/disconnect and the status topic set availability, written in one flush', () => {
    const { presence, db } = setup()
    presence.connected('door')
    presence.connected('temp')
    assert.equal(getDevice(db, 'door')?.availability, 'unknown', 'nothing written before the flush')
    presence.flush()
    assert.equal(getDevice(db, 'door')?.availability, 'online')
    presence.statusMessage('temp', 'offline')
    presence.disconnected('door')
    presence.statusMessage('door', 'rebooting') // not online/offline: ignored
    presence.flush()
    assert.equal(getDevice(db, 'temp')?.availability, 'offline')
    assert.equal(getDevice(db, 'door')?.availability, 'offline')
  })

  test('"silent": a device that reported every minute and stopped for 3 minutes; one new reading clears it', async () => {
    const { presence, registry, advance, at } = setup()
    for (let i = 0; i < 10; i++) {
      presence.readingSeen('temp', at())
      advance(60_000)
    }
    assert.equal(presence.isSilent('temp'), false, 'one interval late is not silence')
    advance(125_000) // 185 s since the last reading > 3 × 60 s
    assert.deepEqual(
      presence.silentDevices().map((d) => [d.deviceId, d.usualIntervalMs]),
      [['temp', 60_000]],
    )
    assert.match(await registry.getSingleMetricAsString('carehub_devices_silent'), /carehub_devices_silent 1/)
    presence.readingSeen('temp', at())
    assert.equal(presence.isSilent('temp'), false)
  })

  test('a fast reporter is not called silent before the minimum, and one reading alone has no rhythm yet', () => {
    const { presence, advance, at } = setup()
    for (let i = 0; i < 10; i++) {
      presence.readingSeen('door', at())
      advance(1000)
    }
    advance(60_000) // 20 × its interval, but under minSilenceMs
    assert.equal(presence.isSilent('door'), false)
    advance(70_000)
    assert.equal(presence.isSilent('door'), true)
    presence.readingSeen('temp', at())
    advance(10 * 86_400_000)
    assert.equal(presence.isSilent('temp'), false)
  })
})

import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { CarehubError } from '../../gateway/src/core/errors.js'
import { acquireInstanceLock, runningDaemon } from '../../gateway/src/system/instance-lock.js'
import { buildGateway } from '../_support/gateway-harness.js'
import { freePort, tempDir } from '../_support/temp.js'

async function build(overrides: { httpPort?: number } = {}) {
  const dataDir = join(tempDir(), 'data')
  const { gateway, lines } = buildGateway({}, { dataDir, httpPort: overrides.httpPort ?? (await freePort()), mqttPort: await freePort() })
  const events: string[] = []
  gateway.bus.on('service:started', (e) => void events.push(`+${e.name}`))
  gateway.bus.on('service:stopped', (e) => void events.push(`-${e.name}`))
  return { gateway, dataDir, events, lines }
}

describe('Gateway (composition root)', () => {
  test('starts every part in order and stops them in exactly the reverse order', async () => {
    const { gateway, events, dataDir } = await build()
    await gateway.start()
    assert.equal(runningDaemon(dataDir)?.pid, process.pid, 'holds the data-folder lock')
    await gateway.stop()
    const started = events.filter((e) => e.startsWith('+')).map((e) => e.slice(1))
    const stopped = events.filter((e) => e.startsWith('-')).map((e) => e.slice(1))
    assert.deepEqual(started.slice(0, 2), ['data-dir', 'store'], 'the lock, then the store, before anything else')
    assert.ok(started.indexOf('identity') < started.indexOf('pki'))
    assert.ok(started.indexOf('journal') < started.indexOf('broker'), 'the journal is up before the broker acknowledges anything')
    assert.ok(started.indexOf('broker') < started.indexOf('http'))
    assert.deepEqual(stopped, [...started].reverse())
    assert.equal(gateway.store.isOpen, false)
    assert.equal(runningDaemon(dataDir), null, 'the lock is free after stop')
  })

  test('a part failing to start stops everything already started and frees the lock', async () => {
    const port = await freePort()
    const blocker = createServer().listen(port, '127.0.0.1')
    await new Promise((r) => blocker.once('listening', r))
    try {
      const { gateway, events, dataDir } = await build({ httpPort: port })
      await assert.rejects(gateway.start(), (err: unknown) => err instanceof CarehubError && err.code === 'CAREHUB_ERR_PORT_IN_USE')
      assert.ok(!events.includes('+http'))
      assert.deepEqual(
        events.filter((e) => e.startsWith('-')),
        events
          .filter((e) => e.startsWith('+'))
          .reverse()
          .map((e) => `-${e.slice(1)}`),
      )
      assert.equal(gateway.store.isOpen, false)
      acquireInstanceLock(dataDir, { pid: process.pid, startedAt: 0 }).release()
    } finally {
      blocker.close()
    }
  })

  test('stop() called while start() is still running waits for it, then stops everything it started', async () => {
    const { gateway, events, dataDir } = await build()
    const starting = gateway.start()
    await new Promise((r) => setImmediate(r))
    await Promise.all([starting, gateway.stop()])
    const started = events.filter((e) => e.startsWith('+')).length
    const stopped = events.filter((e) => e.startsWith('-')).length
    assert.ok(started > 0)
    assert.equal(stopped, started)
    assert.equal(events.at(-1), '-data-dir', 'the lock goes last')
    assert.equal(runningDaemon(dataDir), null)
    assert.equal(gateway.stopRequested, true)
  })
})

describe('a part that fails to start releases what it opened', () => {
  test('MQTT port taken: the broker closes its LevelDB, so a gateway on the same data folder starts afterwards', async () => {
    const port = await freePort()
    const blocker = createServer().listen(port, '127.0.0.1')
    await new Promise((r) => blocker.once('listening', r))
    const dataDir = join(tempDir(), 'data')
    const first = buildGateway({}, { dataDir, httpPort: await freePort(), mqttPort: port })
    await assert.rejects(first.gateway.start(), (err: unknown) => err instanceof CarehubError && err.code === 'CAREHUB_ERR_PORT_IN_USE')
    blocker.close()
    const second = buildGateway({}, { dataDir, httpPort: await freePort(), mqttPort: await freePort() })
    await second.gateway.start() // would fail on the LevelDB LOCK still held by the first broker
    await second.gateway.stop()
  })
})

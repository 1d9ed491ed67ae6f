import assert from 'node:assert/strict'
import { type Socket, connect as tcpConnect } from 'node:net'
import { describe, test } from 'node:test'
import { getDevice } from '../../../gateway/src/store/devices.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { connectDevice, connectError } from '../../_support/mqtt-clients.js'
import { rawSession } from '../../_support/raw-mqtt.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('what a buggy or hostile device cannot do', () => {
  test('QoS 2 is refused (aedes would journal every DUP resend): connection closed, nothing stored', async () => {
    const h = await startGateway()
    const certs = await h.enrol('dev_a')
    const client = await connectDevice(h.mqttPort, certs, { clientId: 'dev_a' })
    const closed = new Promise((r) => client.once('close', () => r(undefined)))
    client.publish('care/dev_a/climate', '{"fields":{"temp_c":20}}', { qos: 2 })
    await closed
    assert.equal(h.gateway.store.db.prepare('SELECT count(*) FROM readings').pluck().get(), 0)
  })

  test('idle sockets from one address cannot take the slots of other devices', async () => {
    const h = await startGateway({ mqtt: { maxConnectionsPerAddress: 3 } })
    const certs = await h.enrol('dev_a')
    const idle: Socket[] = []
    for (let i = 0; i < 3; i++) {
      const s = tcpConnect({ host: '127.0.0.1', port: h.mqttPort })
      s.on('error', () => {})
      idle.push(s)
      await new Promise((r) => s.once('connect', r))
    }
    await sleep(50)
    assert.ok(await connectError(h.mqttPort, certs, { clientId: 'dev_a' }), 'a 4th connection from 127.0.0.1 is refused')
    // The same device from another loopback address still gets in.
    assert.equal(await connectError(h.mqttPort, certs, { clientId: 'dev_a', localAddress: '127.0.0.2' } as never), null)
    for (const s of idle) s.destroy()
  })

  test('a persistent session under a suffixed id is refused (no unbounded stored sessions)', async () => {
    const h = await startGateway()
    const certs = await h.enrol('dev_a')
    assert.match(String((await connectError(h.mqttPort, certs, { clientId: 'dev_a:x1', clean: false }))?.message), /Identifier rejected/i)
  })

  test('two sessions of one device: it stays online until the last one closes', async () => {
    const h = await startGateway()
    const certs = await h.enrol('dev_a')
    const main = await connectDevice(h.mqttPort, certs, { clientId: 'dev_a' })
    const diag = await connectDevice(h.mqttPort, certs, { clientId: 'dev_a:diag' })
    await diag.endAsync()
    await sleep(100)
    h.gateway.presence.flush()
    assert.equal(getDevice(h.gateway.store.db, 'dev_a')?.availability, 'online')
    await main.endAsync()
    await sleep(100)
    h.gateway.presence.flush()
    assert.equal(getDevice(h.gateway.store.db, 'dev_a')?.availability, 'offline')
  })

  test('a device that goes quiet past 1.5 × its keepalive is dropped and shown offline', async () => {
    const h = await startGateway()
    const certs = await h.enrol('dev_a')
    const session = await rawSession(h.mqttPort, certs, 'dev_a', 1) // keepalive 1 s, then silence
    await sleep(50)
    h.gateway.presence.flush()
    assert.equal(getDevice(h.gateway.store.db, 'dev_a')?.availability, 'online')
    await Promise.race([session.closed, sleep(4000).then(() => assert.fail('not dropped within 4 s'))])
    await sleep(50)
    h.gateway.presence.flush()
    assert.equal(getDevice(h.gateway.store.db, 'dev_a')?.availability, 'offline')
  })

  test('after a restart: a stale "online" is reset, and a device that stopped reporting is silent at once', async () => {
    const first = await startGateway({ devices: { minSilenceSeconds: 10, silenceFactor: 3 } })
    const certs = await first.enrol('dev_a')
    const client = await connectDevice(first.mqttPort, certs, { clientId: 'dev_a' })
    for (let i = 0; i < 3; i++) {
      await client.publishAsync('care/dev_a/climate', '{"fields":{"temp_c":20}}', { qos: 1 })
      await sleep(30)
    }
    first.gateway.presence.flush()
    // What a power cut leaves: availability still "online"; the box comes back an hour later.
    const second = await first.restart({ clock: { now: () => Date.now() + 3_600_000 } })
    assert.equal(getDevice(second.gateway.store.db, 'dev_a')?.availability, 'offline')
    assert.equal(second.gateway.presence.isSilent('dev_a'), true)
  })
})

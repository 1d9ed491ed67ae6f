import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { revokeDevice } from '../../../gateway/src/pki/device-enrolment.js'
import { LocalCa } from '../../../gateway/src/pki/local-ca.js'
import { SecretBox } from '../../../gateway/src/secrets/secret-box.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { waitFor } from '../../_support/history-data.js'
import { certFiles, connectDevice, connectError, mosquitto } from '../../_support/mqtt-clients.js'
import { rawSession } from '../../_support/raw-mqtt.js'
import { tempDir } from '../../_support/temp.js'

const DAY = 86_400_000
const climate = JSON.stringify({ fields: { temp_c: 20 } })

/**
 * Waits (up to 5 s) until at least `n` refusals for `reason` are counted: the broker runs in a
 * worker thread, and its count reaches the gateway's registry by message, a moment after the client
 * saw the refusal.
 */
async function refusedAtLeast(h: Awaited<ReturnType<typeof startGateway>>, reason: string, n: number): Promise<void> {
  const count = async () => {
    const text = await h.gateway.metrics.registry.getSingleMetricAsString('carehub_mqtt_refused_total')
    const m = text.match(new RegExp(`reason="${reason}"} (\\d+)`))
    return m ? Number(m[1]) : 0
  }
  await waitFor(`${n} refusals for ${reason} on /metrics`, async () => (await count()) >= n, 5000)
}

describe('the broker refuses', () => {
  test('a client without a certificate (at the TLS handshake) — mqtt.js and mosquitto_pub', async () => {
    const h = await startGateway()
    const certs = await h.enrol('dev_a')
    const err = await connectError(h.mqttPort, { caPem: certs.caPem })
    assert.ok(err, 'refused')
    const files = certFiles(certs)
    const r = await mosquitto('mosquitto_pub', [
      '-h',
      'localhost',
      '-p',
      String(h.mqttPort),
      '--cafile',
      files.ca,
      '-q',
      '1',
      '-t',
      'care/dev_a/climate',
      '-m',
      climate,
    ])
    assert.notEqual(r.code, 0)
    assert.equal(h.gateway.store.db.prepare('SELECT count(*) FROM readings').pluck().get(), 0)
    await refusedAtLeast(h, 'tls', 2)
  })

  test('a certificate from another CA, even with a registered device id as CN', async () => {
    const h = await startGateway()
    const certs = await h.enrol('dev_a')
    const dir = tempDir()
    const rogue = await LocalCa.loadOrCreate({ dir, secrets: await SecretBox.open(dir), gatewayId: 'gw-rogue', validityDays: 365, now: Date.now() })
    const forged = await rogue.issue({ commonName: 'dev_a', usage: 'client', validityDays: 30, now: Date.now() })
    const err = await connectError(h.mqttPort, { caPem: certs.caPem, certPem: forged.certPem, keyPem: forged.keyPem }, { clientId: 'dev_a' })
    assert.ok(err)
  })

  test('an expired certificate', async () => {
    const h = await startGateway()
    const certs = await h.enrol('old_dev', { validityDays: 1, now: Date.now() - 3 * DAY })
    const err = await connectError(h.mqttPort, certs, { clientId: 'old_dev' })
    assert.ok(err)
  })

  test('a certificate this box issued but never recorded (store restored from an old backup)', async () => {
    const h = await startGateway()
    const certs = await h.enrol('dev_b')
    const stray = await h.gateway.pki.ca.issue({ commonName: 'dev_b', usage: 'client', validityDays: 30, now: Date.now() })
    const err = await connectError(h.mqttPort, { caPem: certs.caPem, certPem: stray.certPem, keyPem: stray.keyPem }, { clientId: 'dev_b' })
    assert.match(String(err?.message), /Not authorized/i)
  })

  test('a revoked certificate: new connections refused at once, a connected client cut within 2 s', async () => {
    const h = await startGateway()
    const certs = await h.enrol('kitchen_temp')
    const connected = await connectDevice(h.mqttPort, certs, { clientId: 'kitchen_temp' })
    const closed = new Promise((r) => connected.once('close', () => r(undefined)))
    const revokedAt = Date.now()
    revokeDevice(h.gateway.store.db, 'kitchen_temp', revokedAt)
    const err = await connectError(h.mqttPort, certs, { clientId: 'kitchen_temp:second' })
    assert.match(String(err?.message), /Not authorized/i)
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('still connected after 2 s')), 2000))])
    assert.ok(Date.now() - revokedAt <= 2000)
  })

  test('a client id that is not the certificate CN (or CN:suffix, or empty)', async () => {
    const h = await startGateway()
    const a = await h.enrol('dev_a')
    await h.enrol('dev_b')
    assert.match(String((await connectError(h.mqttPort, a, { clientId: 'dev_b' }))?.message), /Identifier rejected/i)
    assert.equal(await connectError(h.mqttPort, a, { clientId: 'dev_a:diag' }), null)
    assert.equal(await connectError(h.mqttPort, a, { clientId: '', clean: true }), null)
  })

  test('publishing under another device id closes the connection and stores nothing', async () => {
    const h = await startGateway()
    const a = await h.enrol('dev_a')
    await h.enrol('dev_b')
    const files = certFiles(a)
    const r = await mosquitto('mosquitto_pub', [
      '-h',
      'localhost',
      '-p',
      String(h.mqttPort),
      '--cafile',
      files.ca,
      '--cert',
      files.cert,
      '--key',
      files.key,
      '-q',
      '1',
      '-t',
      'care/dev_b/climate',
      '-m',
      climate,
    ])
    assert.notEqual(r.code, 0)
    const client = await connectDevice(h.mqttPort, a, { clientId: 'dev_a' })
    const closed = new Promise((r2) => client.once('close', () => r2(undefined)))
    client.publish('care/dev_a/cmd/x', 'devices may not write their own commands', { qos: 1 })
    await closed
    assert.equal(h.gateway.store.db.prepare('SELECT count(*) FROM readings').pluck().get(), 0)
    await refusedAtLeast(h, 'topic', 2)
  })

  test('subscribing to another device is denied per filter (SUBACK 0x80), the own cmd topic granted', async () => {
    const h = await startGateway()
    const a = await h.enrol('dev_a')
    const client = await connectDevice(h.mqttPort, a, { clientId: 'dev_a' })
    // Read the SUBACK itself: mqtt.js reports the requested QoS to its callback when any filter fails.
    const suback = new Promise<number[]>((resolve) =>
      client.on('packetreceive', (p) => {
        if (p.cmd === 'suback') resolve(p.granted as number[])
      }),
    )
    client.subscribe(['care/dev_a/cmd/#', 'care/dev_b/cmd/#', '#'], { qos: 1 }, () => {})
    assert.deepEqual(await suback, [1, 128, 128])
  })

  test('an oversized packet is cut at its header, long before its body could be buffered', async () => {
    const h = await startGateway({ mqtt: { maxPacketBytes: 256 * 1024 } })
    const session = await rawSession(h.mqttPort, await h.enrol('dev_a'), 'dev_a')
    const declared = 64 * 1024 * 1024
    const written = await session.streamOversized(declared)
    await session.closed
    assert.ok(written < 4 * 1024 * 1024, `the broker cut the connection after ${written} of ${declared} bytes`)
    await refusedAtLeast(h, 'packet_size', 1)
  })

  test('a topic that is not valid UTF-8 closes the connection; the broker keeps serving', async () => {
    const h = await startGateway()
    const certs = await h.enrol('dev_a')
    const session = await rawSession(h.mqttPort, certs, 'dev_a')
    session.publishRawTopic(Buffer.concat([Buffer.from('care/dev_a/'), Buffer.from([0xff, 0xfe]), Buffer.from('x')]), climate)
    await session.closed
    const client = await connectDevice(h.mqttPort, certs, { clientId: 'dev_a' })
    await client.publishAsync('care/dev_a/climate', climate, { qos: 1 })
    assert.equal(h.gateway.store.db.prepare('SELECT count(*) FROM readings').pluck().get(), 1)
  })

  test('MQTT 5 is refused (aedes speaks 3.1.1 only)', async () => {
    const h = await startGateway()
    const certs = await h.enrol('dev_a')
    assert.ok(await connectError(h.mqttPort, certs, { clientId: 'dev_a', protocolVersion: 5 }))
  })

  test('a keepalive of 0 (never checked) or above the limit is refused', async () => {
    const h = await startGateway({ mqtt: { keepaliveLimitSeconds: 120 } })
    const certs = await h.enrol('dev_a')
    assert.ok(await connectError(h.mqttPort, certs, { clientId: 'dev_a', keepalive: 0 }))
    assert.ok(await connectError(h.mqttPort, certs, { clientId: 'dev_a', keepalive: 600 }))
    assert.equal(await connectError(h.mqttPort, certs, { clientId: 'dev_a', keepalive: 60 }), null)
  })

  test('a last will on a topic the device may not write is refused at connect', async () => {
    const h = await startGateway()
    const certs = await h.enrol('dev_a')
    const err = await connectError(h.mqttPort, certs, {
      clientId: 'dev_a',
      will: { topic: 'care/dev_b/status', payload: Buffer.from('offline'), qos: 1, retain: true },
    })
    assert.match(String(err?.message), /Not authorized/i)
  })

  test('connection attempts beyond the per-address rate are dropped before TLS', async () => {
    const h = await startGateway({ mqtt: { connectBurst: 3, connectPerSecond: 0.1 } })
    const certs = await h.enrol('dev_a')
    const results = []
    for (let i = 0; i < 6; i++) results.push(await connectError(h.mqttPort, certs, { clientId: `dev_a:c${i}` }))
    assert.equal(results.filter((r) => r === null).length, 3)
    await refusedAtLeast(h, 'rate', 3)
  })
})

describe('enrolment data on disk', () => {
  test('device certificates are recorded with serial and validity', async () => {
    const h = await startGateway()
    const certs = await h.enrol('dev_a')
    const row = h.gateway.store.db.prepare("SELECT serial, not_after FROM device_certificates WHERE device_id = 'dev_a'").get() as {
      serial: string
      not_after: number
    }
    assert.equal(row.serial, certs.serial)
    assert.equal(row.not_after, certs.notAfter)
    assert.ok(join(h.dataDir).length > 0)
  })
})

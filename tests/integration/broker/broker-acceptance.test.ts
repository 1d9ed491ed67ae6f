import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { getDevice } from '../../../gateway/src/store/devices.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { certFiles, connectDevice, mosquitto } from '../../_support/mqtt-clients.js'

const reading = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ ts: new Date(Date.now() - 1000).toISOString(), fields: { temp_c: 21.5, humid_pct: 40 }, tags: { room: 'kitchen' }, ...extra })

describe('MQTT ingest over mutual TLS', () => {
  test('mqtt.js QoS 1: the reading is committed to the journal before the PUBACK arrives', async () => {
    const h = await startGateway()
    const certs = await h.enrol('kitchen_temp')
    const client = await connectDevice(h.mqttPort, certs, { clientId: 'kitchen_temp' })
    await client.publishAsync('care/kitchen_temp/climate', reading(), { qos: 1 })
    // Read the store the moment the PUBACK resolved the publish: acknowledged means stored.
    const rows = h.gateway.store.db
      .prepare("SELECT device_id, measurement, fields, tags, ts_from_receipt FROM readings WHERE device_id = 'kitchen_temp'")
      .all()
    assert.deepEqual(rows, [
      { device_id: 'kitchen_temp', measurement: 'climate', fields: '{"temp_c":21.5,"humid_pct":40}', tags: '{"room":"kitchen"}', ts_from_receipt: 0 },
    ])
    // Last-seen moves in the same transaction.
    assert.ok((getDevice(h.gateway.store.db, 'kitchen_temp')?.lastSeenAt ?? 0) > Date.now() - 10_000)
  })

  test('mosquitto_pub (no client id, as in the README) publishes; a missing ts uses the receive time and is flagged', async () => {
    const h = await startGateway()
    const files = certFiles(await h.enrol('hall_door'))
    const base = ['-h', 'localhost', '-p', String(h.mqttPort), '--cafile', files.ca, '--cert', files.cert, '--key', files.key, '-q', '1']
    const r = await mosquitto('mosquitto_pub', [...base, '-t', 'care/hall_door/event', '-m', '{"fields":{"door":"open"}}'])
    assert.equal(r.code, 0, r.stderr)
    const row = h.gateway.store.db
      .prepare("SELECT fields, ts_from_receipt, ts, received_at FROM readings WHERE device_id = 'hall_door'")
      .get() as Record<string, unknown>
    assert.equal(row.fields, '{"door":"open"}')
    assert.equal(row.ts_from_receipt, 1)
    assert.equal(row.ts, row.received_at)
  })

  test('a device receives commands on care/{id}/cmd/# through mosquitto_sub', async () => {
    const h = await startGateway()
    const files = certFiles(await h.enrol('plug_1'))
    const sub = mosquitto('mosquitto_sub', [
      ...['-h', 'localhost', '-p', String(h.mqttPort), '--cafile', files.ca, '--cert', files.cert, '--key', files.key],
      ...['-i', 'plug_1:sub', '-t', 'care/plug_1/cmd/#', '-q', '1', '-C', '1', '-v'],
    ])
    // Publish until the subscriber (a separate process) is connected and gets one.
    for (let i = 0; i < 50; i++) {
      await h.gateway.broker.publish('care/plug_1/cmd/power', '{"on":false}')
      const settled = await Promise.race([sub.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))])
      if (settled) break
    }
    const r = await sub
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'care/plug_1/cmd/power {"on":false}')
  })

  test('the device shows online while connected, with its last-seen time, then offline', async () => {
    const h = await startGateway()
    const certs = await h.enrol('bed_motion')
    const client = await connectDevice(h.mqttPort, certs, { clientId: 'bed_motion' })
    await client.publishAsync('care/bed_motion/event', JSON.stringify({ fields: { motion: true } }), { qos: 1 })
    h.gateway.presence.flush()
    assert.equal(getDevice(h.gateway.store.db, 'bed_motion')?.availability, 'online')
    await client.endAsync()
    for (let i = 0; i < 50 && getDevice(h.gateway.store.db, 'bed_motion')?.availability !== 'offline'; i++) {
      await new Promise((r) => setTimeout(r, 20))
      h.gateway.presence.flush()
    }
    assert.equal(getDevice(h.gateway.store.db, 'bed_motion')?.availability, 'offline')
  })

  test('the availability topic (the firmware LWT) sets online/offline', async () => {
    const h = await startGateway()
    const certs = await h.enrol('fall_sensor')
    const client = await connectDevice(h.mqttPort, certs, {
      clientId: 'fall_sensor',
      will: { topic: 'care/fall_sensor/status', payload: Buffer.from('offline'), qos: 1, retain: true },
    })
    await client.publishAsync('care/fall_sensor/status', 'offline', { qos: 1, retain: true })
    h.gateway.presence.flush()
    assert.equal(getDevice(h.gateway.store.db, 'fall_sensor')?.availability, 'offline')
    await client.publishAsync('care/fall_sensor/status', 'online', { qos: 1, retain: true })
    h.gateway.presence.flush()
    assert.equal(getDevice(h.gateway.store.db, 'fall_sensor')?.availability, 'online')
  })
})

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { startGateway } from '../../_support/gateway-harness.js'
import { connectDevice } from '../../_support/mqtt-clients.js'

describe('malformed payloads: dead letters with reasons, counted, acknowledged, nothing crashes', () => {
  test('each bad payload is kept with its reason; good ones around it are stored; the session goes on', async () => {
    const h = await startGateway()
    const certs = await h.enrol('kitchen_temp')
    const client = await connectDevice(h.mqttPort, certs, { clientId: 'kitchen_temp' })
    const bad: Array<[string, string | Buffer, RegExp]> = [
      ['care/kitchen_temp/climate', 'not json', /not UTF-8 JSON/],
      ['care/kitchen_temp/climate', Buffer.from([0xff, 0xfe, 0x7b]), /not UTF-8 JSON/],
      ['care/kitchen_temp/climate', '{"fields":{"temp_c":"warm"}}', /fields\.temp_c/],
      ['care/kitchen_temp/climate', '{"fields":{"temp_c":1e308}}', /temp_c: Too big/],
      ['care/kitchen_temp/climate', '{"ts":"2026-11-27T10:00:00Z"}', /fields/],
      ['care/kitchen_temp/climate', '{"fields":{"temp_c":20},"colour":"red"}', /Unrecognized key/],
      ['care/kitchen_temp/power', '{"fields":{"temp_c":20}}', /power/],
      ['care/kitchen_temp/climate', '{"ts":1700000000,"fields":{"temp_c":20}}', /epoch seconds/],
      ['care/kitchen_temp/climate', '{"ts":"2099-01-01T00:00:00Z","fields":{"temp_c":20}}', /ahead of the gateway clock/],
      ['care/kitchen_temp/climate', '{"ts":"1970-01-02T00:00:00Z","fields":{"temp_c":20}}', /device clock/],
      ['care/kitchen_temp/custom', '{"fields":{"value":1e300}}', /Too big/],
    ]
    for (const [topic, payload] of bad) {
      await client.publishAsync(topic, payload, { qos: 1 }) // acknowledged: a broken device cannot wedge its session
      await client.publishAsync('care/kitchen_temp/climate', '{"fields":{"temp_c":21}}', { qos: 1 })
    }
    const letters = h.gateway.store.db.prepare('SELECT origin, reason_code, reason, payload FROM dead_letters ORDER BY id').all() as Array<{
      origin: string
      reason_code: string
      reason: string
      payload: Buffer
    }>
    assert.equal(letters.length, bad.length)
    letters.forEach((l, i) => {
      const [topic, payload, pattern] = bad[i] as [string, string | Buffer, RegExp]
      assert.equal(l.origin, topic)
      assert.match(l.reason, pattern, `dead letter ${i}: ${l.reason}`)
      assert.match(l.reason_code, /^CAREHUB_ERR_VALIDATION:/)
      assert.deepEqual(Buffer.from(l.payload), Buffer.from(payload))
    })
    assert.equal(h.gateway.store.db.prepare("SELECT count(*) FROM readings WHERE measurement = 'climate'").pluck().get(), bad.length)
    const metrics = await h.gateway.metrics.registry.getSingleMetricAsString('carehub_ingest_rejected_total')
    assert.match(metrics, /reason="not_json"} 2/)
    assert.match(metrics, /reason="measurement_schema"} 4/)
    assert.match(metrics, /reason="ts_invalid"} 2/)
    assert.match(metrics, /reason="ts_future"} 1/)
  })

  test('an unknown measurement from a registered device is kept as generic fields', async () => {
    const h = await startGateway()
    const certs = await h.enrol('scale')
    const client = await connectDevice(h.mqttPort, certs, { clientId: 'scale' })
    await client.publishAsync('care/scale/weight', '{"fields":{"weight_kg":61.2,"stable":true,"unit":"kg"}}', { qos: 1 })
    assert.equal(
      h.gateway.store.db.prepare("SELECT fields FROM readings WHERE measurement = 'weight'").pluck().get(),
      '{"weight_kg":61.2,"stable":true,"unit":"kg"}',
    )
  })
})

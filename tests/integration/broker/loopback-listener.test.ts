import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import mqtt from 'mqtt'
import { startGateway } from '../../_support/gateway-harness.js'
import { freePort } from '../../_support/temp.js'

describe('the optional plain listener for tools on the box', () => {
  test('off by default; when on, it binds 127.0.0.1 only and accepts only registered device ids', async () => {
    const plainPort = await freePort()
    const off = await startGateway()
    await assert.rejects(mqtt.connectAsync(`mqtt://127.0.0.1:${plainPort}`, { clientId: 'x', reconnectPeriod: 0, connectTimeout: 1000 }, false))
    await off.gateway.stop()

    const h = await startGateway({ mqtt: { loopbackPlainPort: plainPort } })
    await h.enrol('tool_dev')
    const unknown = await mqtt.connectAsync(`mqtt://127.0.0.1:${plainPort}`, { clientId: 'ghost', reconnectPeriod: 0 }, false).then(
      () => null,
      (e: Error) => e,
    )
    assert.match(String(unknown?.message), /Not authorized/i)
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${plainPort}`, { clientId: 'tool_dev', reconnectPeriod: 0 }, false)
    await client.publishAsync('care/tool_dev/climate', '{"fields":{"temp_c":19}}', { qos: 1 })
    client.end(true)
    assert.equal(h.gateway.store.db.prepare("SELECT count(*) FROM readings WHERE device_id = 'tool_dev'").pluck().get(), 1)
  })
})

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { startGateway } from '../../_support/gateway-harness.js'
import { connectDevice } from '../../_support/mqtt-clients.js'

describe('broker state across a restart (aedes-persistence-level)', () => {
  test('an offline QoS 1 session gets what was queued for it, and retained messages stay', async () => {
    const first = await startGateway()
    const certs = await first.enrol('plug_1')
    // The device subscribes with a persistent session, then goes away.
    const device = await connectDevice(first.mqttPort, certs, { clientId: 'plug_1', clean: false })
    await device.subscribeAsync('care/plug_1/cmd/#', { qos: 1 })
    await device.endAsync()
    // While it is away the box queues a command and keeps a retained setting.
    await first.gateway.broker.publish('care/plug_1/cmd/power', '{"on":false}', { qos: 1 })
    await first.gateway.broker.publish('care/plug_1/cmd/config', '{"interval_s":60}', { qos: 1, retain: true })

    const second = await first.restart()
    const received: Array<{ topic: string; payload: string; retain: boolean }> = []
    const back = await connectDevice(second.mqttPort, certs, { clientId: 'plug_1', clean: false })
    back.on('message', (topic, payload, packet) => void received.push({ topic, payload: payload.toString(), retain: packet.retain }))
    for (let i = 0; i < 100 && !received.some((m) => m.topic === 'care/plug_1/cmd/power'); i++) await new Promise((r) => setTimeout(r, 20))
    assert.ok(
      received.some((m) => m.topic === 'care/plug_1/cmd/power' && m.payload === '{"on":false}'),
      JSON.stringify(received),
    )

    // A fresh session subscribing now gets the retained message, flagged as retained.
    const fresh = await connectDevice(second.mqttPort, certs, { clientId: 'plug_1:fresh', clean: true })
    const retained = new Promise<{ payload: string; retain: boolean }>((resolve) =>
      fresh.on('message', (_t, payload, packet) => resolve({ payload: payload.toString(), retain: packet.retain })),
    )
    await fresh.subscribeAsync('care/plug_1/cmd/config', { qos: 1 })
    assert.deepEqual(await retained, { payload: '{"interval_s":60}', retain: true })
  })
})

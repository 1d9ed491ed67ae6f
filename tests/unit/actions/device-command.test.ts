import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { requestProblem } from '../../../gateway/src/actions/device-command.js'
import { haAnswer, targetEntity } from '../../../gateway/src/actions/ha-command.js'
import { MqttCommands } from '../../../gateway/src/actions/mqtt-command.js'
import { thinqAnswer, thinqPartialState } from '../../../gateway/src/actions/thinq-command.js'
import { CarehubError } from '../../../gateway/src/core/errors.js'
import { ThinqError } from '../../../gateway/src/sources/thinq/thinq-protocol.js'
import type { Device } from '../../../gateway/src/store/devices.js'

describe('device commands: request validation', () => {
  test('a capability is a letter then up to 63 of [A-Za-z0-9_.-] (ThinQ resources are camelCase)', () => {
    for (const capability of ['reboot', 'light.turn_on', 'set-level', 'airConJobMode', `a${'b'.repeat(63)}`]) {
      assert.equal(requestProblem({ capability, params: {} }), null, capability)
    }
    for (const capability of ['', 'Reboot', '1x', '_x', 'a/b', 'a+b', 'a#', 'a b', `a${'b'.repeat(64)}`]) {
      assert.match(String(requestProblem({ capability, params: {} })), /capability .* is not valid/, capability)
    }
  })

  test('params must be a plain JSON object of at most 4 KiB', () => {
    assert.equal(requestProblem({ capability: 'x', params: { a: [1, { b: null }] } }), null)
    assert.match(String(requestProblem({ capability: 'x', params: [] as never })), /JSON object/)
    assert.match(String(requestProblem({ capability: 'x', params: null as never })), /JSON object/)
    assert.match(String(requestProblem({ capability: 'x', params: new Map() as never })), /plain JSON object/)
    assert.match(String(requestProblem({ capability: 'x', params: { n: 1n } })), /not JSON/)
    const loop: Record<string, unknown> = {}
    loop.self = loop
    assert.match(String(requestProblem({ capability: 'x', params: loop })), /not JSON/)
    assert.match(String(requestProblem({ capability: 'x', params: { s: 'x'.repeat(4096) } })), /over 4096 bytes/)
  })

  test('timeoutMs is a whole number of ms up to 30 s', () => {
    assert.equal(requestProblem({ capability: 'x', params: {}, timeoutMs: 30_000 }), null)
    for (const timeoutMs of [0, -1, 1.5, 30_001, Number.NaN])
      assert.match(String(requestProblem({ capability: 'x', params: {}, timeoutMs })), /timeoutMs/)
  })
})

describe('device commands: LG ThinQ', () => {
  test('capability + params → the partial state document; a location goes to the top', () => {
    assert.deepEqual(thinqPartialState('operation', { airConOperationMode: 'POWER_ON' }), { operation: { airConOperationMode: 'POWER_ON' } })
    assert.deepEqual(thinqPartialState('operation', { washerOperationMode: 'START', location: { locationName: 'MAIN' } }), {
      location: { locationName: 'MAIN' },
      operation: { washerOperationMode: 'START' },
    })
  })

  test("LG's error codes → outcomes", () => {
    const lg = (code: string, status = 400) =>
      new CarehubError('CAREHUB_ERR_VALIDATION', `AC: ThinQ ${code}: x`, { cause: new ThinqError(code, status, 'x') })
    const cases: Array<[string, number, string]> = [
      ['2207', 400, 'refused'], // unknown resource or property
      ['1102', 400, 'refused'], // unacceptable value
      ['2201', 503, 'refused'], // outside the profile's range
      ['2304', 400, 'refused'], // powered off
      ['2301', 400, 'refused'], // remote control off
      ['1222', 416, 'unavailable'], // not connected
      ['1306', 401, 'unavailable'], // LG's rate limit
      ['1103', 400, 'failed'], // token
      ['2209', 400, 'timeout'], // device response delay
      ['2208', 400, 'failed'], // fail device control
      ['2000', 500, 'failed'],
      ['0000', 0, 'unavailable'], // LG unreachable
    ]
    for (const [code, status, expected] of cases) assert.equal(thinqAnswer(lg(code, status)).status, expected, code)
    assert.equal(thinqAnswer(new CarehubError('CAREHUB_ERR_NOT_FOUND', 'no ThinQ appliance "x"')).status, 'unavailable')
    assert.equal(thinqAnswer(new Error('boom')).status, 'failed')
    assert.match(String(thinqAnswer(lg('1103')).detail), /carehub secret set thinq\.pat/)
  })
})

describe('device commands: Home Assistant', () => {
  const device = (entities: unknown): Device => ({
    id: 'kitchen',
    source: 'homeassistant',
    type: 'sensor',
    name: null,
    room: null,
    capabilities: [],
    metadata: entities === undefined ? {} : { ha_entities: entities },
    availability: 'online',
    lastSeenAt: null,
    createdAt: 0,
    updatedAt: 0,
  })

  test('the target entity: the only one of the service domain, or the one named by params.entity_id', () => {
    const d = device(['light.kitchen', 'switch.kettle', 'switch.radio', 'sensor.kitchen_temperature'])
    assert.deepEqual(targetEntity(d, 'light', {}), { entityId: 'light.kitchen' })
    assert.deepEqual(targetEntity(d, 'switch', { entity_id: 'switch.radio' }), { entityId: 'switch.radio' })
    assert.match(String((targetEntity(d, 'switch', {}) as { problem: string }).problem), /several switch entities .* params\.entity_id/)
    assert.match(String((targetEntity(d, 'climate', {}) as { problem: string }).problem), /no climate entity/)
    assert.match(String((targetEntity(d, 'light', { entity_id: 'light.other' }) as { problem: string }).problem), /not one of/)
    assert.deepEqual(targetEntity(device(['switch.kettle']), 'homeassistant', {}), { entityId: 'switch.kettle' })
    assert.match(String((targetEntity(device(undefined), 'light', {}) as { problem: string }).problem), /no known Home Assistant entity/)
    assert.match(String((targetEntity(device('light.x'), 'light', {}) as { problem: string }).problem), /no known Home Assistant entity/)
  })

  test("HA's answers → outcomes: 400 refused, 401 failed (token), down or stopping unavailable, 500 failed", () => {
    assert.equal(haAnswer(new CarehubError('CAREHUB_ERR_VALIDATION', 'HTTP 400')).status, 'refused')
    assert.equal(haAnswer(new CarehubError('CAREHUB_ERR_NOT_FOUND', 'HTTP 404')).status, 'refused')
    assert.equal(haAnswer(new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', 'HTTP 401')).status, 'failed')
    assert.equal(haAnswer(new CarehubError('CAREHUB_ERR_UPSTREAM_UNAVAILABLE', 'unreachable')).status, 'unavailable')
    assert.equal(haAnswer(new CarehubError('CAREHUB_ERR_UPSTREAM_UNAVAILABLE', 'HTTP 503', { details: { status: 503 } })).status, 'unavailable')
    assert.equal(haAnswer(new CarehubError('CAREHUB_ERR_UPSTREAM_UNAVAILABLE', 'HTTP 500', { details: { status: 500 } })).status, 'failed')
  })
})

describe('device commands: MQTT waits', () => {
  function commands(maxPending = 2) {
    const published: Array<{ topic: string; payload: string }> = []
    const registry = new Registry()
    const mqtt = new MqttCommands({
      publish: async (topic, payload) => void published.push({ topic, payload }),
      isConnected: (id) => id !== 'gone',
      log: pino({ level: 'silent' }),
      registry,
      maxPending,
    })
    return { mqtt, published, registry }
  }

  test('publishes {id, params, ts} on care/{id}/cmd/{capability}; the reply with that id settles it', async () => {
    const { mqtt, published } = commands()
    const waiting = mqtt.send('lamp', 'set', 'c-1', { on: true }, 1234, 5000)
    assert.deepEqual(published, [{ topic: 'care/lamp/cmd/set', payload: '{"id":"c-1","params":{"on":true},"ts":1234}' }])
    await mqtt.onResult('lamp', 'other', Buffer.from('{"id":"c-1","ok":true}')) // another capability: not this wait
    await mqtt.onResult('lamp', 'set', Buffer.from('{"id":"c-1","ok":true,"result":{"on":true}}'))
    assert.deepEqual(await waiting, { status: 'ok', result: { on: true } })
  })

  test('bounded: beyond maxPending a command is not sent; a device without a session is unavailable; stop() fails the waits', async () => {
    const { mqtt, published } = commands(2)
    const a = mqtt.send('lamp', 'set', 'a', {}, 0, 60_000)
    const b = mqtt.send('lamp', 'set', 'b', {}, 0, 60_000)
    assert.equal((await mqtt.send('lamp', 'set', 'c', {}, 0, 60_000)).status, 'unavailable')
    assert.match(String((await mqtt.send('gone', 'set', 'd', {}, 0, 60_000)).detail), /not connected/)
    assert.equal(published.length, 2)
    mqtt.stop()
    assert.deepEqual(await a, { status: 'failed', detail: 'gateway stopping' })
    assert.deepEqual(await b, { status: 'failed', detail: 'gateway stopping' })
  })

  test('a failing publish fails the command at once', async () => {
    const mqtt = new MqttCommands({
      publish: async () => {
        throw new Error('broker not started')
      },
      isConnected: () => true,
      log: pino({ level: 'silent' }),
      registry: new Registry(),
      maxPending: 4,
    })
    assert.deepEqual(await mqtt.send('lamp', 'set', 'x', {}, 0, 60_000), {
      status: 'failed',
      detail: 'the broker could not publish the command (broker not started)',
    })
  })
})

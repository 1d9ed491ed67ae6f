import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import type { Reading, Rejection } from '../../../gateway/src/core/reading.js'
import { type EntityRule, globToRegExp, type HaMapping, type HaState, mapHaState } from '../../../gateway/src/normalize/home-assistant.js'
import { DEFAULT_LIMITS, type NormalizeLimits } from '../../../gateway/src/normalize/mqtt-reading.js'
import { keyedSnapshot } from '../../_support/keyed-snapshot.js'

const FIXTURE = new URL('../../fixtures/home-assistant/states.json', import.meta.url)
const SNAPSHOT = new URL('../../fixtures/home-assistant/mapped.snapshot.json', import.meta.url)

// 60 s after the newest last_updated in states.json (sensor.fridge_power, 12:41:02.774415): every
// fixture timestamp is then in the past and well within maxPastMs, so each resolves as its own.
const RX = Date.parse('2025-01-14T12:42:02.774Z')
const TS = '2025-01-14T12:40:00Z'

type Rules = ReadonlyArray<EntityRule & { readonly re?: RegExp }>

function map(state: HaState, rules: Rules = [], options: { receivedAt?: number; limits?: NormalizeLimits } = {}): HaMapping {
  return mapHaState(state, rules, options.receivedAt ?? RX, options.limits ?? DEFAULT_LIMITS)
}

const sensor = (deviceClass: string | undefined, unit: string | undefined, state: unknown, entityId = 'sensor.probe'): HaState => ({
  entity_id: entityId,
  state,
  attributes: { ...(deviceClass === undefined ? {} : { device_class: deviceClass }), ...(unit === undefined ? {} : { unit_of_measurement: unit }) },
  last_updated: TS,
})

function readings(m: HaMapping): Reading[] {
  if (m.kind !== 'readings') assert.fail(`expected readings, got ${JSON.stringify(m)}`)
  return m.readings
}

function one(m: HaMapping): Reading {
  const r = readings(m)
  assert.equal(r.length, 1, `expected one reading, got ${JSON.stringify(r)}`)
  return r[0] as Reading
}

function rejected(m: HaMapping, reason: Rejection['reason'], mentions: string[] = []): Rejection {
  if (m.kind !== 'rejected') assert.fail(`expected a rejection (${reason}), got ${JSON.stringify(m)}`)
  assert.equal(m.rejection.reason, reason, m.rejection.detail)
  for (const text of mentions) assert.ok(m.rejection.detail.includes(text), `detail "${m.rejection.detail}" should mention ${text}`)
  return m.rejection
}

function ignored(m: HaMapping): string {
  if (m.kind !== 'ignored') assert.fail(`expected ignored, got ${JSON.stringify(m)}`)
  return m.reason
}

/** measurement + fields of the one reading: what the conversion tests look at. */
const fieldsOf = (m: HaMapping) => {
  const r = one(m)
  return { measurement: r.measurement, fields: r.fields }
}

describe('home assistant: recorded /api/states snapshot', () => {
  // Readings' ts and receivedAt are written as ISO text so the snapshot can be read (and checked) by a person.
  const present = (m: HaMapping): unknown =>
    JSON.parse(
      JSON.stringify(
        m.kind === 'readings'
          ? { ...m, readings: m.readings.map((r) => ({ ...r, ts: new Date(r.ts).toISOString(), receivedAt: new Date(r.receivedAt).toISOString() })) }
          : m,
      ),
    )
  const states = JSON.parse(readFileSync(FIXTURE, 'utf8')) as HaState[]
  const actual: Record<string, unknown> = {}
  for (const s of states) actual[s.entity_id] = present(map(s))

  test('the receipt time is just after every fixture timestamp', () => {
    for (const s of states) {
      const ts = Date.parse(String(s.last_updated))
      assert.ok(
        ts <= RX && RX - ts < DEFAULT_LIMITS.maxPastMs,
        `${s.entity_id}: last_updated ${s.last_updated} vs receipt ${new Date(RX).toISOString()}`,
      )
    }
    assert.equal(Object.keys(actual).length, states.length, 'entity ids in the fixture are unique')
  })

  keyedSnapshot(SNAPSHOT, actual, 'entities')
})

describe('home assistant: unit conversions', () => {
  test('temperature: °F and K become °C', () => {
    assert.deepEqual(fieldsOf(map(sensor('temperature', '°F', '70'))), { measurement: 'climate', fields: { temp_c: 21.111111 } })
    assert.deepEqual(fieldsOf(map(sensor('temperature', '°F', '-40'))), { measurement: 'climate', fields: { temp_c: -40 } })
    assert.deepEqual(fieldsOf(map(sensor('temperature', '°F', '98.6'))), { measurement: 'climate', fields: { temp_c: 37 } })
    assert.deepEqual(fieldsOf(map(sensor('temperature', 'K', '294.15'))), { measurement: 'climate', fields: { temp_c: 21 } })
    assert.deepEqual(fieldsOf(map(sensor('temperature', '°C', '21.5'))), { measurement: 'climate', fields: { temp_c: 21.5 } })
  })

  test('power: kW becomes W', () => {
    assert.deepEqual(fieldsOf(map(sensor('power', 'kW', '1.5'))), { measurement: 'power', fields: { power_w: 1500 } })
    assert.deepEqual(fieldsOf(map(sensor('power', 'kW', '0.0843'))), { measurement: 'power', fields: { power_w: 84.3 } })
    assert.deepEqual(fieldsOf(map(sensor('power', 'W', '-800'))), { measurement: 'power', fields: { power_w: -800 } })
  })

  test('energy: Wh, kWh and MWh become Wh', () => {
    assert.deepEqual(fieldsOf(map(sensor('energy', 'Wh', '500'))), { measurement: 'power', fields: { energy_wh: 500 } })
    assert.deepEqual(fieldsOf(map(sensor('energy', 'kWh', '152.731'))), { measurement: 'power', fields: { energy_wh: 152_731 } })
    assert.deepEqual(fieldsOf(map(sensor('energy', 'MWh', '0.0015'))), { measurement: 'power', fields: { energy_wh: 1500 } })
  })

  test('pressure: kPa, Pa, inHg, psi and mbar become hPa', () => {
    const hpa = (unit: string, state: string) => fieldsOf(map(sensor('pressure', unit, state)))
    assert.deepEqual(hpa('kPa', '101.3'), { measurement: 'climate', fields: { pressure_hpa: 1013 } })
    assert.deepEqual(hpa('Pa', '101325'), { measurement: 'climate', fields: { pressure_hpa: 1013.25 } })
    assert.deepEqual(hpa('inHg', '29.92'), { measurement: 'climate', fields: { pressure_hpa: 1013.207888 } })
    assert.deepEqual(hpa('psi', '14.7'), { measurement: 'climate', fields: { pressure_hpa: 1013.52972 } })
    assert.deepEqual(hpa('mbar', '1013.2'), { measurement: 'climate', fields: { pressure_hpa: 1013.2 } })
    assert.deepEqual(hpa('hPa', '1013.2'), { measurement: 'climate', fields: { pressure_hpa: 1013.2 } })
  })

  // A current, voltage or power factor sensor on its own (how HA exposes a smart plug: one entity per
  // quantity) is a power reading of its own.
  test('current (mA → A), voltage (mV → V) and power factor (% → fraction) sensors are recorded', () => {
    assert.deepEqual(fieldsOf(map(sensor('current', 'mA', '520'))), { measurement: 'power', fields: { current_a: 0.52 } })
    assert.deepEqual(fieldsOf(map(sensor('voltage', 'mV', '230000'))), { measurement: 'power', fields: { voltage_v: 230 } })
    assert.deepEqual(fieldsOf(map(sensor('power_factor', '%', '97'))), { measurement: 'power', fields: { power_factor: 0.97 } })
    assert.deepEqual(fieldsOf(map(sensor('power_factor', '', '0.97'))), { measurement: 'power', fields: { power_factor: 0.97 } })
  })

  test('a unit CareHub does not convert is refused, naming the unit', () => {
    rejected(map(sensor('temperature', 'F', '70')), 'measurement_schema', ['"F"', 'temperature', '°C'])
    rejected(map(sensor('power', 'BTU/h', '300')), 'measurement_schema', ['"BTU/h"'])
    rejected(map(sensor('humidity', undefined, '48')), 'measurement_schema', ['unit ""', 'humidity'])
  })

  test('numeric states sent as numbers (sloppy webhook JSON) are accepted', () => {
    assert.deepEqual(fieldsOf(map(sensor('temperature', '°C', 21.5))), { measurement: 'climate', fields: { temp_c: 21.5 } })
    assert.deepEqual(fieldsOf(map(sensor('energy', 'kWh', 2))), { measurement: 'power', fields: { energy_wh: 2000 } })
    assert.deepEqual(fieldsOf(map(sensor(undefined, undefined, 0))), { measurement: 'state', fields: { value: 0 } })
  })

  test('a state that is not a number for a numeric device class is recorded as state.value text', () => {
    assert.deepEqual(fieldsOf(map(sensor('temperature', '°C', 'high'))), { measurement: 'state', fields: { value: 'high' } })
    assert.deepEqual(fieldsOf(map(sensor('humidity', '%', '21,5'))), { measurement: 'state', fields: { value: '21,5' } })
    assert.deepEqual(fieldsOf(map(sensor('power', 'W', 'x'.repeat(100)))), { measurement: 'state', fields: { value: 'x'.repeat(64) } })
  })

  test('an on/off entity in any other state is refused', () => {
    rejected(map({ entity_id: 'switch.kettle', state: 'open', last_updated: TS }), 'measurement_schema', ['"open"', 'neither "on" nor "off"'])
    rejected(
      map({ entity_id: 'binary_sensor.front_door', state: 'opened', attributes: { device_class: 'door' }, last_updated: TS }),
      'measurement_schema',
      ['"opened"'],
    )
    rejected(map({ entity_id: 'light.hall', state: 'ON', last_updated: TS }), 'measurement_schema', ['"ON"'])
  })

  test('a value outside the measurement plausibility range is refused, naming the field', () => {
    rejected(map(sensor('humidity', '%', '150')), 'measurement_schema', ['humid_pct'])
    rejected(map(sensor('temperature', '°F', '300')), 'measurement_schema', ['temp_c'])
    rejected(map(sensor('power', 'kW', '250')), 'measurement_schema', ['power_w'])
  })
})

describe('home assistant: rules', () => {
  test('the first matching rule wins', () => {
    const rules: Rules = [
      { match: 'sensor.kitchen_*', device: 'kitchen' },
      { match: 'sensor.*', ignore: true },
      { match: 'sensor.kitchen_temperature', device: 'never' },
    ]
    assert.equal(one(map(sensor('temperature', '°C', '21', 'sensor.kitchen_temperature'), rules)).deviceId, 'kitchen')
    assert.equal(ignored(map(sensor('temperature', '°C', '21', 'sensor.hall_temperature'), rules)), 'ignored by configuration')
    // Ignore first: the later device rule never applies.
    const ignoreFirst: Rules = [
      { match: 'sensor.*', ignore: true },
      { match: 'sensor.kitchen_*', device: 'kitchen' },
    ]
    ignored(map(sensor('temperature', '°C', '21', 'sensor.kitchen_temperature'), ignoreFirst))
    // A precompiled `re` is what is tested (ha-ingest compiles each rule once).
    const compiled: Rules = [{ match: 'nothing.matches', re: /^sensor\.kitchen_/, device: 'compiled' }]
    assert.equal(one(map(sensor('temperature', '°C', '21', 'sensor.kitchen_temperature'), compiled)).deviceId, 'compiled')
  })

  test('a device override groups several entities under one device, each tagged with its entity', () => {
    const rules: Rules = [{ match: 'sensor.kitchen_*', device: 'kitchen_multisensor' }]
    const t = map(sensor('temperature', '°C', '21.5', 'sensor.kitchen_temperature'), rules)
    const h = map(sensor('humidity', '%', '48', 'sensor.kitchen_humidity'), rules)
    const u = map({ entity_id: 'sensor.kitchen_co2', state: 'unavailable', attributes: { friendly_name: 'Kitchen CO2' } }, rules)
    assert.deepEqual(
      [one(t), one(h)].map((r) => [r.deviceId, r.measurement, r.fields, r.tags]),
      [
        ['kitchen_multisensor', 'climate', { temp_c: 21.5 }, { entity: 'sensor.kitchen_temperature' }],
        ['kitchen_multisensor', 'climate', { humid_pct: 48 }, { entity: 'sensor.kitchen_humidity' }],
      ],
    )
    assert.equal(t.kind === 'readings' && t.deviceId, 'kitchen_multisensor')
    assert.deepEqual(u, { kind: 'unavailable', entityId: 'sensor.kitchen_co2', deviceId: 'kitchen_multisensor', name: 'Kitchen CO2' })
  })

  test('a measurement + field override records the state as is, without unit conversion', () => {
    const rules: Rules = [
      { match: 'sensor.boiler_flow', measurement: 'boiler', field: 'flow_temp_f' },
      { match: 'sensor.lounge_f', measurement: 'climate', field: 'temp_c' },
      { match: 'input_boolean.*', measurement: 'care', field: 'away' },
      { match: 'sensor.mode', device: 'heating', measurement: 'state', field: 'mode' },
    ]
    assert.deepEqual(fieldsOf(map(sensor('temperature', '°F', '140', 'sensor.boiler_flow'), rules)), {
      measurement: 'boiler',
      fields: { flow_temp_f: 140 },
    })
    // The user chose temp_c for a °F sensor: taken at their word, not converted.
    assert.deepEqual(fieldsOf(map(sensor('temperature', '°F', '70', 'sensor.lounge_f'), rules)), { measurement: 'climate', fields: { temp_c: 70 } })
    assert.deepEqual(fieldsOf(map({ entity_id: 'input_boolean.away', state: 'on', last_updated: TS }, rules)), {
      measurement: 'care',
      fields: { away: true },
    })
    assert.deepEqual(fieldsOf(map({ entity_id: 'input_boolean.away', state: 'off', last_updated: TS }, rules)), {
      measurement: 'care',
      fields: { away: false },
    })
    const mode = one(map(sensor(undefined, undefined, 'eco', 'sensor.mode'), rules))
    assert.deepEqual([mode.deviceId, mode.measurement, mode.fields], ['heating', 'state', { mode: 'eco' }])
    // The override's measurement schema still applies.
    rejected(map(sensor('temperature', '°F', '212', 'sensor.lounge_f'), rules), 'measurement_schema', ['temp_c'])
  })

  test('an ignore rule drops the entity before anything else is looked at', () => {
    const rules: Rules = [{ match: 'sensor.noisy_*', ignore: true }]
    assert.deepEqual(map({ entity_id: 'sensor.noisy_one', state: 'unavailable' }, rules), {
      kind: 'ignored',
      entityId: 'sensor.noisy_one',
      reason: 'ignored by configuration',
    })
    ignored(map(sensor('humidity', '%', '150', 'sensor.noisy_two'), rules))
  })

  test('glob: only * and ? are special, every other character is literal', () => {
    const matches = (glob: string, id: string) => globToRegExp(glob).test(id)
    assert.ok(matches('sensor.*', 'sensor.kitchen_temperature'))
    assert.ok(matches('*.kitchen', 'light.kitchen'))
    assert.ok(matches('sensor.kitchen_?', 'sensor.kitchen_1'))
    assert.ok(!matches('sensor.kitchen_?', 'sensor.kitchen_12'))
    assert.ok(!matches('sensor.kitchen', 'sensor.kitchen_temperature'), 'a glob matches the whole id')
    assert.ok(!matches('sensor.a', 'sensorXa'), '. is a dot')
    assert.ok(!matches('sensor.a+', 'sensor.aa'))
    assert.ok(matches('sensor.a+', 'sensor.a+'))
    for (const literal of ['sensor.(a|b)', 'sensor.[ab]', 'sensor.a{2}', '^sensor.a$', 'sensor.a\\d', 'sensor.$a']) {
      assert.ok(matches(literal, literal), `${literal} matches itself`)
    }
    assert.ok(!matches('sensor.(a|b)', 'sensor.a'))
    assert.ok(!matches('sensor.[ab]', 'sensor.a'))
    assert.ok(!matches('sensor.a{2}', 'sensor.aa'))
    assert.ok(!matches('sensor.a\\d', 'sensor.a1'))
    // Through the mapper: the regex-looking rule does not capture sensor.aa.
    const rules: Rules = [{ match: 'sensor.a+', device: 'plus' }]
    assert.equal(one(map(sensor(undefined, undefined, '1', 'sensor.aa'), rules)).deviceId, 'ha_sensor_aa')
  })
})

describe('home assistant: entity ids and device ids', () => {
  test('an entity id that is not domain.object_id is ignored', () => {
    for (const entityId of [
      'sensor',
      'sensor.',
      '.kitchen',
      'Sensor.kitchen',
      'sensor.Kitchen',
      'sensor.a.b',
      'sensor.a-b',
      'sensor.ä',
      ' sensor.a',
      '1sensor.a',
    ]) {
      assert.deepEqual(
        map(sensor('temperature', '°C', '21', entityId)),
        { kind: 'ignored', entityId, reason: 'not an entity id (domain.object_id)' },
        entityId,
      )
    }
    const long = `sensor.${'x'.repeat(300)}-`
    assert.deepEqual(map(sensor(undefined, undefined, '1', long)), {
      kind: 'ignored',
      entityId: long.slice(0, 128),
      reason: 'not an entity id (domain.object_id)',
    })
    // entity_id of the wrong type (sloppy webhook JSON) is ignored the same way.
    ignored(map({ entity_id: 42 as unknown as string, state: '1' }))
  })

  test('domains CareHub does not map are ignored, saying which', () => {
    assert.deepEqual(map({ entity_id: 'sun.sun', state: 'above_horizon', last_updated: TS }), {
      kind: 'ignored',
      entityId: 'sun.sun',
      reason: 'sun entities are not mapped',
    })
    assert.equal(ignored(map({ entity_id: 'weather.home', state: 'rainy', last_updated: TS })), 'weather entities are not mapped')
  })

  test('default device id: ha_ + the entity id with "." as "_", at most 64 characters', () => {
    assert.equal(one(map(sensor('temperature', '°C', '21', 'sensor.kitchen_temperature'))).deviceId, 'ha_sensor_kitchen_temperature')
    assert.equal(one(map({ entity_id: 'binary_sensor.front_door_2', state: 'on', last_updated: TS })).deviceId, 'ha_binary_sensor_front_door_2')
    const long = `sensor.${'a'.repeat(100)}`
    const m = map(sensor(undefined, undefined, '1', long))
    const deviceId = one(m).deviceId
    // Too long: the start plus a hash of the whole name, so two long ids sharing a prefix stay apart.
    assert.match(deviceId, new RegExp(`^ha_sensor_${'a'.repeat(45)}-[0-9a-f]{8}$`))
    assert.equal(deviceId.length, 64)
    assert.notEqual(one(map(sensor(undefined, undefined, '1', `${long}b`))).deviceId, deviceId)
    assert.match(deviceId, /^[a-z0-9][a-z0-9_-]{0,63}$/, 'a valid CareHub device id')
    assert.equal(m.kind === 'readings' && m.entityId, long, 'the entity id itself is kept whole')
    assert.deepEqual(one(m).tags, { entity: long })
  })

  test('friendly_name becomes the name, cut to 80 characters; a non-string one is dropped', () => {
    const named = (friendly: unknown) => {
      const m = map({ entity_id: 'switch.kettle', state: 'on', attributes: { friendly_name: friendly }, last_updated: TS })
      return m.kind === 'readings' ? m.name : assert.fail(JSON.stringify(m))
    }
    assert.equal(named('Kettle'), 'Kettle')
    assert.equal(named('k'.repeat(200)), 'k'.repeat(80))
    assert.equal(named(42), undefined)
  })
})

describe('home assistant: timestamps', () => {
  const at = (stamps: { last_updated?: string; last_changed?: string }, options: { receivedAt?: number; limits?: NormalizeLimits } = {}) =>
    map(
      { entity_id: 'sensor.kitchen_temperature', state: '21', attributes: { device_class: 'temperature', unit_of_measurement: '°C' }, ...stamps },
      [],
      options,
    )

  test('last_updated is the reading time', () => {
    const r = one(at({ last_updated: '2025-01-14T12:36:10.330514+00:00', last_changed: '2025-01-14T06:00:00Z' }))
    assert.equal(r.ts, Date.parse('2025-01-14T12:36:10.330Z'))
    assert.equal(r.tsFromReceipt, false)
    assert.equal(r.receivedAt, RX)
    assert.equal(r.source, 'homeassistant')
  })

  test('without last_updated, last_changed is used', () => {
    const r = one(at({ last_changed: '2025-01-14T13:36:10+01:00' }))
    assert.equal(r.ts, Date.parse('2025-01-14T12:36:10Z'))
    assert.equal(r.tsFromReceipt, false)
  })

  test('without either, the receipt time is used and flagged', () => {
    const r = one(at({}))
    assert.equal(r.ts, RX)
    assert.equal(r.tsFromReceipt, true)
  })

  test('a last_updated older than maxPastMs is recorded at receipt time, flagged, not refused', () => {
    const limits: NormalizeLimits = { ...DEFAULT_LIMITS, maxPastMs: 86_400_000 }
    const old = one(at({ last_updated: new Date(RX - 86_400_000 - 1).toISOString() }, { limits }))
    assert.deepEqual([old.ts, old.tsFromReceipt], [RX, true])
    const months = one(at({ last_updated: '2024-06-01T00:00:00Z' }))
    assert.deepEqual([months.ts, months.tsFromReceipt], [RX, true])
    // At the limit it is still its own time.
    const edge = one(at({ last_updated: new Date(RX - 86_400_000).toISOString() }, { limits }))
    assert.deepEqual([edge.ts, edge.tsFromReceipt], [RX - 86_400_000, false])
  })

  test('a last_updated too far in the future is refused as ts_future', () => {
    rejected(at({ last_updated: new Date(RX + DEFAULT_LIMITS.maxFutureMs + 1000).toISOString() }), 'ts_future', [
      'sensor.kitchen_temperature',
      'ahead',
    ])
    const near = one(at({ last_updated: new Date(RX + DEFAULT_LIMITS.maxFutureMs).toISOString() }))
    assert.deepEqual([near.ts, near.tsFromReceipt], [RX + DEFAULT_LIMITS.maxFutureMs, false])
  })

  test('an unreadable or pre-2020 last_updated is refused as ts_invalid', () => {
    rejected(at({ last_updated: '2025-01-14 12:36:10' }), 'ts_invalid')
    rejected(at({ last_updated: '2019-12-31T23:59:59Z' }), 'ts_invalid', ['2020'])
  })

  test('a last_updated that happens to equal the receipt time is the entity’s own time', () => {
    assert.equal(one(at({ last_updated: new Date(RX).toISOString() })).tsFromReceipt, false)
  })
})

describe('home assistant: hostile names', () => {
  test('a sensor whose state is "constructor" or "__proto__" is plain text', () => {
    for (const state of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.deepEqual(fieldsOf(map(sensor(undefined, undefined, state))), { measurement: 'state', fields: { value: state } }, state)
      assert.deepEqual(fieldsOf(map(sensor('temperature', '°C', state))), { measurement: 'state', fields: { value: state } }, state)
      assert.deepEqual(fieldsOf(map({ entity_id: 'climate.lounge', state, last_updated: TS })), {
        measurement: 'state',
        fields: { hvac_mode: state },
      })
      assert.deepEqual(fieldsOf(map({ entity_id: 'person.mum', state, last_updated: TS })), { measurement: 'state', fields: { presence: state } })
      rejected(map({ entity_id: 'switch.kettle', state, last_updated: TS }), 'measurement_schema', [state])
    }
    const r = one(map(sensor(undefined, undefined, '__proto__')))
    assert.equal(Object.getPrototypeOf(r.fields), Object.prototype)
    assert.deepEqual(Object.keys(r.fields), ['value'])
  })

  test('entities and attributes named like Object.prototype members change nothing', () => {
    assert.equal(one(map(sensor('temperature', '°C', '21', 'sensor.__proto__'))).deviceId, 'ha_sensor___proto__')
    assert.equal(one(map(sensor('temperature', '°C', '21', 'sensor.constructor'))).measurement, 'climate')
    ignored(map({ entity_id: 'constructor.x', state: 'on', last_updated: TS }))
    // JSON.parse makes "__proto__" an own key: it must not be taken for the attributes' prototype.
    const parsed = JSON.parse(
      '{"entity_id":"sensor.x","state":"21","attributes":{"__proto__":{"device_class":"temperature","unit_of_measurement":"°F"}}}',
    )
    assert.deepEqual(fieldsOf(map(parsed as HaState)), { measurement: 'state', fields: { value: 21 } })
    assert.equal(({} as Record<string, unknown>).device_class, undefined, 'Object.prototype untouched')
  })

  test('a device_class or unit named like an Object.prototype member is just an unknown one', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.deepEqual(fieldsOf(map(sensor(name, '°C', '21'))), { measurement: 'state', fields: { value: 21 } }, `device_class ${name}`)
      rejected(map(sensor('temperature', name, '21')), 'measurement_schema', [`unit "${name}"`])
    }
  })
})

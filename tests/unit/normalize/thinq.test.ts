import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { DEVICE_ID_PATTERN } from '../../../gateway/src/config/schema.js'
import type { FieldValue } from '../../../gateway/src/core/reading.js'
import { fieldsSchema } from '../../../gateway/src/normalize/measurements.js'
import { genericFields, mapThinqState, thinqDeviceId } from '../../../gateway/src/normalize/thinq.js'
import { keyedSnapshot } from '../../_support/keyed-snapshot.js'

/**
 * The ThinQ mapper (gateway/src/normalize/thinq.ts) against the recorded state documents of
 * external-protocols §1a (HA's lg_thinq fixtures) and the shapes the SDKs also accept.
 */

const FIXTURES = new URL('../../fixtures/thinq/', import.meta.url)
const SNAPSHOT = new URL('../../fixtures/thinq/mapped.snapshot.json', import.meta.url)
const TYPES = ['air_conditioner', 'washer', 'refrigerator', 'air_purifier'] as const

type Doc = Record<string, unknown>
type Mapped = ReturnType<typeof mapThinqState>

const readJson = (path: string): unknown => JSON.parse(readFileSync(new URL(path, FIXTURES), 'utf8'))

interface Fixture {
  readonly deviceType: string
  readonly deviceId: string
  readonly state: Doc
}

function fixture(type: string): Fixture {
  const device = readJson(`${type}/device.json`) as { deviceId: string; deviceInfo: { deviceType: string } }
  return { deviceType: device.deviceInfo.deviceType, deviceId: device.deviceId, state: readJson(`${type}/state.json`) as Doc }
}

/** measurement → fields of the targets; each measurement at most once. */
function byMeasurement(m: Mapped): Record<string, Record<string, FieldValue>> {
  const out: Record<string, Record<string, FieldValue>> = {}
  for (const t of m.targets) {
    assert.ok(!Object.hasOwn(out, t.measurement), `${t.measurement} appears twice in ${JSON.stringify(m.targets)}`)
    out[t.measurement] = t.fields
  }
  return out
}

/** The normalized (non-generic) targets: what the caregiver's charts and rules read. */
function known(m: Mapped): Record<string, Record<string, FieldValue>> {
  const { appliance: _generic, ...rest } = byMeasurement(m)
  return rest
}

const measurements = (m: Mapped) => m.targets.map((t) => t.measurement)

/** A state document parsed from text, as the poller gets it (so `__proto__` is an own key, as in JSON). */
const parsed = (json: string): Doc => JSON.parse(json) as Doc

describe('thinq: recorded state documents → snapshot', () => {
  const actual: Record<string, unknown> = {}
  for (const type of TYPES) {
    const f = fixture(type)
    // Round-trip through JSON so the comparison sees exactly what the snapshot file can hold.
    actual[type] = JSON.parse(JSON.stringify({ deviceType: f.deviceType, ...mapThinqState(f.deviceType, f.state) }))
  }

  keyedSnapshot(SNAPSHOT, actual, 'device types')
})

// The snapshot pins everything; these spell out, per appliance, the values a caregiver reads, so a
// snapshot rewritten without looking cannot quietly change them.
describe('thinq: recorded state documents → what a caregiver sees', () => {
  test('air conditioner: room temperature, power, mode, set-point, fan', () => {
    const m = mapThinqState('DEVICE_AIR_CONDITIONER', fixture('air_conditioner').state)
    assert.deepEqual(m.rejected, [])
    assert.deepEqual(known(m), {
      climate: { temp_c: 25 },
      state: { on: true, mode: 'cool', target_temp_c: 19, fan: 'mid' },
    })
  })

  test('washer: run state, running, remaining minutes, remote control', () => {
    const m = mapThinqState('DEVICE_WASHER', fixture('washer').state)
    assert.deepEqual(m.rejected, [])
    // The recorded washer is idle (INITIAL) with a programme selected: not running, 45 min shown.
    assert.deepEqual(known(m), { state: { run_state: 'initial', running: false, remaining_min: 45, remote_control: true } })
  })

  test('refrigerator: door closed, compartment set-points, express mode', () => {
    const m = mapThinqState('DEVICE_REFRIGERATOR', fixture('refrigerator').state)
    assert.deepEqual(m.rejected, [])
    assert.deepEqual(known(m), {
      event: { door: 'closed' },
      state: { fridge_target_c: 3, freezer_target_c: -18, express_mode: false },
    })
  })

  test('air purifier: particulates, air quality, humidity, power, mode', () => {
    const m = mapThinqState('DEVICE_AIR_PURIFIER', fixture('air_purifier').state)
    assert.deepEqual(m.rejected, [])
    assert.deepEqual(known(m), {
      air: { pm1_ugm3: 4, pm25_ugm3: 9, pm10_ugm3: 21, quality: 'good' },
      climate: { humid_pct: 41 },
      state: { on: true, mode: 'clean' },
    })
  })

  test('every fixture also keeps its raw properties under `appliance`, valid generic fields', () => {
    for (const type of TYPES) {
      const f = fixture(type)
      const m = mapThinqState(f.deviceType, f.state)
      const appliance = byMeasurement(m).appliance
      assert.ok(appliance, `${type}: no appliance measurement`)
      assert.ok(fieldsSchema('appliance').safeParse(appliance).success, `${type}: appliance fields are not valid generic fields`)
      assert.equal(measurements(m).at(-1), 'appliance', `${type}: the generic measurement comes last`)
    }
    const f = (type: string) => byMeasurement(mapThinqState(fixture(type).deviceType, fixture(type).state)).appliance ?? {}
    // Properties the normalized mapping does not cover are recorded rather than lost.
    assert.equal(f('air_conditioner').power_save_power_save_enabled, false)
    assert.equal(f('air_conditioner').timer_absolute_hour_to_start, 13)
    assert.equal(f('washer').cycle_cycle_count, 10)
    assert.equal(f('washer').timer_total_minute, 50)
    assert.equal(f('refrigerator').water_filter_info_used_time, 4)
    assert.equal(f('refrigerator').refrigeration_fresh_air_filter, 'AUTO')
    assert.equal(f('air_purifier').air_quality_sensor_odor_level, 'INVALID')
    assert.equal(f('air_purifier').air_quality_sensor_total_pollution, 1)
  })
})

describe('thinq: air conditioner temperature shapes', () => {
  const ac = (state: Doc) => known(mapThinqState('DEVICE_AIR_CONDITIONER', state))

  test('older `temperature` in °F (no temperatureInUnits) is converted to °C, one decimal', () => {
    assert.deepEqual(ac({ temperature: { currentTemperature: 77, targetTemperature: 66, unit: 'F' } }), {
      climate: { temp_c: 25 },
      state: { target_temp_c: 18.9 },
    })
    assert.deepEqual(ac({ temperature: { currentTemperature: 71.5, targetTemperature: 32, unit: 'F' } }), {
      climate: { temp_c: 21.9 },
      state: { target_temp_c: 0 },
    })
    assert.deepEqual(ac({ temperature: { currentTemperature: -40, unit: 'F' } }), { climate: { temp_c: -40 } })
  })

  test('older `temperature` in °C, or without a unit (SDK ≤1.0.1), is taken as °C', () => {
    assert.deepEqual(ac({ temperature: { currentTemperature: 23.5, targetTemperature: 21, unit: 'C' } }), {
      climate: { temp_c: 23.5 },
      state: { target_temp_c: 21 },
    })
    assert.deepEqual(ac({ temperature: { currentTemperature: 23, targetTemperature: 22 } }), {
      climate: { temp_c: 23 },
      state: { target_temp_c: 22 },
    })
  })

  test('temperatureInUnits is preferred over `temperature` when both exist; its °C entry is used whatever the order', () => {
    const state = {
      temperature: { currentTemperature: 30, targetTemperature: 28, unit: 'C' },
      temperatureInUnits: [
        { currentTemperature: 75, targetTemperature: 70, unit: 'F' },
        { currentTemperature: 24, targetTemperature: 21, unit: 'C' },
      ],
    }
    assert.deepEqual(ac(state), { climate: { temp_c: 24 }, state: { target_temp_c: 21 } })
  })

  test('power off and other modes', () => {
    assert.deepEqual(
      ac({ operation: { airConOperationMode: 'POWER_OFF' }, airConJobMode: { currentJobMode: 'HEAT' }, airFlow: { windStrength: 'LOW' } }),
      { state: { on: false, mode: 'heat', fan: 'low' } },
    )
  })

  test('an empty document yields nothing and rejects nothing', () => {
    assert.deepEqual(mapThinqState('DEVICE_AIR_CONDITIONER', {}), { targets: [], rejected: [] })
  })
})

describe('thinq: washer', () => {
  const washer = (state: Doc, type = 'DEVICE_WASHER') => known(mapThinqState(type, state))

  test('a running cycle: running true, hours and minutes combined', () => {
    const state = {
      location: { locationName: 'MAIN' },
      runState: { currentState: 'SPINNING' },
      timer: { remainHour: 1, remainMinute: 5 },
    }
    assert.deepEqual(washer(state), { state: { run_state: 'spinning', running: true, remaining_min: 65 } })
    assert.deepEqual(washer(state, 'DEVICE_WASHTOWER_WASHER'), { state: { run_state: 'spinning', running: true, remaining_min: 65 } })
  })

  test('running is false when the washer is off, idle, paused, finished or in error', () => {
    for (const s of ['POWER_OFF', 'INITIAL', 'PAUSE', 'END', 'ERROR']) {
      assert.equal(washer({ runState: { currentState: s } }).state?.running, false, s)
    }
    for (const s of ['DETECTING', 'PREWASH', 'SOAKING', 'RUNNING', 'RINSING', 'SPINNING', 'DRYING']) {
      assert.equal(washer({ runState: { currentState: s } }).state?.running, true, s)
    }
  })

  test('running is false while a delayed start waits or frost protection idles/pauses', () => {
    for (const s of ['RESERVED', 'FROZEN_PREVENT_INITIAL', 'FROZEN_PREVENT_PAUSE']) {
      assert.equal(washer({ runState: { currentState: s } }).state?.running, false, s)
    }
  })

  test('state as an array of per-location objects (the form the SDK accepts) gives the MAIN unit’s state', () => {
    const state = [
      {
        location: { locationName: 'MAIN' },
        runState: { currentState: 'RUNNING' },
        remoteControlEnable: { remoteControlEnabled: false },
        timer: { remainHour: 0, remainMinute: 45 },
      },
    ] as unknown as Doc
    const m = mapThinqState('DEVICE_WASHER', state)
    assert.deepEqual(m.rejected, [])
    assert.deepEqual(known(m), { state: { run_state: 'running', running: true, remaining_min: 45, remote_control: false } })
  })

  test('the array form does at least not throw nor produce invalid targets (what the mapper does today)', () => {
    const state = [{ location: { locationName: 'MAIN' }, runState: { currentState: 'RUNNING' } }] as unknown as Doc
    const m = mapThinqState('DEVICE_WASHER', state)
    assert.deepEqual(m.rejected, [])
    for (const t of m.targets) assert.ok(t.measurement === 'state' || t.measurement === 'appliance', t.measurement)
  })
})

describe('thinq: refrigerator', () => {
  const fridge = (state: Doc) => known(mapThinqState('DEVICE_REFRIGERATOR', state))

  test('door OPEN → open, CLOSE → closed; list or single object', () => {
    assert.deepEqual(fridge({ doorStatus: [{ locationName: 'MAIN', doorState: 'OPEN' }] }), { event: { door: 'open' } })
    assert.deepEqual(fridge({ doorStatus: [{ locationName: 'MAIN', doorState: 'CLOSE' }] }), { event: { door: 'closed' } })
    // A partial report may carry the one entry as an object.
    assert.deepEqual(fridge({ doorStatus: { locationName: 'MAIN', doorState: 'OPEN' } }), { event: { door: 'open' } })
  })

  test('an unknown door state gives no door event (rather than a wrong one)', () => {
    assert.deepEqual(fridge({ doorStatus: [{ locationName: 'MAIN', doorState: 'UNKNOWN' }] }), {})
  })

  test('set-points from temperatureInUnits, else from the older `temperature` list (°F converted)', () => {
    assert.deepEqual(
      fridge({
        temperatureInUnits: [
          { locationName: 'FREEZER', targetTemperatureC: -20, targetTemperatureF: -4, unit: 'C' },
          { locationName: 'FRIDGE', targetTemperatureC: 4, targetTemperatureF: 39, unit: 'C' },
        ],
        temperature: [{ locationName: 'FRIDGE', targetTemperature: 7, unit: 'C' }],
      }),
      { state: { fridge_target_c: 4, freezer_target_c: -20 } },
    )
    assert.deepEqual(
      fridge({
        temperature: [
          { locationName: 'FRIDGE', targetTemperature: 37, unit: 'F' },
          { locationName: 'FREEZER', targetTemperature: 0, unit: 'F' },
        ],
      }),
      { state: { fridge_target_c: 2.8, freezer_target_c: -17.8 } },
    )
  })
})

describe('thinq: air purifier', () => {
  test('humidity alone gives climate.humid_pct; PM2 is PM2.5', () => {
    const m = known(mapThinqState('DEVICE_AIR_PURIFIER', { airQualitySensor: { PM2: 35, humidity: 55 } }))
    assert.deepEqual(m, { air: { pm25_ugm3: 35 }, climate: { humid_pct: 55 } })
  })
})

describe('thinq: unknown device types', () => {
  test('only the generic appliance measurement', () => {
    const state = {
      runState: { currentState: 'DRYING' },
      timer: { remainHour: 0, remainMinute: 12 },
      operation: { airConOperationMode: 'POWER_ON' },
      temperature: { currentTemperature: 25, unit: 'C' },
    }
    for (const type of ['DEVICE_DRYER', 'DEVICE_ROBOT_CLEANER', '']) {
      const m = mapThinqState(type, state)
      assert.deepEqual(m.rejected, [], type)
      assert.deepEqual(measurements(m), ['appliance'], type)
      assert.deepEqual(
        byMeasurement(m).appliance,
        {
          run_state_current_state: 'DRYING',
          timer_remain_hour: 0,
          timer_remain_minute: 12,
          operation_air_con_operation_mode: 'POWER_ON',
          temperature_current_temperature: 25,
          temperature_unit: 'C',
        },
        type,
      )
    }
  })

  test('a device type named like an Object.prototype member is just an unknown type', () => {
    for (const type of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__']) {
      const m = mapThinqState(type, { operation: { airConOperationMode: 'POWER_ON' } })
      assert.deepEqual(m, { targets: [{ measurement: 'appliance', fields: { operation_air_con_operation_mode: 'POWER_ON' } }], rejected: [] }, type)
    }
  })
})

describe('thinq: generic fields', () => {
  test('named snake_case <resource>_<property>; top-level scalars by their own name', () => {
    assert.deepEqual(
      genericFields({
        airConJobMode: { currentJobMode: 'COOL' },
        airQualitySensor: { PM2: 9, PM10: 21, totalPollutionLevel: 'GOOD' },
        windDirection: { rotateUpDown: true },
        firmwareVersion: '1.2.3',
      }),
      {
        air_con_job_mode_current_job_mode: 'COOL',
        air_quality_sensor_pm2: 9,
        air_quality_sensor_pm10: 21,
        air_quality_sensor_total_pollution_level: 'GOOD',
        wind_direction_rotate_up_down: true,
        firmware_version: '1.2.3',
      },
    )
  })

  test('only scalars: arrays, nested objects, null and strings over 256 characters are left out', () => {
    assert.deepEqual(
      genericFields({
        doorStatus: [{ locationName: 'MAIN', doorState: 'OPEN' }],
        deep: { nested: { x: 1 }, list: [1, 2], nothing: null, long: 'x'.repeat(257), ok: 'x'.repeat(256) },
        gone: null,
      }),
      { deep_ok: 'x'.repeat(256) },
    )
  })

  test('capped at 32 fields, the first 32 in document order, and still a valid generic reading', () => {
    const state: Doc = {}
    for (let i = 0; i < 40; i++) state[`resource${String(i).padStart(2, '0')}`] = { value: i }
    const fields = genericFields(state)
    assert.equal(Object.keys(fields).length, 32)
    assert.deepEqual(
      Object.keys(fields),
      Array.from({ length: 32 }, (_, i) => `resource${String(i).padStart(2, '0')}_value`),
    )
    const m = mapThinqState('DEVICE_DRYER', state)
    assert.deepEqual(m.rejected, [])
    assert.equal(Object.keys(byMeasurement(m).appliance ?? {}).length, 32)
  })

  test('names are capped at 64 characters; names that cannot start with a letter are left out', () => {
    const fields = genericFields({ [`a${'b'.repeat(80)}`]: { c: 1 }, '9lives': { cat: true }, _x: 2 })
    assert.deepEqual(fields, { [`a${'b'.repeat(63)}`]: 1, x: 2 })
    for (const name of Object.keys(fields)) assert.match(name, /^[a-z][a-z0-9_]{0,63}$/)
  })
})

describe('thinq: implausible values', () => {
  test('an AC room temperature of 500 °C is rejected with a reason, not recorded as climate', () => {
    const m = mapThinqState('DEVICE_AIR_CONDITIONER', {
      operation: { airConOperationMode: 'POWER_ON' },
      temperatureInUnits: [{ currentTemperature: 500, targetTemperature: 22, unit: 'C' }],
    })
    assert.equal(m.rejected.length, 1, JSON.stringify(m.rejected))
    assert.equal(m.rejected[0]?.measurement, 'climate')
    assert.match(m.rejected[0]?.reason ?? '', /^climate: temp_c: /)
    assert.ok(!measurements(m).includes('climate'), JSON.stringify(m.targets))
    // The rest of the document still counts.
    assert.deepEqual(byMeasurement(m).state, { on: true, target_temp_c: 22 })
  })

  test('the older °F shape is range-checked after conversion (500 °F → 260 °C)', () => {
    const m = mapThinqState('DEVICE_AIR_CONDITIONER', { temperature: { currentTemperature: 500, unit: 'F' } })
    assert.deepEqual(
      m.rejected.map((r) => r.measurement),
      ['climate'],
    )
    assert.ok(!measurements(m).includes('climate'))
  })

  test('a purifier humidity over 100 % is rejected, the particulates still recorded', () => {
    const m = mapThinqState('DEVICE_AIR_PURIFIER', { airQualitySensor: { PM2: 12, humidity: 140 } })
    assert.deepEqual(
      m.rejected.map((r) => r.measurement),
      ['climate'],
    )
    assert.match(m.rejected[0]?.reason ?? '', /humid_pct/)
    assert.deepEqual(known(m), { air: { pm25_ugm3: 12 } })
  })
})

describe('thinq: device ids', () => {
  test('the recorded ids become valid CareHub device ids (lower-cased, "-" kept)', () => {
    for (const type of TYPES) {
      const { deviceId } = fixture(type)
      const id = thinqDeviceId(deviceId)
      assert.equal(id, `thinq_${deviceId.toLowerCase()}`)
      assert.match(id, DEVICE_ID_PATTERN)
    }
    assert.equal(thinqDeviceId('MW2-7C1E6A3B-0F4D-4E8A-9B52-3D6F1A2C8E01'), 'thinq_mw2-7c1e6a3b-0f4d-4e8a-9b52-3d6f1a2c8e01')
  })

  test('anything outside [a-z0-9_-] becomes "_"', () => {
    assert.equal(thinqDeviceId('AB.cd/ef:gh ij+kl'), 'thinq_ab_cd_ef_gh_ij_kl')
    assert.equal(thinqDeviceId('Wäsche€'), 'thinq_w_sche_')
    assert.equal(thinqDeviceId('../../etc'), `thinq_${'_'.repeat(6)}etc`)
  })

  test('capped at 64 characters and still valid', () => {
    const long = 'a'.repeat(64) // ThinQ Connect ids are often 64 hex characters
    const id = thinqDeviceId(long)
    assert.equal(id.length, 64)
    // Too long: the start plus a hash of the whole id, so ids differing only at the end stay apart.
    assert.match(id, new RegExp(`^thinq_${'a'.repeat(49)}-[0-9a-f]{8}$`))
    assert.notEqual(thinqDeviceId(`${'a'.repeat(63)}b`), id)
    assert.match(id, DEVICE_ID_PATTERN)
    assert.match(thinqDeviceId('X'.repeat(500)), DEVICE_ID_PATTERN)
  })
})

describe('thinq: hostile property names', () => {
  test('`constructor` and `__proto__` in a state document break nothing and pollute nothing', () => {
    const state = parsed(`{
      "__proto__": { "currentJobMode": "HACK", "polluted": true },
      "constructor": { "prototype": 1, "name": "x" },
      "operation": { "airConOperationMode": "POWER_OFF", "constructor": "c", "__proto__": "p" },
      "airConJobMode": { "__proto__": { "currentJobMode": "HEAT" } },
      "toString": 5,
      "hasOwnProperty": "yes"
    }`)
    const m = mapThinqState('DEVICE_AIR_CONDITIONER', state)
    assert.deepEqual(m.rejected, [])
    // The mode is not read through an own `__proto__` key; power is read as usual.
    assert.deepEqual(known(m), { state: { on: false } })
    assert.deepEqual(byMeasurement(m).appliance, {
      proto_current_job_mode: 'HACK',
      proto_polluted: true,
      constructor_prototype: 1,
      constructor_name: 'x',
      operation_air_con_operation_mode: 'POWER_OFF',
      operation_constructor: 'c',
      operation_proto: 'p',
      to_string: 5,
      has_own_property: 'yes',
    })
    for (const t of m.targets) assert.equal(Object.getPrototypeOf(t.fields), Object.prototype, t.measurement)
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.equal(({} as Record<string, unknown>).currentJobMode, undefined)
  })

  test('for every known type: own `__proto__`/`constructor` keys do not throw', () => {
    const docs = [
      '{"__proto__": {"runState": {"currentState": "RUNNING"}}, "constructor": {"x": 1}}',
      '{"doorStatus": [{"__proto__": {"locationName": "MAIN", "doorState": "OPEN"}}], "constructor": 1}',
      '{"temperatureInUnits": [{"constructor": "C", "unit": "C"}], "airQualitySensor": {"__proto__": {"PM2": 9}}}',
    ]
    for (const type of ['DEVICE_AIR_CONDITIONER', 'DEVICE_WASHER', 'DEVICE_REFRIGERATOR', 'DEVICE_AIR_PURIFIER', 'DEVICE_DRYER']) {
      for (const doc of docs) {
        const m = mapThinqState(type, parsed(doc))
        assert.deepEqual(m.rejected, [], `${type} ${doc}`)
        // Nothing is read through an own `__proto__` key: no door, no run state, no particulates.
        const k = known(m)
        assert.equal(k.event, undefined, `${type} ${doc}`)
        assert.equal(k.air, undefined, `${type} ${doc}`)
        assert.equal(k.state?.run_state, undefined, `${type} ${doc}`)
      }
    }
  })
})

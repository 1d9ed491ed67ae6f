import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { NormalizeResult, Reading, Rejection } from '../../../gateway/src/core/reading.js'
import { DEFAULT_LIMITS, type NormalizeLimits, normalizeMqttReading } from '../../../gateway/src/normalize/mqtt-reading.js'

// Far from the real clock on purpose: a function that read Date.now() would refuse these readings.
const RX = Date.parse('2031-06-15T12:00:00Z')
const LIMITS: NormalizeLimits = { maxPayloadBytes: 2048, maxFutureMs: 60_000, maxPastMs: 86_400_000 }

function run(measurement: string, payload: unknown, options: { receivedAt?: number; limits?: NormalizeLimits } = {}): NormalizeResult {
  const bytes = payload instanceof Uint8Array ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload))
  return normalizeMqttReading({ deviceId: 'dev_a', measurement, payload: bytes, receivedAt: options.receivedAt ?? RX }, options.limits ?? LIMITS)
}

function accepted(result: NormalizeResult): Reading {
  if (!result.ok) assert.fail(`expected acceptance, got ${result.rejection.reason}: ${result.rejection.detail}`)
  return result.reading
}

function refused(result: NormalizeResult, reason: Rejection['reason'], detail?: RegExp | string): Rejection {
  if (result.ok) assert.fail(`expected refusal ${reason}, got a reading ${JSON.stringify(result.reading)}`)
  assert.equal(result.rejection.reason, reason, result.rejection.detail)
  if (typeof detail === 'string') assert.ok(result.rejection.detail.includes(detail), `detail "${result.rejection.detail}" should mention ${detail}`)
  else if (detail) assert.match(result.rejection.detail, detail)
  return result.rejection
}

const tsOf = (ts: unknown, options: { receivedAt?: number; limits?: NormalizeLimits } = {}) => run('climate', { ts, fields: { temp_c: 20 } }, options)

describe('normalize: known measurements', () => {
  // bad: field → values refused for it (out of range, wrong type, or a field the measurement does not have).
  const cases: Array<{ m: string; good: Array<Record<string, unknown>>; bad: Record<string, unknown[]>; needsOne: Record<string, unknown> }> = [
    {
      m: 'climate',
      good: [
        { temp_c: 21.5, humid_pct: 45, pressure_hpa: 1013.2, co2_ppm: 640, battery_pct: 87, rssi_dbm: -67 },
        { temp_c: -60 },
        { co2_ppm: 50_000 },
      ],
      bad: { temp_c: [100.1, '21.5'], humid_pct: [-1], pressure_hpa: [299], co2_ppm: [50_001], battery_pct: [101], rssi_dbm: [1], temp_f: [70] },
      needsOne: { battery_pct: 50, rssi_dbm: -70 },
    },
    {
      m: 'power',
      good: [{ power_w: 120.5, energy_wh: 123_456, voltage_v: 231, current_a: 0.52, power_factor: 0.97, rssi_dbm: -50 }, { power_w: -800 }],
      bad: { power_w: [100_001, true], energy_wh: [-1], voltage_v: [1000.5], current_a: [-0.1], power_factor: [1.01, -1.01], frequency_hz: [50] },
      needsOne: { rssi_dbm: -60 },
    },
    {
      m: 'state',
      good: [{ on: true, mode: 'eco', level: 3 }, { level: -1e9 }, { label: 'x'.repeat(64) }],
      bad: { mode: ['x'.repeat(65)], level: [1e9 + 1], on: [null], nested: [{ a: 1 }], list: [[1, 2]], Mode: ['eco'] },
      needsOne: {},
    },
    {
      m: 'event',
      good: [{ door: 'open' }, { door: 'closed', battery_pct: 90 }, { motion: true, confidence: 0.8 }, { fall: true }, { button: 'long' }],
      bad: { door: ['ajar'], motion: ['yes'], fall: [1], button: ['triple'], confidence: [1.5], battery_pct: [-5], smoke: [true] },
      needsOne: { battery_pct: 40, confidence: 0.5 },
    },
  ]

  for (const c of cases) {
    test(`${c.m}: typical payloads are accepted with their fields unchanged`, () => {
      for (const fields of c.good) {
        const reading = accepted(run(c.m, { fields, tags: { room: 'kitchen' } }))
        assert.deepEqual(reading, {
          deviceId: 'dev_a',
          measurement: c.m,
          fields,
          tags: { room: 'kitchen' },
          ts: RX,
          tsFromReceipt: true,
          receivedAt: RX,
          source: 'mqtt',
        })
      }
    })

    test(`${c.m}: an out-of-range, wrong-type or unknown field is refused, naming the field`, () => {
      const base = c.good[0] as Record<string, unknown>
      for (const [field, values] of Object.entries(c.bad)) {
        for (const value of values) {
          const r = refused(run(c.m, { fields: { ...base, [field]: value } }), 'measurement_schema', field)
          assert.ok(r.detail.startsWith(`${c.m}: `), r.detail)
        }
      }
    })

    test(`${c.m}: a payload without any primary field is refused`, () => {
      refused(run(c.m, { fields: c.needsOne }), 'measurement_schema', `${c.m}: fields`)
    })
  }
})

describe('normalize: unknown measurements get generic fields', () => {
  test('numbers, booleans and short strings are accepted', () => {
    const fields = { wet: true, level_mm: 3.5, note: 's'.repeat(256), big: 1e15, small: -1e15 }
    assert.deepEqual(accepted(run('water_leak', { fields })).fields, fields)
  })

  test('32 fields are accepted, 33 refused', () => {
    const fields = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`f${i}`, i]))
    const { f32: _dropped, ...thirtyTwo } = fields
    assert.equal(Object.keys(accepted(run('custom', { fields: thirtyTwo })).fields).length, 32)
    refused(run('custom', { fields }), 'measurement_schema', /32 fields/)
  })

  test('bad field names are refused, naming the field', () => {
    for (const name of ['Temp', '1st', 'a-b', 'a.b', 'é', `a${'b'.repeat(64)}`])
      refused(run('custom', { fields: { [name]: 1 } }), 'measurement_schema', name)
    accepted(run('custom', { fields: { [`a${'b'.repeat(63)}`]: 1 } }))
  })

  test('huge numbers, long strings, null, objects and empty fields are refused', () => {
    for (const value of [1e300, -1e300, 1e15 + 2, 's'.repeat(257), null, { a: 1 }, [1]]) {
      refused(run('custom', { fields: { value } }), 'measurement_schema', 'fields.value')
    }
    refused(run('custom', { fields: {} }), 'measurement_schema', /empty/)
  })
})

describe('normalize: envelope', () => {
  test('not JSON, empty and invalid UTF-8 payloads are not_json', () => {
    refused(run('climate', 'temp=21'), 'not_json')
    refused(run('climate', ''), 'not_json')
    refused(run('climate', Buffer.from([0x7b, 0xff, 0x7d])), 'not_json', /UTF-8/)
    // Would parse if decoded leniently (U+FFFD inside a string): the decoder must be fatal.
    refused(
      run('climate', Buffer.concat([Buffer.from('{"fields":{"temp_c":1},"tags":{"r":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')])),
      'not_json',
    )
  })

  test('an unknown top-level key, missing or non-object fields, a non-object payload are schema', () => {
    refused(run('climate', { fields: { temp_c: 1 }, device: 'x' }), 'schema', 'device')
    refused(run('climate', { ts: RX }), 'schema', 'fields')
    refused(run('climate', { fields: [1, 2] }), 'schema', 'fields')
    refused(run('climate', [{ fields: { temp_c: 1 } }]), 'schema')
    refused(run('climate', 'null'), 'schema')
    refused(run('climate', { fields: { temp_c: 1 }, ts: true }), 'schema', 'ts')
  })

  test('tags: lowercase names and string values up to 128 characters, at most 16', () => {
    refused(run('climate', { fields: { temp_c: 1 }, tags: { Room: 'x' } }), 'schema', 'tags.Room')
    refused(run('climate', { fields: { temp_c: 1 }, tags: { room: 3 } }), 'schema', 'tags.room')
    refused(run('climate', { fields: { temp_c: 1 }, tags: { room: 'x'.repeat(129) } }), 'schema', 'tags.room')
    const tags = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`t${i}`, 'v']))
    refused(run('climate', { fields: { temp_c: 1 }, tags }), 'schema', /16 tags/)
    const { t16: _dropped, ...sixteen } = tags
    assert.deepEqual(accepted(run('climate', { fields: { temp_c: 1 }, tags: sixteen })).tags, sixteen)
  })

  test('payload size: exactly maxPayloadBytes is accepted, one byte more is refused before parsing', () => {
    const limits = { ...LIMITS, maxPayloadBytes: 100 }
    const exact = JSON.stringify({ fields: { temp_c: 1 } }).padEnd(100, ' ')
    assert.equal(Buffer.byteLength(exact), 100)
    accepted(run('climate', exact, { limits }))
    refused(run('climate', `${exact} `, { limits }), 'payload_too_large', /101 bytes.*100/)
    refused(run('climate', 'x'.repeat(101), { limits }), 'payload_too_large')
    refused(run('climate', 'x'.repeat(DEFAULT_LIMITS.maxPayloadBytes + 1), { limits: DEFAULT_LIMITS }), 'payload_too_large')
  })
})

describe('normalize: timestamps', () => {
  test('ISO-8601 with Z or an offset gives the right epoch ms', () => {
    assert.equal(accepted(tsOf('2031-06-15T11:59:00Z')).ts, Date.UTC(2031, 5, 15, 11, 59))
    assert.equal(accepted(tsOf('2031-06-15T13:30:00+02:00')).ts, Date.UTC(2031, 5, 15, 11, 30))
    assert.equal(accepted(tsOf('2031-06-15T06:45:10-05:00')).ts, Date.UTC(2031, 5, 15, 11, 45, 10))
    assert.equal(accepted(tsOf('2031-06-15T11:59:30.250Z')).ts, Date.UTC(2031, 5, 15, 11, 59, 30, 250))
    assert.equal(accepted(tsOf('2031-06-15T11:59:30.250Z')).tsFromReceipt, false)
  })

  test('a zone-less or date-only ISO string is refused with an example', () => {
    refused(tsOf('2031-06-15T12:00:00'), 'ts_invalid', /time zone/)
    refused(tsOf('2031-06-15'), 'ts_invalid', /time zone/)
    refused(tsOf('15/06/2031 12:00 UTC'), 'ts_invalid')
    refused(tsOf('2031-13-01T12:00:00Z'), 'ts_invalid', /not a real date/)
  })

  test('an impossible calendar day is refused, not rolled into the next month', () => {
    refused(tsOf('2031-02-30T12:00:00Z', { receivedAt: Date.UTC(2031, 2, 2, 12) }), 'ts_invalid')
  })

  test('epoch ms is accepted; epoch seconds are refused with a hint; non-integers refused', () => {
    assert.equal(accepted(tsOf(RX - 59_999)).ts, RX - 59_999)
    refused(tsOf(Math.floor(RX / 1000)), 'ts_invalid', /seconds.*milliseconds/)
    refused(tsOf(RX - 0.5), 'ts_invalid', /integer/)
  })

  test('an epoch ms beyond the Date range is refused, not thrown', () => {
    refused(tsOf(1e20), 'ts_future')
    refused(tsOf(-1e20), 'ts_invalid')
  })

  test('before 2020 is refused mentioning the device clock', () => {
    const forever = { ...LIMITS, maxPastMs: Number.MAX_SAFE_INTEGER }
    for (const ts of [0, -1, Date.UTC(2019, 11, 31, 23, 59, 59, 999), '1970-01-01T00:00:10Z']) {
      refused(tsOf(ts, { limits: forever, receivedAt: Date.UTC(2020, 0, 2) }), 'ts_invalid', /device clock/)
    }
    assert.equal(accepted(tsOf(Date.UTC(2020, 0, 1), { limits: forever, receivedAt: Date.UTC(2020, 0, 2) })).ts, Date.UTC(2020, 0, 1))
  })

  test('the future and past bounds: exactly at the bound accepted, one ms beyond refused', () => {
    assert.equal(accepted(tsOf(RX + LIMITS.maxFutureMs)).ts, RX + LIMITS.maxFutureMs)
    refused(tsOf(RX + LIMITS.maxFutureMs + 1), 'ts_future', /ahead of the gateway clock/)
    assert.equal(accepted(tsOf(RX - LIMITS.maxPastMs)).ts, RX - LIMITS.maxPastMs)
    refused(tsOf(RX - LIMITS.maxPastMs - 1), 'ts_too_old', /older than/)
    refused(tsOf('2031-06-15T12:01:00.001Z'), 'ts_future')
    refused(tsOf(RX - DEFAULT_LIMITS.maxPastMs - 1, { limits: DEFAULT_LIMITS }), 'ts_too_old', /30 days/)
    accepted(tsOf(RX - DEFAULT_LIMITS.maxPastMs, { limits: DEFAULT_LIMITS }))
  })

  test('a missing ts uses receivedAt and flags the reading', () => {
    const reading = accepted(run('climate', { fields: { temp_c: 20 } }, { receivedAt: RX + 123 }))
    assert.equal(reading.ts, RX + 123)
    assert.equal(reading.tsFromReceipt, true)
  })
})

describe('normalize: purity', () => {
  test('same input gives deep-equal output, without reading the clock or mutating the payload', (t) => {
    t.mock.method(Date, 'now', () => assert.fail('normalizeMqttReading read the clock'))
    for (const receivedAt of [Date.UTC(2021, 0, 5), RX]) {
      const payload = Buffer.from(JSON.stringify({ ts: receivedAt - 1000, fields: { temp_c: 19.5 }, tags: { room: 'hall' } }))
      const copy = Buffer.from(payload)
      const first = run('climate', payload, { receivedAt })
      const second = run('climate', payload, { receivedAt })
      assert.deepEqual(first, second)
      assert.equal(accepted(first).ts, receivedAt - 1000)
      assert.deepEqual(payload, copy)
      assert.deepEqual(run('climate', '{', { receivedAt }), run('climate', '{', { receivedAt }))
    }
  })
})

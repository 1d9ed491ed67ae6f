import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { fastCheck, normalizeMqttReading, zodCheck } from '../../../gateway/src/normalize/mqtt-reading.js'
import { mulberry32 } from '../../_support/prng.js'

// The fast path may only ever say "valid, and here is exactly what zod would have returned" or
// "ask zod". These properties pin that on generated payloads full of edge values: every boundary
// of every measurement's ranges, lengths one past each limit, wrong types, unknown keys, __proto__.
const MEASUREMENTS = ['climate', 'power', 'state', 'event', 'boiler', 'appliance'] as const
const FIELD_NAMES = [
  'temp_c',
  'humid_pct',
  'pressure_hpa',
  'co2_ppm',
  'battery_pct',
  'rssi_dbm',
  'power_w',
  'energy_wh',
  'voltage_v',
  'current_a',
  'power_factor',
  'door',
  'motion',
  'fall',
  'button',
  'confidence',
  'mode',
  'x',
  'a1_b',
  'Bad',
  '1st',
  `a${'b'.repeat(63)}`,
  `a${'b'.repeat(64)}`,
  '__proto__',
  'constructor',
]
const NUMBERS = [
  0,
  -0,
  0.5,
  1,
  -1,
  21.5,
  100,
  100.0001,
  -60,
  -60.5,
  300,
  1200,
  1201,
  50_000,
  -150,
  0.1,
  1e9,
  1e9 + 1,
  -1e9,
  1e12,
  1e15,
  1e15 + 2,
  -1e16,
]
const STRINGS = ['', 'open', 'closed', 'ajar', 'single', 'double', 'long', 'x'.repeat(64), 'x'.repeat(65), 'y'.repeat(256), 'y'.repeat(257)]

function generate(rnd: () => number): { text: string; measurement: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const value = (): unknown => {
    const r = rnd()
    if (r < 0.5) return pick(NUMBERS)
    if (r < 0.65) return rnd() < 0.5
    if (r < 0.9) return pick(STRINGS)
    return pick([null, [], [1], {}, { a: 1 }])
  }
  const entries = (names: readonly string[], n: number, v: () => unknown) =>
    `{${Array.from({ length: n }, () => `${JSON.stringify(pick(names))}:${JSON.stringify(v())}`).join(',')}}`
  const fieldCount = rnd() < 0.05 ? 30 + Math.floor(rnd() * 6) : Math.floor(rnd() * 4)
  const parts: string[] = []
  if (rnd() < 0.95)
    parts.push(`"fields":${rnd() < 0.05 ? JSON.stringify(value()) : entries(FIELD_NAMES.slice(0, rnd() < 0.5 ? 16 : undefined), fieldCount, value)}`)
  if (rnd() < 0.5)
    parts.push(`"ts":${JSON.stringify(pick([Date.UTC(2026, 10, 27), 1.5, '2026-11-27T10:00:00Z', 'x'.repeat(40), 'x'.repeat(41), null, true]))}`)
  if (rnd() < 0.4) {
    const tagNames = ['room', 'site', 'a_1', 'Room', '_x', `t${'a'.repeat(31)}`, `t${'a'.repeat(32)}`, '__proto__']
    const tagCount = rnd() < 0.1 ? 15 + Math.floor(rnd() * 4) : Math.floor(rnd() * 3)
    const tagValue = () => (rnd() < 0.85 ? pick(['hall', '', 'v'.repeat(128), 'v'.repeat(129)]) : pick([1, true, null]))
    // Distinct names for the count checks: 16 tags allowed, 17 not.
    const many = Array.from({ length: 20 }, (_, i) => `tag_${i}`)
    parts.push(`"tags":${entries(tagCount > 8 ? many : tagNames, tagCount, tagValue)}`)
  }
  if (rnd() < 0.03) parts.push(`"${pick(['extra', '__proto__', 'constructor'])}":1`)
  const text = rnd() < 0.03 ? pick(['[]', 'null', '"x"', '7']) : `{${parts.join(',')}}`
  return { text, measurement: pick(MEASUREMENTS) }
}

describe('payload validation: the fast path agrees with zod', () => {
  test('on 40,000 generated payloads it never accepts what zod refuses, returns exactly what zod returns, and takes every valid one without __proto__', () => {
    const rnd = mulberry32(20261127)
    let valid = 0
    let refused = 0
    for (let i = 0; i < 40_000; i++) {
      const { text, measurement } = generate(rnd)
      const parsed: unknown = JSON.parse(text)
      const fast = fastCheck(parsed, measurement)
      const zod = zodCheck(parsed, measurement)
      const where = `${measurement} ${text.slice(0, 300)}`
      if ('reason' in zod) {
        refused++
        assert.equal(fast, null, `fast path accepted what zod refuses (${zod.detail}): ${where}`)
        continue
      }
      valid++
      // zod silently drops a "__proto__" key of a record: the fast path leaves such payloads to it.
      if (fast === null) {
        assert.ok(text.includes('__proto__'), `a valid payload missed the fast path: ${where}`)
        continue
      }
      // The journal stores the JSON text: key order matters, not only the values.
      assert.equal(JSON.stringify(fast.fields), JSON.stringify(zod.fields), where)
      assert.equal(JSON.stringify(fast.tags), JSON.stringify(zod.tags), where)
      assert.equal(fast.ts, zod.ts, where)
    }
    // Neither side may be vacuous.
    assert.ok(valid > 4_000, `valid payloads generated: ${valid}`)
    assert.ok(refused > 4_000, `refused payloads generated: ${refused}`)
  })

  test('fixed measurements come out in the schema order whatever order the device sent', () => {
    const payload = Buffer.from('{"fields":{"battery_pct":90,"humid_pct":40,"temp_c":21.5},"tags":{"room":"hall"}}')
    const result = normalizeMqttReading({ deviceId: 'd1', measurement: 'climate', payload, receivedAt: Date.UTC(2026, 10, 27) })
    assert.ok(result.ok)
    assert.equal(JSON.stringify(result.reading.fields), '{"temp_c":21.5,"humid_pct":40,"battery_pct":90}')
    assert.deepEqual(result.reading.tags, { room: 'hall' })
  })

  test("a refused payload still gets zod's words", () => {
    const payload = Buffer.from('{"fields":{"temp_c":101}}')
    const result = normalizeMqttReading({ deviceId: 'd1', measurement: 'climate', payload, receivedAt: Date.UTC(2026, 10, 27) })
    assert.ok(!result.ok)
    assert.equal(result.rejection.reason, 'measurement_schema')
    assert.match(result.rejection.detail, /^climate: fields\.temp_c: .*100/)
  })
})

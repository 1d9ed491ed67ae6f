import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AnomalyDetector } from '../../../gateway/src/timeseries/anomaly-detector.js'

const settings = { window: 50, minSamples: 20, sigmas: 3 }

/** A deterministic wobble around 20 with standard deviation about 0.7. */
const wobble = (i: number) => 20 + Math.sin(i * 1.7) + 0.3 * Math.cos(i * 0.9)

describe('AnomalyDetector (3σ over a rolling window)', () => {
  test('flags a value far outside the recent spread, not the values inside it', () => {
    const d = new AnomalyDetector(settings, () => [])
    for (let i = 0; i < 40; i++) assert.deepEqual(d.check('t1', 'climate', { temp_c: wobble(i) }), [], `value ${i}`)
    assert.deepEqual(d.check('t1', 'climate', { temp_c: 35, humid_pct: 40 }), ['temp_c'])
    assert.deepEqual(d.check('t1', 'climate', { temp_c: wobble(41) }), [])
  })

  test('flags nothing before minSamples values are known', () => {
    const d = new AnomalyDetector(settings, () => [])
    for (let i = 0; i < 19; i++) d.check('t1', 'climate', { temp_c: 20 })
    assert.deepEqual(d.check('t1', 'climate', { temp_c: 1000 }), [])
  })

  test('series are independent: per device, measurement and field', () => {
    const d = new AnomalyDetector(settings, () => [])
    for (let i = 0; i < 30; i++) {
      d.check('a', 'climate', { temp_c: wobble(i) })
      d.check('b', 'climate', { temp_c: 80 + wobble(i) })
    }
    assert.deepEqual(d.check('a', 'climate', { temp_c: 100 }), ['temp_c'])
    assert.deepEqual(d.check('b', 'climate', { temp_c: 100 }), [])
  })

  test('a constant series does not flag a tiny wobble (σ floor of 1 % of the mean) but does flag a jump', () => {
    const d = new AnomalyDetector(settings, () => [])
    for (let i = 0; i < 30; i++) d.check('t', 'climate', { temp_c: 21 })
    assert.deepEqual(d.check('t', 'climate', { temp_c: 21.1 }), [])
    assert.deepEqual(d.check('t', 'climate', { temp_c: 25 }), ['temp_c'])
  })

  test('a lasting level shift stops being flagged once the window has learnt it', () => {
    const d = new AnomalyDetector(settings, () => [])
    for (let i = 0; i < 50; i++) d.check('p', 'power', { power_w: 100 + wobble(i) })
    const flags = Array.from({ length: 60 }, (_, i) => d.check('p', 'power', { power_w: 2000 + wobble(i) }).length)
    assert.equal(flags[0], 1)
    assert.equal(flags.at(-1), 0)
  })

  test('after a restart the window is seeded from the journal, once per series', () => {
    let seeds = 0
    const history = Array.from({ length: 40 }, (_, i) => ({ temp_c: wobble(i) }))
    const d = new AnomalyDetector(settings, () => {
      seeds++
      return history
    })
    assert.deepEqual(d.check('t1', 'climate', { temp_c: 35 }), ['temp_c'])
    d.check('t1', 'climate', { temp_c: 20 })
    assert.equal(seeds, 1)
  })

  test('booleans and strings are never flagged', () => {
    const d = new AnomalyDetector(settings, () => [])
    for (let i = 0; i < 30; i++) d.check('door', 'event', { door: 'closed', motion: false })
    assert.deepEqual(d.check('door', 'event', { door: 'open', motion: true }), [])
  })
})

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { FieldValue } from '../../../gateway/src/core/reading.js'
import { nextChange } from '../../../gateway/src/rules/conditions.js'
import type { Condition, Threshold } from '../../../gateway/src/rules/rule-model.js'
import { at, BERLIN, DAY, HOUR, iso, MIN, makeEnv, motion, Probe, reading, T0, temp, tempSeries, UTC_ENV } from './_rules.js'

/** Feeds values one per minute into a fresh probe and returns whether the condition held after each. */
function answers(c: Condition, values: readonly FieldValue[], mk: (v: FieldValue) => ReturnType<typeof temp> = temp): boolean[] {
  const p = new Probe(c)
  return values.map((v, i) => p.at(T0 + i * MIN, mk(v)))
}

const threshold = (t: Omit<Threshold, 'device' | 'measurement' | 'field'>): Condition => ({ threshold: { ...tempSeries, ...t } })
const next = (p: Probe, now: number) => nextChange(p.condition, '0', p.leaves, now, p.armedAt, p.env)

describe('threshold', () => {
  const ops: Array<[Threshold['op'], boolean[]]> = [
    ['>', [false, false, true]],
    ['>=', [false, true, true]],
    ['<', [true, false, false]],
    ['<=', [true, true, false]],
    ['==', [false, true, false]],
    ['!=', [true, false, true]],
  ]
  for (const [op, expected] of ops) {
    test(`${op} 30 on 29, 30, 31`, () => {
      assert.deepEqual(answers(threshold({ op, value: 30 }), [29, 30, 31]), expected)
    })
  }

  test('between and outside include / exclude their bounds', () => {
    assert.deepEqual(answers(threshold({ op: 'between', min: 18, max: 24 }), [17.9, 18, 21, 24, 24.1]), [false, true, true, true, false])
    assert.deepEqual(answers(threshold({ op: 'outside', min: 18, max: 24 }), [17.9, 18, 21, 24, 24.1]), [true, false, false, false, true])
  })

  test('booleans with == and !=', () => {
    const open = (v: FieldValue) => reading('door', 'contact', { open: v })
    const door = { device: 'door', measurement: 'contact', field: 'open' }
    assert.deepEqual(answers({ threshold: { ...door, op: '==', value: true } }, [false, true, false], open), [false, true, false])
    assert.deepEqual(answers({ threshold: { ...door, op: '!=', value: true } }, [false, true, false], open), [true, false, true])
  })

  test('strings with == and !=', () => {
    assert.deepEqual(answers(threshold({ op: '==', value: 'error' }), ['ok', 'error', 'ok']), [false, true, false])
    assert.deepEqual(answers(threshold({ op: '!=', value: 'ok' }), ['ok', 'error', 'ok']), [false, true, false])
  })

  test('== compares strictly: the string "30" is not 30, true is not 1', () => {
    assert.deepEqual(answers(threshold({ op: '==', value: 30 }), ['30', 30]), [false, true])
    assert.deepEqual(answers(threshold({ op: '==', value: 1 }), [true, 1]), [false, true])
  })

  test('numeric operators never hold on a string value', () => {
    for (const op of ['>', '>=', '<', '<='] as const) {
      assert.deepEqual(answers(threshold({ op, value: 30 }), ['31', '29', '30', 'unavailable']), [false, false, false, false], op)
    }
    assert.deepEqual(answers(threshold({ op: 'between', min: 0, max: 100 }), ['50']), [false])
    assert.deepEqual(answers(threshold({ op: 'outside', min: 0, max: 100 }), ['500']), [false])
  })

  test('before any reading it does not hold and shows no value', () => {
    const p = new Probe(threshold({ op: '<', value: 30 }))
    assert.equal(p.at(T0), false)
    assert.equal(p.view()?.value, null)
    assert.equal(p.view()?.kind, 'threshold')
  })

  test('keeps its answer across inputs that do not carry its series', () => {
    const p = new Probe(threshold({ op: '>', value: 30 }))
    assert.equal(p.at(T0, temp(31)), true)
    assert.equal(p.at(T0 + MIN), true, 'a tick')
    assert.equal(p.at(T0 + 2 * MIN, temp(10, 'other-thermo')), true, 'another device')
    assert.equal(p.at(T0 + 3 * MIN, reading('thermo', 'climate', { humid_pct: 10 })), true, 'another field')
    assert.equal(p.at(T0 + 4 * MIN, reading('thermo', 'power', { temp_c: 10 })), true, 'another measurement')
    assert.equal(p.at(T0 + 5 * MIN, temp(29)), false)
  })

  test('the view shows the value seen and what was compared', () => {
    const p = new Probe(threshold({ op: '>', value: 30 }))
    p.at(T0, temp(31.5))
    const v = p.view()
    assert.equal(v?.holds, true)
    assert.equal(v?.value, 31.5)
    assert.match(v?.detail ?? '', /thermo climate\.temp_c > 30/)
  })

  test('rose is set only on the reading that turns it on', () => {
    const p = new Probe(threshold({ op: '>', value: 30 }))
    p.at(T0, temp(29))
    assert.equal(p.rose, false)
    p.at(T0 + MIN, temp(31))
    assert.equal(p.rose, true)
    p.at(T0 + 2 * MIN, temp(32))
    assert.equal(p.rose, false)
  })
})

describe('threshold hysteresis', () => {
  test('> 30, hysteresis 2: on above 30, stays on at 29, off at ≤ 28', () => {
    assert.deepEqual(answers(threshold({ op: '>', value: 30, hysteresis: 2 }), [30, 30.5, 29, 28.1, 28, 29, 30, 31]), [
      false,
      true,
      true,
      true,
      false,
      false,
      false,
      true,
    ])
  })

  test('>= 30, hysteresis 2: on at 30, stays on at 28, off below 28', () => {
    assert.deepEqual(answers(threshold({ op: '>=', value: 30, hysteresis: 2 }), [29.9, 30, 28, 27.9, 29]), [false, true, true, false, false])
  })

  test('< 10, hysteresis 2: on below 10, stays on at 11, off at ≥ 12', () => {
    assert.deepEqual(answers(threshold({ op: '<', value: 10, hysteresis: 2 }), [10, 9.5, 11, 11.9, 12, 11, 10, 9]), [
      false,
      true,
      true,
      true,
      false,
      false,
      false,
      true,
    ])
  })

  test('<= 10, hysteresis 2: on at 10, stays on at 12, off above 12', () => {
    assert.deepEqual(answers(threshold({ op: '<=', value: 10, hysteresis: 2 }), [10.1, 10, 12, 12.1, 11]), [false, true, true, false, false])
  })

  test('between 18…24, hysteresis 1: on inside, stays on within 17…25, off beyond', () => {
    assert.deepEqual(answers(threshold({ op: 'between', min: 18, max: 24, hysteresis: 1 }), [25, 24, 25, 25.1, 24.5, 20, 17, 16.9, 17.5, 18]), [
      false,
      true,
      true,
      false,
      false,
      true,
      true,
      false,
      false,
      true,
    ])
  })

  test('outside 18…24, hysteresis 1: on outside, stays on until 1 back inside', () => {
    assert.deepEqual(answers(threshold({ op: 'outside', min: 18, max: 24, hysteresis: 1 }), [20, 17.5, 18.5, 19, 18.5, 24.5, 23.5, 23, 23.5]), [
      false,
      true,
      true,
      false,
      false,
      true,
      true,
      false,
      false,
    ])
  })

  test('outside 18…24, hysteresis 1: on below 18, a jump back to 23.5 (well inside, 5.5 above 18) turns it off', {}, () => {
    assert.deepEqual(answers(threshold({ op: 'outside', min: 18, max: 24, hysteresis: 1 }), [17, 23.5]), [true, false])
  })

  test('outside 18…24, hysteresis 3 (half the band): on below 18, off again back inside at 22', {}, () => {
    assert.deepEqual(answers(threshold({ op: 'outside', min: 18, max: 24, hysteresis: 3 }), [17, 22, 23, 20]), [true, false, false, false])
  })

  test('without hysteresis it turns off as soon as the bound is crossed back', () => {
    assert.deepEqual(answers(threshold({ op: '>', value: 30 }), [31, 30, 31, 29.99]), [true, false, true, false])
  })

  test('a string reading turns a hysteresis threshold off', () => {
    assert.deepEqual(answers(threshold({ op: '>', value: 30, hysteresis: 2 }), [31, 'unavailable', 29]), [true, false, false])
  })
})

describe('window', () => {
  // Armed long before: a window holds only once the rule has watched it for its whole length.
  const FILLED = T0 - DAY
  const win = (
    agg: 'avg' | 'min' | 'max' | 'sum' | 'count' | 'rate',
    op: '>' | '>=' | '<' | '<=' | '==' | '!=',
    value: number,
    over = '10m',
  ): Condition => ({
    window: { ...tempSeries, agg, over, op, value },
  })

  test('avg over 10 minutes; samples older than the window drop out, also on a tick', () => {
    const p = new Probe(win('avg', '>', 25), FILLED)
    assert.equal(p.at(T0, temp(20)), false)
    assert.equal(p.at(T0 + 2 * MIN, temp(30)), false, 'avg 25 is not > 25')
    assert.equal(p.view()?.value, 25)
    assert.equal(p.at(T0 + 4 * MIN, temp(40)), true, 'avg 30')
    assert.equal(p.at(T0 + 10 * MIN - 1), true, 'the first sample is still in')
    assert.equal(p.view()?.value, 30)
    assert.equal(p.at(T0 + 10 * MIN), true, 'the 20 drops out exactly 10 min after it came')
    assert.equal(p.view()?.value, 35)
    assert.match(p.view()?.detail ?? '', /2 readings/)
    assert.equal(p.at(T0 + 14 * MIN), false, 'empty window')
    assert.equal(p.view()?.value, null)
  })

  test('an old high value dropping out turns it off without any reading', () => {
    const p = new Probe(win('max', '>=', 30), FILLED)
    p.at(T0, temp(35))
    assert.equal(p.at(T0 + 5 * MIN, temp(20)), true)
    assert.equal(p.at(T0 + 10 * MIN), false)
    assert.equal(p.view()?.value, 20)
  })

  test('min, max, sum, count over the window', () => {
    const values = [22, 18, 25, 21]
    const feed = (c: Condition) => {
      const p = new Probe(c, FILLED)
      values.forEach((v, i) => {
        p.at(T0 + i * MIN, temp(v))
      })
      return p
    }
    const cases: Array<[Condition, number]> = [
      [win('min', '<', 19), 18],
      [win('max', '>', 24), 25],
      [win('sum', '==', 86), 86],
      [win('count', '>=', 4), 4],
      [win('avg', '==', 21.5), 21.5],
    ]
    for (const [c, value] of cases) {
      const p = feed(c)
      assert.equal(p.view()?.holds, true, JSON.stringify(c))
      assert.equal(p.view()?.value, value, JSON.stringify(c))
    }
    assert.equal(feed(win('min', '<', 18)).view()?.holds, false)
    assert.equal(feed(win('max', '>', 25)).view()?.holds, false)
    assert.equal(feed(win('count', '>', 4)).view()?.holds, false)
  })

  test('rate is the per-minute change from the first to the last sample', () => {
    const p = new Probe(win('rate', '>=', 2), FILLED)
    p.at(T0, temp(10))
    assert.equal(p.view()?.value, null, 'one sample has no rate')
    assert.equal(p.view()?.holds, false)
    p.at(T0 + MIN, temp(100))
    p.at(T0 + 5 * MIN, temp(20))
    assert.equal(p.view()?.value, 2, '(20 - 10) / 5 min, the middle sample does not count')
    assert.equal(p.view()?.holds, true)
    const falling = new Probe(win('rate', '<', -1, '30m'), FILLED)
    falling.at(T0, temp(30))
    falling.at(T0 + 20 * MIN, temp(0))
    assert.equal(falling.view()?.value, -1.5)
    assert.equal(falling.view()?.holds, true)
  })

  test('rate over a window: when the first sample drops out, the rate is from the next one', () => {
    const p = new Probe(win('rate', '>', 0), FILLED)
    p.at(T0, temp(50))
    p.at(T0 + 4 * MIN, temp(10))
    p.at(T0 + 8 * MIN, temp(12))
    assert.equal(p.view()?.holds, false)
    assert.equal(p.at(T0 + 10 * MIN), true)
    assert.equal(p.view()?.value, 0.5)
  })

  test('an empty window: count is 0, every other aggregate does not hold', () => {
    const count = new Probe(win('count', '==', 0), FILLED)
    assert.equal(count.at(T0), true)
    assert.equal(count.view()?.value, 0)
    assert.equal(new Probe(win('count', '<', 1), FILLED).at(T0 + MIN), true)
    for (const c of [
      win('avg', '<', 1e9),
      win('min', '<', 1e9),
      win('max', '>', -1e9),
      win('sum', '==', 0),
      win('sum', '>=', 0),
      win('rate', '==', 0),
    ]) {
      const p = new Probe(c)
      assert.equal(p.at(T0), false, JSON.stringify(c))
      assert.equal(p.view()?.value, null)
    }
  })

  test('count of readings drops back to 0 after the window passes', () => {
    const p = new Probe(win('count', '>=', 2, '5m'), FILLED)
    p.at(T0, temp(1))
    assert.equal(p.at(T0 + MIN, temp(1)), true)
    assert.equal(p.at(T0 + 5 * MIN), false)
    assert.equal(p.view()?.value, 1)
    p.at(T0 + 6 * MIN)
    assert.equal(p.view()?.value, 0)
  })

  test('booleans count as 1 and 0 (e.g. how many door openings)', () => {
    const door = { device: 'door', measurement: 'contact', field: 'open' }
    const p = new Probe({ window: { ...door, agg: 'sum', over: '1h', op: '>=', value: 2 } }, FILLED)
    p.at(T0, reading('door', 'contact', { open: true }))
    p.at(T0 + MIN, reading('door', 'contact', { open: false }))
    assert.equal(p.view()?.holds, false)
    p.at(T0 + 2 * MIN, reading('door', 'contact', { open: true }))
    assert.equal(p.view()?.holds, true)
    assert.equal(p.view()?.value, 2)
  })

  test('only its own series enters the window', () => {
    const p = new Probe(win('count', '>=', 1), FILLED)
    p.at(T0, temp(30, 'other'))
    p.at(T0 + MIN, reading('thermo', 'climate', { humid_pct: 40 }))
    assert.equal(p.view()?.holds, false)
    assert.equal(p.view()?.value, 0)
  })

  test('windowBlocked: a single reading satisfies the comparison but the aggregate does not (only on the rising reading)', () => {
    const p = new Probe(win('avg', '>', 30), FILLED)
    p.at(T0, temp(20))
    p.at(T0 + MIN, temp(20))
    assert.equal(p.windowBlocked, false)
    assert.equal(p.at(T0 + 2 * MIN, temp(45)), false)
    assert.equal(p.windowBlocked, true, '45 > 30 alone, avg 28.3')
    p.at(T0 + 3 * MIN, temp(32))
    assert.equal(p.windowBlocked, false, 'still above: not a new near miss')
    p.at(T0 + 4 * MIN, temp(10))
    assert.equal(p.windowBlocked, false)
    p.at(T0 + 5 * MIN, temp(31))
    assert.equal(p.windowBlocked, true, 'above again after a reading below')
    p.at(T0 + 6 * MIN, temp(200))
    assert.equal(p.view()?.holds, true)
    assert.equal(p.windowBlocked, false, 'the aggregate holds: no near miss')
  })

  test('nextChange: the oldest sample’s expiry, Infinity when empty', () => {
    const p = new Probe(win('avg', '>', 25), FILLED)
    assert.equal(next(p, T0), Number.POSITIVE_INFINITY)
    p.at(T0 + 30_000, temp(20))
    p.at(T0 + 3 * MIN, temp(30))
    assert.equal(next(p, T0 + 3 * MIN), T0 + 30_000 + 10 * MIN)
    p.at(T0 + 30_000 + 10 * MIN)
    assert.equal(next(p, T0 + 30_000 + 10 * MIN), T0 + 13 * MIN)
    p.at(T0 + 13 * MIN)
    assert.equal(next(p, T0 + 13 * MIN), Number.POSITIVE_INFINITY)
  })

  test('a non-numeric reading in a window survives a JSON round trip of the leaf state unchanged', {}, () => {
    const p = new Probe(win('count', '>=', 0), FILLED)
    p.at(T0, temp('unavailable'))
    const leaves = p.leaves
    assert.deepEqual(JSON.parse(JSON.stringify(leaves)), leaves)
  })
})

describe('change (edge)', () => {
  const door = { device: 'door', measurement: 'contact', field: 'open' }
  const open = (v: FieldValue) => reading('door', 'contact', { open: v })

  test('from → to: only that transition, and the first reading ever is not an edge', () => {
    assert.deepEqual(answers({ change: { ...door, from: false, to: true } }, [true, false, true, true, false, true], open), [
      false,
      false,
      true,
      false,
      false,
      true,
    ])
  })

  test('to only: from anything else', () => {
    const mode = { device: 'tv', measurement: 'state', field: 'mode' }
    const m = (v: FieldValue) => reading('tv', 'state', { mode: v })
    assert.deepEqual(answers({ change: { ...mode, to: 'on' } }, ['on', 'off', 'on', 'standby', 'on', 'on'], m), [
      false,
      false,
      true,
      false,
      true,
      false,
    ])
  })

  test('from only: to anything else', () => {
    assert.deepEqual(answers({ change: { ...tempSeries, from: 20 } }, [20, 20, 21, 20, 19], temp), [false, false, true, false, true])
  })

  test('rising and falling on numbers', () => {
    assert.deepEqual(answers({ change: { ...tempSeries, direction: 'rising' } }, [20, 21, 21, 19, 25], temp), [false, true, false, false, true])
    assert.deepEqual(answers({ change: { ...tempSeries, direction: 'falling' } }, [20, 21, 21, 19, 25], temp), [false, false, false, true, false])
  })

  test('rising and falling on booleans (false → true rises)', () => {
    assert.deepEqual(answers({ change: { ...door, direction: 'rising' } }, [false, true, true, false, true], open), [false, true, false, false, true])
    assert.deepEqual(answers({ change: { ...door, direction: 'falling' } }, [false, true, true, false, true], open), [
      false,
      false,
      false,
      true,
      false,
    ])
  })

  test('direction never holds on strings', () => {
    const mode = { device: 'tv', measurement: 'state', field: 'mode' }
    const m = (v: FieldValue) => reading('tv', 'state', { mode: v })
    assert.deepEqual(answers({ change: { ...mode, direction: 'rising' } }, ['a', 'b', 'c'], m), [false, false, false])
  })

  test('direction with to: both must agree', () => {
    assert.deepEqual(answers({ change: { ...tempSeries, to: 20, direction: 'rising' } }, [25, 20, 10, 20], temp), [false, false, false, true])
  })

  test('an edge holds only at its reading: a tick or another series next no longer holds', () => {
    const p = new Probe({ change: { ...door, to: true } })
    p.at(T0, open(false))
    assert.equal(p.at(T0 + MIN, open(true)), true)
    assert.equal(p.rose, true)
    assert.equal(p.at(T0 + 2 * MIN), false, 'tick')
    p.at(T0 + 3 * MIN, open(false))
    assert.equal(p.at(T0 + 4 * MIN, open(true)), true)
    assert.equal(p.at(T0 + 5 * MIN, reading('window', 'contact', { open: true })), false, 'another device')
    assert.equal(p.at(T0 + 6 * MIN, open(true)), false, 'same value again')
  })

  test('the view shows the new value and the transition asked for', () => {
    const p = new Probe({ change: { ...door, from: false, to: true } })
    p.at(T0, open(false))
    p.at(T0 + MIN, open(true))
    assert.equal(p.view()?.value, true)
    assert.match(p.view()?.detail ?? '', /door contact\.open false → true/)
  })

  test('nextChange: a change leaf has no deadline', () => {
    const p = new Probe({ change: { ...door, to: true } })
    p.at(T0, open(true))
    assert.equal(next(p, T0), Number.POSITIVE_INFINITY)
  })
})

describe('inactivity for a duration', () => {
  const kitchenMotion: Condition = { inactivity: { room: 'kitchen', measurement: 'motion', field: 'motion', equals: true, for: '30m' } }

  test('holds after D without a match, counted from arming', () => {
    const p = new Probe({ inactivity: { device: 'pir-kitchen', for: '30m' } })
    assert.equal(p.at(T0 + 29 * MIN), false)
    assert.equal(p.at(T0 + 30 * MIN - 1), false)
    assert.equal(p.at(T0 + 30 * MIN), true)
    assert.equal(p.view()?.value, 30, 'idle minutes')
  })

  test('counted from the last match', () => {
    const p = new Probe({ inactivity: { device: 'pir-kitchen', for: '30m' } })
    p.at(T0 + 10 * MIN, motion(true))
    assert.equal(p.at(T0 + 39 * MIN), false)
    assert.equal(p.at(T0 + 40 * MIN), true)
    assert.equal(p.at(T0 + 41 * MIN, motion(false)), false, 'any reading from the device matches when no field is named')
  })

  test('equals: a non-matching value does not reset the clock, a matching one does', () => {
    const p = new Probe(kitchenMotion)
    for (let m = 5; m < 30; m += 5) assert.equal(p.at(T0 + m * MIN, motion(false)), false)
    assert.equal(p.at(T0 + 30 * MIN, motion(false)), true, 'motion=false all along: inactive')
    assert.equal(p.at(T0 + 31 * MIN, motion(true)), false)
    assert.equal(p.at(T0 + 61 * MIN), true)
  })

  test('room selection uses env.roomOf: another room’s device does not reset it', () => {
    const p = new Probe(kitchenMotion)
    p.at(T0 + 20 * MIN, motion(true, 'pir-hall'))
    assert.equal(p.at(T0 + 30 * MIN), true)
    assert.equal(p.at(T0 + 35 * MIN, motion(true, 'unknown-device')), true)
    assert.equal(p.at(T0 + 40 * MIN, motion(true, 'pir-kitchen')), false)
  })

  test('a device moved into the room counts once env.roomOf says so', () => {
    const rooms: Record<string, string[]> = { kitchen: [] }
    const p = new Probe(kitchenMotion, T0, makeEnv('UTC', rooms))
    p.at(T0 + 10 * MIN, motion(true, 'pir-new'))
    rooms.kitchen = ['pir-new']
    p.at(T0 + 20 * MIN, motion(true, 'pir-new'))
    assert.equal(p.at(T0 + 49 * MIN), false)
    assert.equal(p.at(T0 + 50 * MIN), true)
  })

  test('devices selection: a match from any listed device resets it', () => {
    const p = new Probe({ inactivity: { devices: ['pir-a', 'pir-b'], for: '30m' } })
    p.at(T0 + 10 * MIN, motion(true, 'pir-b'))
    p.at(T0 + 20 * MIN, motion(true, 'pir-c'))
    assert.equal(p.at(T0 + 39 * MIN), false)
    assert.equal(p.at(T0 + 40 * MIN), true)
  })

  test('measurement and field filters', () => {
    const p = new Probe({ inactivity: { device: 'pir-kitchen', measurement: 'motion', field: 'motion', for: '30m' } })
    p.at(T0 + 10 * MIN, reading('pir-kitchen', 'battery', { motion: true }))
    p.at(T0 + 15 * MIN, reading('pir-kitchen', 'motion', { lux: 3 }))
    assert.equal(p.at(T0 + 30 * MIN), true, 'neither the wrong measurement nor a reading without the field resets it')
    p.at(T0 + 31 * MIN, reading('pir-kitchen', 'motion', { motion: false }))
    assert.equal(p.at(T0 + 32 * MIN), false, 'any value of the field matches without equals')
  })

  test('nextChange: armedAt + D, then last match + D, Infinity once it holds', () => {
    const p = new Probe({ inactivity: { device: 'pir-kitchen', for: '30m' } })
    assert.equal(next(p, T0), T0 + 30 * MIN)
    p.at(T0 + 7 * MIN, motion(true))
    assert.equal(next(p, T0 + 7 * MIN), T0 + 37 * MIN)
    p.at(T0 + 37 * MIN)
    assert.equal(next(p, T0 + 37 * MIN), Number.POSITIVE_INFINITY)
  })
})

describe('inactivity since + by ("no movement in the kitchen by 10:00", since 06:00)', () => {
  const noMorning: Condition = { inactivity: { room: 'kitchen', measurement: 'motion', field: 'motion', equals: true, since: '06:00', by: '10:00' } }
  const sat = (hhmm: string) => at(`2026-11-28T${hhmm}:00Z`)
  const sun = (hhmm: string) => at(`2026-11-29T${hhmm}:00Z`)

  test('holds at 10:00 with no match since 06:00 and goes on holding until a match — through the next morning too', () => {
    const p = new Probe(noMorning, sat('03:00'))
    assert.equal(p.at(sat('05:30'), motion(true)), false, 'before 06:00: does not count for today')
    assert.equal(p.at(sat('07:00'), motion(false)), false)
    assert.equal(p.at(sat('07:30'), motion(true, 'pir-hall')), false)
    assert.equal(p.at(sat('09:59')), false)
    assert.equal(p.at(sat('10:00')), true)
    assert.equal(p.at(sat('23:00')), true, 'still holding')
    assert.equal(p.at(sun('05:59')), true, 'still holding before the next 06:00')
    assert.equal(p.at(sun('06:00')), true, 'nobody since yesterday is still nobody: a new morning does not end it')
    assert.equal(p.at(sun('09:59')), true)
    assert.equal(p.at(sun('10:00')), true, 'no match this morning either')
    assert.equal(p.at(sun('10:15'), motion(true)), false, 'a match ends it')
    assert.equal(p.at(sun('22:00')), false)
  })

  test('a match between 06:00 and 10:00 means it does not hold that day', () => {
    const p = new Probe(noMorning, sat('03:00'))
    p.at(sat('08:12'), motion(true))
    assert.equal(p.at(sat('10:00')), false)
    assert.equal(p.at(sat('18:00')), false)
    assert.equal(p.at(sun('10:00')), true)
  })

  test('in the home time zone (Europe/Berlin: 06:00–10:00 CET is 05:00–09:00Z)', () => {
    const env = makeEnv(BERLIN, { kitchen: ['pir-kitchen'] })
    const p = new Probe(noMorning, sat('03:00'), env)
    p.at(sat('04:30'), motion(true))
    assert.equal(p.at(sat('08:59')), false, '09:59 CET')
    assert.equal(p.at(sat('09:00')), true, '10:00 CET: the match at 05:30 CET was before 06:00 CET')
    const q = new Probe(noMorning, sat('03:00'), env)
    q.at(sat('05:30'), motion(true))
    assert.equal(q.at(sat('09:00')), false, 'a match at 06:30 CET counts')
  })

  test('nextChange: the next 06:00 or 10:00, whichever comes first', () => {
    const p = new Probe(noMorning, sat('03:00'))
    p.at(sat('03:00'))
    assert.equal(next(p, sat('03:00')), sat('06:00'))
    assert.equal(next(p, sat('06:00')), sat('10:00'))
    assert.equal(next(p, sat('10:00')), sun('06:00'))
  })
})

describe('silence (device health) vs inactivity (behaviour)', () => {
  test('a device that keeps sending motion=false is not silent but is inactive', () => {
    const silence = new Probe({ silence: { device: 'pir-kitchen', for: '1h' } })
    const inactivity = new Probe({ inactivity: { device: 'pir-kitchen', field: 'motion', equals: true, for: '1h' } })
    for (let m = 10; m <= 120; m += 10) {
      const e = motion(false)
      silence.at(T0 + m * MIN, e)
      inactivity.at(T0 + m * MIN, e)
    }
    assert.equal(silence.view()?.holds, false)
    assert.equal(inactivity.view()?.holds, true)
  })

  test('silence: any reading at all resets it, holds after D', () => {
    const p = new Probe({ silence: { device: 'pir-kitchen', for: '1h' } })
    p.at(T0 + 10 * MIN, reading('pir-kitchen', 'battery', { pct: 80 }))
    assert.equal(p.at(T0 + 70 * MIN - 1), false)
    assert.equal(p.at(T0 + 70 * MIN), true)
    assert.equal(p.view()?.value, 'pir-kitchen')
    assert.equal(p.at(T0 + 71 * MIN, motion(false)), false)
  })

  test('room selection uses env.devicesIn: a device that never reported is silent D after arming', () => {
    const p = new Probe({ silence: { room: 'kitchen', for: '1h' } })
    p.at(T0) // armed: the engine looks at a new rule at once, which starts every selected device's clock
    for (let m = 10; m <= 50; m += 10) p.at(T0 + m * MIN, motion(true, 'pir-kitchen'))
    assert.equal(p.at(T0 + 60 * MIN - 1), false)
    assert.equal(p.at(T0 + 60 * MIN), true)
    assert.equal(p.view()?.value, 'door-kitchen')
    assert.match(p.view()?.detail ?? '', /door-kitchen/)
    assert.match(p.view()?.detail ?? '', /of 2/)
  })

  test('readings from devices outside the selection do not count', () => {
    const p = new Probe({ silence: { devices: ['pir-kitchen'], for: '1h' } })
    p.at(T0)
    p.at(T0 + 30 * MIN, motion(true, 'pir-hall'))
    assert.equal(p.at(T0 + 60 * MIN), true)
  })

  test('a device that joins the room later is silent D after it joined, not after the rule was made', () => {
    const devices = ['pir-kitchen']
    const env = { ...UTC_ENV, devicesIn: (room: string) => (room === 'kitchen' ? devices : []) }
    const p = new Probe({ silence: { room: 'kitchen', for: '1h' } }, T0, env)
    p.at(T0)
    p.at(T0 + 5 * DAY, motion(true, 'pir-kitchen'))
    devices.push('door-kitchen') // moved into the kitchen five days after the rule was made
    assert.equal(p.at(T0 + 5 * DAY + MIN), false)
    p.at(T0 + 5 * DAY + 30 * MIN, motion(true, 'pir-kitchen')) // the kitchen's PIR keeps reporting
    assert.equal(p.at(T0 + 5 * DAY + MIN + HOUR - 1), false)
    assert.equal(p.at(T0 + 5 * DAY + MIN + HOUR), true)
  })

  test('nextChange: the earliest device to go silent', () => {
    const p = new Probe({ silence: { room: 'kitchen', for: '1h' } })
    assert.equal(next(p, T0), T0 + 1, 'devices not seen selected yet: look at once, which starts their clocks')
    p.at(T0)
    assert.equal(next(p, T0), T0 + HOUR)
    p.at(T0 + 10 * MIN, motion(true, 'pir-kitchen'))
    p.at(T0 + 20 * MIN, reading('door-kitchen', 'contact', { open: false }))
    assert.equal(next(p, T0 + 20 * MIN), T0 + 70 * MIN)
    const empty = new Probe({ silence: { room: 'attic', for: '1h' } })
    assert.equal(empty.at(T0 + DAY), false)
    assert.equal(next(empty, T0), Number.POSITIVE_INFINITY)
  })
})

describe('time windows', () => {
  const berlin = makeEnv(BERLIN)
  const timeAt = (c: Condition, t: number, env = berlin) => new Probe(c, T0, env).at(t)

  test('from/to in the home time zone', () => {
    const evening: Condition = { time: { from: '18:00', to: '23:00' } }
    assert.equal(timeAt(evening, at('2026-11-27T16:59:00Z')), false, '17:59 CET')
    assert.equal(timeAt(evening, at('2026-11-27T17:00:00Z')), true, '18:00 CET')
    assert.equal(timeAt(evening, at('2026-11-27T21:59:00Z')), true, '22:59 CET')
    assert.equal(timeAt(evening, at('2026-11-27T22:00:00Z')), false, '23:00 CET')
    assert.equal(timeAt(evening, at('2026-11-27T22:00:00Z'), UTC_ENV), true, '22:00 UTC')
  })

  test('wrapping past midnight', () => {
    const night: Condition = { time: { from: '22:00', to: '07:00' } }
    assert.equal(timeAt(night, T0), true, '22:00 CET')
    assert.equal(timeAt(night, at('2026-11-28T01:00:00Z')), true, '02:00 CET')
    assert.equal(timeAt(night, at('2026-11-28T05:59:00Z')), true, '06:59 CET')
    assert.equal(timeAt(night, at('2026-11-28T06:00:00Z')), false, '07:00 CET')
    assert.equal(timeAt(night, at('2026-11-28T12:00:00Z')), false)
  })

  test('a night window belongs to the evening it began: Friday 22:00–07:00 includes Saturday 02:00, not Friday 02:00', () => {
    const fridayNight: Condition = { time: { from: '22:00', to: '07:00', days: ['fri'] } }
    assert.equal(timeAt(fridayNight, T0), true, 'Fri 22:00 CET')
    assert.equal(timeAt(fridayNight, at('2026-11-28T01:00:00Z')), true, 'Sat 02:00 CET')
    assert.equal(timeAt(fridayNight, at('2026-11-28T05:59:00Z')), true, 'Sat 06:59 CET')
    assert.equal(timeAt(fridayNight, at('2026-11-28T06:00:00Z')), false, 'Sat 07:00 CET')
    assert.equal(timeAt(fridayNight, at('2026-11-27T01:00:00Z')), false, 'Fri 02:00 CET belongs to Thursday night')
    assert.equal(timeAt(fridayNight, at('2026-11-28T21:00:00Z')), false, 'Sat 22:00 CET')
    assert.equal(timeAt({ time: { from: '22:00', to: '07:00', days: ['thu'] } }, at('2026-11-27T01:00:00Z')), true)
    // Sunday night runs into Monday: the week wraps too.
    assert.equal(timeAt({ time: { from: '22:00', to: '07:00', days: ['sun'] } }, at('2026-11-30T01:00:00Z')), true, 'Mon 02:00 CET')
  })

  test('days alone: whole local days', () => {
    const weekend: Condition = { time: { days: ['sat', 'sun'] } }
    assert.equal(timeAt(weekend, at('2026-11-27T22:59:00Z')), false, 'Fri 23:59 CET')
    assert.equal(timeAt(weekend, at('2026-11-27T23:00:00Z')), true, 'Sat 00:00 CET')
    assert.equal(timeAt(weekend, at('2026-11-27T23:00:00Z'), UTC_ENV), false, 'Fri 23:00 UTC')
    assert.equal(timeAt(weekend, at('2026-11-29T22:59:00Z')), true, 'Sun 23:59 CET')
    assert.equal(timeAt(weekend, at('2026-11-29T23:00:00Z')), false, 'Mon 00:00 CET')
  })

  test('a daytime window with days', () => {
    const weekdays: Condition = { time: { from: '08:00', to: '20:00', days: ['mon', 'tue', 'wed', 'thu', 'fri'] } }
    assert.equal(timeAt(weekdays, at('2026-11-27T10:00:00Z')), true, 'Fri 11:00')
    assert.equal(timeAt(weekdays, at('2026-11-28T10:00:00Z')), false, 'Sat 11:00')
  })

  test('across spring-forward (2027-03-28): a 22:00–07:00 window ends at 07:00 CEST', () => {
    const night: Condition = { time: { from: '22:00', to: '07:00' } }
    assert.equal(timeAt(night, at('2027-03-28T00:30:00Z')), true, '01:30 CET')
    assert.equal(timeAt(night, at('2027-03-28T01:30:00Z')), true, '03:30 CEST')
    assert.equal(timeAt(night, at('2027-03-28T04:59:00Z')), true, '06:59 CEST')
    assert.equal(timeAt(night, at('2027-03-28T05:00:00Z')), false, '07:00 CEST')
    const p = new Probe(night, T0, berlin)
    assert.equal(next(p, at('2027-03-27T21:30:00Z')), at('2027-03-28T05:00:00Z'))
  })

  test('across fall-back (2026-10-25): a 22:00–07:00 window ends at 07:00 CET; 02:00–03:00 holds for both passes', () => {
    const night: Condition = { time: { from: '22:00', to: '07:00' } }
    assert.equal(timeAt(night, at('2026-10-25T05:59:00Z')), true, '06:59 CET')
    assert.equal(timeAt(night, at('2026-10-25T06:00:00Z')), false, '07:00 CET')
    assert.equal(next(new Probe(night, T0, berlin), at('2026-10-24T21:00:00Z')), at('2026-10-25T06:00:00Z'))
    const twoToThree: Condition = { time: { from: '02:00', to: '03:00' } }
    assert.equal(timeAt(twoToThree, at('2026-10-25T00:30:00Z')), true, '02:30 CEST')
    assert.equal(timeAt(twoToThree, at('2026-10-25T01:30:00Z')), true, '02:30 CET')
    assert.equal(timeAt(twoToThree, at('2026-10-25T02:00:00Z')), false, '03:00 CET')
    // 02:00 CET (01:00Z) is a boundary of the repeated hour: looked at again, still holding, until 03:00 CET.
    const n = next(new Probe(twoToThree, T0, berlin), at('2026-10-25T00:30:00Z'))
    assert.ok(n === at('2026-10-25T01:00:00Z') || n === at('2026-10-25T02:00:00Z'), iso(n))
    assert.equal(timeAt(twoToThree, n), true)
  })

  test('nextChange finds a window’s start in the repeated hour (02:00–02:45 starts again at 02:00 CET, 01:00Z)', {}, () => {
    const c: Condition = { time: { from: '02:00', to: '02:45' } }
    const p = new Probe(c, T0, berlin)
    assert.equal(p.at(at('2026-10-25T00:50:00Z')), false)
    assert.equal(new Probe(c, T0, berlin).at(at('2026-10-25T01:00:00Z')), true, 'the leaf itself agrees it holds')
    assert.equal(iso(next(p, at('2026-10-25T00:50:00Z'))), '2026-10-25T01:00:00.000Z')
  })

  test('nextChange finds a window starting in the skipped hour (02:30–04:00 starts at 03:00 CEST, 01:00Z)', {}, () => {
    const c: Condition = { time: { from: '02:30', to: '04:00' } }
    assert.equal(new Probe(c, T0, berlin).at(at('2027-03-28T01:00:00Z')), true, 'the leaf itself agrees it holds at 03:00 CEST')
    assert.equal(iso(next(new Probe(c, T0, berlin), at('2027-03-27T23:00:00Z'))), '2027-03-28T01:00:00.000Z')
  })

  test('nextChange: the next from or to; with days only, the next local midnight', () => {
    assert.equal(next(new Probe({ time: { from: '22:00', to: '07:00' } }, T0, berlin), T0), at('2026-11-28T06:00:00Z'))
    assert.equal(next(new Probe({ time: { from: '08:00', to: '20:00' } }, T0, berlin), T0), at('2026-11-28T07:00:00Z'))
    assert.equal(next(new Probe({ time: { days: ['sat'] } }, T0, berlin), T0), at('2026-11-27T23:00:00Z'))
  })
})

describe('all / any / not', () => {
  const berlin = makeEnv(BERLIN, { kitchen: ['pir-kitchen'] })
  const hotNotAtNight: Condition = {
    all: [{ threshold: { ...tempSeries, op: '>', value: 30 } }, { not: { time: { from: '22:00', to: '07:00' } } }],
  }

  test('all[threshold, not[time]]', () => {
    const p = new Probe(hotNotAtNight, T0, berlin)
    assert.equal(p.at(at('2026-11-27T14:00:00Z'), temp(35)), true, '15:00 CET, hot')
    assert.equal(p.at(at('2026-11-27T21:30:00Z')), false, '22:30 CET, at night')
    assert.equal(p.at(at('2026-11-28T06:00:00Z')), true, '07:00 CET, still hot')
    assert.equal(p.at(at('2026-11-28T07:00:00Z'), temp(25)), false)
  })

  test('every leaf leaves a view, with its path', () => {
    const p = new Probe(hotNotAtNight, T0, berlin)
    p.at(at('2026-11-27T21:30:00Z'), temp(35))
    assert.deepEqual(
      p.views.map((v) => [v.path, v.kind, v.holds]),
      [
        ['0.0', 'threshold', true],
        ['0.1.0', 'time', true],
      ],
    )
    assert.equal(p.views[0]?.value, 35)
  })

  test('any[inactivity, silence]', () => {
    const c: Condition = {
      any: [{ inactivity: { room: 'kitchen', field: 'motion', equals: true, for: '2h' } }, { silence: { device: 'pir-kitchen', for: '1h' } }],
    }
    const p = new Probe(c, T0, berlin)
    p.at(T0) // armed
    assert.equal(p.at(T0 + 59 * MIN), false)
    assert.equal(p.at(T0 + 60 * MIN), true, 'silent')
    assert.equal(p.at(T0 + 61 * MIN, motion(false)), false, 'reporting again, and only 61 min without movement')
    assert.equal(p.at(T0 + 120 * MIN, motion(false)), true, 'two hours without movement')
    assert.equal(p.at(T0 + 121 * MIN, motion(true)), false)
    assert.equal(next(p, T0 + 121 * MIN), T0 + 181 * MIN)
  })

  test('not of a lasting condition, nested inside any', () => {
    const c: Condition = {
      any: [{ not: { threshold: { ...tempSeries, op: '>=', value: 16 } } }, { threshold: { ...tempSeries, op: '>', value: 30 } }],
    }
    const p = new Probe(c)
    assert.equal(p.at(T0, temp(20)), false)
    assert.equal(p.at(T0 + MIN, temp(15)), true)
    assert.equal(p.at(T0 + 2 * MIN, temp(31)), true)
  })

  test('no short-circuit: a window keeps counting while a sibling is false', () => {
    const c: Condition = { all: [{ time: { days: ['sat'] } }, { window: { ...tempSeries, agg: 'count', over: '1h', op: '>=', value: 2 } }] }
    const p = new Probe(c)
    assert.equal(p.at(at('2026-11-27T23:20:00Z'), temp(20)), false)
    assert.equal(p.at(at('2026-11-27T23:40:00Z'), temp(20)), false)
    assert.equal(p.at(at('2026-11-28T00:00:00Z')), true, 'Saturday, and both readings are in the window')
    const q = new Probe({ any: [{ threshold: { ...tempSeries, op: '>', value: 0 } }, { change: { ...tempSeries, direction: 'rising' } }] })
    q.at(T0, temp(1))
    q.at(T0 + MIN, temp(2))
    assert.equal(q.view('0.1')?.holds, true, 'the change leaf saw both readings though the first branch already held')
  })

  test('nextChange of a tree is the earliest of its leaves', () => {
    const c: Condition = {
      all: [{ inactivity: { device: 'pir-kitchen', for: '3h' } }, { not: { time: { from: '23:30', to: '07:00' } } }],
    }
    const p = new Probe(c, T0)
    assert.equal(next(p, T0), at('2026-11-27T23:30:00Z'))
    assert.equal(next(p, at('2026-11-27T23:30:00Z')), T0 + 3 * HOUR)
  })
})

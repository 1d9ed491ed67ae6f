import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { compile, deviceOf, type Effect, initialState, nextDeadline, step } from '../../../gateway/src/rules/evaluator.js'
import type { Condition } from '../../../gateway/src/rules/rule-model.js'
import { at, BERLIN, DAY, HOUR, iso, MIN, makeEnv, makeRule, motion, Run, reading, SEC, T0, temp, tempSeries, UTC_ENV } from './_rules.js'

const hot: Condition = { threshold: { ...tempSeries, op: '>', value: 30 } }
const doorOpens: Condition = { change: { device: 'door', measurement: 'contact', field: 'open', from: false, to: true } }
const door = (open: boolean) => reading('door', 'contact', { open })
const fireOf = (e: Effect | undefined) => {
  assert.equal(e?.type, 'fire')
  return e as Extract<Effect, { type: 'fire' }>
}

describe('compile, initialState, step basics', () => {
  test('compile parses durations once and knows momentary rules', () => {
    const c = compile(makeRule(hot, { for: '5m', cooldown: '1h' }))
    assert.equal(c.forMs, 5 * MIN)
    assert.equal(c.cooldownMs, HOUR)
    assert.equal(c.momentary, false)
    const m = compile(makeRule(doorOpens))
    assert.equal(m.forMs, 0)
    assert.equal(m.cooldownMs, 0)
    assert.equal(m.momentary, true)
  })

  test('initialState: armed now, not holding, nothing fired', () => {
    assert.deepEqual(initialState(T0), {
      v: 1,
      at: T0,
      armedAt: T0,
      holding: false,
      since: null,
      fired: false,
      blocked: null,
      cooldownUntil: null,
      lastFiredAt: null,
      leaves: {},
      fresh: true,
    })
  })

  test('step updates the state in place and returns it', () => {
    const c = compile(makeRule(hot))
    const s = initialState(T0)
    const r = step(c, s, { at: T0 + SEC, event: temp(31) }, UTC_ENV)
    assert.equal(r.state, s)
    assert.equal(s.at, T0 + SEC)
    assert.equal(s.holding, true)
    assert.equal(s.lastFiredAt, T0 + SEC)
  })

  test('a tick at the state’s own time does nothing; the clock never goes back', () => {
    const run = new Run(makeRule(hot), T0)
    run.read(T0 + 10 * MIN, temp(20))
    assert.deepEqual(run.tick(T0 + 10 * MIN), { state: run.state, effects: [], traces: [] })
    const late = run.read(T0 + 5 * MIN, temp(31))
    assert.equal(run.state.at, T0 + 10 * MIN)
    assert.equal(fireOf(late.effects[0]).at, T0 + 10 * MIN, 'a reading stamped in the past is taken at the evaluator’s clock')
  })

  test('deviceOf: the first device a condition names', () => {
    assert.equal(deviceOf(hot), 'thermo')
    assert.equal(deviceOf({ all: [{ time: { days: ['mon'] } }, { not: { silence: { devices: ['pir-1', 'pir-2'], for: '1h' } } }] }), 'pir-1')
    assert.equal(deviceOf({ any: [{ time: { days: ['mon'] } }, { inactivity: { room: 'kitchen', for: '1h' } }] }), null)
  })
})

describe('threshold rules: fire, clear, fire again', () => {
  test('fires on the reading that crosses, with that reading as trigger; clears when it stops holding', () => {
    const run = new Run(makeRule(hot), T0)
    run.read(T0 + MIN, temp(29))
    const crossing = temp(31.5)
    run.read(T0 + 2 * MIN, crossing)
    run.read(T0 + 3 * MIN, temp(33))
    const back = temp(29)
    run.read(T0 + 4 * MIN, back)
    run.read(T0 + 5 * MIN, temp(35))
    assert.deepEqual(
      run.effects.map((e) => [e.type, e.at - T0, e.seq]),
      [
        ['fire', 2 * MIN, crossing.seq],
        ['clear', 4 * MIN, back.seq],
        ['fire', 5 * MIN, run.effects[2]?.seq],
      ],
    )
    const f = fireOf(run.effects[0])
    assert.equal(f.trigger, crossing)
    assert.equal(f.quietUntil, null)
    assert.equal(f.views.find((v) => v.kind === 'threshold')?.value, 31.5, 'the firing shows the value that crossed')
  })

  test('hysteresis: > 30, hysteresis 2 clears only at ≤ 28', () => {
    const run = new Run(makeRule({ threshold: { ...tempSeries, op: '>', value: 30, hysteresis: 2 } }), T0)
    for (const [i, v] of [31, 29, 28.5, 30, 28, 29, 30.5].entries()) run.read(T0 + (i + 1) * MIN, temp(v))
    assert.deepEqual(
      run.effects.map((e) => [e.type, (e.at - T0) / MIN]),
      [
        ['fire', 1],
        ['clear', 5],
        ['fire', 7],
      ],
    )
  })
})

describe('for: holding long enough', () => {
  const rule = makeRule(hot, { for: '5m' })

  test('fires exactly at since + for, even when the next input comes hours later; the trigger is the timer', () => {
    const run = new Run(rule, T0)
    const start = temp(31)
    run.read(T0 + 10 * SEC, start)
    assert.deepEqual(run.effects, [])
    assert.equal(nextDeadline(run.compiled, run.state, UTC_ENV), T0 + 10 * SEC + 5 * MIN)
    run.tick(T0 + 3 * HOUR)
    assert.equal(run.effects.length, 1)
    const f = fireOf(run.effects[0])
    assert.equal(f.at, T0 + 10 * SEC + 5 * MIN)
    assert.equal(f.trigger, null)
    assert.equal(f.seq, start.seq, 'the reading behind a timer’s firing is the one that began the episode')
    assert.equal(run.tracesOf('fired')[0]?.at, T0 + 10 * SEC + 5 * MIN)
  })

  test('the firing keeps its own instant when the next input is a reading that ends the episode', () => {
    const run = new Run(rule, T0)
    run.read(T0, temp(31))
    run.read(T0 + 2 * HOUR, temp(20))
    assert.deepEqual(
      run.effects.map((e) => [e.type, e.at - T0]),
      [
        ['fire', 5 * MIN],
        ['clear', 2 * HOUR],
      ],
    )
  })

  test('traces armed when the for starts, with the values seen and the instant it would fire', () => {
    const run = new Run(rule, T0)
    run.read(T0 + MIN, temp(31.2))
    const [armed] = run.tracesOf('armed')
    assert.ok(armed)
    assert.equal(armed.at, T0 + MIN)
    assert.equal(armed.reason, null)
    assert.match(armed.message, new RegExp(iso(T0 + 6 * MIN).replace(/\./g, '\\.')))
    assert.equal(armed.views[0]?.value, 31.2)
    assert.equal(armed.views[0]?.holds, true)
  })

  test('the timer resets if the condition stops holding before: near miss "for" with the held duration', () => {
    const run = new Run(rule, T0)
    run.read(T0, temp(31))
    const drop = temp(29.5)
    run.read(T0 + 90 * SEC, drop)
    run.tick(T0 + 10 * MIN)
    assert.deepEqual(run.effects, [])
    const [miss] = run.tracesOf('near_miss')
    assert.ok(miss)
    assert.equal(miss.reason, 'for')
    assert.equal(miss.at, T0 + 90 * SEC)
    assert.equal(miss.seq, drop.seq)
    assert.match(miss.message, /90 s/)
    assert.match(miss.message, /5m/)
    assert.equal(miss.views[0]?.value, 29.5)
    // A new episode counts afresh from its own start.
    run.read(T0 + 11 * MIN, temp(31))
    run.read(T0 + 15 * MIN, temp(32))
    assert.deepEqual(run.fires(), [])
    run.tick(T0 + 16 * MIN)
    assert.deepEqual(run.fires(), [T0 + 16 * MIN])
  })

  test('fires once per holding episode, again in a new episode', () => {
    const run = new Run(rule, T0)
    run.read(T0, temp(31))
    for (let m = 1; m <= 30; m++) run.read(T0 + m * MIN, temp(31 + (m % 3)))
    assert.deepEqual(run.fires(), [T0 + 5 * MIN])
    run.read(T0 + 31 * MIN, temp(25))
    assert.deepEqual(run.clears(), [T0 + 31 * MIN])
    run.read(T0 + 40 * MIN, temp(31))
    run.tick(T0 + 2 * HOUR)
    assert.deepEqual(run.fires(), [T0 + 5 * MIN, T0 + 45 * MIN])
    assert.equal(run.tracesOf('armed').length, 2)
    assert.equal(run.tracesOf('fired').length, 2)
    assert.equal(run.tracesOf('cleared').length, 1)
    assert.match(run.tracesOf('cleared')[0]?.message ?? '', /31 min/)
  })

  test('a reading exactly at since + for: fires at that instant, once', () => {
    const run = new Run(rule, T0)
    run.read(T0, temp(31))
    run.read(T0 + 5 * MIN, temp(31))
    assert.deepEqual(run.fires(), [T0 + 5 * MIN])
  })
})

describe('cooldown', () => {
  test('a new episode inside the cooldown does not fire (traced once); if it still holds at the cooldown’s end it fires then', () => {
    const run = new Run(makeRule(hot, { cooldown: '10m' }), T0)
    run.read(T0, temp(31))
    run.read(T0 + MIN, temp(29))
    const again = temp(31)
    run.read(T0 + 2 * MIN, again)
    run.read(T0 + 3 * MIN, temp(32))
    run.read(T0 + 4 * MIN, temp(33))
    assert.deepEqual(run.fires(), [T0])
    const misses = run.tracesOf('near_miss')
    assert.equal(misses.length, 1)
    assert.equal(misses[0]?.reason, 'cooldown')
    assert.equal(misses[0]?.at, T0 + 2 * MIN)
    assert.match(misses[0]?.message ?? '', new RegExp(iso(T0 + 10 * MIN).replace(/\./g, '\\.')))
    assert.equal(nextDeadline(run.compiled, run.state, UTC_ENV), T0 + 10 * MIN)
    run.tick(T0 + HOUR)
    assert.deepEqual(run.fires(), [T0, T0 + 10 * MIN])
    assert.equal(fireOf(run.effects.at(-1)).trigger, null)
    assert.equal(fireOf(run.effects.at(-1)).seq, again.seq, 'the reading that began the blocked episode')
  })

  test('an episode that ends inside the cooldown never fires and does not clear', () => {
    const run = new Run(makeRule(hot, { cooldown: '10m' }), T0)
    run.read(T0, temp(31))
    run.read(T0 + MIN, temp(29))
    run.read(T0 + 2 * MIN, temp(31))
    run.read(T0 + 3 * MIN, temp(29))
    run.tick(T0 + HOUR)
    assert.deepEqual(
      run.effects.map((e) => [e.type, e.at - T0]),
      [
        ['fire', 0],
        ['clear', MIN],
      ],
    )
  })

  test('after the cooldown a new episode fires at once', () => {
    const run = new Run(makeRule(hot, { cooldown: '10m' }), T0)
    run.read(T0, temp(31))
    run.read(T0 + MIN, temp(29))
    run.read(T0 + 10 * MIN, temp(31))
    assert.deepEqual(run.fires(), [T0, T0 + 10 * MIN])
    assert.deepEqual(run.tracesOf('near_miss'), [])
  })

  test('the cooldown counts from the firing; a second blocked episode is traced again', () => {
    const run = new Run(makeRule(hot, { for: '5m', cooldown: '30m' }), T0)
    run.read(T0, temp(31))
    run.read(T0 + 6 * MIN, temp(29))
    run.read(T0 + 10 * MIN, temp(31))
    run.read(T0 + 16 * MIN, temp(29))
    run.read(T0 + 20 * MIN, temp(31))
    run.tick(T0 + 2 * HOUR)
    assert.deepEqual(run.fires(), [T0 + 5 * MIN, T0 + 35 * MIN], 'the third episode completes its for at 25 min, waits for 35 min')
    assert.deepEqual(
      run.tracesOf('near_miss').map((t) => [t.reason, t.at - T0]),
      [
        ['cooldown', 15 * MIN],
        ['cooldown', 25 * MIN],
      ],
    )
  })
})

describe('quiet hours', () => {
  const berlin = makeEnv(BERLIN)
  const quiet = { quietHours: { from: '22:00', to: '07:00' } }

  test('a firing inside quiet hours carries quietUntil, the next end of quiet hours', () => {
    const run = new Run(makeRule(hot, quiet), T0, berlin)
    run.read(T0 + MIN, temp(31))
    assert.equal(iso(fireOf(run.effects[0]).quietUntil ?? 0), '2026-11-28T06:00:00.000Z')
    const [fired] = run.tracesOf('fired')
    assert.equal(fired?.reason, 'quiet_hours')
    assert.match(fired?.message ?? '', /2026-11-28T06:00:00\.000Z/)
  })

  test('outside quiet hours quietUntil is null; 07:00 itself is outside', () => {
    const run = new Run(makeRule(hot, quiet), T0, berlin)
    run.read(at('2026-11-28T06:00:00Z'), temp(31))
    assert.equal(fireOf(run.effects[0]).quietUntil, null)
    assert.equal(run.tracesOf('fired')[0]?.reason, null)
    const day = new Run(makeRule(hot, quiet), T0, berlin)
    day.read(at('2026-11-28T12:00:00Z'), temp(31))
    assert.equal(fireOf(day.effects[0]).quietUntil, null)
  })

  test('a for deadline that completes inside quiet hours is quiet', () => {
    const run = new Run(makeRule(hot, { ...quiet, for: '30m' }), at('2026-11-27T20:00:00Z'), berlin)
    run.read(at('2026-11-27T20:45:00Z'), temp(31))
    run.tick(at('2026-11-28T12:00:00Z'))
    const f = fireOf(run.effects[0])
    assert.equal(iso(f.at), '2026-11-27T21:15:00.000Z')
    assert.equal(iso(f.quietUntil ?? 0), '2026-11-28T06:00:00.000Z')
  })

  test('across DST changes the end is 07:00 wall-clock', () => {
    const fall = new Run(makeRule(hot, quiet), at('2026-10-24T20:00:00Z'), berlin)
    fall.read(at('2026-10-24T21:00:00Z'), temp(31))
    assert.equal(iso(fireOf(fall.effects[0]).quietUntil ?? 0), '2026-10-25T06:00:00.000Z')
    const spring = new Run(makeRule(hot, quiet), at('2027-03-27T20:00:00Z'), berlin)
    spring.read(at('2027-03-27T22:00:00Z'), temp(31))
    assert.equal(iso(fireOf(spring.effects[0]).quietUntil ?? 0), '2027-03-28T05:00:00.000Z')
  })

  test('a daytime quiet span (13:00–15:00, a nap)', () => {
    const run = new Run(makeRule(hot, { quietHours: { from: '13:00', to: '15:00' } }), T0, UTC_ENV)
    run.read(at('2026-11-28T14:59:00Z'), temp(31))
    assert.equal(fireOf(run.effects[0]).quietUntil, at('2026-11-28T15:00:00Z'))
  })
})

describe('momentary (change) rules', () => {
  test('fire once per edge, never clear', () => {
    const run = new Run(makeRule(doorOpens), T0)
    run.read(T0 + MIN, door(true))
    assert.deepEqual(run.effects, [], 'the first reading ever is not an edge')
    run.read(T0 + 2 * MIN, door(false))
    const opening = door(true)
    run.read(T0 + 3 * MIN, opening)
    run.read(T0 + 4 * MIN, door(true))
    run.tick(T0 + 5 * MIN)
    run.read(T0 + 6 * MIN, door(false))
    run.read(T0 + 7 * MIN, door(true))
    run.tick(T0 + HOUR)
    assert.deepEqual(run.fires(), [T0 + 3 * MIN, T0 + 7 * MIN])
    assert.deepEqual(run.clears(), [])
    assert.equal(run.tracesOf('cleared').length, 0)
    assert.equal(fireOf(run.effects[0]).trigger, opening)
    assert.equal(fireOf(run.effects[0]).views[0]?.value, true)
  })

  test('an edge inside the cooldown does not fire, and does not fire later either (it is gone)', () => {
    const run = new Run(makeRule(doorOpens, { cooldown: '10m' }), T0)
    run.read(T0, door(false))
    run.read(T0 + MIN, door(true))
    run.read(T0 + 2 * MIN, door(false))
    run.read(T0 + 3 * MIN, door(true))
    run.tick(T0 + HOUR)
    assert.deepEqual(run.fires(), [T0 + MIN])
    assert.deepEqual(
      run.tracesOf('near_miss').map((t) => [t.reason, t.at - T0]),
      [['cooldown', 3 * MIN]],
    )
    run.read(T0 + HOUR + MIN, door(false))
    run.read(T0 + HOUR + 2 * MIN, door(true))
    assert.deepEqual(run.fires(), [T0 + MIN, T0 + HOUR + 2 * MIN])
  })

  test('rising edges on numbers; a tick between edges does not matter', () => {
    const run = new Run(makeRule({ change: { ...tempSeries, direction: 'rising' } }), T0)
    run.read(T0 + MIN, temp(20))
    run.read(T0 + 2 * MIN, temp(21))
    run.tick(T0 + 3 * MIN)
    run.read(T0 + 4 * MIN, temp(19))
    run.read(T0 + 5 * MIN, temp(22))
    assert.deepEqual(run.fires(), [T0 + 2 * MIN, T0 + 5 * MIN])
    assert.deepEqual(run.clears(), [])
  })

  test('consecutive rising edges each fire (20 → 21 → 22)', {}, () => {
    const run = new Run(makeRule({ change: { ...tempSeries, direction: 'rising' } }), T0)
    run.read(T0 + MIN, temp(20))
    run.read(T0 + 2 * MIN, temp(21))
    run.read(T0 + 3 * MIN, temp(22))
    assert.deepEqual(run.fires(), [T0 + 2 * MIN, T0 + 3 * MIN])
  })

  test('any of two changes: an edge on each, one reading after the other, fires twice', {}, () => {
    const opens = (device: string): Condition => ({ change: { device, measurement: 'contact', field: 'open', to: true } })
    const run = new Run(makeRule({ any: [opens('front'), opens('back')] }), T0)
    run.read(T0 + MIN, reading('front', 'contact', { open: false }))
    run.read(T0 + 2 * MIN, reading('back', 'contact', { open: false }))
    run.read(T0 + 3 * MIN, reading('front', 'contact', { open: true }))
    run.read(T0 + 4 * MIN, reading('back', 'contact', { open: true }))
    assert.deepEqual(run.fires(), [T0 + 3 * MIN, T0 + 4 * MIN])
  })

  test('near miss "condition": the door opened, but not at night; views show both leaves', () => {
    const run = new Run(makeRule({ all: [doorOpens, { time: { from: '22:00', to: '07:00' } }] }), at('2026-11-27T12:00:00Z'))
    run.read(at('2026-11-27T15:00:00Z'), door(false))
    const opening = door(true)
    run.read(at('2026-11-27T15:01:00Z'), opening)
    assert.deepEqual(run.effects, [])
    const [miss] = run.tracesOf('near_miss')
    assert.ok(miss)
    assert.equal(miss.reason, 'condition')
    assert.equal(miss.seq, opening.seq)
    assert.match(miss.message, /matched door contact\.open false → true; not met: 22:00–07:00/)
    assert.deepEqual(
      miss.views.map((v) => [v.kind, v.holds]),
      [
        ['change', true],
        ['time', false],
      ],
    )
    run.read(at('2026-11-27T22:30:00Z'), door(false))
    run.read(at('2026-11-27T22:31:00Z'), door(true))
    assert.deepEqual(run.fires(), [at('2026-11-27T22:31:00Z')])
  })
})

describe('traces', () => {
  test('near miss "condition" shows the value that crossed and what was not met; none on ticks or repeats', () => {
    const run = new Run(makeRule({ all: [hot, { time: { from: '22:00', to: '07:00' } }] }), at('2026-11-27T12:00:00Z'))
    run.read(at('2026-11-27T15:00:00Z'), temp(25))
    run.read(at('2026-11-27T15:01:00Z'), temp(35.5))
    run.read(at('2026-11-27T15:02:00Z'), temp(36))
    const misses = run.tracesOf('near_miss')
    assert.equal(misses.length, 1, 'only the reading that turned the threshold on')
    assert.equal(misses[0]?.reason, 'condition')
    assert.match(misses[0]?.message ?? '', /matched thermo climate\.temp_c > 30; not met: 22:00–07:00/)
    assert.equal(misses[0]?.views.find((v) => v.kind === 'threshold')?.value, 35.5)
    assert.deepEqual(
      misses[0]?.views.map((v) => [v.kind, v.holds, v.detail]),
      [
        ['threshold', true, 'thermo climate.temp_c > 30'],
        ['time', false, '22:00–07:00'],
      ],
    )
    run.tick(at('2026-11-27T22:30:00Z'))
    assert.deepEqual(run.fires(), [at('2026-11-27T22:00:00Z')], 'the time boundary is a deadline of its own')
    assert.deepEqual(
      run.tracesOf('fired')[0]?.views.map((v) => v.holds),
      [true, true],
    )
  })

  test('near miss "window": a reading alone matches but the aggregate does not', () => {
    const run = new Run(makeRule({ window: { ...tempSeries, agg: 'avg', over: '10m', op: '>', value: 30 } }), T0)
    run.read(T0 + MIN, temp(20))
    run.read(T0 + 2 * MIN, temp(20))
    const spike = temp(45)
    run.read(T0 + 3 * MIN, spike)
    run.read(T0 + 4 * MIN, temp(31))
    const misses = run.tracesOf('near_miss')
    assert.equal(misses.length, 1)
    assert.equal(misses[0]?.reason, 'window')
    assert.equal(misses[0]?.seq, spike.seq)
    assert.equal(misses[0]?.views[0]?.value, 28.333)
    assert.deepEqual(run.effects, [])
  })

  test('every trace carries the time and sequence of its input', () => {
    const run = new Run(makeRule(hot, { for: '1m' }), T0)
    const r = temp(31)
    run.read(T0 + SEC, r)
    run.tick(T0 + 5 * MIN)
    const drop = temp(10)
    run.read(T0 + 6 * MIN, drop)
    assert.deepEqual(
      run.traces.map((t) => [t.outcome, t.at - T0, t.seq]),
      [
        ['armed', SEC, r.seq],
        ['fired', SEC + MIN, null],
        ['cleared', 6 * MIN, drop.seq],
      ],
    )
  })
})

describe('window rules', () => {
  test('samples drop out on their own time: the clear comes at oldest sample + window, without a reading', () => {
    const run = new Run(makeRule({ window: { ...tempSeries, agg: 'avg', over: '10m', op: '>', value: 25 } }), T0 - DAY)
    run.read(T0 + 30 * SEC, temp(40))
    run.read(T0 + 4 * MIN, temp(20))
    assert.equal(nextDeadline(run.compiled, run.state, UTC_ENV), T0 + 30 * SEC + 10 * MIN)
    run.tick(T0 + 5 * HOUR)
    assert.deepEqual(
      run.effects.map((e) => [e.type, e.at - T0]),
      [
        ['fire', 30 * SEC],
        ['clear', 30 * SEC + 10 * MIN],
      ],
    )
  })

  test('"three door openings within 10 minutes"', () => {
    const openings: Condition = { window: { device: 'door', measurement: 'contact', field: 'open', agg: 'sum', over: '10m', op: '>=', value: 3 } }
    const run = new Run(makeRule(openings), T0 - DAY)
    for (const m of [0, 4, 9]) {
      run.read(T0 + m * MIN, door(true))
      run.read(T0 + m * MIN + 30 * SEC, door(false))
    }
    assert.deepEqual(run.fires(), [T0 + 9 * MIN])
    run.tick(T0 + HOUR)
    assert.deepEqual(run.clears(), [T0 + 10 * MIN])
  })

  test('rate: a fast temperature drop (window open in winter)', () => {
    const run = new Run(makeRule({ window: { ...tempSeries, agg: 'rate', over: '15m', op: '<=', value: -0.5 } }), T0 - DAY)
    run.read(T0, temp(21))
    run.read(T0 + 5 * MIN, temp(20))
    assert.deepEqual(run.fires(), [])
    run.read(T0 + 10 * MIN, temp(16))
    assert.deepEqual(run.fires(), [T0 + 10 * MIN])
    assert.equal(fireOf(run.effects[0]).views[0]?.value, -0.5)
  })

  test('count == 0 over 1h of a motion sensor fires when the last sample leaves the window', () => {
    const run = new Run(
      makeRule({ window: { device: 'pir', measurement: 'motion', field: 'motion', agg: 'count', over: '1h', op: '==', value: 0 } }),
      T0,
    )
    run.read(T0 + MIN, motion(true, 'pir'))
    run.read(T0 + 20 * MIN, motion(false, 'pir'))
    run.tick(T0 + 5 * HOUR)
    assert.deepEqual(run.fires(), [T0 + 80 * MIN])
  })
})

describe('inactivity rules', () => {
  const kitchen = makeEnv('UTC', { kitchen: ['pir-kitchen', 'door-kitchen'], hall: ['pir-hall'] })

  test('"no movement in the kitchen for 4h": motion=false and other rooms do not count; fires at last match + 4h', () => {
    const run = new Run(makeRule({ inactivity: { room: 'kitchen', measurement: 'motion', field: 'motion', equals: true, for: '4h' } }), T0, kitchen)
    for (let m = 30; m < 600; m += 30) {
      run.read(T0 + m * MIN, motion(false))
      run.read(T0 + m * MIN + SEC, motion(true, 'pir-hall'))
    }
    assert.deepEqual(run.fires(), [T0 + 4 * HOUR], 'counted from arming')
    const f = fireOf(run.effects[0])
    assert.equal(f.trigger, null)
    assert.equal(f.seq, null, 'no reading began this episode: a clock did')
    assert.equal(f.views[0]?.value, 240, 'idle minutes')
    run.read(T0 + 10 * HOUR, motion(true))
    assert.deepEqual(run.clears(), [T0 + 10 * HOUR])
    run.tick(T0 + 20 * HOUR)
    assert.deepEqual(run.fires(), [T0 + 4 * HOUR, T0 + 14 * HOUR])
  })

  test('"no movement in the kitchen by 10:00" (since 06:00): fires at 10:00 and holds until the next movement, one alert across days', () => {
    const run = new Run(
      makeRule({ inactivity: { room: 'kitchen', measurement: 'motion', field: 'motion', equals: true, since: '06:00', by: '10:00' } }),
      at('2026-11-28T03:00:00Z'),
      kitchen,
    )
    run.read(at('2026-11-28T05:00:00Z'), motion(true))
    run.read(at('2026-11-28T07:00:00Z'), motion(false))
    run.tick(at('2026-11-29T11:00:00Z'))
    assert.deepEqual(
      run.effects.map((e) => [e.type, iso(e.at)]),
      [['fire', '2026-11-28T10:00:00.000Z']],
    )
    run.read(at('2026-11-29T11:30:00Z'), motion(true))
    run.tick(at('2026-11-30T09:59:00Z'))
    assert.equal(run.effects.length, 2)
    assert.deepEqual(run.effects.at(-1), { type: 'clear', at: at('2026-11-29T11:30:00Z'), seq: run.effects.at(-1)?.seq })
  })

  test('since/by in Europe/Berlin', () => {
    const run = new Run(makeRule({ inactivity: { device: 'pir-kitchen', since: '06:00', by: '10:00' } }), at('2026-11-28T03:00:00Z'), makeEnv(BERLIN))
    run.tick(at('2026-11-28T12:00:00Z'))
    assert.deepEqual(run.fires(), [at('2026-11-28T09:00:00Z')])
  })
})

describe('silence rules', () => {
  test('a room: the device that never reported goes silent D after arming; its first reading clears', () => {
    const run = new Run(makeRule({ silence: { room: 'kitchen', for: '1h' } }), T0)
    for (let m = 10; m < 180; m += 10) run.read(T0 + m * MIN, motion(false))
    assert.deepEqual(run.fires(), [T0 + HOUR])
    assert.equal(fireOf(run.effects[0]).views[0]?.value, 'door-kitchen')
    run.read(T0 + 3 * HOUR, reading('door-kitchen', 'contact', { open: false }))
    assert.deepEqual(run.clears(), [T0 + 3 * HOUR])
  })

  test('any[inactivity, silence]: either alarm is one episode', () => {
    const run = new Run(
      makeRule({
        any: [{ inactivity: { device: 'pir-kitchen', field: 'motion', equals: true, for: '2h' } }, { silence: { device: 'pir-kitchen', for: '1h' } }],
      }),
      T0,
    )
    run.tick(T0 + 3 * HOUR)
    assert.deepEqual(run.fires(), [T0 + HOUR], 'silent after 1h; inactive after 2h is the same episode')
    run.read(T0 + 3 * HOUR, motion(false))
    assert.deepEqual(run.clears(), [], 'reporting again but still inactive: the episode goes on')
    run.read(T0 + 4 * HOUR, motion(true))
    run.tick(T0 + 8 * HOUR)
    assert.deepEqual(run.clears(), [T0 + 4 * HOUR])
    assert.deepEqual(run.fires(), [T0 + HOUR, T0 + 5 * HOUR])
  })
})

describe('nextDeadline', () => {
  test('Infinity when only a reading can change the rule', () => {
    const run = new Run(makeRule(hot), T0)
    assert.equal(nextDeadline(run.compiled, run.state, UTC_ENV), T0, 'a new rule is looked at once, when armed')
    run.tick(T0)
    assert.equal(nextDeadline(run.compiled, run.state, UTC_ENV), Number.POSITIVE_INFINITY)
    run.read(T0 + MIN, temp(31))
    assert.equal(nextDeadline(run.compiled, run.state, UTC_ENV), Number.POSITIVE_INFINITY)
  })

  test('an inactivity clock runs from arming', () => {
    const run = new Run(makeRule({ inactivity: { device: 'pir', for: '2h' } }), T0)
    run.tick(T0)
    assert.equal(nextDeadline(run.compiled, run.state, UTC_ENV), T0 + 2 * HOUR)
  })

  test('the earliest of a leaf boundary and the for', () => {
    const run = new Run(makeRule({ all: [hot, { time: { from: '20:00', to: '21:10' } }] }, { for: '15m' }), T0)
    run.read(T0 + MIN, temp(31))
    assert.equal(nextDeadline(run.compiled, run.state, UTC_ENV), T0 + 10 * MIN)
    run.tick(T0 + HOUR)
    assert.deepEqual(run.fires(), [])
    assert.equal(run.tracesOf('near_miss')[0]?.reason, 'for')
    assert.equal(run.tracesOf('near_miss')[0]?.at, T0 + 10 * MIN)
    assert.match(run.tracesOf('near_miss')[0]?.message ?? '', /held for 9 min of the 15m needed/)
  })
})

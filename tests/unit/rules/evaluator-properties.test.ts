import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { EvalEnv } from '../../../gateway/src/rules/conditions.js'
import type { Effect } from '../../../gateway/src/rules/evaluator.js'
import type { Rule } from '../../../gateway/src/rules/rule-model.js'
import { mulberry32 } from '../../_support/prng.js'
import { at, BERLIN, HOUR, type Input, MIN, makeEnv, makeRule, Run, reading, SEC, T0, temp, tempSeries } from './_rules.js'

/**
 * Properties over random input sequences (seeded, reproducible):
 * - restart equivalence: JSON round-tripping the state between inputs changes nothing;
 * - determinism: ticking every second or never (readings plus one final tick) gives the same effects.
 */

const ROOMS = { kitchen: ['pir-kitchen', 'door-kitchen'], hall: ['pir-hall'] }
const SPAN = 4 * HOUR

/** Rules over every kind of leaf; UTC clock times fall inside the 21:00–01:00 UTC span the sequences cover. */
const rules: Record<string, Rule> = {
  hotFor: makeRule(
    { threshold: { ...tempSeries, op: '>', value: 25, hysteresis: 1.5 } },
    { for: '3m', cooldown: '10m', quietHours: { from: '22:00', to: '07:00' } },
  ),
  avgWindow: makeRule({ window: { ...tempSeries, agg: 'avg', over: '5m', op: '>', value: 24 } }),
  rateWindow: makeRule({ window: { ...tempSeries, agg: 'rate', over: '10m', op: '>=', value: 0.3 } }, { cooldown: '7m' }),
  countWindow: makeRule({ window: { device: 'pir-kitchen', measurement: 'motion', field: 'motion', agg: 'count', over: '5m', op: '<', value: 2 } }),
  kitchenInactive: makeRule({ inactivity: { room: 'kitchen', measurement: 'motion', field: 'motion', equals: true, for: '20m' } }),
  sinceBy: makeRule({ inactivity: { device: 'pir-hall', field: 'motion', equals: true, since: '21:30', by: '22:15' } }),
  roomSilent: makeRule({ silence: { room: 'kitchen', for: '15m' } }, { for: '2m' }),
  warmNotLate: makeRule(
    { all: [{ threshold: { ...tempSeries, op: '>', value: 22 } }, { not: { time: { from: '22:30', to: '23:10' } } }] },
    { for: '2m' },
  ),
  eitherAlarm: makeRule(
    { any: [{ inactivity: { device: 'pir-hall', for: '25m' } }, { silence: { device: 'door-kitchen', for: '30m' } }] },
    { cooldown: '5m' },
  ),
  doorOpenLong: makeRule({ threshold: { device: 'door-kitchen', measurement: 'contact', field: 'open', op: '==', value: true } }, { for: '1m' }),
  doorOpensAtNight: makeRule({
    all: [
      { change: { device: 'door-kitchen', measurement: 'contact', field: 'open', from: false, to: true } },
      { time: { from: '23:00', to: '23:59' } },
    ],
  }),
  coldBand: makeRule({ threshold: { ...tempSeries, op: 'outside', min: 19, max: 27, hysteresis: 0.5 } }, { cooldown: '3m' }),
  weekendNight: makeRule({ all: [{ time: { from: '23:30', to: '00:30', days: ['fri'] } }, { threshold: { ...tempSeries, op: '<', value: 100 } }] }),
}

/** Rules that only the restart property covers (a known determinism finding: consecutive edges, see evaluator.test.ts). */
const edgeRules: Record<string, Rule> = {
  rising: makeRule({ change: { ...tempSeries, direction: 'rising' } }, { cooldown: '2m' }),
  anyDoor: makeRule({
    any: [
      { change: { device: 'door-kitchen', measurement: 'contact', field: 'open', to: true } },
      { change: { device: 'pir-hall', measurement: 'motion', field: 'motion', to: true } },
    ],
  }),
}

/** A random day in the home: readings at ms-precision times with gaps from seconds to 40 min, numeric and boolean only. */
function readings(seed: number): Input[] {
  const rnd = mulberry32(seed)
  const out: Input[] = [{ at: T0 + 500, event: temp(22) }]
  let t = T0 + 500
  let c = 22
  for (;;) {
    const gap = rnd() < 0.1 ? rnd() * 40 * MIN : rnd() * 4 * MIN
    t += Math.max(1, Math.floor(gap))
    if (t >= T0 + SPAN) break
    const pick = rnd()
    if (pick < 0.4) {
      c = Math.max(15, Math.min(32, c + (rnd() - 0.5) * 4))
      out.push({ at: t, event: temp(Math.round(c * 10) / 10) })
    } else if (pick < 0.6) out.push({ at: t, event: reading('pir-kitchen', 'motion', { motion: rnd() < 0.5 }) })
    else if (pick < 0.75) out.push({ at: t, event: reading('pir-hall', 'motion', { motion: rnd() < 0.4 }) })
    else if (pick < 0.9) out.push({ at: t, event: reading('door-kitchen', 'contact', { open: rnd() < 0.5 }) })
    else out.push({ at: t, event: reading('door-kitchen', 'battery', { pct: 90 }) })
  }
  return out
}

/** The same readings with ticks mixed in at random instants (what a live engine's timer would add). */
function withRandomTicks(inputs: readonly Input[], seed: number): Input[] {
  const rnd = mulberry32(seed ^ 0x5eed)
  const ticks = Array.from({ length: 80 }, () => ({ at: T0 + Math.floor(rnd() * (SPAN + HOUR)) }))
  return [...inputs, ...ticks].sort((a, b) => a.at - b.at)
}

function run(rule: Rule, inputs: readonly Input[], env: EvalEnv, roundTrip: boolean): Run {
  const r = new Run(rule, T0, env, roundTrip)
  for (const i of inputs) r.input(i)
  return r
}

const summary = (effects: readonly Effect[]) => effects.map((e) => (e.type === 'fire' ? ['fire', e.at, e.seq, e.quietUntil] : ['clear', e.at, e.seq]))

describe('restart equivalence: JSON round-tripping the state between any two inputs changes nothing', () => {
  for (const zone of ['UTC', BERLIN]) {
    const env = makeEnv(zone, ROOMS)
    for (const seed of [1, 2, 3, 42, 1234]) {
      test(`${zone}, seed ${seed}`, () => {
        const inputs = withRandomTicks(readings(seed), seed)
        let effects = 0
        for (const [name, rule] of Object.entries({ ...rules, ...edgeRules })) {
          const plain = run(rule, inputs, env, false)
          const restarted = run(rule, inputs, env, true)
          assert.deepEqual(restarted.effects, plain.effects, `${name}: effects`)
          assert.deepEqual(restarted.traces, plain.traces, `${name}: traces`)
          assert.deepEqual(JSON.parse(JSON.stringify(restarted.state)), JSON.parse(JSON.stringify(plain.state)), `${name}: final state`)
          effects += plain.effects.length
        }
        assert.ok(effects > 20, `the sequence exercises the rules (${effects} effects)`)
      })
    }
  }

  test('every rule fires at least once over the seeds (the property is not vacuous)', () => {
    const env = makeEnv('UTC', ROOMS)
    for (const [name, rule] of Object.entries({ ...rules, ...edgeRules })) {
      const fired = [1, 2, 3, 42, 1234].some((seed) => run(rule, withRandomTicks(readings(seed), seed), env, false).fires().length > 0)
      assert.ok(fired, name)
    }
  })

  test('a string reading in a window gives the same effects after a restart', {}, () => {
    const rule = makeRule({ window: { ...tempSeries, agg: 'avg', over: '10m', op: '>', value: 10 } })
    const inputs: Input[] = [
      { at: T0 + MIN, event: temp(20) },
      { at: T0 + 2 * MIN, event: temp('unavailable') },
      { at: T0 + 3 * MIN, event: temp(40) },
    ]
    const env = makeEnv('UTC', ROOMS)
    assert.deepEqual(summary(run(rule, inputs, env, true).effects), summary(run(rule, inputs, env, false).effects))
  })
})

/** Ticks every second from the first reading's second to `end`, merged with the readings. */
function tickedEverySecond(inputs: readonly Input[], from: number, end: number): Input[] {
  const out: Input[] = []
  let i = 0
  for (let t = from; t <= end; t += SEC) {
    while (i < inputs.length && (inputs[i] as Input).at < t) out.push(inputs[i++] as Input)
    out.push({ at: t })
  }
  while (i < inputs.length) out.push(inputs[i++] as Input)
  return out
}

describe('determinism: ticking every second or never gives the same firing times', () => {
  for (const zone of ['UTC', BERLIN]) {
    const env = makeEnv(zone, ROOMS)
    for (const seed of [7, 99]) {
      test(`${zone}, seed ${seed}`, () => {
        const inputs = readings(seed)
        const end = T0 + SPAN + HOUR
        const never = [...inputs, { at: end }]
        const everySecond = tickedEverySecond(inputs, T0 + SEC, end)
        let fires = 0
        for (const [name, rule] of Object.entries(rules)) {
          const a = run(rule, never, env, false)
          const b = run(rule, everySecond, env, false)
          assert.deepEqual(summary(b.effects), summary(a.effects), name)
          fires += a.fires().length
        }
        assert.ok(fires > 10, `the sequence exercises the rules (${fires} firings)`)
      })
    }
  }

  test('a rule with only timers (inactivity) fires at the same instants with or without ticks', () => {
    const rule = makeRule({ inactivity: { device: 'pir-kitchen', field: 'motion', equals: true, for: '7m' } })
    const env = makeEnv('UTC', ROOMS)
    const inputs: Input[] = [0, 3, 20, 21, 40].map((m) => ({ at: T0 + m * MIN + 123, event: reading('pir-kitchen', 'motion', { motion: m !== 21 }) }))
    const a = run(rule, [...inputs, { at: T0 + HOUR }], env, false)
    const b = run(rule, tickedEverySecond(inputs, T0 + SEC, T0 + HOUR), env, false)
    assert.deepEqual(a.fires(), [T0 + 10 * MIN + 123, T0 + 27 * MIN + 123, T0 + 47 * MIN + 123])
    assert.deepEqual(b.fires(), a.fires())
  })

  test('consecutive rising edges: the same firings with or without ticks between the readings', {}, () => {
    const rule = makeRule({ change: { ...tempSeries, direction: 'rising' } })
    const env = makeEnv('UTC', ROOMS)
    const inputs: Input[] = [20, 21, 22].map((v, i) => ({ at: T0 + i * 10 * MIN + 500, event: temp(v) }))
    const never = run(rule, [...inputs, { at: T0 + HOUR }], env, false)
    const ticked = run(rule, tickedEverySecond(inputs, T0 + SEC, T0 + HOUR), env, false)
    assert.deepEqual(never.fires(), ticked.fires())
  })

  test('a condition that already holds when the rule is armed fires at the same time with or without ticks', {}, () => {
    const rule = makeRule({ time: { from: '20:00', to: '23:00' } })
    const env = makeEnv('UTC', ROOMS)
    const never = run(rule, [{ at: T0 + HOUR }], env, false)
    const ticked = run(rule, tickedEverySecond([], T0 + SEC, T0 + HOUR), env, false)
    assert.deepEqual(never.fires(), ticked.fires())
  })

  test('spring-forward night (Europe/Berlin 2027-03-28): a 02:30–04:00 window fires at the same time with or without ticks', {}, () => {
    const rule = makeRule({ time: { from: '02:30', to: '04:00' } })
    const env = makeEnv(BERLIN, ROOMS)
    const armed = at('2027-03-27T22:00:00Z')
    const first: Input = { at: armed + 500, event: temp(20) }
    const end = at('2027-03-28T04:00:00Z')
    const never = new Run(rule, armed, env)
    for (const i of [first, { at: end }]) never.input(i)
    const ticked = new Run(rule, armed, env)
    for (const i of tickedEverySecond([first], armed + SEC, end)) ticked.input(i)
    assert.deepEqual(ticked.fires(), [at('2027-03-28T01:00:00Z')], 'the leaf holds from 03:00 CEST')
    assert.deepEqual(never.fires(), ticked.fires())
  })

  test('fall-back night (Europe/Berlin 2026-10-25): a 02:00–02:45 window fires in both passes of the repeated hour, with or without ticks', {}, () => {
    const rule = makeRule({ time: { from: '02:00', to: '02:45' } })
    const env = makeEnv(BERLIN, ROOMS)
    const armed = at('2026-10-24T21:00:00Z')
    const first: Input = { at: armed + 500, event: temp(20) }
    const end = at('2026-10-25T03:00:00Z')
    const never = new Run(rule, armed, env)
    for (const i of [first, { at: end }]) never.input(i)
    const ticked = new Run(rule, armed, env)
    for (const i of tickedEverySecond([first], armed + SEC, end)) ticked.input(i)
    assert.deepEqual(ticked.fires(), [at('2026-10-25T00:00:00Z'), at('2026-10-25T01:00:00Z')])
    assert.deepEqual(never.fires(), ticked.fires())
  })

  test('DST nights away from the skipped/repeated hour: a 22:00–07:00 window is deterministic', () => {
    const rule = makeRule({ all: [{ time: { from: '22:00', to: '07:00' } }, { inactivity: { device: 'pir-kitchen', for: '3h' } }] })
    const env = makeEnv(BERLIN, ROOMS)
    for (const armed of [at('2026-10-24T18:00:00Z'), at('2027-03-27T18:00:00Z')]) {
      const inputs: Input[] = [{ at: armed + 500, event: reading('pir-kitchen', 'motion', { motion: true }) }]
      const end = armed + 16 * HOUR
      const never = new Run(rule, armed, env)
      for (const i of [...inputs, { at: end }]) never.input(i)
      const ticked = new Run(rule, armed, env)
      for (const i of tickedEverySecond(inputs, armed + SEC, end)) ticked.input(i)
      assert.deepEqual(summary(never.effects), summary(ticked.effects))
      assert.equal(never.fires().length, 1)
    }
  })
})

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { parse } from 'yaml'
import type { FieldValue } from '../../../gateway/src/core/reading.js'
import type { EvalEnv } from '../../../gateway/src/rules/conditions.js'
import { type Effect, type Firing, initialState, type Trace } from '../../../gateway/src/rules/evaluator.js'
import { type ReplayInput, replay } from '../../../gateway/src/rules/replay.js'
import { type Rule, RuleSchema } from '../../../gateway/src/rules/rule-model.js'

/**
 * Each rule of config/rules.example.yaml does what its comment promises, driven through replay()
 * (the evaluator the live engine, the dry-run and the backtest share) in the home's time zone,
 * Europe/Berlin. Dates are in January (CET, UTC+1), written as Berlin wall-clock times.
 */

const MIN = 60_000
const SEC = 1000
const HOUR = 60 * MIN

const ENV: EvalEnv = {
  timeZone: 'Europe/Berlin',
  roomOf: (id) => (id === 'kitchen-pir' ? 'kitchen' : null),
  devicesIn: (room) => (room === 'kitchen' ? ['kitchen-pir'] : []),
}

/** A Berlin wall-clock time in January 2026: "14 23:05" → 2026-01-14 23:05 CET (Wednesday the 14th). */
const berlin = (dayHhmm: string, seconds = 0): number => {
  const [day, hhmm] = dayHhmm.split(' ') as [string, string]
  return Date.parse(`2026-01-${day}T${hhmm}:00+01:00`) + seconds * SEC
}
const iso = (t: number) => new Date(t).toISOString()

const file = parse(readFileSync(new URL('../../../config/rules.example.yaml', import.meta.url), 'utf8')) as { rules: unknown[] }
const RULES = new Map<string, Rule>(file.rules.map((r) => RuleSchema.parse(r)).map((r) => [r.id, r]))
const ruleOf = (id: string): Rule => {
  const r = RULES.get(id)
  assert.ok(r, `rule ${id} in config/rules.example.yaml`)
  return r
}

let seq = 1
type Reading = readonly [at: number, device: string, measurement: string, fields: Record<string, FieldValue>]

interface Outcome {
  readonly effects: Effect[]
  readonly traces: Trace[]
  readonly fires: string[]
  readonly clears: string[]
  readonly firings: Array<Firing & { readonly type: 'fire' }>
  readonly seqs: number[]
}

/** The rule, new at `armedAt`, through the readings (in order), then time runs on to `until`. */
function run(id: string, armedAt: number, readings: readonly Reading[], until: number): Outcome {
  const seqs: number[] = []
  const inputs: ReplayInput[] = readings.map(([at, deviceId, measurement, fields]) => {
    const s = seq++
    seqs.push(s)
    return { at, event: { seq: s, deviceId, measurement, fields } }
  })
  const { effects, traces } = replay(ruleOf(id), initialState(armedAt), inputs, until, ENV)
  const firings = effects.filter((e): e is Firing & { type: 'fire' } => e.type === 'fire')
  return {
    effects,
    traces,
    firings,
    seqs,
    fires: firings.map((e) => iso(e.at)),
    clears: effects.filter((e) => e.type === 'clear').map((e) => iso(e.at)),
  }
}

const nearMisses = (o: Outcome) => o.traces.filter((t) => t.outcome === 'near_miss').map((t) => [iso(t.at), t.reason])
/** Readings of one series every `stepMs` from `from` (inclusive) to `to` (exclusive). */
function every(from: number, to: number, stepMs: number, make: (t: number) => Reading): Reading[] {
  const out: Reading[] = []
  for (let t = from; t < to; t += stepMs) out.push(make(t))
  return out
}

describe('config/rules.example.yaml', () => {
  test('parses: six rules, each valid under RuleSchema', () => {
    assert.deepEqual(
      [...RULES.keys()],
      ['front-door-open-at-night', 'no-kitchen-movement-by-ten', 'fall-detected', 'fridge-power-lost', 'bedroom-cold', 'door-sensor-silent'],
    )
    assert.equal(file.rules.length, RULES.size, 'ids are unique')
    for (const r of RULES.values()) assert.equal(r.enabled, true)
  })
})

describe('1. front-door-open-at-night: open 5 minutes at night, timer restarts, one alert per opening, ≤ 1 per 30 min', () => {
  const door = (at: number, state: 'open' | 'closed'): Reading => [at, 'front-door', 'event', { door: state }]
  const id = 'front-door-open-at-night'

  test('open at 23:00 for 6 minutes: one alert at 23:05 exactly, resolved when the door closes at 23:06', () => {
    const o = run(
      id,
      berlin('14 21:00'),
      [door(berlin('14 22:40'), 'closed'), door(berlin('14 23:00'), 'open'), door(berlin('14 23:06'), 'closed')],
      berlin('14 23:30'),
    )
    assert.deepEqual(o.fires, [iso(berlin('14 23:05'))])
    assert.deepEqual(o.clears, [iso(berlin('14 23:06'))])
    assert.equal(o.firings[0]?.seq, o.seqs[1], 'the opening is the reading behind the alert')
    assert.equal(o.firings[0]?.quietUntil, null)
  })

  test('open at 14:00 for an hour: not at night, no alert', () => {
    const o = run(id, berlin('14 12:00'), [door(berlin('14 14:00'), 'open'), door(berlin('14 15:00'), 'closed')], berlin('14 16:00'))
    assert.deepEqual(o.effects, [])
    assert.deepEqual(nearMisses(o), [[iso(berlin('14 14:00')), 'condition']], 'the door matched, the time did not')
  })

  test('closed at 23:03: the timer is reset (near miss "for"); reopened at 23:04 it fires at 23:09', () => {
    const o = run(
      id,
      berlin('14 21:00'),
      [door(berlin('14 23:00'), 'open'), door(berlin('14 23:03'), 'closed'), door(berlin('14 23:04'), 'open'), door(berlin('14 23:20'), 'closed')],
      berlin('14 23:59'),
    )
    assert.deepEqual(nearMisses(o), [[iso(berlin('14 23:03')), 'for']])
    assert.match(o.traces.find((t) => t.reason === 'for')?.message ?? '', /held for 3 min of the 5m needed, then stopped/)
    assert.deepEqual(o.fires, [iso(berlin('14 23:09'))])
    assert.deepEqual(o.clears, [iso(berlin('14 23:20'))])
  })

  test('left open for 90 minutes: one alert for the opening, not one per 5 minutes', () => {
    const o = run(
      id,
      berlin('14 21:00'),
      [
        door(berlin('14 23:00'), 'open'),
        ...every(berlin('14 23:01'), berlin('15 00:30'), 5 * MIN, (t) => door(t, 'open')),
        door(berlin('15 00:30'), 'closed'),
      ],
      berlin('15 01:00'),
    )
    assert.deepEqual(o.fires, [iso(berlin('14 23:05'))])
    assert.deepEqual(o.clears, [iso(berlin('15 00:30'))])
  })

  test('at most one alert every 30 minutes: an opening inside the cooldown is held back, the next one fires when it ends', () => {
    const o = run(
      id,
      berlin('14 21:00'),
      [
        door(berlin('14 23:00'), 'open'),
        door(berlin('14 23:06'), 'closed'),
        door(berlin('14 23:10'), 'open'), // 5 minutes at 23:15, inside the cooldown (until 23:35)
        door(berlin('14 23:20'), 'closed'),
        door(berlin('14 23:30'), 'open'), // 5 minutes at 23:35, just as the cooldown ends
        door(berlin('14 23:45'), 'closed'),
      ],
      berlin('15 00:30'),
    )
    assert.deepEqual(o.fires, [iso(berlin('14 23:05')), iso(berlin('14 23:35'))])
    assert.deepEqual(nearMisses(o), [[iso(berlin('14 23:15')), 'cooldown']])
  })

  test('night begins and ends with the door open: open since 21:58 fires at 22:05; open at 06:57 ends at 07:00 without an alert', () => {
    const evening = run(id, berlin('14 21:00'), [door(berlin('14 21:58'), 'open')], berlin('14 22:30'))
    assert.deepEqual(evening.fires, [iso(berlin('14 22:05'))])
    const morning = run(id, berlin('15 05:00'), [door(berlin('15 06:57'), 'open')], berlin('15 08:00'))
    assert.deepEqual(morning.fires, [])
    assert.deepEqual(nearMisses(morning), [[iso(berlin('15 07:00')), 'for']])
  })

  test('an alert at 06:05 for a door still open at 07:00 is not resolved by the night ending (autoResolve: false)', () => {
    const o = run(id, berlin('15 05:00'), [door(berlin('15 06:00'), 'open'), door(berlin('15 07:30'), 'closed')], berlin('15 08:00'))
    assert.deepEqual(o.fires, [iso(berlin('15 06:05'))])
    const rule = ruleOf(id)
    assert.equal(
      rule.actions.every((a) => !('alert' in a) || a.alert.autoResolve === false),
      true,
    )
  })
})

describe('2. no-kitchen-movement-by-ten: no motion=true in the kitchen between 06:00 and 10:00', () => {
  const motion = (at: number, value: boolean, device = 'kitchen-pir'): Reading => [at, device, 'event', { motion: value }]
  const id = 'no-kitchen-movement-by-ten'

  test('motion at 07:00: no alert at 10:00', () => {
    const o = run(id, berlin('14 05:00'), [motion(berlin('14 07:00'), true)], berlin('14 12:00'))
    assert.deepEqual(o.effects, [])
  })

  test('no motion: the alert comes at 10:00 exactly and resolves at the next movement', () => {
    const o = run(id, berlin('14 05:00'), [motion(berlin('14 10:42'), true)], berlin('14 12:00'))
    assert.deepEqual(o.fires, [iso(berlin('14 10:00'))])
    assert.deepEqual(o.clears, [iso(berlin('14 10:42'))])
    assert.equal(o.firings[0]?.seq, null, 'a timer fired it, not a reading')
    assert.equal(o.firings[0]?.quietUntil, null)
  })

  test('what does not count: motion before 06:00, motion=false, motion from a device outside the kitchen', () => {
    const o = run(
      id,
      berlin('14 05:00'),
      [motion(berlin('14 05:59'), true), motion(berlin('14 07:00'), false), motion(berlin('14 08:00'), true, 'hall-pir')],
      berlin('14 10:30'),
    )
    assert.deepEqual(o.fires, [iso(berlin('14 10:00'))])
  })

  test('nobody moves for two days: the alert of the first morning stays until a movement', {}, () => {
    const o = run(id, berlin('14 05:00'), [motion(berlin('15 11:00'), true)], berlin('15 12:00'))
    assert.deepEqual(o.fires, [iso(berlin('14 10:00'))])
    assert.deepEqual(o.clears, [iso(berlin('15 11:00'))])
  })

  test('every morning afresh: moved on Wednesday, not on Thursday → one alert, Thursday 10:00', () => {
    const o = run(id, berlin('14 05:00'), [motion(berlin('14 07:00'), true), motion(berlin('14 21:00'), true)], berlin('15 10:30'))
    assert.deepEqual(o.fires, [iso(berlin('15 10:00'))])
  })
})

describe('3. fall-detected: every false → true edge fires, no cooldown, never resolves by itself', () => {
  const fall = (at: number, value: boolean): Reading => [at, 'bathroom-fall', 'event', { fall: value }]
  const id = 'fall-detected'

  test('two falls (even 20 s apart) → two firings; a repeated true is not a new fall', () => {
    const o = run(
      id,
      berlin('14 09:00'),
      [
        fall(berlin('14 10:00'), false),
        fall(berlin('14 10:01'), true),
        fall(berlin('14 10:01', 10), false),
        fall(berlin('14 10:01', 20), true),
        fall(berlin('14 10:05'), true),
      ],
      berlin('14 12:00'),
    )
    assert.deepEqual(o.fires, [iso(berlin('14 10:01')), iso(berlin('14 10:01', 20))])
    assert.deepEqual(
      o.firings.map((f) => f.seq),
      [o.seqs[1], o.seqs[3]],
    )
    assert.deepEqual(o.clears, [])
    const alert = ruleOf(id).actions.find((a) => 'alert' in a)
    assert.ok(alert && 'alert' in alert && alert.alert.severity === 'critical' && alert.alert.autoResolve === false)
  })
})

describe('4. fridge-power-lost: average over 10 minutes below 1 W', () => {
  const power = (at: number, w: number): Reading => [at, 'fridge-plug', 'power', { power_w: w }]
  const id = 'fridge-power-lost'
  /** A plug reporting every 30 s from 00:00 on the 14th: `watts(t)` at each. */
  const plug = (hours: number, watts: (t: number) => number) =>
    every(berlin('14 00:00'), berlin('14 00:00') + hours * HOUR, 30 * SEC, (t) => power(t, watts(t)))

  test('power 0 from 01:00 on: fires once the last reading of power is 10 minutes old (01:09:30), not before', () => {
    const off = berlin('14 01:00')
    const o = run(
      id,
      berlin('14 00:00'),
      plug(2, (t) => (t < off ? 80 : 0)),
      berlin('14 02:00'),
    )
    assert.deepEqual(o.fires, [iso(berlin('14 01:09', 30))])
    assert.equal(o.firings[0]?.seq, null, 'the window emptied of power readings (a deadline)')
  })

  test('a compressor cycling off for 5 minutes every 25 (even 9): no alert all day, near misses traced', () => {
    const five = run(
      id,
      berlin('14 00:00'),
      plug(6, (t) => ((t - berlin('14 00:00')) % (25 * MIN) < 20 * MIN ? 80 : 0)),
      berlin('14 06:00'),
    )
    assert.deepEqual(five.fires, [])
    assert.ok(nearMisses(five).length >= 10 && nearMisses(five).every(([, r]) => r === 'window'))
    const nine = run(
      id,
      berlin('14 00:00'),
      plug(6, (t) => ((t - berlin('14 00:00')) % (30 * MIN) < 21 * MIN ? 80 : 0)),
      berlin('14 06:00'),
    )
    assert.deepEqual(nine.fires, [])
  })

  test('cooldown 2h: a second outage inside it is held back; one after it fires', () => {
    const outage = (t: number) => {
      const m = (t - berlin('14 00:00')) / MIN
      return (m >= 60 && m < 90) || (m >= 120 && m < 150) || m >= 240
    }
    const o = run(
      id,
      berlin('14 00:00'),
      plug(5, (t) => (outage(t) ? 0 : 80)),
      berlin('14 05:00'),
    )
    assert.deepEqual(o.fires, [iso(berlin('14 01:09', 30)), iso(berlin('14 04:09', 30))])
    assert.deepEqual(
      nearMisses(o).filter(([, r]) => r === 'cooldown'),
      [[iso(berlin('14 02:09', 30)), 'cooldown']],
    )
    // Only the outage that fired resolves; the held-back one never raised anything.
    assert.deepEqual(o.clears, [iso(berlin('14 01:30'))])
  })
})

describe('5. bedroom-cold: below 16 °C for 15 min between 21:00 and 08:00, hysteresis 1, quiet hours 23:00–07:00', () => {
  const temp = (at: number, c: number): Reading => [at, 'bedroom-climate', 'climate', { temp_c: c }]
  const id = 'bedroom-cold'
  /** Every 5 minutes from 20:00 on the 14th, `c(t)` °C. */
  const night = (untilDay: string, c: (t: number) => number) => every(berlin('14 20:00'), berlin(untilDay), 5 * MIN, (t) => temp(t, c(t)))

  test('15.9 °C from 22:00: fires at 22:15, outside quiet hours (notified at once)', () => {
    const cold = (t: number) => (t >= berlin('14 22:00') && t < berlin('14 22:35') ? 15.9 : 18)
    const o = run(id, berlin('14 19:00'), night('14 23:00', cold), berlin('14 23:00'))
    assert.deepEqual(o.fires, [iso(berlin('14 22:15'))])
    assert.equal(o.firings[0]?.quietUntil, null)
    assert.deepEqual(o.clears, [iso(berlin('14 22:35'))])
  })

  test('a firing at 23:30 is in quiet hours: quietUntil 07:00 the next morning', () => {
    const cold = (t: number) => (t >= berlin('14 23:15') ? 15.5 : 18)
    const o = run(id, berlin('14 19:00'), night('15 00:00', cold), berlin('15 00:00'))
    assert.deepEqual(o.fires, [iso(berlin('14 23:30'))])
    assert.equal(iso(o.firings[0]?.quietUntil ?? 0), iso(berlin('15 07:00')))
    assert.equal(o.traces.find((t) => t.outcome === 'fired')?.reason, 'quiet_hours')
  })

  test('hysteresis: stays on at 16.5 (no new timer, no resolve), clears only above 17', () => {
    const c = (t: number) => (t < berlin('14 22:00') ? 18 : t < berlin('14 22:05') ? 15.9 : t < berlin('14 23:00') ? 16.5 : 17.1)
    const o = run(id, berlin('14 19:00'), night('14 23:30', c), berlin('14 23:30'))
    assert.deepEqual(o.fires, [iso(berlin('14 22:15'))], 'one cold reading then 16.5: still on, fires at 22:15')
    assert.deepEqual(o.clears, [iso(berlin('14 23:00'))])
  })

  test('exactly 16.0 °C is not "below 16": no alert', () => {
    const o = run(
      id,
      berlin('14 19:00'),
      night('14 23:00', (t) => (t >= berlin('14 22:00') ? 16 : 18)),
      berlin('14 23:00'),
    )
    assert.deepEqual(o.effects, [])
  })

  test('back at exactly 17.0 °C the alert resolves ("off once back at 17 °C")', () => {
    const c = (t: number) => (t < berlin('14 22:00') ? 18 : t < berlin('14 22:30') ? 15.5 : 17)
    const o = run(id, berlin('14 19:00'), night('14 23:30', c), berlin('14 23:30'))
    assert.deepEqual(o.fires, [iso(berlin('14 22:15'))])
    assert.deepEqual(o.clears, [iso(berlin('14 22:30'))])
  })

  test('the night window: cold from 20:00 counts from 21:00 (fires 21:15), ends at 08:00 (resolves); cooldown 3h', () => {
    const cold = (t: number) => (t < berlin('14 21:30') || t >= berlin('14 22:00') ? 15 : 18)
    const o = run(id, berlin('14 19:00'), night('15 09:00', cold), berlin('15 09:00'))
    // 21:15 fires; warm 21:30–22:00 resolves it; cold again from 22:00 would fire at 22:15 but the
    // cooldown runs until 00:15, when it fires (in quiet hours); 08:00 ends the night and resolves it.
    assert.deepEqual(o.fires, [iso(berlin('14 21:15')), iso(berlin('15 00:15'))])
    assert.deepEqual(o.clears, [iso(berlin('14 21:30')), iso(berlin('15 08:00'))])
    assert.deepEqual(nearMisses(o), [
      [iso(berlin('14 20:00')), 'condition'],
      [iso(berlin('14 22:15')), 'cooldown'],
    ])
    assert.deepEqual(
      o.firings.map((f) => (f.quietUntil === null ? null : iso(f.quietUntil))),
      [null, iso(berlin('15 07:00'))],
    )
  })
})

describe('6. door-sensor-silent: nothing at all from front-door for 2 hours', () => {
  const id = 'door-sensor-silent'

  test('no reading for 2 h after the rule starts watching: fires at exactly +2h', () => {
    const o = run(id, berlin('14 12:00'), [], berlin('14 15:00'))
    assert.deepEqual(o.fires, [iso(berlin('14 14:00'))])
  })

  test('any reading of the sensor (any measurement) restarts the 2 h; other devices do not; a reading resolves it', () => {
    const o = run(
      id,
      berlin('14 12:00'),
      [
        [berlin('14 12:30'), 'front-door', 'battery', { pct: 80 }],
        [berlin('14 13:00'), 'bathroom-fall', 'event', { fall: false }],
        [berlin('14 15:00'), 'front-door', 'event', { door: 'closed' }],
      ],
      berlin('14 17:30'),
    )
    assert.deepEqual(o.fires, [iso(berlin('14 14:30')), iso(berlin('14 17:00'))])
    assert.deepEqual(o.clears, [iso(berlin('14 15:00'))])
  })
})

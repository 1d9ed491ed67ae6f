import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Condition, ConditionSchema, isMomentary, ms, RuleSchema } from '../../../gateway/src/rules/rule-model.js'

const alert = { alert: { severity: 'warning', title: 'Check on Mum' } }
const base = { id: 'kitchen.no-motion', name: 'No movement in the kitchen', actions: [alert] }
const series = { device: 'thermo', measurement: 'climate', field: 'temp_c' }

/** Parses a rule and returns its issues as "path: message" (empty when it parsed). */
function problems(rule: Record<string, unknown>): string[] {
  const r = RuleSchema.safeParse({ ...base, ...rule })
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

function refused(rule: Record<string, unknown>, path: string, words: RegExp): void {
  const p = problems(rule)
  assert.ok(p.length > 0, `expected a refusal for ${JSON.stringify(rule)}`)
  assert.ok(
    p.some((x) => x.startsWith(`${path}:`) && words.test(x)),
    `expected an issue at "${path}" matching ${words}, got ${JSON.stringify(p)}`,
  )
}

describe('RuleSchema: valid rules', () => {
  const valid: Array<[string, Condition, Record<string, unknown>?]> = [
    ['threshold with value', { threshold: { ...series, op: '>', value: 30 } }],
    ['threshold with hysteresis', { threshold: { ...series, op: '>', value: 30, hysteresis: 2 } }],
    ['threshold between', { threshold: { ...series, op: 'between', min: 18, max: 24 } }],
    ['threshold between, equal bounds', { threshold: { ...series, op: 'between', min: 20, max: 20 } }],
    ['threshold outside with hysteresis', { threshold: { ...series, op: 'outside', min: 18, max: 24, hysteresis: 1 } }],
    ['threshold == boolean', { threshold: { device: 'door', measurement: 'contact', field: 'open', op: '==', value: true } }],
    ['threshold != string', { threshold: { device: 'tv', measurement: 'state', field: 'mode', op: '!=', value: 'off' } }],
    ['window', { window: { ...series, agg: 'avg', over: '10m', op: '>', value: 28 } }],
    ['change to', { change: { device: 'door', measurement: 'contact', field: 'open', to: true } }],
    ['change direction', { change: { ...series, direction: 'rising' } }],
    ['inactivity for', { inactivity: { room: 'kitchen', measurement: 'motion', field: 'motion', equals: true, for: '4h' } }],
    ['inactivity since/by', { inactivity: { room: 'kitchen', since: '06:00', by: '10:00' } }],
    ['inactivity with devices', { inactivity: { devices: ['pir-1', 'pir-2'], for: '30m' } }],
    ['silence', { silence: { room: 'kitchen', for: '2h' } }],
    ['time from/to', { time: { from: '22:00', to: '07:00' } }],
    ['time days only', { time: { days: ['sat', 'sun'] } }],
    ['time 00:00 to 23:59', { time: { from: '00:00', to: '23:59', days: ['mon'] } }],
    ['nested all/any/not', { all: [{ threshold: { ...series, op: '>', value: 30 } }, { not: { time: { from: '22:00', to: '07:00' } } }] }],
    ['any of inactivity and silence', { any: [{ inactivity: { device: 'pir', for: '4h' } }, { silence: { device: 'pir', for: '4h' } }] }],
  ]
  for (const [what, when, extra] of valid) {
    test(what, () => {
      assert.deepEqual(problems({ when, ...extra }), [])
    })
  }

  test('defaults: enabled true, autoResolve true, command params {}', () => {
    const r = RuleSchema.parse({
      ...base,
      when: { time: { days: ['mon'] } },
      actions: [alert, { command: { device: 'plug', capability: 'switch.off' } }, { webhook: { target: 'family' } }],
    })
    assert.equal(r.enabled, true)
    assert.deepEqual(r.actions[0], { alert: { severity: 'warning', title: 'Check on Mum', autoResolve: true } })
    assert.deepEqual(r.actions[1], { command: { device: 'plug', capability: 'switch.off', params: {} } })
  })

  test('durations and clock times stay as written', () => {
    const r = RuleSchema.parse({
      ...base,
      when: { threshold: { ...series, op: '>', value: 30 } },
      for: '90s',
      cooldown: '1h',
      quietHours: { from: '22:00', to: '07:00' },
    })
    assert.equal(r.for, '90s')
    assert.equal(r.cooldown, '1h')
    assert.deepEqual(r.quietHours, { from: '22:00', to: '07:00' })
  })

  test('for on a threshold or a non-momentary any is accepted', () => {
    assert.deepEqual(problems({ when: { threshold: { ...series, op: '>', value: 30 } }, for: '5m' }), [])
    const anyOf = { any: [{ change: { ...series, direction: 'rising' } }, { threshold: { ...series, op: '>', value: 30 } }] }
    assert.deepEqual(problems({ when: anyOf, for: '5m' }), [])
  })
})

describe('RuleSchema: refusals carry readable messages', () => {
  test('threshold without value', () => {
    refused({ when: { threshold: { ...series, op: '>' } } }, 'when.threshold', /need(s)? value/)
  })

  test('between without min or max, or with min > max', () => {
    refused({ when: { threshold: { ...series, op: 'between', min: 1 } } }, 'when.threshold', /min ≤ max/)
    refused({ when: { threshold: { ...series, op: 'outside', max: 1 } } }, 'when.threshold', /min ≤ max/)
    refused({ when: { threshold: { ...series, op: 'between', min: 5, max: 1 } } }, 'when.threshold', /min ≤ max/)
    refused({ when: { threshold: { ...series, op: 'between', value: 3 } } }, 'when.threshold', /min ≤ max/)
  })

  test('hysteresis with a non-numeric value', () => {
    refused({ when: { threshold: { ...series, op: '==', value: 'on', hysteresis: 2 } } }, 'when.threshold', /hysteresis needs a numeric value/)
    refused({ when: { threshold: { ...series, op: '==', value: true, hysteresis: 2 } } }, 'when.threshold', /hysteresis needs a numeric value/)
  })

  test('hysteresis must be positive', () => {
    refused({ when: { threshold: { ...series, op: '>', value: 30, hysteresis: 0 } } }, 'when.threshold.hysteresis', /./)
    refused({ when: { threshold: { ...series, op: '>', value: 30, hysteresis: -1 } } }, 'when.threshold.hysteresis', /./)
  })

  test('inactivity with both for and since+by, or neither', () => {
    refused({ when: { inactivity: { device: 'pir', for: '4h', since: '06:00', by: '10:00' } } }, 'when.inactivity', /either for .* or since \+ by/)
    refused({ when: { inactivity: { device: 'pir' } } }, 'when.inactivity', /either for .* or since \+ by/)
    refused({ when: { inactivity: { device: 'pir', since: '06:00' } } }, 'when.inactivity', /since \+ by/)
    refused({ when: { inactivity: { device: 'pir', by: '10:00' } } }, 'when.inactivity', /since \+ by/)
    refused({ when: { inactivity: { device: 'pir', for: '4h', by: '10:00' } } }, 'when.inactivity', /since \+ by/)
  })

  test('inactivity equals needs a field', () => {
    refused({ when: { inactivity: { device: 'pir', equals: true, for: '4h' } } }, 'when.inactivity', /equals needs a field/)
  })

  test('a selection names exactly one of device, devices, room', () => {
    const msg = /exactly one of device, devices or room/
    refused({ when: { inactivity: { for: '4h' } } }, 'when.inactivity', msg)
    refused({ when: { inactivity: { device: 'a', devices: ['b'], for: '4h' } } }, 'when.inactivity', msg)
    refused({ when: { inactivity: { device: 'a', room: 'kitchen', for: '4h' } } }, 'when.inactivity', msg)
    refused({ when: { silence: { for: '4h' } } }, 'when.silence', msg)
    refused({ when: { silence: { devices: ['a'], room: 'kitchen', for: '4h' } } }, 'when.silence', msg)
  })

  test('an empty devices list is refused', () => {
    assert.notDeepEqual(problems({ when: { silence: { devices: [], for: '4h' } } }), [])
  })

  test('time with only from (or only to)', () => {
    refused({ when: { time: { from: '06:00' } } }, 'when.time', /give both from and to/)
    refused({ when: { time: { to: '06:00', days: ['mon'] } } }, 'when.time', /give both from and to/)
  })

  test('time with nothing at all', () => {
    refused({ when: { time: {} } }, 'when.time', /from\/to, days/)
  })

  test('time with an unknown day', () => {
    refused({ when: { time: { days: ['monday'] } } }, 'when', /./)
  })

  test('`for` on a momentary (change) condition', () => {
    const change = { change: { device: 'door', measurement: 'contact', field: 'open', to: true } }
    refused({ when: change, for: '5m' }, 'for', /change condition lasts an instant/)
    refused({ when: { all: [change, { time: { from: '22:00', to: '07:00' } }] }, for: '5m' }, 'for', /lasts an instant/)
    refused({ when: { any: [change, change] }, for: '5m' }, 'for', /lasts an instant/)
  })

  test('unknown keys, at the rule and inside a condition', () => {
    refused({ when: { time: { days: ['mon'] } }, bogus: 1 }, '', /Unrecognized key.*bogus/)
    refused({ when: { threshold: { ...series, op: '>', value: 30, unit: 'C' } } }, 'when.threshold', /Unrecognized key.*unit/)
    refused({ when: { time: { days: ['mon'] }, extra: {} } }, 'when', /Unrecognized key.*extra/)
  })

  test('a condition that is none of the known kinds', () => {
    refused({ when: { sometimes: {} } }, 'when', /a condition is one of threshold, window, change, inactivity, silence, time, all, any, not/)
  })

  test('an action that is none of alert, command, webhook', () => {
    refused(
      { when: { time: { days: ['mon'] } }, actions: [{ email: { to: 'x@example.org' } }] },
      'actions.0',
      /an action is one of alert, command, webhook/,
    )
    refused({ when: { time: { days: ['mon'] } }, actions: [alert, { sms: {} }] }, 'actions.1', /an action is one of alert, command, webhook/)
  })

  test('a webhook names a configured target, never a URL', () => {
    assert.notDeepEqual(problems({ when: { time: { days: ['mon'] } }, actions: [{ webhook: { target: 'https://evil.example/' } }] }), [])
  })

  test('no actions at all', () => {
    refused({ when: { time: { days: ['mon'] } }, actions: [] }, 'actions', /./)
  })

  test('bad duration strings', () => {
    for (const bad of ['5 minutes', '5', 'm', '0m', '-5m', '1.5h', '5M', '']) {
      refused({ when: { silence: { device: 'pir', for: bad } } }, 'when.silence.for', /a duration such as 30s, 15m, 24h or 7d/)
    }
    refused({ when: { time: { days: ['mon'] } }, cooldown: '5 minutes' }, 'cooldown', /duration/)
    refused({ when: { window: { ...series, agg: 'avg', over: '10 min', op: '>', value: 1 } } }, 'when.window.over', /duration/)
  })

  test('bad clock times', () => {
    for (const bad of ['24:00', '7:30', '07:60', '0730', '07:30:00', 'noon']) {
      refused({ when: { time: { from: bad, to: '07:00' } } }, 'when.time.from', /a time of day as HH:MM/)
    }
    refused({ when: { time: { days: ['mon'] } }, quietHours: { from: '22:00', to: '24:00' } }, 'quietHours.to', /HH:MM/)
    refused({ when: { inactivity: { device: 'pir', since: '06:00', by: '25:00' } } }, 'when.inactivity.by', /HH:MM/)
  })

  test('bad ids', () => {
    refused({ id: 'Kitchen Rule', when: { time: { days: ['mon'] } } }, 'id', /lowercase letters/)
  })

  test('window: unknown aggregate or a between operator', () => {
    assert.notDeepEqual(problems({ when: { window: { ...series, agg: 'median', over: '10m', op: '>', value: 1 } } }), [])
    assert.notDeepEqual(problems({ when: { window: { ...series, agg: 'avg', over: '10m', op: 'between', value: 1 } } }), [])
  })

  test('change must say what change', () => {
    refused({ when: { change: { ...series } } }, 'when.change', /say what change/)
  })
})

describe('isMomentary', () => {
  const change: Condition = { change: { ...series, direction: 'rising' } }
  const threshold: Condition = { threshold: { ...series, op: '>', value: 30 } }
  test('a change alone, or ANDed with anything, is momentary', () => {
    assert.equal(isMomentary(change), true)
    assert.equal(isMomentary({ all: [threshold, change] }), true)
  })
  test('an OR is momentary only when every branch is', () => {
    assert.equal(isMomentary({ any: [change, change] }), true)
    assert.equal(isMomentary({ any: [change, threshold] }), false)
  })
  test('lasting conditions, and a negated change, are not momentary', () => {
    assert.equal(isMomentary(threshold), false)
    assert.equal(isMomentary({ not: change }), false)
    assert.equal(isMomentary({ time: { days: ['mon'] } }), false)
  })
  test('the schema agrees with ConditionSchema parsing', () => {
    assert.equal(ConditionSchema.safeParse(change).success, true)
  })
})

describe('ms', () => {
  test('parses every unit, undefined is 0', () => {
    assert.equal(ms(undefined), 0)
    assert.equal(ms('90s'), 90_000)
    assert.equal(ms('15m'), 900_000)
    assert.equal(ms('24h'), 86_400_000)
    assert.equal(ms('7d'), 604_800_000)
    assert.equal(ms('2w'), 1_209_600_000)
  })
})

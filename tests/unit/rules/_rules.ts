import type { FieldValue } from '../../../gateway/src/core/reading.js'
import { type EvalEnv, evaluate, type LeafState, type LeafView, type Pass, type RuleEvent } from '../../../gateway/src/rules/conditions.js'
import {
  type CompiledRule,
  compile,
  type Effect,
  initialState,
  type RuleState,
  type StepResult,
  step,
  type Trace,
} from '../../../gateway/src/rules/evaluator.js'
import { type Condition, type Rule, type RuleInput, RuleSchema } from '../../../gateway/src/rules/rule-model.js'

/** Shared fixtures for the rules tests: a fake clock (every input carries its time), a fake home, a rule runner. */

export const SEC = 1000
export const MIN = 60 * SEC
export const HOUR = 60 * MIN
export const DAY = 24 * HOUR

export const at = (iso: string): number => Date.parse(iso)
export const iso = (t: number): string => new Date(t).toISOString()

/** Friday 2026-11-27 21:00 UTC (22:00 in Berlin, CET = UTC+1). */
export const T0 = at('2026-11-27T21:00:00Z')

export const BERLIN = 'Europe/Berlin'

/** A home: which device is in which room. */
export function makeEnv(timeZone = 'UTC', rooms: Readonly<Record<string, readonly string[]>> = {}): EvalEnv {
  return {
    timeZone,
    roomOf: (deviceId) => Object.keys(rooms).find((r) => rooms[r]?.includes(deviceId)) ?? null,
    devicesIn: (room) => rooms[room] ?? [],
  }
}

export const UTC_ENV = makeEnv('UTC', { kitchen: ['pir-kitchen', 'door-kitchen'], hall: ['pir-hall'] })

const ALERT = { alert: { severity: 'warning', title: 'Check on Mum' } } as const

/** A full rule around a condition (validated by the real schema, so defaults apply). */
export function makeRule(when: Condition, extra: Partial<Omit<RuleInput, 'when'>> = {}): Rule {
  return RuleSchema.parse({ id: 'r1', name: 'test rule', actions: [ALERT], when, ...extra })
}

let nextSeq = 1
export function reading(deviceId: string, measurement: string, fields: Record<string, FieldValue>, seq = nextSeq++): RuleEvent {
  return { seq, deviceId, measurement, fields }
}

/** Shorthands for the series most tests use. */
export const temp = (v: FieldValue, device = 'thermo') => reading(device, 'climate', { temp_c: v })
export const motion = (v: boolean, device = 'pir-kitchen') => reading(device, 'motion', { motion: v })

export const tempSeries = { device: 'thermo', measurement: 'climate', field: 'temp_c' } as const

export type Input = { readonly at: number; readonly event?: RuleEvent }

/**
 * Drives one rule through inputs, collecting every effect and trace. `roundTrip` serialises the
 * state with JSON between inputs (what a restart does).
 */
export class Run {
  readonly compiled: CompiledRule
  state: RuleState
  readonly effects: Effect[] = []
  readonly traces: Trace[] = []

  constructor(
    rule: Rule,
    armedAt: number,
    readonly env: EvalEnv = UTC_ENV,
    readonly roundTrip = false,
  ) {
    this.compiled = compile(rule)
    this.state = initialState(armedAt)
  }

  input(i: Input): StepResult {
    if (this.roundTrip) this.state = JSON.parse(JSON.stringify(this.state)) as RuleState
    const r = step(this.compiled, this.state, i.event ? { at: i.at, event: i.event } : { at: i.at }, this.env)
    this.state = r.state
    this.effects.push(...r.effects)
    this.traces.push(...r.traces)
    return r
  }

  read(t: number, event: RuleEvent): StepResult {
    return this.input({ at: t, event })
  }

  tick(t: number): StepResult {
    return this.input({ at: t })
  }

  /** Times of the 'fire' effects so far. */
  fires(): number[] {
    return this.effects.filter((e) => e.type === 'fire').map((e) => e.at)
  }

  clears(): number[] {
    return this.effects.filter((e) => e.type === 'clear').map((e) => e.at)
  }

  tracesOf(outcome: Trace['outcome']): Trace[] {
    return this.traces.filter((t) => t.outcome === outcome)
  }
}

/** Evaluates one condition tree pass by pass, as the evaluator does, keeping the leaves' memory. */
export class Probe {
  readonly leaves: Record<string, LeafState> = {}
  views: LeafView[] = []
  rose = false
  windowBlocked = false

  constructor(
    readonly condition: Condition,
    readonly armedAt = T0,
    readonly env: EvalEnv = UTC_ENV,
  ) {}

  at(now: number, event: RuleEvent | null = null): boolean {
    const pass: Pass = { now, event, env: this.env, leaves: this.leaves, armedAt: this.armedAt, views: [], rose: false, windowBlocked: false }
    const holds = evaluate(this.condition, '0', pass)
    this.views = pass.views
    this.rose = pass.rose
    this.windowBlocked = pass.windowBlocked
    return holds
  }

  /** The view a leaf left on the last pass (the only one when the condition is a single leaf). */
  view(path = '0'): LeafView | undefined {
    return this.views.find((v) => v.path === path)
  }
}

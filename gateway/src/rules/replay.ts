import type { FieldValue } from '../core/reading.js'
import type { Db } from '../store/open.js'
import { type EvalEnv, evaluate, type LeafState, type LeafView, type RuleEvent } from './conditions.js'
import { compile, type Effect, initialState, type RuleState, step, type Trace } from './evaluator.js'
import type { Rule } from './rule-model.js'
import { listensTo } from './rule-set.js'

/** What a dry-run or a backtest found: the same evaluator as the live engine, fed other inputs. */
export interface ReplayResult {
  readonly effects: Effect[]
  readonly traces: Trace[]
  readonly readings: number
}

export interface ReplayInput {
  readonly at: number
  readonly event?: RuleEvent
}

/** Run inputs through a copy of a state (the live state is never touched), then up to `until`. */
export function replay(
  rule: Rule,
  start: RuleState,
  inputs: Iterable<ReplayInput>,
  until: number,
  env: EvalEnv,
): ReplayResult & { state: RuleState } {
  const c = compile(rule)
  const state = structuredClone(start)
  const out: ReplayResult = { effects: [], traces: [], readings: 0 }
  const take = (r: { effects: Effect[]; traces: Trace[] }) => {
    out.effects.push(...r.effects)
    out.traces.push(...r.traces)
  }
  let n = 0
  for (const input of inputs) {
    take(step(c, state, input, env))
    n++
  }
  take(step(c, state, { at: until }, env))
  return { ...out, readings: n, state }
}

/** The condition tree as it stands for a state at `at`: every leaf, whether it holds, what it saw. */
export function explain(rule: Rule, state: RuleState, at: number, env: EvalEnv): { holds: boolean; views: LeafView[] } {
  const leaves = structuredClone(state.leaves) as Record<string, LeafState>
  const pass = {
    now: Math.max(at, state.at),
    event: null,
    env,
    leaves,
    armedAt: state.armedAt,
    views: [] as LeafView[],
    rose: false,
    windowBlocked: false,
  }
  const holds = evaluate(rule.when, '0', pass)
  return { holds, views: pass.views }
}

/** Readings a backtest replays at most (a week of a sensor every 5 s is 121k). */
export const BACKTEST_MAX_READINGS = 200_000

/**
 * The stored readings a rule listens to, received in [from, to], in journal order — by the box's
 * receive time, as the live engine saw them (a device's buffered readings from days ago count when
 * they arrived). Read per device through the index that starts with the device, never a scan of
 * the whole journal.
 */
export function historyFor(db: Db, rule: Rule, from: number, to: number, env: EvalEnv): { inputs: ReplayInput[]; truncated: boolean } {
  const { devices, rooms } = listensTo(rule.when)
  const all = new Set(devices)
  for (const room of rooms) for (const d of env.devicesIn(room)) all.add(d)
  const rows: Array<{ seq: number; device_id: string; measurement: string; fields: string; received_at: number }> = []
  const select = db.prepare(
    'SELECT seq, device_id, measurement, fields, received_at FROM readings WHERE device_id = ? AND received_at BETWEEN ? AND ? ORDER BY seq LIMIT ?',
  )
  let truncated = false
  for (const d of all) {
    for (const row of select.iterate(d, from, to, BACKTEST_MAX_READINGS + 1 - rows.length) as Iterable<(typeof rows)[number]>) rows.push(row)
    if (rows.length > BACKTEST_MAX_READINGS) {
      truncated = true
      break
    }
  }
  rows.sort((a, b) => a.seq - b.seq)
  // Truncated: the earliest readings are kept (a contiguous stretch from `from`).
  if (truncated) rows.length = BACKTEST_MAX_READINGS
  return {
    truncated,
    inputs: rows.map((r) => ({
      at: r.received_at,
      event: { seq: r.seq, deviceId: r.device_id, measurement: r.measurement, fields: JSON.parse(r.fields) as Record<string, FieldValue> },
    })),
  }
}

/** Backtest: the rule, fresh at `from`, through the stored history up to `to` — in slices, the event loop free between them. */
export async function backtest(db: Db, rule: Rule, from: number, to: number, env: EvalEnv): Promise<ReplayResult & { truncated: boolean }> {
  const { inputs, truncated } = historyFor(db, rule, from, to, env)
  const c = compile(rule)
  const state = initialState(from)
  const out = { effects: [] as Effect[], traces: [] as Trace[] }
  for (let i = 0; i < inputs.length; i++) {
    const r = step(c, state, inputs[i] as ReplayInput, env)
    out.effects.push(...r.effects)
    out.traces.push(...r.traces)
    if (i % 5000 === 4999) await new Promise((resolve) => setImmediate(resolve))
  }
  const last = step(c, state, { at: to }, env)
  out.effects.push(...last.effects)
  out.traces.push(...last.traces)
  return { ...out, readings: inputs.length, truncated }
}

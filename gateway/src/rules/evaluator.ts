import { type EvalEnv, evaluate, type LeafState, type LeafView, nextChange, type RuleEvent } from './conditions.js'
import { clockMinute, inSpan, localTime, nextLocal } from './local-time.js'
import { type Condition, isMomentary, ms, type Rule } from './rule-model.js'

/**
 * The pure rule evaluator: (rule, state, input, env) → (state, effects, traces). No I/O and no
 * clock of its own — time comes with the input — so the live engine, a restart's replay, the
 * dry-run and the backtest all run exactly this code and agree.
 *
 * Time is the gateway's receive time of each reading, and the tick's time for timers. Before an
 * input at time t is applied, every deadline before t (a `for` completing, a window sample expiring,
 * an inactivity clock running out, a cooldown ending, a time-of-day boundary) is evaluated at its own
 * instant, so a firing's time never depends on when the engine happened to look.
 */

export interface RuleState {
  v: 1
  /** The evaluator's clock: the time of the last evaluation (never goes back). */
  at: number
  /** When the rule started watching (clocks of inactivity/silence start here). */
  armedAt: number
  /** The whole condition held at `at`, since `since`. */
  holding: boolean
  since: number | null
  /** The journal entry that began the episode (the reading behind a timer's firing). */
  sinceSeq?: number | null
  /** This holding episode has fired (it fires once; it may fire again after it ends). */
  fired: boolean
  /** What held back the firing of this episode (traced once). */
  blocked: 'cooldown' | null
  cooldownUntil: number | null
  lastFiredAt: number | null
  leaves: Record<string, LeafState>
  /** Not evaluated yet: the first step looks at the rule at its arming instant (a time window may already hold). */
  fresh?: boolean
  /** The journal's last seq when the rule was armed: older readings are not evaluated by the live engine. */
  armedSeq?: number
}

export interface Firing {
  readonly at: number
  /** The reading behind the firing: the one that completed the condition, or that began the episode. */
  readonly seq: number | null
  /** The reading that completed the condition, or null when a timer did. */
  readonly trigger: RuleEvent | null
  readonly views: readonly LeafView[]
  /** Non-critical alerts of this firing are held back until then (quiet hours). */
  readonly quietUntil: number | null
}

export type Effect = ({ readonly type: 'fire' } & Firing) | { readonly type: 'clear'; readonly at: number; readonly seq: number | null }

export type TraceOutcome = 'armed' | 'fired' | 'cleared' | 'near_miss' | 'action'
export type NearMissReason = 'for' | 'cooldown' | 'condition' | 'window'

export interface Trace {
  readonly at: number
  readonly seq: number | null
  readonly outcome: TraceOutcome
  readonly reason: NearMissReason | 'quiet_hours' | null
  readonly message: string
  readonly views: readonly LeafView[]
}

export interface StepResult {
  readonly state: RuleState
  readonly effects: Effect[]
  readonly traces: Trace[]
}

export type RuleInputEvent = { readonly at: number; readonly event: RuleEvent } | { readonly at: number; readonly event?: undefined }

/** A rule with its durations parsed once. */
export interface CompiledRule {
  readonly rule: Rule
  readonly forMs: number
  readonly cooldownMs: number
  readonly momentary: boolean
}

export function compile(rule: Rule): CompiledRule {
  return { rule, forMs: ms(rule.for), cooldownMs: ms(rule.cooldown), momentary: isMomentary(rule.when) }
}

export function initialState(now: number): RuleState {
  return {
    v: 1,
    at: now,
    armedAt: now,
    holding: false,
    since: null,
    fired: false,
    blocked: null,
    cooldownUntil: null,
    lastFiredAt: null,
    leaves: {},
    fresh: true,
  }
}

/** Replays at most this many deadlines per input (a long outage of a busy window rule). */
const MAX_DEADLINES = 100_000

/**
 * Apply one input. The state is updated in place and returned (callers that need the old one,
 * like the dry-run, pass a copy).
 */
export function step(c: CompiledRule, state: RuleState, input: RuleInputEvent, env: EvalEnv): StepResult {
  const out: StepResult = { state, effects: [], traces: [] }
  if (state.fresh) {
    state.fresh = false
    evaluateAt(c, state, state.armedAt, null, env, out)
  }
  const t = Math.max(input.at, state.at)
  for (let i = 0; i < MAX_DEADLINES; i++) {
    const d = nextDeadline(c, state, env)
    if (d > t) break
    evaluateAt(c, state, d, null, env, out)
  }
  if (input.event || t > state.at) evaluateAt(c, state, t, input.event ?? null, env, out)
  return out
}

/** When the rule next needs looking at without a reading (Infinity: only a reading can change it). */
export function nextDeadline(c: CompiledRule, s: RuleState, env: EvalEnv): number {
  if (s.fresh) return s.armedAt
  let d = nextChange(c.rule.when, '0', s.leaves, s.at, s.armedAt, env)
  if (s.holding && !s.fired && s.since !== null) {
    const due = s.since + c.forMs
    if (due > s.at) d = Math.min(d, due)
    else if (s.cooldownUntil !== null && s.cooldownUntil > s.at) d = Math.min(d, s.cooldownUntil)
  }
  return d
}

function evaluateAt(c: CompiledRule, s: RuleState, now: number, event: RuleEvent | null, env: EvalEnv, out: StepResult): void {
  const pass = { now, event, env, leaves: s.leaves, armedAt: s.armedAt, views: [], rose: false, windowBlocked: false }
  // A momentary condition held only at the instant of its reading: any later input starts afresh,
  // so two edges on back-to-back readings are two firings.
  if (c.momentary && s.holding) endEpisode(s)
  const holds = evaluate(c.rule.when, '0', pass)
  s.at = now
  const seq = event?.seq ?? null
  const trace = (outcome: TraceOutcome, reason: Trace['reason'], message: string) =>
    out.traces.push({ at: now, seq, outcome, reason, message, views: pass.views })

  if (holds && !s.holding) {
    s.holding = true
    s.since = now
    s.sinceSeq = seq
    s.fired = false
    s.blocked = null
    if (c.forMs > 0) trace('armed', null, `condition holds; fires at ${iso(now + c.forMs)} if it still holds (for ${c.rule.for})`)
  } else if (!holds && s.holding) {
    const heldMs = now - (s.since ?? now)
    if (s.fired && !c.momentary) {
      out.effects.push({ type: 'clear', at: now, seq })
      trace('cleared', null, `condition stopped holding after ${seconds(heldMs)}`)
    } else if (!s.fired && s.blocked === null && c.forMs > 0) {
      trace('near_miss', 'for', `condition held for ${seconds(heldMs)} of the ${c.rule.for} needed, then stopped`)
    }
    endEpisode(s)
  }

  if (s.holding && !s.fired && now - (s.since as number) >= c.forMs) {
    if (s.cooldownUntil !== null && now < s.cooldownUntil) {
      if (s.blocked !== 'cooldown') trace('near_miss', 'cooldown', `would fire, but the rule is cooling down until ${iso(s.cooldownUntil)}`)
      s.blocked = 'cooldown'
    } else {
      const quietUntil = quietEnd(c.rule, now, env.timeZone)
      out.effects.push({ type: 'fire', at: now, seq: seq ?? s.sinceSeq ?? null, trigger: event, views: pass.views, quietUntil })
      trace(
        'fired',
        quietUntil === null ? null : 'quiet_hours',
        quietUntil === null ? 'fired' : `fired in quiet hours: non-critical notifications wait until ${iso(quietUntil)}`,
      )
      s.fired = true
      s.blocked = null
      s.lastFiredAt = now
      s.cooldownUntil = c.cooldownMs > 0 ? now + c.cooldownMs : null
    }
  } else if (!holds && event !== null) {
    if (pass.windowBlocked) trace('near_miss', 'window', 'the reading alone would match, but the window aggregate does not')
    else if (pass.rose) trace('near_miss', 'condition', `matched ${falseLeaves(pass.views, false)}; not met: ${falseLeaves(pass.views, true)}`)
  }
}

function endEpisode(s: RuleState): void {
  s.holding = false
  s.since = null
  s.sinceSeq = null
  s.fired = false
  s.blocked = null
}

function quietEnd(rule: Rule, now: number, timeZone: string): number | null {
  if (!rule.quietHours) return null
  const from = clockMinute(rule.quietHours.from)
  const to = clockMinute(rule.quietHours.to)
  return inSpan(localTime(now, timeZone).minute, from, to) ? nextLocal(now, to, timeZone) : null
}

function falseLeaves(views: readonly LeafView[], wantFalse: boolean): string {
  const picked = views.filter((v) => v.holds !== wantFalse).map((v) => v.detail)
  return picked.length ? picked.join('; ') : 'nothing'
}

/** The first device a condition names (whom an alert is about when no reading completed it). */
export function deviceOf(c: Condition): string | null {
  if ('all' in c || 'any' in c) {
    for (const x of 'all' in c ? c.all : c.any) {
      const d = deviceOf(x)
      if (d) return d
    }
    return null
  }
  if ('not' in c) return deviceOf(c.not)
  const leaf = Object.values(c)[0] as { device?: string; devices?: string[] }
  return leaf.device ?? leaf.devices?.[0] ?? null
}

const iso = (t: number) => new Date(t).toISOString()
const seconds = (msValue: number) => (msValue >= 120_000 ? `${Math.round(msValue / 60_000)} min` : `${Math.round(msValue / 1000)} s`)

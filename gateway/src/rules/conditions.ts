import type { FieldValue } from '../core/reading.js'
import { clockMinute, inSpan, localTime, nextLocal, previousLocal } from './local-time.js'
import { type Condition, DAYS, type Inactivity, ms, type Silence, type Threshold, type Window } from './rule-model.js'

/**
 * One pass over a condition tree (pure): each leaf reads the event, updates its own small state and
 * says whether it holds, and leaves a view of what it saw for traces. Every child is evaluated — no
 * short-circuit — so windows and last values stay current whatever the other branches say.
 */

/** What the evaluator needs to know about the home, as plain lookups (no I/O). */
export interface EvalEnv {
  readonly timeZone: string
  readonly roomOf: (deviceId: string) => string | null
  readonly devicesIn: (room: string) => readonly string[]
}

export interface RuleEvent {
  readonly seq: number
  readonly deviceId: string
  readonly measurement: string
  readonly fields: Readonly<Record<string, FieldValue>>
}

/** A leaf's memory, JSON-serialisable (persisted in rule_state). */
export interface LeafState {
  /** Last value seen (threshold, change). */
  v?: FieldValue
  /** Threshold currently on (hysteresis needs the previous answer). */
  on?: boolean
  /** Raw reading alone satisfied a window's comparison (near-miss edge). */
  raw?: boolean
  /** Inactivity: last matching event; silence: when watching began. */
  t?: number
  /** Window samples [time, value], oldest first. */
  s?: Array<[number, number]>
  /** Silence: last reading per device. */
  seen?: Record<string, number>
}

export interface LeafView {
  readonly path: string
  readonly kind: string
  readonly holds: boolean
  readonly value?: FieldValue | null
  readonly detail: string
}

export interface Pass {
  readonly now: number
  readonly event: RuleEvent | null
  readonly env: EvalEnv
  readonly leaves: Record<string, LeafState>
  /** When the rule started watching (inactivity/silence clocks start here when nothing was seen). */
  readonly armedAt: number
  readonly views: LeafView[]
  /** A leaf became true on this event (a near miss if the whole condition does not hold). */
  rose: boolean
  /** A reading satisfied a window's comparison on its own but the window's aggregate did not. */
  windowBlocked: boolean
}

/** Windows keep at most this many samples; beyond it the oldest go first (README: window limits). */
export const WINDOW_MAX_SAMPLES = 5000

export function evaluate(c: Condition, path: string, pass: Pass): boolean {
  if ('all' in c) return c.all.map((x, i) => evaluate(x, `${path}.${i}`, pass)).every(Boolean)
  if ('any' in c) return c.any.map((x, i) => evaluate(x, `${path}.${i}`, pass)).some(Boolean)
  if ('not' in c) return !evaluate(c.not, `${path}.0`, pass)
  const st = leafState(pass.leaves, path)
  const view = (kind: string, holds: boolean, detail: string, value?: FieldValue | null) => {
    pass.views.push({ path, kind, holds, detail, ...(value === undefined ? {} : { value }) })
    return holds
  }
  if ('threshold' in c) {
    const t = c.threshold
    const v = fieldOf(pass.event, t)
    if (v !== undefined) {
      const was = st.on ?? false
      st.on = thresholdHolds(t, v, was, st.v)
      st.v = v
      if (st.on && !was) pass.rose = true
    }
    const bound = t.op === 'between' || t.op === 'outside' ? `${t.min}…${t.max}` : String(t.value)
    return view('threshold', st.on ?? false, `${series(t)} ${t.op} ${bound}`, st.v ?? null)
  }
  if ('window' in c) return windowLeaf(c.window, st, pass, view)
  if ('change' in c) {
    const ch = c.change
    const v = fieldOf(pass.event, ch)
    let holds = false
    if (v !== undefined) {
      const prev = st.v
      st.v = v
      holds =
        prev !== undefined &&
        prev !== v &&
        (ch.from === undefined || prev === ch.from) &&
        (ch.to === undefined || v === ch.to) &&
        (ch.direction === undefined || (ch.direction === 'rising' ? num(v) > num(prev) : num(v) < num(prev)))
      if (holds) pass.rose = true
    }
    return view('change', holds, `${series(ch)} ${ch.from ?? '*'} → ${ch.to ?? '*'}${ch.direction ? ` (${ch.direction})` : ''}`, st.v ?? null)
  }
  if ('inactivity' in c) return inactivityLeaf(c.inactivity, st, pass, view)
  if ('silence' in c) return silenceLeaf(c.silence, st, pass, view)
  const t = c.time
  const local = localTime(pass.now, pass.env.timeZone)
  let inWindow = true
  let day = local.weekday
  if (t.from !== undefined && t.to !== undefined) {
    const from = clockMinute(t.from)
    const to = clockMinute(t.to)
    inWindow = inSpan(local.minute, from, to)
    // A night window belongs to the evening it began: Friday 22:00–07:00 includes Saturday 02:00.
    if (from > to && local.minute < to) day = (day + 6) % 7
  }
  const holds = inWindow && (t.days === undefined || t.days.includes(DAYS[day] as (typeof DAYS)[number]))
  return view('time', holds, `${t.from ?? ''}${t.from ? '–' : ''}${t.to ?? ''}${t.days ? ` ${t.days.join(',')}` : ''}`.trim())
}

/** The earliest instant after `now` when a leaf's answer can change without a reading (Infinity: never). */
export function nextChange(c: Condition, path: string, leaves: Record<string, LeafState>, now: number, armedAt: number, env: EvalEnv): number {
  if ('all' in c) return Math.min(...c.all.map((x, i) => nextChange(x, `${path}.${i}`, leaves, now, armedAt, env)))
  if ('any' in c) return Math.min(...c.any.map((x, i) => nextChange(x, `${path}.${i}`, leaves, now, armedAt, env)))
  if ('not' in c) return nextChange(c.not, `${path}.0`, leaves, now, armedAt, env)
  const st = leaves[path] ?? {}
  const after = (t: number) => (t > now ? t : Number.POSITIVE_INFINITY)
  if ('window' in c) {
    const filled = after(armedAt + ms(c.window.over))
    return Math.min(filled, st.s?.[0] ? after(st.s[0][0] + ms(c.window.over)) : Number.POSITIVE_INFINITY)
  }
  if ('inactivity' in c) {
    const i = c.inactivity
    if (i.for !== undefined) return after((st.t ?? armedAt) + ms(i.for))
    return Math.min(nextLocal(now, clockMinute(i.since as string), env.timeZone), nextLocal(now, clockMinute(i.by as string), env.timeZone))
  }
  if ('silence' in c) {
    const seen = st.seen ?? {}
    // A device not seen selected yet: look again at once, which starts its clock.
    return Math.min(
      ...selected(c.silence, env).map((d) => (seen[d] === undefined ? now + 1 : after(seen[d] + ms(c.silence.for)))),
      Number.POSITIVE_INFINITY,
    )
  }
  if ('time' in c) {
    const { from, to } = c.time
    if (from !== undefined && to !== undefined)
      return Math.min(nextLocal(now, clockMinute(from), env.timeZone), nextLocal(now, clockMinute(to), env.timeZone))
    return nextLocal(now, 0, env.timeZone)
  }
  return Number.POSITIVE_INFINITY
}

type View = (kind: string, holds: boolean, detail: string, value?: FieldValue | null) => boolean

function windowLeaf(w: Window, st: LeafState, pass: Pass, view: View): boolean {
  if (!st.s) st.s = []
  const samples = st.s
  const v = fieldOf(pass.event, w)
  let raw: boolean | undefined
  // Counting counts every reading of the field; the other aggregates take numbers (booleans as
  // 1/0) and leave text ("unavailable") out rather than poisoning the window with NaN.
  const n = v === undefined ? Number.NaN : w.agg === 'count' ? 0 : num(v)
  if (v !== undefined && !Number.isNaN(n)) {
    samples.push([pass.now, n])
    if (samples.length > WINDOW_MAX_SAMPLES) samples.shift()
    raw = w.agg === 'count' ? undefined : compare(n, w.op, w.value)
  }
  const horizon = pass.now - ms(w.over)
  while (samples.length > 0 && (samples[0] as [number, number])[0] <= horizon) samples.shift()
  const agg = aggregate(w.agg, samples)
  // A window the rule has not watched for its whole length would judge time it did not see
  // ("no motion in the last hour" right after the rule was made): it holds only once full.
  const full = pass.now - pass.armedAt >= ms(w.over)
  const holds = full && agg !== null && compare(agg, w.op, w.value)
  if (raw !== undefined) {
    if (raw && !holds && !st.raw) pass.windowBlocked = true
    st.raw = raw
  }
  const shown = agg === null ? null : Math.round(agg * 1000) / 1000
  return view(
    'window',
    holds,
    `${w.agg}(${series(w)}) over ${w.over} ${w.op} ${w.value} (${samples.length} readings${full ? '' : ', window still filling'})`,
    shown,
  )
}

function aggregate(agg: Window['agg'], s: ReadonlyArray<[number, number]>): number | null {
  if (agg === 'count') return s.length
  if (s.length === 0) return null
  if (agg === 'rate') {
    const [t0, v0] = s[0] as [number, number]
    const [t1, v1] = s[s.length - 1] as [number, number]
    return t1 > t0 ? ((v1 - v0) * 60_000) / (t1 - t0) : null // per minute
  }
  let sum = 0
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  for (const [, v] of s) {
    sum += v
    if (v < min) min = v
    if (v > max) max = v
  }
  return agg === 'sum' ? sum : agg === 'avg' ? sum / s.length : agg === 'min' ? min : max
}

function inactivityLeaf(i: Inactivity, st: LeafState, pass: Pass, view: View): boolean {
  st.t ??= pass.armedAt
  let matched = false
  const e = pass.event
  if (e && isSelected(i, e.deviceId, pass.env) && (i.measurement === undefined || i.measurement === e.measurement)) {
    const v = i.field === undefined ? true : e.fields[i.field]
    if (v !== undefined && (i.equals === undefined || v === i.equals)) {
      st.t = pass.now
      matched = true
    }
  }
  const what = `${i.device ?? i.devices?.join(',') ?? `room ${i.room}`}${i.measurement ? ` ${i.measurement}` : ''}${i.field ? `.${i.field}` : ''}${i.equals !== undefined ? ` == ${i.equals}` : ''}`
  const idleMinutes = Math.floor((pass.now - st.t) / 60_000)
  if (i.for !== undefined) return view('inactivity', pass.now - st.t >= ms(i.for), `no ${what} for ${i.for} (idle ${idleMinutes} min)`, idleMinutes)
  const since = previousLocal(pass.now, clockMinute(i.since as string), pass.env.timeZone)
  const by = nextLocal(since, clockMinute(i.by as string), pass.env.timeZone)
  // Once it holds it goes on holding until a matching event — not until the next morning's `since`
  // (nobody in the kitchen since yesterday is still nobody).
  if (matched) st.on = false
  else if (!st.on) st.on = pass.now >= by && st.t < since
  return view('inactivity', st.on === true, `no ${what} between ${i.since} and ${i.by} (idle ${idleMinutes} min)`, idleMinutes)
}

function silenceLeaf(s: Silence, st: LeafState, pass: Pass, view: View): boolean {
  st.t ??= pass.armedAt
  if (!st.seen) st.seen = {}
  const seen = st.seen
  const devices = selected(s, pass.env)
  // A device's clock starts when the rule first sees it selected: at arming, or when it joined the
  // room later (not at arming: a sensor moved into the kitchen today is not "silent for months").
  for (const d of devices) seen[d] ??= pass.now
  if (pass.event && devices.includes(pass.event.deviceId)) seen[pass.event.deviceId] = pass.now
  const limit = ms(s.for)
  const silent = devices.filter((d) => pass.now - (seen[d] as number) >= limit)
  return view(
    'silence',
    silent.length > 0,
    `silent for ${s.for}: ${silent.length ? silent.join(', ') : 'none'} of ${devices.length}`,
    silent.join(','),
  )
}

function leafState(leaves: Record<string, LeafState>, path: string): LeafState {
  let st = leaves[path]
  if (!st) {
    st = {}
    leaves[path] = st
  }
  return st
}

function isSelected(s: { device?: string; devices?: string[]; room?: string }, deviceId: string, env: EvalEnv): boolean {
  return s.device === deviceId || (s.devices?.includes(deviceId) ?? false) || (s.room !== undefined && env.roomOf(deviceId) === s.room)
}

function selected(s: Silence, env: EvalEnv): readonly string[] {
  return s.device !== undefined ? [s.device] : (s.devices ?? env.devicesIn(s.room as string))
}

function fieldOf(e: RuleEvent | null, s: { device: string; measurement: string; field: string }): FieldValue | undefined {
  if (!e || e.deviceId !== s.device || e.measurement !== s.measurement) return undefined
  return e.fields[s.field]
}

function thresholdHolds(t: Threshold, v: FieldValue, wasOn: boolean, previous: FieldValue | undefined): boolean {
  if (t.op === '==') return v === t.value
  if (t.op === '!=') return v !== t.value
  if (typeof v !== 'number') return false
  // Hysteresis: once on, the value must come back past the bound by `hysteresis` to turn off.
  const h = wasOn ? (t.hysteresis ?? 0) : 0
  const min = t.min as number
  const max = t.max as number
  if (t.op === 'between') return v >= min - h && v <= max + h
  if (t.op === 'outside') {
    if (v < min || v > max) return true
    if (!wasOn) return false
    // Back inside: stay on until the value is h inside the bound it went out across.
    return previous !== undefined && typeof previous === 'number' && previous < (min + max) / 2 ? v < min + h : v > max - h
  }
  const bound = t.value as number
  return t.op === '>' ? v > bound - h : t.op === '>=' ? v >= bound - h : t.op === '<' ? v < bound + h : v <= bound + h
}

function compare(a: number, op: Window['op'], b: number): boolean {
  return op === '>' ? a > b : op === '>=' ? a >= b : op === '<' ? a < b : op === '<=' ? a <= b : op === '==' ? a === b : a !== b
}

/** Numbers as they are, booleans as 1/0, anything else NaN (never satisfies a comparison). */
const num = (v: FieldValue): number => (typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : Number.NaN)
const series = (s: { device: string; measurement: string; field: string }) => `${s.device} ${s.measurement}.${s.field}`

import { z } from 'zod'
import { DurationText, durationMs } from '../core/duration.js'
import type { FieldValue } from '../core/reading.js'
import { SEVERITIES } from '../core/severity.js'

/**
 * The rule model: `when` a condition holds, run `actions`, validated here once for both the API and
 * config/rules.yaml. Durations stay as written ("5m") so a rule reads back exactly as it was put;
 * the evaluator parses them. README "Rules and alerts" documents every kind with examples.
 */

const Name = z.string().regex(/^[a-z0-9][a-z0-9_.:-]{0,63}$/, { error: 'lowercase letters, digits, "_", ".", ":" or "-", 1–64 characters' })
const Value = z.union([z.number(), z.boolean(), z.string().max(200)])
const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'a time of day as HH:MM, e.g. 07:30' })
export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const
const Comparison = z.enum(['>', '>=', '<', '<=', '==', '!='])

const Series = { device: Name, measurement: Name, field: Name }
/** Which devices an inactivity or silence condition watches: one, a list, or every device of a room. */
const Selection = {
  device: Name.optional(),
  devices: z.array(Name).min(1).max(100).optional(),
  room: z.string().min(1).max(64).optional(),
}
const oneSelection = (s: { device?: unknown; devices?: unknown; room?: unknown }) =>
  [s.device, s.devices, s.room].filter((x) => x !== undefined).length === 1
const SELECTION_ERROR = { error: 'name exactly one of device, devices or room' }

export const ThresholdSchema = z
  .strictObject({
    ...Series,
    op: z.enum(['>', '>=', '<', '<=', '==', '!=', 'between', 'outside']),
    value: Value.optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    hysteresis: z.number().positive().optional(),
  })
  .refine((t) => (t.op === 'between' || t.op === 'outside' ? t.min !== undefined && t.max !== undefined && t.min <= t.max : t.value !== undefined), {
    error: 'between/outside need min ≤ max; the other operators need value',
  })
  .refine((t) => t.hysteresis === undefined || typeof t.value === 'number' || t.min !== undefined, { error: 'hysteresis needs a numeric value' })

export const WindowSchema = z.strictObject({
  ...Series,
  agg: z.enum(['avg', 'min', 'max', 'sum', 'count', 'rate']),
  over: DurationText,
  op: Comparison,
  value: z.number(),
})

export const ChangeSchema = z
  .strictObject({ ...Series, from: Value.optional(), to: Value.optional(), direction: z.enum(['rising', 'falling']).optional() })
  .refine((c) => c.from !== undefined || c.to !== undefined || c.direction !== undefined, { error: 'say what change: from, to or direction' })

export const InactivitySchema = z
  .strictObject({
    ...Selection,
    measurement: Name.optional(),
    field: Name.optional(),
    equals: Value.optional(),
    for: DurationText.optional(),
    since: ClockTime.optional(),
    by: ClockTime.optional(),
  })
  .refine(oneSelection, SELECTION_ERROR)
  .refine((i) => (i.for !== undefined) !== (i.since !== undefined && i.by !== undefined) && (i.since === undefined) === (i.by === undefined), {
    error: 'give either for (no matching event for that long) or since + by (none between those times of day)',
  })
  .refine((i) => i.equals === undefined || i.field !== undefined, { error: 'equals needs a field' })

export const SilenceSchema = z.strictObject({ ...Selection, for: DurationText }).refine(oneSelection, SELECTION_ERROR)

export const TimeSchema = z
  .strictObject({ from: ClockTime.optional(), to: ClockTime.optional(), days: z.array(z.enum(DAYS)).min(1).max(7).optional() })
  .refine((t) => (t.from === undefined) === (t.to === undefined), { error: 'give both from and to' })
  .refine((t) => t.from !== undefined || t.days !== undefined, { error: 'give from/to, days, or both' })

export type Threshold = z.infer<typeof ThresholdSchema>
export type Window = z.infer<typeof WindowSchema>
export type Change = z.infer<typeof ChangeSchema>
export type Inactivity = z.infer<typeof InactivitySchema>
export type Silence = z.infer<typeof SilenceSchema>
export type TimeWindow = z.infer<typeof TimeSchema>

export type Condition =
  | { readonly threshold: Threshold }
  | { readonly window: Window }
  | { readonly change: Change }
  | { readonly inactivity: Inactivity }
  | { readonly silence: Silence }
  | { readonly time: TimeWindow }
  | { readonly all: readonly Condition[] }
  | { readonly any: readonly Condition[] }
  | { readonly not: Condition }

export const ConditionSchema: z.ZodType<Condition> = z
  .lazy(() =>
    z.union(
      [
        z.strictObject({ threshold: ThresholdSchema }),
        z.strictObject({ window: WindowSchema }),
        z.strictObject({ change: ChangeSchema }),
        z.strictObject({ inactivity: InactivitySchema }),
        z.strictObject({ silence: SilenceSchema }),
        z.strictObject({ time: TimeSchema }),
        z.strictObject({ all: z.array(ConditionSchema).min(1).max(20) }),
        z.strictObject({ any: z.array(ConditionSchema).min(1).max(20) }),
        z.strictObject({ not: ConditionSchema }),
      ],
      { error: 'a condition is one of threshold, window, change, inactivity, silence, time, all, any, not' },
    ),
  )
  .meta({ id: 'Condition' })

const AlertAction = z.strictObject({
  severity: z.enum(SEVERITIES),
  title: z.string().min(1).max(120),
  message: z.string().max(1000).optional(),
  /** Resolve the alert by itself when the condition stops holding (default true). */
  autoResolve: z.boolean().default(true),
})
const CommandAction = z.strictObject({
  device: Name,
  capability: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/),
  params: z.record(z.string().max(64), z.unknown()).default({}),
  timeoutMs: z.number().int().min(100).max(30_000).optional(),
})
/** Webhook targets are named in the gateway config (url + secret), never free URLs in a rule (ASVS 15.3 SSRF). */
const WebhookAction = z.strictObject({ target: Name, note: z.string().max(200).optional() })

export const ActionSchema = z.union(
  [z.strictObject({ alert: AlertAction }), z.strictObject({ command: CommandAction }), z.strictObject({ webhook: WebhookAction })],
  { error: 'an action is one of alert, command, webhook' },
)
export type Action = z.infer<typeof ActionSchema>
export type AlertSpec = Extract<Action, { alert: unknown }>['alert']
export type CommandSpec = Extract<Action, { command: unknown }>['command']

/** The rule's fields (for response schemas); RuleSchema adds the checks across fields. */
export const RuleFields = z.strictObject({
  id: Name,
  name: z.string().min(1).max(120),
  description: z.string().max(1000).optional(),
  enabled: z.boolean().default(true),
  when: ConditionSchema,
  for: DurationText.optional(),
  cooldown: DurationText.optional(),
  quietHours: z.strictObject({ from: ClockTime, to: ClockTime }).optional(),
  actions: z.array(ActionSchema).min(1).max(10),
})

/** Leaves of one rule at most: every reading of a watched device evaluates all of them. */
export const MAX_LEAVES = 50

export const RuleSchema = RuleFields.refine((r) => r.for === undefined || !isMomentary(r.when), {
  error: 'a change condition lasts an instant, so `for` cannot apply to it; use a threshold (e.g. open == true) instead',
  path: ['for'],
}).refine((r) => leaves(r.when) <= MAX_LEAVES, { error: `a rule has at most ${MAX_LEAVES} conditions (split it into several rules)`, path: ['when'] })

function leaves(c: Condition): number {
  if ('all' in c) return c.all.reduce((n, x) => n + leaves(x), 0)
  if ('any' in c) return c.any.reduce((n, x) => n + leaves(x), 0)
  if ('not' in c) return leaves(c.not)
  return 1
}

export type Rule = z.infer<typeof RuleSchema>
export type RuleInput = z.input<typeof RuleSchema>

/** True when the condition can hold only at the instant of one reading (a change, alone or ANDed). */
export function isMomentary(c: Condition): boolean {
  if ('change' in c) return true
  if ('all' in c) return c.all.some(isMomentary)
  if ('any' in c) return c.any.length > 0 && c.any.every(isMomentary)
  return false
}

/** Every duration of a rule in ms (parsed once per rule; the schema guarantees they parse). */
export const ms = (d: string | undefined): number => (d === undefined ? 0 : durationMs(d))

export type { FieldValue }

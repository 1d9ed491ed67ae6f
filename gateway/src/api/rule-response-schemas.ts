import { z } from 'zod'
import { SEVERITIES } from '../core/severity.js'
import { RuleFields } from '../rules/rule-model.js'
import { ALERT_STATES } from '../store/alerts.js'

/** What the rules and alerts routes answer (OpenAPI + contract tests), like response-schemas.ts. */

const FieldValue = z.union([z.number(), z.boolean(), z.string()])
const LeafView = z.strictObject({
  path: z.string(),
  kind: z.string(),
  holds: z.boolean(),
  value: FieldValue.nullable().optional(),
  detail: z.string(),
})
const Outcome = z.enum(['armed', 'fired', 'cleared', 'near_miss', 'action'])
const Reason = z.enum(['for', 'cooldown', 'condition', 'window', 'quiet_hours']).nullable()
const Event = z.strictObject({ seq: z.number().int(), deviceId: z.string(), measurement: z.string(), fields: z.record(z.string(), FieldValue) })

export const RuleViewSchema = RuleFields.extend({
  origin: z.enum(['api', 'yaml']),
  version: z.number().int(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  status: z
    .strictObject({
      holding: z.boolean(),
      since: z.number().nullable(),
      fired: z.boolean(),
      lastFiredAt: z.number().nullable(),
      cooldownUntil: z.number().nullable(),
      nextCheckAt: z.number().nullable(),
    })
    .nullable()
    .describe('The live state; null while the rule is disabled or stopped.'),
  stopped: z
    .strictObject({
      error: z.string(),
      at: z.number().describe('The time of the input it could not evaluate.'),
      seq: z.number().int().nullable().describe('The journal entry (null: a timer).'),
    })
    .nullable()
    .describe('Set when evaluating this rule threw (a bug): it is stopped until edited or the gateway restarts; the other rules go on.'),
})

const TraceSchema = z.strictObject({
  id: z.number().int(),
  ruleId: z.string(),
  ruleVersion: z.number().int(),
  at: z.number(),
  seq: z.number().int().nullable(),
  outcome: Outcome,
  reason: Reason,
  message: z.string(),
  views: z.array(LeafView),
  lateMs: z.number().describe('How much later than `at` the engine recorded it (a timer that ran out while the box was off).'),
})
export const TracesSchema = z.strictObject({ rule: z.string(), version: z.number().int(), traces: z.array(TraceSchema) })

const Effect = z.union([
  z.strictObject({
    type: z.literal('fire'),
    at: z.number(),
    seq: z.number().int().nullable(),
    trigger: Event.nullable(),
    views: z.array(LeafView),
    quietUntil: z.number().nullable(),
  }),
  z.strictObject({ type: z.literal('clear'), at: z.number(), seq: z.number().int().nullable() }),
])
const DryTrace = z.strictObject({
  at: z.number(),
  seq: z.number().int().nullable(),
  outcome: Outcome,
  reason: Reason,
  message: z.string(),
  views: z.array(LeafView),
})

export const DryRunSchema = z.strictObject({
  rule: z.string(),
  from: z.enum(['current', 'fresh']),
  wouldFire: z.boolean(),
  effects: z.array(Effect),
  traces: z.array(DryTrace),
  now: z.strictObject({ at: z.number(), holds: z.boolean(), views: z.array(LeafView), holding: z.boolean(), since: z.number().nullable() }),
})

export const BacktestSchema = z.strictObject({
  rule: z.string(),
  from: z.number(),
  to: z.number(),
  readings: z.number().int(),
  truncated: z.boolean(),
  firings: z.array(z.strictObject({ at: z.number(), seq: z.number().int().nullable(), deviceId: z.string().nullable(), views: z.array(LeafView) })),
  clears: z.array(z.number()),
  nearMisses: z.record(z.string(), z.number().int()),
})

export const AlertSchema = z.strictObject({
  id: z.number().int(),
  ruleId: z.string().nullable(),
  ruleName: z.string().nullable(),
  deviceId: z.string().nullable(),
  severity: z.enum(SEVERITIES),
  title: z.string(),
  body: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()),
  seq: z.number().int().nullable(),
  status: z.enum(ALERT_STATES),
  autoResolve: z.boolean(),
  raisedAt: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
  acknowledgedAt: z.number().nullable(),
  acknowledgedBy: z.string().nullable(),
  snoozedUntil: z.number().nullable(),
  resolvedAt: z.number().nullable(),
  resolvedBy: z.string().nullable(),
  read: z.boolean().describe('Whether the asking user marked it read.'),
})

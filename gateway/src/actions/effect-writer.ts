import type { Severity } from '../core/severity.js'
import type { LeafView } from '../rules/conditions.js'
import { deviceOf, type Effect, type Firing } from '../rules/evaluator.js'
import type { Rule } from '../rules/rule-model.js'
import { type Alert, raiseAlert, resolveRuleAlerts } from '../store/alerts.js'
import type { Db } from '../store/open.js'
import { pinReading } from '../store/reading-pins.js'
import { queueAction } from '../store/rule-actions.js'
import { kept } from '../store/statements.js'

/**
 * Turns a rule's effects into durable records inside the engine's transaction: alerts (once per
 * idempotency key — gateway id, rule, firing time, action), their deliveries (email, the cloud
 * outbox, the local fallback), queued commands and webhooks, and the pin that keeps the triggering
 * reading past the disk budget. Nothing leaves the box here; the runners act after the commit.
 */

export type AlertEvent = 'raised' | 'resolved' | 'reopened' | 'acknowledged' | 'snoozed'

export interface AlertNotice {
  readonly alert: Alert
  readonly event: AlertEvent
  /** The reading's receive time when a reading raised it (event → alert latency). */
  readonly triggerReceivedAt: number | null
}

export interface EffectContext {
  readonly gatewayId: string
  readonly now: number
  /** Whether email goes out for this severity (configured and at or above its minimum). */
  readonly emailFor: (severity: Severity) => boolean
  /** Critical alerts get a local fallback delivery (siren/LED) when one is configured. */
  readonly fallbackConfigured: boolean
  /** Receive time of a journal entry the engine evaluated (for latency). */
  readonly receivedAt: (seq: number) => number | null
}

export function writeEffects(db: Db, ctx: EffectContext, rule: Rule, ruleVersion: number, effects: readonly Effect[]): AlertNotice[] {
  const notices: AlertNotice[] = []
  for (const effect of effects) {
    if (effect.type === 'clear') {
      for (const alert of resolveRuleAlerts(db, rule.id, ctx.now)) {
        notices.push({ alert, event: 'resolved', triggerReceivedAt: null })
        addDelivery(db, alert.id, 'cloud', 'resolved', ctx.now)
        // Never before the news it resolves: a 'raised' email held back by quiet hours goes first.
        if (ctx.emailFor(alert.severity)) addDelivery(db, alert.id, 'email', 'resolved', Math.max(ctx.now, heldUntil(db, alert.id)))
      }
      continue
    }
    // A reading-driven firing is named by its reading (several can share a millisecond); a timer's
    // by its instant (one episode fires once). Replays produce the same names.
    const base = `${ctx.gatewayId}:rule:${rule.id}:${effect.trigger ? `s${effect.trigger.seq}` : `t${effect.at}`}`
    if (effect.seq !== null) pinReading(db, effect.seq, `rule:${rule.id}`, ctx.now)
    let alertId: number | null = null
    rule.actions.forEach((action, i) => {
      if ('alert' in action) {
        const a = action.alert
        const { alert, created } = raiseAlert(
          db,
          {
            key: `${base}:${i}`,
            ruleId: rule.id,
            ruleName: rule.name,
            deviceId: effect.trigger?.deviceId ?? deviceOf(rule.when),
            severity: a.severity,
            title: fill(a.title, rule, effect),
            body: a.message === undefined ? summary(effect.views) : fill(a.message, rule, effect),
            detail: {
              ruleVersion,
              views: effect.views,
              trigger: effect.trigger && { seq: effect.trigger.seq, measurement: effect.trigger.measurement, fields: effect.trigger.fields },
              quietUntil: effect.quietUntil,
            },
            seq: effect.seq,
            autoResolve: a.autoResolve,
            raisedAt: effect.at,
          },
          ctx.now,
        )
        alertId ??= alert.id
        if (!created) return
        notices.push({ alert, event: 'raised', triggerReceivedAt: effect.trigger === null ? null : ctx.receivedAt(effect.trigger.seq) })
        // Quiet hours hold back notifications of non-critical alerts; the alert itself is there at once.
        const at = a.severity !== 'critical' && effect.quietUntil !== null ? effect.quietUntil : ctx.now
        if (ctx.emailFor(a.severity)) addDelivery(db, alert.id, 'email', 'raised', at)
        addDelivery(db, alert.id, 'cloud', 'raised', at)
        if (a.severity === 'critical' && ctx.fallbackConfigured) addDelivery(db, alert.id, 'fallback', 'raised', ctx.now)
      } else if ('command' in action) {
        queueAction(db, { ruleId: rule.id, alertId, kind: 'command', spec: action.command, key: `${base}:${i}` }, ctx.now)
      } else {
        const payload = { rule: { id: rule.id, name: rule.name }, firedAt: effect.at, alertId, values: effect.views }
        queueAction(db, { ruleId: rule.id, alertId, kind: 'webhook', spec: { ...action.webhook, payload }, key: `${base}:${i}` }, ctx.now)
      }
    })
  }
  return notices
}

/**
 * One delivery per alert, channel and event: `raised`, `resolved`, or an event that can repeat
 * suffixed with its time (`reopened:<ms>`, `acknowledged:<ms>`) so each occurrence is its own.
 */
export function addDelivery(db: Db, alertId: number, channel: 'email' | 'cloud' | 'fallback', event: string, at: number): void {
  kept(
    db,
    'INSERT INTO alert_deliveries (alert_id, channel, event, next_attempt_at) VALUES (?, ?, ?, ?) ON CONFLICT (alert_id, channel, target, event) DO NOTHING',
  ).run(alertId, channel, event, at)
}

/** `{device}`, `{rule}` and `{value}` in titles and messages. */
function fill(text: string, rule: Rule, f: Firing): string {
  const value = f.views.find((v) => v.holds && v.value !== undefined && v.value !== null)?.value
  return text
    .replaceAll('{device}', f.trigger?.deviceId ?? deviceOf(rule.when) ?? '')
    .replaceAll('{rule}', rule.name)
    .replaceAll('{value}', value === undefined || value === null ? '' : String(value))
}

function summary(views: readonly LeafView[]): string {
  return views.map((v) => `${v.detail}: ${v.holds ? 'yes' : 'no'}${v.value !== undefined && v.value !== null ? ` (${v.value})` : ''}`).join('; ')
}

/** When a still-pending 'raised' email of the alert is due (0 when none is waiting). */
function heldUntil(db: Db, alertId: number): number {
  return (
    (db
      .prepare(
        "SELECT max(next_attempt_at) FROM alert_deliveries WHERE alert_id = ? AND channel = 'email' AND event = 'raised' AND status = 'pending'",
      )
      .pluck()
      .get(alertId) as number | null) ?? 0
  )
}

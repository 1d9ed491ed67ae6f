import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { RuleSchema } from '../../../gateway/src/rules/rule-model.js'
import { getAlert, RESOLVE_RULE_ALERTS, raiseAlert, resolveRuleAlerts, transitionAlert } from '../../../gateway/src/store/alerts.js'
import { openStore } from '../../../gateway/src/store/open.js'
import { putRule } from '../../../gateway/src/store/rules.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

const NOW = Date.parse('2026-11-28T12:00:00Z')

test("a rule's unresolved alerts resolve, in every state, by an index seek however long the rule's history", () => {
  const db = openStore({ path: join(tempDir(), 'carehub.db'), log: captureLogger().log, now: NOW, checkIntegrity: false })
  const rule = RuleSchema.parse({
    id: 'hot',
    name: 'Too warm',
    when: { threshold: { device: 'kitchen', measurement: 'env', field: 'temp_c', op: '>', value: 30 } },
    actions: [{ alert: { severity: 'warning', title: 'Too warm' } }],
  })
  putRule(db, rule, 'api', NOW)
  const raise = (key: string, autoResolve = true) =>
    raiseAlert(
      db,
      {
        key,
        ruleId: 'hot',
        ruleName: 'Too warm',
        deviceId: 'kitchen',
        severity: 'warning',
        title: 't',
        body: null,
        detail: {},
        seq: null,
        autoResolve,
        raisedAt: NOW,
      },
      NOW,
    ).alert.id
  // A long history: resolved before.
  for (let i = 0; i < 200; i++) raise(`old-${i}`)
  assert.equal(resolveRuleAlerts(db, 'hot', NOW).length, 200)
  const open = raise('open')
  const acknowledged = raise('ack')
  const snoozed = raise('snoozed')
  const manual = raise('manual', false)
  transitionAlert(db, acknowledged, { to: 'acknowledged' }, 'ana', NOW)
  transitionAlert(db, snoozed, { to: 'snoozed', until: NOW + 3_600_000 }, 'ana', NOW)

  const resolved = resolveRuleAlerts(db, 'hot', NOW + 1)
  assert.deepEqual(resolved.map((a) => a.id).sort(), [open, acknowledged, snoozed].sort())
  assert.ok(resolved.every((a) => a.status === 'resolved' && a.resolvedBy === 'rule' && a.snoozedUntil === null))
  assert.equal(getAlert(db, manual)?.status, 'open', 'an alert without auto-resolve stays for a person to close')
  assert.deepEqual(resolveRuleAlerts(db, 'hot', NOW + 2), [])

  const plan = db.prepare(`EXPLAIN QUERY PLAN ${RESOLVE_RULE_ALERTS}`).all(NOW, NOW, 'hot') as Array<{ detail: string }>
  assert.match(plan.map((p) => p.detail).join('; '), /alerts_rule_status \(rule_id=\? AND status=\?\)/)
  db.close()
})

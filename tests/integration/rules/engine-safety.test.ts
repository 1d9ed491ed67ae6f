import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import pino from 'pino'
import { Registry } from 'prom-client'
import { ActionRunner } from '../../../gateway/src/actions/action-runner.js'
import type { CommandOutcome } from '../../../gateway/src/actions/device-command.js'
import { AlertDelivery } from '../../../gateway/src/notify/alert-delivery.js'
import { step } from '../../../gateway/src/rules/evaluator.js'
import { RuleSchema } from '../../../gateway/src/rules/rule-model.js'
import { RuleSet } from '../../../gateway/src/rules/rule-set.js'
import { raiseAlert } from '../../../gateway/src/store/alerts.js'
import { migrate } from '../../../gateway/src/store/migrate.js'
import { MIGRATIONS } from '../../../gateway/src/store/migrations/registry.js'
import { openStore } from '../../../gateway/src/store/open.js'
import { pruneFinished, queueAction } from '../../../gateway/src/store/rule-actions.js'
import { insertTraces, pruneTraces, rulesCursor } from '../../../gateway/src/store/rule-state.js'
import { listRules, putRule } from '../../../gateway/src/store/rules.js'
import { waitFor } from '../../_support/history-data.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

/** The failure modes a review found, each pinned by a test (real SQLite files throughout). */

const NOW = Date.parse('2026-11-27T12:00:00Z')
const ENV = { timeZone: 'UTC', roomOf: () => null, devicesIn: () => [] }
const quiet = pino({ level: 'silent' })

function store() {
  const { log } = captureLogger()
  return openStore({ path: join(tempDir(), 'carehub.db'), log, now: NOW, checkIntegrity: false })
}

const fallRule = RuleSchema.parse({
  id: 'fall',
  name: 'Fall',
  when: { change: { device: 'bath', measurement: 'event', field: 'fall', to: true } },
  actions: [{ alert: { severity: 'critical', title: 'Fall' } }],
})

describe('history is not news', () => {
  test('upgrading to the rules engine starts its cursor at the end of the journal (no alerts from old readings)', () => {
    const path = join(tempDir(), 'old.db')
    const db = new Database(path)
    migrate(
      db,
      MIGRATIONS.filter((m) => m.version <= 6),
      NOW,
      path,
    )
    // Written as that version's gateway did (today's JournalWriter needs today's schema).
    const put = db.prepare("INSERT INTO readings (device_id, measurement, fields, ts, received_at, source) VALUES ('bath', 'event', ?, ?, ?, 'mqtt')")
    for (let i = 0; i < 50; i++) put.run(JSON.stringify({ fall: i % 2 === 1 }), NOW - 86_400_000 + i, NOW - 86_400_000 + i)
    migrate(db, MIGRATIONS, NOW, path)
    assert.equal(rulesCursor(db), 50)
  })

  test('a rule made while the engine is behind ignores the readings already in the journal', () => {
    const db = store()
    putRule(db, fallRule, 'api', NOW)
    const set = new RuleSet()
    set.load(db, listRules(db), true, NOW, 1000)
    assert.deepEqual([...set.interestedIn('bath', 1000, ENV)], [], 'seq 1000 was in the journal when the rule was armed')
    assert.equal([...set.interestedIn('bath', 1001, ENV)].length, 1)
  })
})

test('a taken batch keeps the states as they were, even when the live ones move on before it is written', () => {
  const db = store()
  putRule(
    db,
    RuleSchema.parse({
      ...fallRule,
      id: 'door',
      when: { threshold: { device: 'door', measurement: 'c', field: 'open', op: '==', value: true } },
      for: '1m',
    }),
    'api',
    NOW,
  )
  const set = new RuleSet()
  set.load(db, listRules(db), true, NOW, 0)
  const active = set.get('door')
  assert.ok(active)
  set.record(
    active,
    step(active.compiled, active.state, { at: NOW + 1000, event: { seq: 1, deviceId: 'door', measurement: 'c', fields: { open: true } } }, ENV),
    NOW,
    1,
  )
  const batch = set.take(1, NOW + 1000)
  // A timer fires the rule after the batch was taken but before it is written.
  step(active.compiled, active.state, { at: NOW + 120_000 }, ENV)
  assert.equal(active.state.fired, true)
  const saved = JSON.parse(batch.states.get('door') as string) as { state: { fired: boolean; holding: boolean } }
  assert.equal(saved.state.fired, false, 'the batch holds the state its own effects belong to')
  assert.equal(saved.state.holding, true)
})

test('traces and finished deliveries are pruned; pending deliveries never are', () => {
  const db = store()
  putRule(db, fallRule, 'api', NOW)
  const traces = Array.from({ length: 30 }, (_, i) => ({
    at: NOW - i * 1000,
    seq: null,
    outcome: 'fired' as const,
    reason: null,
    message: 'x',
    views: [],
  }))
  insertTraces(db, 'fall', 1, traces, NOW)
  insertTraces(db, 'fall', 1, [{ at: NOW - 40 * 86_400_000, seq: null, outcome: 'fired', reason: null, message: 'old', views: [] }], NOW)
  pruneTraces(db, NOW - 14 * 86_400_000, 10)
  assert.equal(db.prepare('SELECT count(*) FROM rule_traces').pluck().get(), 10)
  assert.equal(db.prepare('SELECT min(at) FROM rule_traces').pluck().get(), NOW - 9000, 'the newest ten stay')

  const base = {
    ruleId: 'fall',
    ruleName: 'Fall',
    deviceId: 'bath',
    severity: 'critical' as const,
    title: 't',
    body: null,
    detail: {},
    seq: null,
    autoResolve: false,
  }
  const old = raiseAlert(db, { ...base, key: 'a', raisedAt: NOW - 100 * 86_400_000 }, NOW - 100 * 86_400_000).alert
  db.prepare("INSERT INTO alert_deliveries (alert_id, channel, status, next_attempt_at, delivered_at) VALUES (?, 'email', 'sent', ?, ?)").run(
    old.id,
    NOW - 100 * 86_400_000,
    NOW - 100 * 86_400_000,
  )
  db.prepare("INSERT INTO alert_deliveries (alert_id, channel, status, next_attempt_at) VALUES (?, 'cloud', 'pending', ?)").run(
    old.id,
    NOW - 100 * 86_400_000,
  )
  assert.equal(pruneFinished(db, NOW - 90 * 86_400_000), 1)
  assert.deepEqual(db.prepare('SELECT channel FROM alert_deliveries').pluck().all(), ['cloud'], 'the cloud outbox keeps what it has not delivered')
})

test('an action that throws is recorded with a backoff, not retried in a tight loop', async () => {
  const db = store()
  putRule(db, fallRule, 'api', NOW)
  queueAction(
    db,
    { ruleId: 'fall', alertId: null, kind: 'command', spec: { device: 'siren', capability: 'alarm', params: {} }, key: 'k1' },
    Date.now(),
  )
  let calls = 0
  const runner = new ActionRunner({
    db: () => db,
    clock: { now: () => Date.now() },
    log: quiet,
    registry: new Registry(),
    commands: {
      run: async () => {
        calls++
        throw new Error('cannot decrypt')
      },
    },
    webhooks: [],
    secret: async () => undefined,
    gatewayId: () => 'gw',
  })
  await runner.start()
  await new Promise((r) => setTimeout(r, 300))
  await runner.stop()
  assert.equal(calls, 1)
  const row = db.prepare('SELECT status, attempts, next_attempt_at FROM rule_actions').get() as {
    status: string
    attempts: number
    next_attempt_at: number
  }
  assert.equal(row.status, 'pending')
  assert.equal(row.attempts, 1)
  assert.ok(row.next_attempt_at > Date.now() + 1000, 'backed off')
})

test('the critical fallback runs at once even while emails are slow to send', async () => {
  const db = store()
  const base = { ruleId: null, ruleName: null, deviceId: null, body: null, detail: {}, seq: null, autoResolve: false, raisedAt: Date.now() }
  for (let i = 0; i < 3; i++) {
    const a = raiseAlert(db, { ...base, key: `w${i}`, severity: 'warning', title: 'w' }, Date.now()).alert
    db.prepare("INSERT INTO alert_deliveries (alert_id, channel, next_attempt_at) VALUES (?, 'email', ?)").run(a.id, Date.now())
  }
  const fallbackAt: number[] = []
  const delivery = new AlertDelivery({
    db: () => db,
    clock: { now: () => Date.now() },
    log: quiet,
    registry: new Registry(),
    // An SMTP server that takes 2 s per message (the internet is down; connections time out).
    email: { send: () => new Promise((r) => setTimeout(r, 2000)), close: () => {} },
    commands: {
      run: async (req): Promise<CommandOutcome> => {
        fallbackAt.push(Date.now())
        return { status: 'ok', correlationId: 'c', deviceId: req.deviceId, capability: req.capability, ms: 1 }
      },
    },
    fallback: [{ device: 'siren', capability: 'alarm', params: {} }],
    cloudHasIt: () => false,
    gatewayName: 'CareHub',
    timeZone: 'UTC',
  })
  await delivery.start()
  await new Promise((r) => setTimeout(r, 100)) // the email lane is busy with the first slow send
  const critical = raiseAlert(db, { ...base, key: 'c', severity: 'critical', title: 'Fall' }, Date.now()).alert
  const raised = Date.now()
  db.prepare("INSERT INTO alert_deliveries (alert_id, channel, next_attempt_at) VALUES (?, 'fallback', ?)").run(critical.id, raised)
  delivery.wake()
  await waitFor('the fallback', () => fallbackAt.length === 1, 3000)
  await delivery.stop()
  assert.ok((fallbackAt[0] as number) - raised < 500, `fallback after ${(fallbackAt[0] as number) - raised} ms`)
})

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { recordBatch } from '../../../gateway/src/rules/rule-recorder.js'
import { ruleEngineRig, ruleReading } from '../../_support/rule-engine-rig.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const tick = () => new Promise((r) => setImmediate(r))
const hot = {
  id: 'hot',
  name: 'Too hot',
  when: { threshold: { device: 'kitchen', measurement: 'climate', field: 'temp_c', op: '>', value: 30 } },
  actions: [{ alert: { severity: 'warning', title: 'Too hot' } }],
}
const temp = (t: number, at = Date.now()) => ruleReading('kitchen', 'climate', { temp_c: t }, at)
const count = (path: string, sql: string) => {
  const reader = new Database(path, { readonly: true })
  try {
    return reader.prepare(sql).pluck().get() as number
  } finally {
    reader.close()
  }
}
const ALERTS = "SELECT count(*) FROM alerts WHERE rule_id = 'hot'"
/** A window rule that never fires (its average stays far below 300): its samples show what it saw. */
const windowRule = (id: string) => ({
  id,
  name: id,
  when: { window: { device: 'kitchen', measurement: 'climate', field: 'temp_c', agg: 'avg', over: '10m', op: '>', value: 300 } },
  actions: [{ alert: { severity: 'warning', title: id } }],
})
/** The values in a window rule's window, as the engine holds them now. */
const windowValues = (rig: ReturnType<typeof ruleEngineRig>, id: string) =>
  (rig.engine.rules.get(id)?.state.leaves[0] as { s: Array<[number, number]> } | undefined)?.s.map(([, v]) => v)
const quietKitchen = {
  id: 'quiet',
  name: 'Quiet kitchen',
  when: { inactivity: { device: 'kitchen', for: '1s' } },
  actions: [{ alert: { severity: 'warning', title: 'Quiet' } }],
}

describe('rules engine: what a reading fires is recorded in the reading’s own transaction', () => {
  test('the alert commits with its reading and is announced once that transaction’s one sync ends', async () => {
    const held: Array<(err: Error | null) => void> = []
    const rig = ruleEngineRig({ devices: ['kitchen'], rules: [hot], syncWal: (done) => void held.push(done) })
    await rig.start()
    try {
      await sleep(20) // the engine's start-up catch-up
      for (const done of held.splice(0)) done(null)
      const at = Date.now()
      let acked = false
      void rig.committer.submit({ reading: temp(31, at) }).then(() => {
        acked = true
      })
      await tick()
      await tick()
      // While a sync is held the committer commits nothing else: what is visible now was in the reading's transaction.
      assert.equal(held.length, 1, 'one transaction, its sync held')
      assert.equal(count(rig.path, 'SELECT count(*) FROM readings'), 1)
      assert.equal(count(rig.path, ALERTS), 1, 'the alert is in the same transaction')
      assert.equal(rig.announced.length, 0, 'not durable yet, so not announced')
      held.shift()?.(null)
      await tick()
      assert.equal(acked, true)
      assert.deepEqual(
        rig.announced.map((n) => [n.event, n.triggerReceivedAt]),
        [['raised', at]],
        'announced by the reading’s own sync',
      )
      assert.equal(held.length, 0, 'no second sync for the alert')
    } finally {
      for (const done of held.splice(0)) done(null)
      await rig.stop()
    }
  })

  test('with two WAL syncs at once, a reading that fires while the last recording still syncs is recorded in its own transaction', async () => {
    const held: Array<(err: Error | null) => void> = []
    const hotHall = { ...hot, id: 'hot-hall', when: { threshold: { ...hot.when.threshold, device: 'hall' } } }
    const sync = { held: true }
    const syncWal = Object.assign((done: (err: Error | null) => void) => void (sync.held ? held.push(done) : setImmediate(() => done(null))), {
      slots: 2,
    })
    const rig = ruleEngineRig({ devices: ['kitchen', 'hall'], rules: [hot, hotHall], syncWal })
    await rig.start()
    try {
      await sleep(20) // the engine's start-up catch-up
      for (const done of held.splice(0)) done(null)
      await tick()
      void rig.committer.submit({ reading: temp(31) })
      await tick()
      assert.equal(held.length, 1, 'the kitchen alert’s transaction syncs')
      void rig.committer.submit({ reading: ruleReading('hall', 'climate', { temp_c: 32 }, Date.now()) })
      await tick()
      assert.equal(held.length, 2, 'the hall reading committed meanwhile, with a sync of its own')
      assert.equal(count(rig.path, "SELECT count(*) FROM alerts WHERE rule_id IN ('hot', 'hot-hall')"), 2, 'its alert is in its transaction')
      held.splice(1, 1)[0]?.(null)
      await tick()
      assert.deepEqual(
        rig.announced.map((n) => n.event),
        ['raised', 'raised'],
        'the later sync makes both durable: both announced, in order',
      )
    } finally {
      sync.held = false
      for (const done of held.splice(0)) done(null)
      await rig.stop()
    }
  })

  test('an alert a timer raises is recorded in a transaction the engine asks for', async () => {
    const rig = ruleEngineRig({ devices: ['kitchen'], rules: [quietKitchen] })
    await rig.start()
    try {
      await rig.committer.submit({ reading: temp(20) })
      await sleep(1300)
      assert.equal(count(rig.path, "SELECT count(*) FROM alerts WHERE rule_id = 'quiet'"), 1)
      assert.deepEqual(
        rig.announced.map((n) => [n.event, n.triggerReceivedAt]),
        [['raised', null]],
      )
    } finally {
      await rig.stop()
    }
  })

  test('a recording that fails loses nothing: the reading is acknowledged, and the alert recorded on the retry', async () => {
    let attempts = 0
    const rig = ruleEngineRig({
      devices: ['kitchen'],
      rules: [hot],
      record: (tx, batch) => {
        if (++attempts === 1 && batch.firings.length > 0) throw new Error('disk I/O error')
        return recordBatch(tx, { gatewayId: 'gw-test', emailFor: () => false, fallbackConfigured: false }, batch)
      },
    })
    await rig.start()
    try {
      await sleep(20)
      attempts = 0
      const seq = await rig.committer.submit({ reading: temp(31) })
      assert.equal(typeof seq, 'number', 'the reading is stored and acknowledged all the same')
      assert.equal(count(rig.path, ALERTS), 0, 'the failed savepoint left nothing')
      await sleep(1300)
      assert.equal(count(rig.path, ALERTS), 1, 'recorded once, after the retry re-read the journal')
      assert.deepEqual(
        rig.announced.map((n) => n.event),
        ['raised'],
      )
      assert.ok(rig.lines().some((l) => /recording rule results failed/.test(String(l.msg))))
    } finally {
      await rig.stop()
    }
  })

  test('a transaction that rolls back after the engine evaluated it: the engine goes back to what is stored, and the resent reading fires once', async () => {
    const rig = ruleEngineRig({ devices: ['kitchen'], rules: [hot] })
    await rig.start()
    try {
      await rig.committer.submit({ reading: temp(20) })
      rig.faults.afterEngine = new Error('disk full')
      await assert.rejects(rig.committer.submit({ reading: temp(31) }), /journal commit failed: disk full/)
      assert.equal(count(rig.path, ALERTS), 0)
      // The device did not get its acknowledgement and sends the reading again. Had the engine kept
      // the rolled-back evaluation (the kitchen already hot), this would be no crossing: no alert.
      await rig.committer.submit({ reading: temp(31) })
      await sleep(1300)
      assert.equal(count(rig.path, ALERTS), 1)
      assert.deepEqual(
        rig.announced.map((n) => n.event),
        ['raised'],
      )
    } finally {
      await rig.stop()
    }
  })

  test('a rolled-back transaction whose readings changed a state without firing: the state goes back too', async () => {
    const rig = ruleEngineRig({ devices: ['kitchen'], rules: [windowRule('avg')] })
    const samples = () => windowValues(rig, 'avg')
    await rig.start()
    try {
      await rig.committer.submit({ reading: temp(20) })
      rig.faults.afterEngine = new Error('disk full')
      // Evaluated (its value joins the window; the average stays far below the threshold, no
      // transition and no trace, so nothing to record), then rolled back.
      await assert.rejects(rig.committer.submit({ reading: temp(25) }), /journal commit failed: disk full/)
      assert.deepEqual(samples(), [20, 25], 'evaluated inside the transaction')
      await sleep(1300)
      assert.deepEqual(samples(), [20], 'back to what the journal holds once the engine has re-read it')
      assert.deepEqual(
        rig.lines().map((l) => l.msg),
        ['the transaction with the evaluated readings failed; re-evaluating from the journal'],
      )
      await rig.committer.submit({ reading: temp(21) })
      assert.deepEqual(samples(), [20, 21], 'and following the journal again')
    } finally {
      await rig.stop()
    }
  })

  test('a failure part-way through a reading (after some rules stepped): they are not stepped twice on it, and nothing is recorded past it', async () => {
    const rig = ruleEngineRig({ devices: ['kitchen'], rules: [windowRule('a'), windowRule('b')] })
    const samples = () => windowValues(rig, 'a')
    await rig.start()
    try {
      const first = (await rig.committer.submit({ reading: temp(20) })) as number
      // Keeping rule b's results fails on the next reading, live and in every catch-up (not b's own
      // step, which would stop only b: see the next test).
      const rules = rig.engine.rules as unknown as { record(a: { rule: { id: string } }, ...rest: unknown[]): void }
      const record = rules.record.bind(rules)
      rules.record = (a, ...rest) => {
        if (a.rule.id === 'b' && rest[2] === first + 1) throw new Error('rule b cannot evaluate this reading')
        record(a as never, ...rest)
      }
      await rig.committer.submit({ reading: temp(25) })
      const seen: Array<number[] | undefined> = []
      for (let i = 0; i < 6; i++) {
        await sleep(500)
        seen.push(samples())
      }
      // Each retry starts from the stored states ([20]) and steps a on 25 once before b throws.
      for (const s of seen) assert.ok(s === undefined || s.length <= 2, `a's window was ${JSON.stringify(s)}`)
      await rig.stop()
      const cursor = count(rig.path, "SELECT seq FROM cursors WHERE consumer = 'rules'")
      assert.ok(cursor <= first, `the rules' cursor (${cursor}) never passes the reading they could not evaluate`)
    } finally {
      await rig.stop()
    }
  })

  test('a rule whose evaluation throws is stopped, logged and counted; the other rules go on, and nothing spins', async () => {
    const rig = ruleEngineRig({ devices: ['kitchen'], rules: [windowRule('a'), quietKitchen] })
    const samples = () => windowValues(rig, 'a')
    await rig.start()
    try {
      await rig.committer.submit({ reading: temp(20) })
      // An evaluator bug, as it would show: every step of rule quiet throws (reading or timer).
      const broken = rig.engine.rules.get('quiet')?.state as object
      Object.defineProperty(broken, 'at', {
        get() {
          throw new TypeError('a bug in the evaluator')
        },
      })
      const seq = (await rig.committer.submit({ reading: temp(25) })) as number
      await rig.committer.submit({ reading: temp(26) })
      await sleep(1500) // quiet's deadline would have come: a dropped rule must not be ticked
      assert.deepEqual(samples(), [20, 25, 26], 'rule a saw every reading')
      assert.equal(rig.engine.rules.get('quiet'), undefined, 'quiet is stopped')
      const errors = rig.lines().filter((l) => /a rule could not be evaluated/.test(String(l.msg)))
      assert.equal(errors.length, 1)
      assert.equal(errors[0]?.rule, 'quiet')
      assert.equal(errors[0]?.seq, seq)
      assert.match(await rig.registry.metrics(), /carehub_rules_evaluation_errors_total\{rule="quiet"\} 1\n/)
      assert.equal(rig.lines().filter((l) => /re-evaluating from the journal/.test(String(l.msg))).length, 0, 'the engine did not fall back')
      assert.equal(count(rig.path, "SELECT count(*) FROM alerts WHERE rule_id = 'quiet'"), 0)
      await rig.stop()
      assert.equal(count(rig.path, "SELECT seq FROM cursors WHERE consumer = 'rules'"), seq + 1, 'the cursor moved on')
    } finally {
      await rig.stop()
    }
  })
})

import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import pino from 'pino'
import { Registry } from 'prom-client'
import type { Reading } from '../../../gateway/src/core/reading.js'
import { RuleEngine } from '../../../gateway/src/rules/rule-engine.js'
import { RuleSchema } from '../../../gateway/src/rules/rule-model.js'
import { JournalWriter } from '../../../gateway/src/store/journal.js'
import { JournalCommitter } from '../../../gateway/src/store/journal-committer.js'
import { openStore } from '../../../gateway/src/store/open.js'
import { putRule } from '../../../gateway/src/store/rules.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

const T0 = Date.parse('2026-11-27T12:00:00Z')
const quiet = pino({ level: 'silent' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const motion = (deviceId: string, at: number): Reading => ({
  deviceId,
  measurement: 'motion',
  fields: { on: true },
  tags: {},
  ts: at,
  tsFromReceipt: false,
  receivedAt: at,
  source: 'virtual',
})

// The rules hear of a reading when its commit commits (JournalCommitter.onWritten) and evaluate it
// on the next immediate; a timer can run in between. A review found an inactivity rule firing there
// although a reading had arrived before its deadline (it did not, as a replay shows).
test('a reading handed to the rules before a deadline counts, even when the timer runs before its evaluation', async () => {
  const db = openStore({ path: join(tempDir(), 'carehub.db'), log: captureLogger().log, now: T0, checkIntegrity: false })
  for (const id of ['hall', 'kitchen']) db.prepare(`INSERT INTO devices (id, source, created_at, updated_at) VALUES (?, 'virtual', 0, 0)`).run(id)
  const rule = {
    id: 'quiet',
    name: 'Quiet hall',
    when: { inactivity: { device: 'hall', for: '1s' } },
    actions: [{ alert: { severity: 'warning', title: 'Quiet' } }],
  }
  putRule(db, RuleSchema.parse(rule), 'api', T0)
  let now = T0
  const clock = { now: () => now }
  const fired: number[] = []
  const writer = new JournalWriter(db)
  let engine: RuleEngine | undefined
  const committer = new JournalCommitter({
    writer: () => writer,
    clock,
    log: quiet,
    registry: new Registry(),
    maxBatch: 1000,
    maxPending: 10_000,
    onWritten: (entries) => {
      engine?.onWritten(entries)
      // The rest of a busy turn (parsing more of a socket's chunk): the engine's timer comes due meanwhile.
      const until = performance.now() + 5
      while (performance.now() < until);
    },
  })
  engine = new RuleEngine({
    db: () => db,
    clock,
    log: quiet,
    registry: new Registry(),
    env: () => ({ timeZone: 'UTC', roomOf: () => null, devicesIn: () => [] }),
    persist: async (batch) => {
      for (const r of batch.results) for (const e of r.effects) if (e.type === 'fire') fired.push(e.at)
      return []
    },
    announce: () => {},
    checkpointMs: 1000,
    traceRetentionDays: 1,
    tracesPerRule: 10,
    watermark: () => (committer.oldestUnwrittenReceivedAt() ?? Number.POSITIVE_INFINITY) - 1,
  })
  await committer.start()
  await engine.start()
  try {
    await committer.submit({ reading: motion('hall', T0) })
    await sleep(50)
    now = T0 + 999
    await committer.submit({ reading: motion('kitchen', now) }) // any evaluation re-arms the timer, 1 ms before the deadline
    await sleep(30)
    now = T0 + 1003
    await committer.submit({ reading: motion('hall', T0 + 998) }) // arrived before the deadline, committed after it
    await sleep(50)
    assert.deepEqual(fired, [], 'the hall was not quiet for 1 s')
    now = T0 + 2100
    await committer.submit({ reading: motion('kitchen', now) })
    await sleep(50)
    assert.deepEqual(fired, [T0 + 1998], 'and the rule does fire, 1 s after the last movement')
  } finally {
    await engine.stop()
    await committer.stop()
    db.close()
  }
})

test('while recording fails, new readings do not restart the catch-up at once: it waits for its retry', async () => {
  const db = openStore({ path: join(tempDir(), 'carehub.db'), log: captureLogger().log, now: T0, checkIntegrity: false })
  db.prepare(`INSERT INTO devices (id, source, created_at, updated_at) VALUES ('hall', 'virtual', 0, 0)`).run()
  const rule = {
    id: 'moved',
    name: 'Moved',
    when: { change: { device: 'hall', measurement: 'motion', field: 'on', to: true } },
    actions: [{ alert: { severity: 'info', title: 'Moved' } }],
  }
  putRule(db, RuleSchema.parse(rule), 'api', T0)
  const writer = new JournalWriter(db)
  let engine: RuleEngine | undefined
  const committer = new JournalCommitter({
    writer: () => writer,
    clock: { now: () => Date.now() },
    log: quiet,
    registry: new Registry(),
    maxBatch: 1000,
    maxPending: 10_000,
    onWritten: (entries) => engine?.onWritten(entries),
  })
  let attempts = 0
  engine = new RuleEngine({
    db: () => db,
    clock: { now: () => Date.now() },
    log: quiet,
    registry: new Registry(),
    env: () => ({ timeZone: 'UTC', roomOf: () => null, devicesIn: () => [] }),
    persist: async () => {
      attempts++
      throw new Error('disk I/O error')
    },
    announce: () => {},
    checkpointMs: 1000,
    traceRetentionDays: 1,
    tracesPerRule: 10,
    watermark: () => Number.POSITIVE_INFINITY,
  })
  await committer.start()
  await engine.start()
  try {
    await committer.submit({ reading: { ...motion('hall', Date.now()), fields: { on: false } } })
    for (let i = 0; i < 40; i++) {
      await committer.submit({ reading: { ...motion('hall', Date.now()), fields: { on: i % 2 === 0 } } })
      await sleep(5)
    }
    // 40 commits in ~300 ms, each a gap for an engine that fell back: one attempt, then the 1 s retry.
    assert.ok(attempts >= 1 && attempts <= 2, `recording attempted ${attempts} times`)
  } finally {
    await engine.stop().catch(() => {})
    await committer.stop()
    db.close()
  }
})

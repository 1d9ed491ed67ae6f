// The rules engine wired to a real journal committer and a real SQLite file, as the gateway wires
// them (the engine is the committer's participant), without the rest of the gateway.
import { join } from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import type { AlertNotice } from '../../gateway/src/actions/effect-writer.js'
import type { Clock } from '../../gateway/src/core/clock.js'
import type { Reading } from '../../gateway/src/core/reading.js'
import { RuleEngine } from '../../gateway/src/rules/rule-engine.js'
import { RuleSchema } from '../../gateway/src/rules/rule-model.js'
import { recordBatch } from '../../gateway/src/rules/rule-recorder.js'
import type { PendingBatch } from '../../gateway/src/rules/rule-set.js'
import { JournalWriter } from '../../gateway/src/store/journal.js'
import { JournalCommitter } from '../../gateway/src/store/journal-committer.js'
import { type Db, openStore } from '../../gateway/src/store/open.js'
import { putRule } from '../../gateway/src/store/rules.js'
import type { WalSync } from '../../gateway/src/store/wal-sync.js'
import { captureLogger } from './log-capture.js'
import { tempDir } from './temp.js'

export interface RuleEngineRigOptions {
  readonly devices: readonly string[]
  readonly rules: readonly unknown[]
  readonly clock?: Clock
  /** Default: the gateway's own recorder (alerts, traces, states, cursor). */
  readonly record?: (tx: Db, batch: PendingBatch) => AlertNotice[]
  /** Runs inside each transaction right after the engine (the rest of a busy turn). */
  readonly afterEngine?: () => void
  /** Default: every commit fsyncs inline. */
  readonly syncWal?: WalSync
}

export function ruleEngineRig(o: RuleEngineRigOptions) {
  const clock = o.clock ?? { now: () => Date.now() }
  const { log, lines } = captureLogger()
  const path = join(tempDir(), 'carehub.db')
  const db = openStore({ path, log, now: clock.now(), checkIntegrity: false })
  for (const id of o.devices) db.prepare(`INSERT INTO devices (id, source, created_at, updated_at) VALUES (?, 'virtual', 0, 0)`).run(id)
  for (const rule of o.rules) putRule(db, RuleSchema.parse(rule), 'api', clock.now())
  const writer = new JournalWriter(db)
  // Set to make the next transaction fail after the engine took part in it (as a failing COMMIT would).
  const faults = { afterEngine: null as Error | null }
  const commit = writer.commit.bind(writer)
  writer.commit = (readings, deadLetters, c = {}) =>
    commit(readings, deadLetters, {
      ...c,
      during: (seqs, flags, tx) => {
        c.during?.(seqs, flags, tx)
        const fault = faults.afterEngine
        faults.afterEngine = null
        if (fault) throw fault
      },
    })
  const announced: AlertNotice[] = []
  let engine: RuleEngine | undefined
  const committer = new JournalCommitter({
    writer: () => writer,
    clock,
    log: pino({ level: 'silent' }),
    registry: new Registry(),
    maxBatch: 1000,
    maxPending: 10_000,
    participant: {
      inTransaction(entries, tx) {
        const followUp = engine?.inTransaction(entries, tx)
        o.afterEngine?.()
        return followUp
      },
    },
    ...(o.syncWal ? { syncWal: o.syncWal } : {}),
  })
  const registry = new Registry()
  engine = new RuleEngine({
    db: () => db,
    clock,
    log,
    registry,
    env: () => ({ timeZone: 'UTC', roomOf: () => null, devicesIn: () => [] }),
    record: o.record ?? ((tx, batch) => recordBatch(tx, { gatewayId: 'gw-test', emailFor: () => false, fallbackConfigured: false }, batch)),
    requestCommit: () => committer.requestCommit(),
    announce: (n) => announced.push(n),
    checkpointMs: 1000,
    traceRetentionDays: 1,
    tracesPerRule: 10,
    watermark: () => (committer.oldestUnwrittenReceivedAt() ?? Number.POSITIVE_INFINITY) - 1,
  })
  const started = engine
  return {
    db,
    path,
    committer,
    engine: started,
    announced,
    faults,
    /** The engine's metrics. */
    registry,
    lines,
    async start() {
      await committer.start()
      await started.start()
    },
    /** Idempotent: a test may stop the rig to read what was recorded, and its finally stop it again. */
    async stop() {
      if (!db.open) return
      await started.stop().catch(() => {})
      await committer.stop()
      db.close()
    },
  }
}

/** A reading from a virtual device, received at `at`. */
export function ruleReading(deviceId: string, measurement: string, fields: Reading['fields'], at: number): Reading {
  return { deviceId, measurement, fields, tags: {}, ts: at, tsFromReceipt: false, receivedAt: at, source: 'virtual' }
}

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { pinReading } from '../../../gateway/src/store/reading-pins.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { metricValue, submitClimate, waitFor } from '../../_support/history-data.js'

const DAY = 86_400_000
const count = (db: { prepare(sql: string): { pluck(): { get(...a: unknown[]): unknown } } }, sql: string, ...args: unknown[]) =>
  db
    .prepare(sql)
    .pluck()
    .get(...args) as number

describe('history janitor: retention and the disk budget (real SQLite)', () => {
  test('raw readings past retention go once folded into rollups; rollups and dead letters keep their own retention', async () => {
    let now = Date.now()
    const h = await startGateway({ history: { rawRetentionDays: 1, rollup1mRetentionDays: 2, purgeBatch: 100 } }, undefined, {
      clock: { now: () => now },
    })
    const db = h.gateway.store.db
    const rollupDb = h.gateway.store.rollupDb
    const last = await submitClimate(h.gateway, now - 3600_000, 0, 1000)
    now += 1.5 * DAY
    // Not yet folded into the rollups: retention must wait for the fold.
    const early = await h.gateway.history.janitor.run()
    assert.equal(early.retention, 0)
    assert.equal(count(db, 'SELECT count(*) FROM readings'), 1000)

    await h.gateway.history.rollups.flush()
    // The rules engine records its cursor in a journal transaction after the one it evaluated in
    // when that one committed during the previous one's sync (1,000 readings = two batches).
    await waitFor('the rules engine to record its cursor', () => h.gateway.rules.engine.cursor >= last, 5000)
    const report = await h.gateway.history.janitor.run()
    // All of them past retention, but the newest stays: the next seq is max(seq) + 1 (migration 008).
    assert.deepEqual(db.prepare('SELECT seq FROM readings').pluck().all(), [last])
    assert.equal(report.retention, 999)
    assert.ok(count(rollupDb, "SELECT count(*) FROM rollups WHERE tier = '1m'") > 0, 'rollups outlive raw readings')
    assert.equal(h.gateway.history.rollups.cursor, last)
    // So a seq every consumer has passed is never handed out again.
    assert.equal(await submitClimate(h.gateway, now, 1000, 1001), last + 1)

    now += 1 * DAY
    const later = await h.gateway.history.janitor.run()
    assert.equal(count(rollupDb, "SELECT count(*) FROM rollups WHERE tier = '1m'"), 0, '1m rollups past their 2 days')
    assert.ok(count(rollupDb, "SELECT count(*) FROM rollups WHERE tier = '1h'") > 0, 'hourly rollups stay')
    assert.ok(later.retention > 0)
    assert.equal(await metricValue(h.gateway, 'carehub_history_purged_rows_total', { reason: 'retention' }), report.retention + later.retention)
  })

  test('while the fold holds the rollup database’s write lock, a pass waits off the event loop, then finishes', async () => {
    let now = Date.now()
    const h = await startGateway({ history: { rollup1mRetentionDays: 1, purgeBatch: 100, rollupFlushMs: 60_000 } }, undefined, {
      clock: { now: () => now },
    })
    const rollupDb = h.gateway.store.rollupDb
    await submitClimate(h.gateway, now - 3600_000, 0, 500)
    await h.gateway.history.rollups.flush()
    const buckets = count(rollupDb, "SELECT count(*) FROM rollups WHERE tier = '1m'")
    assert.ok(buckets > 0)
    now += 2 * DAY
    // Another connection in the middle of a write transaction, as the fold's is for as long as it takes.
    const fold = new Database(rollupDb.name)
    fold.exec('BEGIN IMMEDIATE')
    let longestGap = 0
    let last = performance.now()
    const ticker = setInterval(() => {
      longestGap = Math.max(longestGap, performance.now() - last)
      last = performance.now()
    }, 5)
    try {
      const pass = h.gateway.history.janitor.run()
      await new Promise((r) => setTimeout(r, 500))
      assert.equal(count(rollupDb, "SELECT count(*) FROM rollups WHERE tier = '1m'"), buckets, 'nothing deleted while the lock is held')
      fold.exec('ROLLBACK')
      const report = await pass
      assert.equal(count(rollupDb, "SELECT count(*) FROM rollups WHERE tier = '1m'"), 0, '1m rollups past retention gone once the lock was free')
      assert.ok(report.retention >= buckets)
      assert.ok(longestGap < 250, `the event loop was held ${Math.round(longestGap)} ms`)
    } finally {
      clearInterval(ticker)
      if (fold.inTransaction) fold.exec('ROLLBACK')
      fold.close()
    }
  })

  test('over the disk budget the oldest readings go first, forwarded or not; pinned (alert) readings stay; one warning', async (t) => {
    // InfluxDB configured but unreachable (nothing listens on port 9 of loopback): the backlog only grows.
    const h = await startGateway({
      influx: { version: 1, url: 'http://127.0.0.1:9', database: 'x', backoffMinMs: 60_000, backoffMaxMs: 60_000 },
      history: { diskBudgetMb: 2, purgeBatch: 500 },
    })
    const db = h.gateway.store.db
    const t0 = Date.now() - 3600_000
    const last = await submitClimate(h.gateway, t0, 0, 30_000)
    const firstSeq = count(db, 'SELECT min(seq) FROM readings')
    const pinned = [firstSeq, firstSeq + 7, firstSeq + 1000]
    for (const seq of pinned) pinReading(db, seq, 'alert 1', Date.now())
    const usedBefore = await metricValue(h.gateway, 'carehub_store_used_bytes')
    assert.ok(usedBefore > 2 * 1024 * 1024, `the test needs more than the budget to start with (${usedBefore})`)

    const report = await h.gateway.history.janitor.run()
    assert.ok(report.usedBytes <= 2 * 1024 * 1024, `used ${report.usedBytes} after the purge`)
    assert.ok(report.budgetDropped > 0)
    assert.equal(report.unforwardedDropped, report.budgetDropped, 'nothing had been forwarded, so every dropped reading was unforwarded')
    for (const seq of pinned) assert.equal(count(db, 'SELECT count(*) FROM readings WHERE seq = ?', seq), 1, `pinned ${seq} kept`)
    // Oldest first: what remains (besides pins) is one contiguous run ending at the newest reading.
    const remaining = count(db, 'SELECT count(*) FROM readings WHERE seq NOT IN (SELECT seq FROM reading_pins)')
    assert.equal(count(db, 'SELECT min(seq) FROM readings WHERE seq NOT IN (SELECT seq FROM reading_pins)'), last - remaining + 1)
    assert.equal(count(db, 'SELECT max(seq) FROM readings'), last)
    assert.equal(await metricValue(h.gateway, 'carehub_timeseries_points_dropped_total'), report.unforwardedDropped)
    assert.equal(await metricValue(h.gateway, 'carehub_history_purged_rows_total', { reason: 'disk_budget' }), report.budgetDropped)

    // Still over after new readings: dropped again, but the episode is logged once.
    await submitClimate(h.gateway, t0, 30_000, 40_000)
    await h.gateway.history.janitor.run()
    const warnings = h.lines().filter((l) => l.msg === 'database over its disk budget: dropping the oldest readings')
    assert.equal(warnings.length, 1)
    assert.ok(report.longestStepMs > 0)
    t.diagnostic(`longest purge step: ${report.longestStepMs.toFixed(1)} ms (batch of 500 rows, fsync included)`)
  })
})

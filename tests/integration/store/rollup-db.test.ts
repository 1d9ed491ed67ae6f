import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { Registry } from 'prom-client'
import { JournalWriter } from '../../../gateway/src/store/journal.js'
import { type Db, openStore } from '../../../gateway/src/store/open.js'
import { moveRollupsOut, openRollupDb } from '../../../gateway/src/store/rollup-db.js'
import { StoreService } from '../../../gateway/src/store/store-service.js'
import { RollupService } from '../../../gateway/src/timeseries/rollup-service.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { metricValue, reading, submitClimate } from '../../_support/history-data.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'
import { backgroundThreads, newBackgroundThread } from '../../_support/thread-nice.js'

const T0 = Date.parse('2026-11-28T10:00:00Z')
const { log } = captureLogger()
const count = (db: Db, sql: string) => db.prepare(sql).pluck().get() as number
const tables = (db: Db) => db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[]

/** A journal as a gateway before rollups.db left it: rollup rows, series memory and the fold's cursor in carehub.db. */
function oldJournal(dir: string): void {
  const db = openStore({ path: join(dir, 'carehub.db'), log, now: T0, checkIntegrity: false })
  const put = db.prepare(
    `INSERT INTO rollups (tier, device_id, measurement, field, bucket_start, count, sum, min, max, last, changes, state_durations, last_ts, anomalies)
     VALUES (?, 'kitchen', 'climate', 'temp_c', ?, 2, 41, 20, 21, '21', 1, NULL, ?, 0)`,
  )
  for (const tier of ['1m', '5m', '1h']) for (let i = 0; i < 50; i++) put.run(tier, T0 + i * 3_600_000, T0 + i * 3_600_000 + 5)
  db.prepare("INSERT INTO rollup_series (device_id, measurement, field, value, ts) VALUES ('kitchen', 'climate', 'temp_c', '21', ?)").run(T0)
  db.prepare("INSERT OR REPLACE INTO cursors (consumer, seq, updated_at) VALUES ('rollups', 4242, ?), ('rules', 7, ?)").run(T0, T0)
  db.close()
}

describe('rollups in their own database file', () => {
  test('a journal that still holds rollups has them moved to rollups.db at start, cursor included, and dropped from the journal', async () => {
    const dir = tempDir()
    oldJournal(dir)
    const store = new StoreService({
      path: join(dir, 'carehub.db'),
      rollupPath: join(dir, 'rollups.db'),
      log,
      clock: { now: () => T0 },
      checkIntegrity: () => false,
    })
    await store.start()
    try {
      assert.equal(count(store.rollupDb, 'SELECT count(*) FROM rollups'), 150)
      assert.equal(count(store.rollupDb, "SELECT sum(sum) FROM rollups WHERE tier = '1h'"), 50 * 41)
      assert.equal(count(store.rollupDb, 'SELECT seq FROM fold_cursor'), 4242)
      assert.equal(store.rollupDb.prepare('SELECT value FROM rollup_series').pluck().get(), '21')
      assert.ok(!tables(store.db).includes('rollups') && !tables(store.db).includes('rollup_series'), 'gone from the journal')
      assert.deepEqual(store.db.prepare('SELECT consumer FROM cursors').pluck().all(), ['rules'], "other consumers' cursors stay")
    } finally {
      await store.stop()
    }
  })

  test('a crash between the copy and the drop copies the same rows again at the next start: nothing lost, nothing doubled', () => {
    const dir = tempDir()
    oldJournal(dir)
    const journal = openStore({ path: join(dir, 'carehub.db'), log, now: T0, checkIntegrity: false })
    const rollups = openRollupDb({ path: join(dir, 'rollups.db'), journalPath: join(dir, 'carehub.db'), log, now: T0, checkIntegrity: false })
    // Another connection holds the journal's write lock: the copy commits, the drop cannot.
    const other = new Database(join(dir, 'carehub.db'))
    other.exec('BEGIN IMMEDIATE')
    journal.pragma('busy_timeout = 50')
    assert.throws(() => moveRollupsOut(journal, rollups), /locked|busy/i)
    assert.equal(count(rollups, 'SELECT count(*) FROM rollups'), 150, 'the copy committed')
    assert.ok(tables(journal).includes('rollups'), 'the journal still has them')
    other.exec('ROLLBACK')
    other.close()
    assert.equal(moveRollupsOut(journal, rollups), 150)
    assert.equal(count(rollups, 'SELECT count(*) FROM rollups'), 150)
    assert.equal(count(rollups, 'SELECT seq FROM fold_cursor'), 4242)
    assert.equal(moveRollupsOut(journal, rollups), 0, 'nothing left to move')
    rollups.close()
    journal.close()
  })

  test("a fold completes while another connection holds the journal's write lock: folds no longer wait for the journal (and run at a lowered priority)", async () => {
    const dir = tempDir()
    const db = openStore({ path: join(dir, 'carehub.db'), log, now: T0, checkIntegrity: false })
    const rollupDb = openRollupDb({ path: join(dir, 'rollups.db'), journalPath: join(dir, 'carehub.db'), log, now: T0, checkIntegrity: false })
    db.prepare("INSERT INTO devices (id, source, created_at, updated_at) VALUES ('d0', 'mqtt', 0, 0)").run()
    new JournalWriter(db).commit(
      Array.from({ length: 100 }, (_, k) => reading('d0', 'climate', { temp_c: k }, T0 + k)),
      [],
    )
    const rollups = new RollupService({
      db: () => db,
      rollupDb: () => rollupDb,
      clock: { now: () => T0 + 60_000 },
      log,
      registry: new Registry(),
      flushMs: 60_000,
    })
    const writer = new Database(join(dir, 'carehub.db'))
    const lowered = backgroundThreads()
    try {
      await rollups.start()
      if (process.platform === 'linux') assert.ok(newBackgroundThread(lowered), 'the fold’s thread runs at BACKGROUND_NICE')
      writer.exec('BEGIN IMMEDIATE') // as the journal's group commit does, for as long as the fold takes
      const started = performance.now()
      await rollups.flush()
      const ms = performance.now() - started
      assert.equal(count(rollupDb, "SELECT sum(count) FROM rollups WHERE tier = '1m'"), 100)
      assert.equal(rollups.cursor, count(db, 'SELECT max(seq) FROM readings'))
      // In the journal's file the fold's transaction waited for the lock (busy_timeout 5 s), then failed.
      assert.ok(ms < 4000, `the fold did not wait for the journal's lock (${Math.round(ms)} ms)`)
    } finally {
      if (writer.inTransaction) writer.exec('ROLLBACK')
      writer.close()
      await rollups.stop()
      rollupDb.close()
      db.close()
    }
  })

  test('the disk budget counts both files', async () => {
    const h = await startGateway({ history: { rollupFlushMs: 60_000 } })
    await submitClimate(h.gateway, Date.now() - 3_600_000, 0, 2000, 50)
    await h.gateway.history.rollups.flush()
    const used = (db: Db) => (count(db, 'PRAGMA page_count') - count(db, 'PRAGMA freelist_count')) * count(db, 'PRAGMA page_size')
    const rollupBytes = used(h.gateway.store.rollupDb)
    assert.ok(rollupBytes > 100_000, `the rollups take room of their own (${rollupBytes} bytes)`)
    assert.equal(await metricValue(h.gateway, 'carehub_store_used_bytes'), used(h.gateway.store.db) + rollupBytes)
  })
})

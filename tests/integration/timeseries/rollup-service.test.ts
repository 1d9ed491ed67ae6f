import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { Registry } from 'prom-client'
import { JournalWriter } from '../../../gateway/src/store/journal.js'
import { openStore } from '../../../gateway/src/store/open.js'
import { openRollupDb } from '../../../gateway/src/store/rollup-db.js'
import { RollupService } from '../../../gateway/src/timeseries/rollup-service.js'
import { reading } from '../../_support/history-data.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

const T0 = Date.parse('2026-11-28T10:00:00Z')

/** `devices` devices, each reporting `each` readings of one field within the same minute; folded once. */
async function foldOnce(devices: number, each: number) {
  const { log } = captureLogger()
  const dir = tempDir()
  const db = openStore({ path: join(dir, 'carehub.db'), log, now: T0, checkIntegrity: false })
  const rollupDb = openRollupDb({ path: join(dir, 'rollups.db'), log, now: T0, checkIntegrity: false })
  const add = db.prepare(`INSERT INTO devices (id, source, created_at, updated_at) VALUES (?, 'mqtt', 0, 0)`)
  for (let d = 0; d < devices; d++) add.run(`d${d}`)
  const readings = []
  for (let k = 0; k < each; k++) for (let d = 0; d < devices; d++) readings.push(reading(`d${d}`, 'climate', { temp_c: k }, T0 + k))
  new JournalWriter(db).commit(readings, [])
  const rollups = new RollupService({
    db: () => db,
    rollupDb: () => rollupDb,
    clock: { now: () => T0 + 60_000 },
    log,
    registry: new Registry(),
    flushMs: 5000,
  })
  await rollups.start()
  try {
    await rollups.flush()
    return { next: rollups.nextFoldInMs, rows: rollupDb.prepare('SELECT count(*) FROM rollups').pluck().get() as number }
  } finally {
    await rollups.stop()
    rollupDb.close()
    db.close()
  }
}

test('after a wide fold that touched each bucket once (many devices, each reporting rarely) the next fold comes five times sooner', async () => {
  const wide = await foldOnce(700, 1)
  assert.equal(wide.rows, 2100, '700 series × 3 tiers')
  assert.equal(wide.next, 1000)
})

test('a fold whose buckets several readings shared keeps the configured period', async () => {
  const shared = await foldOnce(700, 3)
  assert.equal(shared.rows, 2100)
  assert.equal(shared.next, 5000)
})

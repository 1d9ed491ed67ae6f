import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { openStore } from '../../../gateway/src/store/open.js'
import { openRollupDb } from '../../../gateway/src/store/rollup-db.js'
import { PRESET_PARAMS, ROLLUPS_IN_SCOPE_SQL, runPreset } from '../../../gateway/src/timeseries/presets.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

const { log } = captureLogger()

test('a preset over a room reads each of its devices’ rollups by primary key, not the whole tier (no ANALYZE statistics needed)', () => {
  const dir = tempDir()
  const journal = openStore({ path: join(dir, 'carehub.db'), log, now: 0, checkIntegrity: false })
  const rollupDb = openRollupDb({ path: join(dir, 'rollups.db'), journalPath: join(dir, 'carehub.db'), log, now: 0, checkIntegrity: false })
  try {
    const device = journal.prepare("INSERT INTO devices (id, source, created_at, updated_at, room) VALUES (?, 'mqtt', 0, 0, ?)")
    for (let d = 0; d < 40; d++) device.run(`d${d}`, d % 4 === 0 ? 'hall' : 'elsewhere')
    const put = rollupDb.prepare(
      "INSERT INTO rollups (tier, device_id, measurement, field, bucket_start, count, last, last_ts) VALUES ('1h', ?, 'event', 'door', ?, 1, 'true', ?)",
    )
    rollupDb.transaction(() => {
      for (let d = 0; d < 40; d++) for (let h = 0; h < 48; h++) put.run(`d${d}`, h * 3_600_000, h * 3_600_000)
    })()
    const plan = (
      rollupDb.prepare(`EXPLAIN QUERY PLAN ${ROLLUPS_IN_SCOPE_SQL}`).all(null, null, 'hall', 'hall', '1h', 'event', 'door', 0) as Array<{
        detail: string
      }>
    ).map((r) => r.detail)
    assert.ok(
      plan.some((d) => /SEARCH r USING PRIMARY KEY \(tier=\? AND device_id=\? AND measurement=\? AND field=\? AND bucket_start>\?\)/.test(d)),
      plan.join('; '),
    )
    // The joined rows are the room's devices' only, through the journal attached to the rollup connection.
    const rows = rollupDb.prepare(ROLLUPS_IN_SCOPE_SQL).all(null, null, 'hall', 'hall', '1h', 'event', 'door', 0) as Array<{ device_id: string }>
    assert.equal(rows.length, 10 * 48)
    assert.deepEqual(new Set(rows.map((r) => r.device_id)), new Set(['d0', 'd4', 'd8', 'd12', 'd16', 'd20', 'd24', 'd28', 'd32', 'd36']))
    // And the preset that uses it runs on that connection (one row per device of the room).
    const params = PRESET_PARAMS.door_openings.parse({ room: 'hall', days: '2' })
    const answer = JSON.parse(runPreset('door_openings', params, { db: journal, rollupDb, now: 48 * 3_600_000, timeZone: 'UTC' })) as unknown[]
    assert.ok(answer.length > 0, JSON.stringify(answer))
  } finally {
    rollupDb.close()
    journal.close()
  }
})

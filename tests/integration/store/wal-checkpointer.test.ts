import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { Registry } from 'prom-client'
import { openStore } from '../../../gateway/src/store/open.js'
import { WalCheckpointer } from '../../../gateway/src/store/wal-checkpointer.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('the background checkpointer empties the WAL into the database and reports its size and what readers hold back', async () => {
  const { log } = captureLogger()
  const path = join(tempDir(), 'c.db')
  const db = openStore({ path, log, now: Date.now(), checkIntegrity: false })
  db.exec('CREATE TABLE t (b BLOB)')
  const insert = db.prepare('INSERT INTO t VALUES (randomblob(3000))')
  const registry = new Registry()
  const checkpointer = new WalCheckpointer({ path, intervalMs: 50, log, registry })
  const reader = new Database(path, { readonly: true })
  try {
    // A reader inside a transaction pins its snapshot: frames written after it cannot be copied.
    reader.exec('BEGIN')
    reader.prepare('SELECT count(*) FROM t').get()
    for (let i = 0; i < 200; i++) insert.run()
    await checkpointer.start()
    const value = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await registry.metrics())?.[1] ?? -1)
    const frames = () => value('carehub_store_wal_frames_count')
    const pinned = () => value('carehub_store_wal_unbackfilled_frames')
    for (let i = 0; i < 100 && (await frames()) <= 0; i++) await sleep(20)
    assert.ok((await frames()) > 0, 'sampled at each checkpoint')
    assert.ok((await pinned()) >= 200, `the reader holds back the frames written after it (${await pinned()})`)
    reader.exec('COMMIT')
    for (let i = 0; i < 100 && (await pinned()) !== 0; i++) await sleep(20)
    assert.equal(await pinned(), 0, 'with the reader gone, everything is copied')
    const text = await registry.metrics()
    assert.match(text, /carehub_store_wal_frames_bucket\{le="500"\} \d+/)
  } finally {
    reader.close()
    await checkpointer.stop()
    db.close()
  }
})

/** How many times the WAL started over: its header's checkpoint sequence (fileformat2.html §4.1). */
const walResets = (path: string) => readFileSync(`${path}-wal`).readUInt32BE(12)

/**
 * Commits back to back for `ms` as the journal does at saturation (several readings a transaction,
 * synchronous=NORMAL, the event loop free between commits), with SQLite's own automatic checkpoint
 * off so only the worker can let the WAL start over. Returns what the checkpointer reported.
 */
async function commitContinuously(restartFrames: number, ms: number) {
  const { log, lines } = captureLogger()
  const path = join(tempDir(), 'busy.db')
  const db = openStore({ path, log, now: Date.now(), checkIntegrity: false })
  db.exec('CREATE TABLE t (b BLOB)')
  db.pragma('synchronous = NORMAL')
  db.pragma('wal_autocheckpoint = 0')
  const insert = db.prepare('INSERT INTO t VALUES (randomblob(200))')
  const commit = db.transaction(() => {
    for (let i = 0; i < 5; i++) insert.run()
  })
  commit()
  const resetsBefore = walResets(path)
  const registry = new Registry()
  const checkpointer = new WalCheckpointer({ path, intervalMs: 50, restartFrames, log, registry })
  await checkpointer.start()
  let commits = 0
  let resets: number
  try {
    for (const until = Date.now() + ms; Date.now() < until; commits++) {
      commit()
      await new Promise((r) => setImmediate(r))
    }
    resets = walResets(path) - resetsBefore
  } finally {
    await checkpointer.stop()
    db.close()
  }
  const text = await registry.metrics()
  const restarts = Number(/^carehub_store_wal_restarts_total\{outcome="done"\} (\d+)$/m.exec(text)?.[1] ?? 0)
  return { commits, resets, restarts, warnings: lines().filter((l) => ['warn', 'error', 'fatal'].includes(String(l.level))) }
}

test('PASSIVE checkpoints alone never let a continuously written WAL start over; a RESTART once it is large does', async () => {
  const starved = await commitContinuously(Number.MAX_SAFE_INTEGER, 1000)
  assert.equal(starved.restarts, 0)

  const bounded = await commitContinuously(300, 1000)
  assert.ok(bounded.restarts >= 3, `RESTART checkpoints ran (${bounded.restarts})`)
  // Without RESTART a scheduling pause of the committing thread may let a PASSIVE catch up now
  // and then (a reset or two on a loaded machine); with it the WAL starts over after each one.
  assert.ok(
    bounded.resets >= starved.resets + 3,
    `the WAL started over ${bounded.resets} times in ${bounded.commits} commits with RESTART, ${starved.resets} in ${starved.commits} without`,
  )
  assert.deepEqual(bounded.warnings, [])
})

import assert from 'node:assert/strict'
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

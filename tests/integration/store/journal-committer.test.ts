import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { Registry } from 'prom-client'
import type { Reading } from '../../../gateway/src/core/reading.js'
import { getDevice } from '../../../gateway/src/store/devices.js'
import { type DeadLetter, JournalWriter } from '../../../gateway/src/store/journal.js'
import { JournalCommitter } from '../../../gateway/src/store/journal-committer.js'
import { LAST_SEEN_STEP_MS } from '../../../gateway/src/store/last-seen.js'
import { openStore } from '../../../gateway/src/store/open.js'
import { carehubError } from '../../_support/carehub-error.js'
import { captureLogger } from '../../_support/log-capture.js'
import { parsePrometheus } from '../../_support/prometheus.js'
import { tempDir } from '../../_support/temp.js'

const NOW = Date.parse('2026-11-27T10:00:00Z')

const reading = (i: number, overrides: Partial<Reading> = {}): Reading => ({
  deviceId: 'd1',
  measurement: 'climate',
  fields: { temp_c: i },
  tags: { room: 'hall' },
  ts: NOW + i,
  tsFromReceipt: false,
  receivedAt: NOW + i,
  source: 'mqtt',
  ...overrides,
})

const deadLetter = (reason: string, payload: Uint8Array | null): DeadLetter => ({
  receivedAt: NOW,
  source: 'mqtt',
  origin: 'care/d1/climate',
  reasonCode: 'CAREHUB_ERR_VALIDATION',
  reason,
  payload,
})

function setup(options: { maxBatch?: number; maxPending?: number; acksPerTurn?: number } = {}) {
  const { log, lines } = captureLogger()
  const path = join(tempDir(), 'j.db')
  const db = openStore({ path, log, now: NOW, checkIntegrity: false })
  db.prepare(`INSERT INTO devices (id, source, created_at, updated_at) VALUES ('d1','mqtt',0,0)`).run()
  // A second connection: what it sees is committed, not merely written inside an open transaction.
  const reader = new Database(path, { readonly: true })
  after(() => {
    reader.close()
    db.close()
  })
  const writer = new JournalWriter(db)
  const realCommit = writer.commit.bind(writer)
  const state = { commits: 0, failWith: null as Error | null }
  writer.commit = (readings, deadLetters, o) => {
    state.commits++
    if (state.failWith) throw state.failWith
    return realCommit(readings, deadLetters, o)
  }
  const registry = new Registry()
  const committer = new JournalCommitter({
    writer: () => writer,
    clock: { now: () => Date.now() },
    log,
    registry,
    maxBatch: options.maxBatch ?? 1000,
    maxPending: options.maxPending ?? 10_000,
    ...(options.acksPerTurn ? { acksPerTurn: options.acksPerTurn } : {}),
  })
  const count = (table = 'readings') => reader.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number
  const metric = async (name: string) => {
    // getSingleMetricAsString has no final newline, without which the parser drops the last sample.
    const [family] = parsePrometheus(`${await registry.getSingleMetricAsString(name)}\n`)
    assert.ok(family, `metric ${name} missing`)
    return family
  }
  const logged = (msg: string) => lines().filter((l) => l.msg === msg)
  return { db, path, reader, committer, state, count, metric, logged }
}

describe('journal committer: acknowledged means stored', () => {
  test('submit resolves with increasing seqs only once the row is committed', async () => {
    const { reader, committer, count } = setup()
    const readBack = (seq: number | null) => reader.prepare('SELECT * FROM readings WHERE seq = ?').get(seq) as Record<string, unknown> | undefined
    const pending = [1, 2, 3].map((i) => committer.submit({ reading: reading(i) }).then((seq) => ({ seq, row: readBack(seq) })))
    assert.equal(count(), 0, 'nothing is written synchronously in submit')
    const first = await Promise.all(pending)
    const later = await committer.submit({ reading: reading(4) }).then((seq) => ({ seq, row: readBack(seq) }))
    const all = [...first, later]
    for (const [i, { seq, row }] of all.entries()) {
      assert.equal(typeof seq, 'number')
      if (i > 0) assert.ok((seq as number) > (all[i - 1]?.seq as number), 'seqs increase')
      assert.ok(row, `row ${seq} visible to another connection when the promise resolved`)
      assert.equal(row.fields, JSON.stringify({ temp_c: i + 1 }))
      assert.equal(row.ts, NOW + i + 1)
      assert.equal(row.device_id, 'd1')
    }
  })

  test('submits in the same tick share one transaction; a later tick gets its own', async () => {
    const { committer, state, metric } = setup()
    const seqs = await Promise.all(Array.from({ length: 50 }, (_, i) => committer.submit({ reading: reading(i) })))
    assert.equal(state.commits, 1)
    assert.deepEqual(
      seqs,
      Array.from({ length: 50 }, (_, i) => (seqs[0] as number) + i),
    )
    const batch = (await metric('carehub_journal_batch_size')).metrics[0]
    assert.equal(batch?.count, '1')
    assert.equal(batch?.sum, '50')
    assert.equal(batch?.buckets?.['10'], '0')
    assert.equal(batch?.buckets?.['50'], '1')
    await committer.submit({ reading: reading(99) })
    assert.equal(state.commits, 2)
  })

  test('a large batch is acknowledged a slice per event-loop turn, in order, with other work served in between', async () => {
    const { committer, state } = setup({ acksPerTurn: 10 })
    const order: number[] = []
    const all = Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        committer.submit({ reading: reading(i) }).then((seq) => {
          order.push(seq as number)
        }),
      ),
    )
    // A stand-in for an HTTP request: each turn it notes how many acknowledgements it has seen.
    const seen: number[] = []
    const ticker = (): void => {
      setImmediate(() => {
        if (order.length === 50) return
        seen.push(order.length)
        ticker()
      })
    }
    ticker()
    await all
    assert.equal(state.commits, 1, 'one transaction')
    assert.deepEqual(
      order,
      Array.from({ length: 50 }, (_, i) => (order[0] as number) + i),
      'acknowledged in seq order',
    )
    assert.ok(
      seen.some((n) => n > 0 && n < 50),
      `other callbacks ran while the batch was part-acknowledged (seen: ${seen.join(',')})`,
    )
  })

  test('maxBatch splits a burst into ordered transactions', async () => {
    const { committer, state, metric, count } = setup({ maxBatch: 4 })
    const seqs = await Promise.all(Array.from({ length: 10 }, (_, i) => committer.submit({ reading: reading(i) })))
    assert.equal(state.commits, 3)
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    const batch = (await metric('carehub_journal_batch_size')).metrics[0]
    assert.equal(batch?.count, '3')
    assert.equal(batch?.sum, '10')
    assert.equal(batch?.buckets?.['2'], '1', 'batches of 4, 4 and 2')
    assert.equal(count(), 10)
  })

  test('dead letters resolve null and are stored with their payload', async () => {
    const { committer, reader, metric } = setup()
    const results = await Promise.all([
      committer.submit({ reading: reading(1) }),
      committer.submit({ deadLetter: deadLetter('not JSON', Uint8Array.from([0x7b, 0xff])) }),
      committer.submit({ reading: reading(2) }),
      committer.submit({ deadLetter: deadLetter('empty', null) }),
    ])
    assert.deepEqual(results, [1, null, 2, null])
    const rows = reader.prepare('SELECT reason, payload, origin, reason_code FROM dead_letters ORDER BY id').all()
    assert.deepEqual(rows, [
      { reason: 'not JSON', payload: Buffer.from([0x7b, 0xff]), origin: 'care/d1/climate', reason_code: 'CAREHUB_ERR_VALIDATION' },
      { reason: 'empty', payload: null, origin: 'care/d1/climate', reason_code: 'CAREHUB_ERR_VALIDATION' },
    ])
    const committed = (await metric('carehub_journal_committed_total')).metrics
    assert.equal(committed.find((m) => m.labels?.kind === 'dead_letter')?.value, '2')
    assert.equal(committed.find((m) => m.labels?.kind === 'reading')?.value, '2')
  })
})

describe('journal committer: bounded and failing', () => {
  test('beyond maxPending submit rejects STORE_UNAVAILABLE and nothing is stored for it', async () => {
    const { committer, count, reader, metric } = setup({ maxPending: 3 })
    const accepted = [1, 2, 3].map((i) => committer.submit({ reading: reading(i) }))
    const refused = assert.rejects(committer.submit({ reading: reading(4) }), carehubError('CAREHUB_ERR_STORE_UNAVAILABLE', /queue full \(3/))
    await refused
    assert.deepEqual(await Promise.all(accepted), [1, 2, 3])
    assert.equal(count(), 3)
    assert.equal(reader.prepare(`SELECT count(*) FROM readings WHERE fields = '{"temp_c":4}'`).pluck().get(), 0)
    assert.equal((await metric('carehub_journal_refused_total')).metrics[0]?.value, '1')
    assert.equal(await committer.submit({ reading: reading(5) }), 4, 'accepted again once the queue drained')
  })

  test('a failing commit rejects its whole batch, logs once per streak, and the next batch succeeds', async () => {
    const { committer, state, count, logged } = setup()
    state.failWith = new Error('disk I/O error')
    const failed = await Promise.allSettled([1, 2, 3].map((i) => committer.submit({ reading: reading(i) })))
    const again = await Promise.allSettled([committer.submit({ reading: reading(4) })])
    for (const r of [...failed, ...again]) {
      assert.equal(r.status, 'rejected')
      if (r.status === 'rejected') carehubError('CAREHUB_ERR_STORE_UNAVAILABLE', /disk I\/O error/)(r.reason)
    }
    assert.equal(state.commits, 2)
    assert.equal(logged('journal commit failed').length, 1)
    assert.equal(count(), 0)

    state.failWith = null
    assert.equal(typeof (await committer.submit({ reading: reading(5) })), 'number')
    assert.equal(count(), 1)
    assert.equal(logged('journal commits succeed again').length, 1)

    state.failWith = new Error('disk full')
    await Promise.allSettled([committer.submit({ reading: reading(6) })])
    assert.equal(logged('journal commit failed').length, 2, 'a new streak is logged again')
  })

  test('a row the database refuses rolls back the whole batch, good rows included', async () => {
    const { committer, count } = setup()
    const results = await Promise.allSettled([
      committer.submit({ reading: reading(1) }),
      committer.submit({ reading: reading(2, { source: 'bogus' as Reading['source'] }) }),
      committer.submit({ deadLetter: deadLetter('x', null) }),
    ])
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected', 'rejected'],
    )
    assert.equal(count('readings'), 0)
    assert.equal(count('dead_letters'), 0)
    assert.equal(typeof (await committer.submit({ reading: reading(3) })), 'number', 'the next batch commits')
    assert.equal(count('readings'), 1)
  })
})

describe('journal committer: another connection holding the write lock', () => {
  test('the commit waits for the lock off the event loop, then commits in order; busy tries are counted', async () => {
    const { path, committer, count, metric } = setup()
    const other = new Database(path)
    after(() => other.close())
    other.exec('BEGIN IMMEDIATE') // the rollup worker or the `carehub` command, mid-transaction
    let acked = false
    const pending = [1, 2, 3].map((i) => committer.submit({ reading: reading(i) }))
    void Promise.all(pending).then(() => (acked = true))
    // SQLite's busy handler would sleep on the event loop; here timers keep firing meanwhile.
    const started = performance.now()
    let ticks = 0
    while (performance.now() - started < 60) {
      await new Promise((r) => setTimeout(r, 5))
      ticks++
    }
    assert.ok(ticks >= 6, `the event loop ran meanwhile (${ticks} timer turns in 60 ms)`)
    assert.equal(acked, false, 'not acknowledged while the lock is held elsewhere')
    assert.equal(count(), 0)
    other.exec('COMMIT')
    assert.deepEqual(await Promise.all(pending), [1, 2, 3])
    assert.equal(count(), 3)
    assert.ok(Number((await metric('carehub_journal_lock_busy_total')).metrics[0]?.value) > 0)
  })
})

describe('journal committer: lifecycle and observability', () => {
  test('stop() commits what is queued, then refuses new submits', async () => {
    const { committer, count } = setup({ maxBatch: 2 })
    const queued = [1, 2, 3, 4, 5].map((i) => committer.submit({ reading: reading(i) }))
    assert.equal(count(), 0)
    await committer.stop()
    assert.equal(count(), 5, 'committed before stop() resolved')
    assert.deepEqual(await Promise.all(queued), [1, 2, 3, 4, 5])
    await assert.rejects(committer.submit({ reading: reading(6) }), carehubError('CAREHUB_ERR_STORE_UNAVAILABLE', /stopping/))
    await new Promise((r) => setImmediate(r))
    assert.equal(count(), 5)
  })

  test('the queue depth gauge reports the items waiting, then 0', async () => {
    const { committer, metric } = setup()
    assert.equal((await metric('carehub_journal_queue_depth')).metrics[0]?.value, '0')
    const pending = Array.from({ length: 7 }, (_, i) => committer.submit({ reading: reading(i) }))
    assert.equal(committer.depth, 7)
    assert.equal((await metric('carehub_journal_queue_depth')).metrics[0]?.value, '7')
    await Promise.all(pending)
    assert.equal(committer.depth, 0)
    assert.equal((await metric('carehub_journal_queue_depth')).metrics[0]?.value, '0')
  })

  test("the device's last-seen time is the newest receive time, never back; the column moves once a minute; updated_at (a record change, synced to the cloud) stays", async () => {
    const { committer, reader, db } = setup()
    const row = () => reader.prepare(`SELECT last_seen_at, updated_at FROM devices WHERE id = 'd1'`).get()
    const seen = () => getDevice(db, 'd1')?.lastSeenAt
    const at = (receivedAt: number) => committer.submit({ reading: { ...reading(receivedAt - NOW), receivedAt } })
    assert.deepEqual(row(), { last_seen_at: null, updated_at: 0 })
    assert.equal(seen(), null)
    await Promise.all([at(NOW + 5), at(NOW + 3)])
    assert.deepEqual(row(), { last_seen_at: NOW + 5, updated_at: 0 }, 'the first reading in this process writes it')
    assert.equal(seen(), NOW + 5)
    await at(NOW + 1)
    assert.equal(seen(), NOW + 5, 'never back')
    await at(NOW + 10)
    assert.deepEqual(row(), { last_seen_at: NOW + 5, updated_at: 0 }, 'within a step: no write to the device row')
    assert.equal(seen(), NOW + 10, 'read exactly, from its latest readings')
    await at(NOW + 5 + LAST_SEEN_STEP_MS)
    assert.deepEqual(row(), { last_seen_at: NOW + 5 + LAST_SEEN_STEP_MS, updated_at: 0 }, 'a step later the column moves')
    await committer.submit({ deadLetter: deadLetter('x', null) })
    assert.equal(seen(), NOW + 5 + LAST_SEEN_STEP_MS, 'a dead letter is not a sign of life')
    // Once its readings are purged, the column is what is left: at most a step behind.
    await committer.submit({ reading: reading(LAST_SEEN_STEP_MS + 30_000) })
    db.prepare('DELETE FROM readings').run()
    assert.equal(seen(), NOW + 5 + LAST_SEEN_STEP_MS)
  })
})

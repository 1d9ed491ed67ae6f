import assert from 'node:assert/strict'
import { readdirSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { Registry } from 'prom-client'
import type { Reading } from '../../../gateway/src/core/reading.js'
import type { CommitParticipant } from '../../../gateway/src/store/commit-participant.js'
import { DurableAcks } from '../../../gateway/src/store/durable-acks.js'
import { JournalWriter } from '../../../gateway/src/store/journal.js'
import { JournalCommitter } from '../../../gateway/src/store/journal-committer.js'
import { type Db, openStore } from '../../../gateway/src/store/open.js'
import { walSyncer } from '../../../gateway/src/store/wal-sync.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

const NOW = Date.parse('2026-11-27T10:00:00Z')
const reading = (i: number): Reading => ({
  deviceId: 'd1',
  measurement: 'climate',
  fields: { temp_c: i },
  tags: {},
  ts: NOW + i,
  tsFromReceipt: false,
  receivedAt: NOW + i,
  source: 'mqtt',
})
const tick = () => new Promise((r) => setImmediate(r))

/** A committer whose WAL syncs the test releases by hand (or the real one). */
function setup(real = false, maxBatch = 1000, slots = 1) {
  const { log, lines } = captureLogger()
  const path = join(tempDir(), 'j.db')
  const db = openStore({ path, log, now: NOW, checkIntegrity: false })
  db.prepare(`INSERT INTO devices (id, source, created_at, updated_at) VALUES ('d1','mqtt',0,0)`).run()
  const reader = new Database(path, { readonly: true })
  after(() => {
    reader.close()
    db.close()
  })
  const held: Array<(err: Error | null) => void> = []
  const modes: number[] = []
  const writer = new JournalWriter(db)
  const realCommit = writer.commit.bind(writer)
  const faults = { afterParticipant: null as Error | null }
  writer.commit = (readings, deadLetters, o = {}) =>
    realCommit(readings, deadLetters, {
      ...o,
      writes: [...(o.writes ?? []), { fn: (d) => modes.push(d.pragma('synchronous', { simple: true }) as number), resolve() {}, reject() {} }],
      during: (seqs, flags, tx) => {
        o.during?.(seqs, flags, tx)
        // The transaction fails after the participant wrote (as a COMMIT that fails would).
        if (faults.afterParticipant) throw faults.afterParticipant
      },
    })
  const syncWal = real ? walSyncer(path) : Object.assign((done: (err: Error | null) => void) => void held.push(done), { slots })
  const written: number[] = []
  // Stands in for the rules engine: hears each transaction's readings inside it, may write there.
  const followUps: string[] = []
  const participation = { write: null as null | ((tx: Db) => void) }
  const participant: CommitParticipant = {
    inTransaction(entries, tx) {
      written.push(...entries.map((e) => e.seq))
      const write = participation.write
      if (!write) return undefined
      participation.write = null
      write(tx)
      return { durable: () => followUps.push('durable'), failed: (err) => followUps.push(`failed: ${err.message}`) }
    },
  }
  const syncFailures: string[] = []
  const committer = new JournalCommitter({
    writer: () => writer,
    clock: { now: () => Date.now() },
    log,
    registry: new Registry(),
    maxBatch,
    maxPending: 10_000,
    participant,
    syncWal,
    onSyncFailure: (err) => syncFailures.push(err.message),
  })
  const count = (sql = 'SELECT count(*) FROM readings') => reader.prepare(sql).pluck().get() as number
  return { db, path, committer, held, modes, written, followUps, participation, faults, count, lines, syncFailures }
}

describe('journal: the fsync runs off the event loop, acknowledgements wait for it', () => {
  test('a committed reading is acknowledged only after the WAL sync; the rules hear of it inside its transaction', async () => {
    const { committer, held, written, count, modes, db } = setup()
    let acked: number | null = null
    void committer.submit({ reading: reading(1) }).then((seq) => {
      acked = seq
    })
    assert.equal(committer.oldestUnwrittenReceivedAt(), NOW + 1, 'queued: the rules must not run timers past it yet')
    await tick()
    assert.equal(count(), 1, 'the transaction committed')
    assert.deepEqual(written, [1], 'the rules engine is told inside the transaction')
    assert.equal(committer.oldestUnwrittenReceivedAt(), null)
    assert.deepEqual(modes, [1], 'inside the group commit synchronous is NORMAL: no inline fsync')
    assert.equal(db.pragma('synchronous', { simple: true }), 2, 'and FULL again for every other writer')
    await tick()
    assert.equal(acked, null, 'not acknowledged before the sync')
    held.shift()?.(null)
    await tick()
    assert.equal(acked, 1)
  })

  test('what arrives during a sync is committed in one transaction when it ends, and acknowledged by the next sync', async () => {
    const { committer, held, count, modes } = setup()
    const acks: number[] = []
    void committer.submit({ reading: reading(1) }).then((s) => acks.push(s as number))
    await tick()
    assert.equal(held.length, 1)
    for (const i of [2, 3, 4]) void committer.submit({ reading: reading(i) }).then((s) => acks.push(s as number))
    await tick()
    await tick()
    assert.equal(count(), 1, 'held back: with its one sync slot busy, committing now could not be acknowledged any sooner')
    held.shift()?.(null)
    await new Promise<void>((r) => queueMicrotask(r))
    assert.deepEqual(acks, [1], 'the sync’s acknowledgements are out in its own turn…')
    assert.equal(count(), 1, '…before the held-back commit, which waits for the next turn')
    await tick()
    assert.equal(count(), 4, 'committed as soon as the sync ended')
    assert.equal(modes.length, 2, 'readings 2–4 in ONE transaction')
    assert.equal(held.length, 1, 'and the next sync started for them')
    held.shift()?.(null)
    await tick()
    assert.deepEqual(acks, [1, 2, 3, 4])
  })

  test('a whole batch waiting during a sync commits at once, in a turn of its own; the next sync acknowledges every one', async () => {
    const { committer, held, count, modes } = setup(false, 3)
    const acks: number[] = []
    void committer.submit({ reading: reading(1) }).then((s) => acks.push(s as number))
    await tick()
    assert.equal(held.length, 1)
    for (const i of [2, 3, 4, 5, 6, 7, 8]) void committer.submit({ reading: reading(i) }).then((s) => acks.push(s as number))
    await tick()
    assert.equal(count(), 4, 'a full batch (2–4) did not wait for the sync in flight')
    await tick()
    assert.equal(count(), 7, 'nor did the next (5–7), one transaction per turn')
    await tick()
    await tick()
    assert.equal(count(), 7, 'reading 8 is less than a batch: it waits for the sync')
    held.shift()?.(null)
    await tick()
    assert.deepEqual(acks, [1], 'the sync in flight acknowledges only what was committed before it began')
    assert.equal(count(), 8)
    assert.equal(modes.length, 4, 'transactions: 1, 2–4, 5–7, 8')
    assert.equal(held.length, 1, 'one sync for everything committed since the last one started')
    held.shift()?.(null)
    await tick()
    assert.deepEqual(acks, [1, 2, 3, 4, 5, 6, 7, 8])
  })

  test('what the rules write in the reading’s transaction (an alert) is durable with it: one sync, told after it', async () => {
    const { committer, held, written, modes, followUps, participation, count } = setup()
    const alerts = "SELECT count(*) FROM settings WHERE key = 'alert'"
    participation.write = (tx) => tx.prepare(`INSERT INTO settings (key, value, updated_at) VALUES ('alert', '"raised"', 0)`).run()
    let acked = false
    void committer.submit({ reading: reading(1) }).then(() => {
      acked = true
    })
    await tick()
    assert.deepEqual(written, [1])
    assert.equal(modes.length, 1, 'one transaction')
    assert.equal(count(), 1, 'the reading committed')
    assert.equal(count(alerts), 1, 'and the alert with it, in the same transaction')
    assert.deepEqual(followUps, [], 'not durable yet, so not announced')
    assert.equal(held.length, 1)
    held.shift()?.(null)
    await tick()
    assert.equal(acked, true)
    assert.deepEqual(followUps, ['durable'], 'told by the reading’s own sync')
    assert.equal(held.length, 0, 'no second sync for the alert')
  })

  test('a participant whose transaction rolls back hears so, and nothing it wrote stays', async () => {
    const { committer, held, followUps, participation, faults, count } = setup()
    participation.write = (tx) => tx.prepare(`INSERT INTO settings (key, value, updated_at) VALUES ('alert', '"raised"', 0)`).run()
    faults.afterParticipant = new Error('disk full')
    const outcome = committer.submit({ reading: reading(1) }).then(
      () => 'acked',
      (err: Error) => err.message,
    )
    assert.match(await outcome, /journal commit failed: disk full/)
    assert.deepEqual(followUps, ['failed: disk full'])
    assert.equal(count(), 0, 'the reading was not stored')
    assert.equal(count("SELECT count(*) FROM settings WHERE key = 'alert'"), 0, 'nor the alert')
    assert.equal(held.length, 0, 'nothing to sync')
  })

  test('when SQLite rolls back the whole transaction inside a savepoint (disk full), nothing after it commits on its own', async () => {
    const { committer, participation, count, held } = setup()
    // What SQLite does on SQLITE_FULL or SQLITE_IOERR inside the rules' savepoint: it ends the whole
    // transaction (sqlite.org lang_transaction.html); the rules catch their error and go on.
    participation.write = (tx) => {
      try {
        tx.transaction(() => {
          tx.exec('ROLLBACK')
          throw new Error('database or disk is full')
        })()
      } catch {}
    }
    const reading1 = committer.submit({ reading: reading(1) }).then(
      () => 'acked',
      (err: Error) => err.message,
    )
    const rideAlong = committer
      .write((db) => db.prepare(`INSERT INTO settings (key, value, updated_at) VALUES ('ride', '1', 0)`).run())
      .then(
        () => 'stored',
        (err: Error) => err.message,
      )
    assert.match(await reading1, /journal commit failed: SQLite rolled back the journal transaction/)
    assert.match(await rideAlong, /journal commit failed/)
    assert.equal(count(), 0)
    assert.equal(count("SELECT count(*) FROM settings WHERE key = 'ride'"), 0, 'the ride-along write did not commit on its own')
    assert.equal(held.length, 0)
  })

  test('a failed sync acknowledges nothing, fails the participant’s follow-up, and says why', async () => {
    const { committer, held, lines, followUps, participation } = setup()
    participation.write = () => {}
    const outcome = committer.submit({ reading: reading(1) }).then(
      () => 'acked',
      (err: Error) => err.message,
    )
    await tick()
    held.shift()?.(new Error('EIO: i/o error, fdatasync'))
    assert.match(await outcome, /journal sync failed: EIO/)
    assert.equal(followUps.length, 1)
    assert.match(followUps[0] ?? '', /^failed: journal sync failed: EIO: i\/o error, fdatasync; nothing is acknowledged/)
    assert.ok(lines().some((l) => /syncing the journal to disk failed/.test(String(l.msg))))
  })

  test('a failed sync is final: what waits for the next sync and everything after it is refused, with no further sync, and the journal reports itself down', async () => {
    // maxBatch 1: a full batch commits during the sync in flight, so a group waits behind it.
    const { committer, held, count, lines, syncFailures } = setup(false, 1)
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'acked',
        (err: Error) => err.message,
      )
    const first = outcome(committer.submit({ reading: reading(1) }))
    await tick()
    const second = outcome(committer.submit({ reading: reading(2) }))
    await tick()
    assert.equal(count(), 2, 'reading 2 committed during the first sync')
    assert.equal(held.length, 1)
    const third = outcome(committer.submit({ reading: reading(3) }))
    assert.deepEqual(await committer.healthCheck.check(), { status: 'ok' })
    held.shift()?.(new Error('EIO: i/o error, fdatasync'))
    for (const o of [first, second, third]) assert.match(await o, /journal sync failed: EIO.*nothing is acknowledged until the gateway restarts/)
    assert.equal(held.length, 0, 'no later sync may acknowledge what was committed after the failure (Linux may have dropped its pages)')
    assert.equal(count(), 2, 'reading 3 was not even committed')
    assert.match(await outcome(committer.submit({ reading: reading(4) })), /journal sync failed: EIO/)
    assert.match(await outcome(committer.write(() => 1)), /journal sync failed: EIO/, 'ride-along writes (alerts) are refused too')
    await committer.requestCommit()
    assert.equal(held.length, 0)
    const health = await committer.healthCheck.check()
    assert.equal(health.status, 'down', 'critical: the watchdog stops pinging and systemd restarts the gateway')
    assert.match(health.detail ?? '', /EIO.*until the gateway restarts/)
    assert.equal(lines().filter((l) => /syncing the journal to disk failed/.test(String(l.msg))).length, 1, 'said once')
    assert.deepEqual(syncFailures, ['EIO: i/o error, fdatasync'], 'the owner is told once (the gateway ends the process)')
  })

  test('a -wal file that cannot be opened fails only that sync: nothing was written or dropped, so the next one acknowledges', async () => {
    const { committer, held, syncFailures } = setup()
    const first = committer.submit({ reading: reading(1) }).then(
      () => 'acked',
      (err: Error) => err.message,
    )
    await tick()
    held.shift()?.(Object.assign(new Error('EMFILE: too many open files'), { transient: true }))
    assert.match(await first, /EMFILE/)
    const second = committer.submit({ reading: reading(2) })
    await tick()
    held.shift()?.(null)
    assert.equal(await second, 2)
    assert.deepEqual(syncFailures, [])
    assert.deepEqual(await committer.healthCheck.check(), { status: 'ok' })
  })

  test('DurableAcks: a group added after a failed sync is failed, not synced, and not before add() returns', async () => {
    const syncs: Array<(err: Error | null) => void> = []
    const acks = new DurableAcks(
      (done) => void syncs.push(done),
      () => {},
    )
    const told: string[] = []
    acks.add({ durable: () => told.push('1 durable'), failed: (e) => told.push(`1 ${e.message}`) })
    syncs.shift()?.(new Error('EIO'))
    acks.add({ durable: () => told.push('2 durable'), failed: (e) => told.push(`2 ${e.message}`) })
    assert.deepEqual(told, ['1 EIO'])
    await acks.drain()
    assert.deepEqual(told, ['1 EIO', '2 EIO'])
    assert.equal(syncs.length, 0)
    assert.equal(acks.failure?.message, 'EIO')
  })

  test('with two sync slots, what arrives during a sync commits at once and gets a sync of its own; a third waits for a slot', async () => {
    const { committer, held, count, modes } = setup(false, 1000, 2)
    const acks: number[] = []
    const submit = (i: number) => void committer.submit({ reading: reading(i) }).then((s) => acks.push(s as number))
    submit(1)
    await tick()
    submit(2)
    await tick()
    assert.equal(count(), 2, 'not held back while a slot is free')
    assert.equal(held.length, 2, 'two syncs at once')
    submit(3)
    submit(4)
    await tick()
    await tick()
    assert.equal(count(), 2, 'both slots busy: 3 and 4 wait')
    held[1]?.(null)
    await tick()
    assert.deepEqual(acks, [1, 2], 'the later sync covers the earlier commit too, released in commit order')
    assert.equal(count(), 4, 'the waiting readings commit in one transaction once a slot frees')
    assert.equal(modes.length, 3)
    held[0]?.(null)
    await tick()
    assert.deepEqual(acks, [1, 2], 'the earlier sync, ending last, has nothing left to tell')
    assert.equal(held.length, 3)
    held[2]?.(null)
    await tick()
    assert.deepEqual(acks, [1, 2, 3, 4])
  })

  test('stop commits what is queued and waits for its sync', async () => {
    const { committer, held } = setup()
    let acked = false
    void committer.submit({ reading: reading(1) }).then(() => {
      acked = true
    })
    const stopped = committer.stop()
    await tick()
    assert.equal(acked, false)
    held.shift()?.(null)
    await stopped
    assert.equal(acked, true)
  })

  test('the real syncer syncs the store’s own -wal file, and lets go of it at stop', async () => {
    const { committer, path } = setup(true)
    const walFds = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === `${path}-wal`
        } catch {
          return false
        }
      }).length
    const before = walFds() // SQLite's own descriptor
    const seqs = await Promise.all([1, 2, 3].map((i) => committer.submit({ reading: reading(i) })))
    assert.deepEqual(seqs, [1, 2, 3])
    assert.equal(walFds(), before + 2, 'the syncer holds a descriptor on <store>-wal per sync slot')
    await committer.stop()
    assert.equal(walFds(), before)
  })

  test('the real syncer under a steady stream: syncs overlap, every reading is acknowledged once, in order, and stored', async () => {
    const { committer, count } = setup(true)
    const acks: number[] = []
    const all: Array<Promise<unknown>> = []
    for (let i = 1; i <= 300; i++) {
      all.push(committer.submit({ reading: reading(i) }).then((s) => acks.push(s as number)))
      if (i % 3 === 0) await tick()
    }
    await Promise.all(all)
    assert.deepEqual(
      acks,
      Array.from({ length: 300 }, (_, i) => i + 1),
    )
    assert.equal(count(), 300)
    await committer.stop()
  })
})

import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Registry } from 'prom-client'
import { JournalWriter } from '../../../gateway/src/store/journal.js'
import { JournalCommitter } from '../../../gateway/src/store/journal-committer.js'
import { readAfter } from '../../../gateway/src/store/journal-reads.js'
import type { Db } from '../../../gateway/src/store/open.js'
import { openStore } from '../../../gateway/src/store/open.js'
import { Forwarder, type ForwarderOptions } from '../../../gateway/src/timeseries/forwarder.js'
import { ForwarderStore } from '../../../gateway/src/timeseries/forwarder-store.js'
import { toLine } from '../../../gateway/src/timeseries/line-protocol.js'
import { SinkError, type TimeSeriesSink } from '../../../gateway/src/timeseries/sink.js'
import { reading, waitFor } from '../../_support/history-data.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

/**
 * The forwarder's decisions with a scripted sink (the real servers are in forwarder.test.ts): which
 * failures split a batch, which wait, and how long. The store is a real SQLite file.
 */
class ScriptedSink implements TimeSeriesSink {
  readonly name = 'scripted'
  readonly requests: string[][] = []
  readonly accepted: string[] = []
  constructor(private readonly answer: (lines: readonly string[], attempt: number) => SinkError | undefined) {}
  async write(lines: readonly string[]): Promise<void> {
    this.requests.push([...lines])
    const failure = this.answer(lines, this.requests.length)
    if (failure) throw failure
    this.accepted.push(...lines)
  }
  async close(): Promise<void> {}
}

function setup(sink: TimeSeriesSink, options: { batchSize?: number; random?: () => number; advance?: ForwarderOptions['advance'] } = {}) {
  const { log, lines } = captureLogger('debug')
  const db = openStore({ path: join(tempDir(), 'f.db'), log, now: Date.now(), checkIntegrity: false })
  const writer = new JournalWriter(db, (_d, _m, fields) => ('flagme' in fields ? ['flagme'] : []))
  // Counts the rows the forwarder reads back from the journal (its read-after-cursor statement).
  const journalRows = { n: 0 }
  type Rows = { all(...args: unknown[]): unknown[]; raw(on?: boolean): Rows }
  const counting = (statement: Rows): Rows => ({
    all: (...args) => {
      const rows = statement.all(...args)
      journalRows.n += rows.length
      return rows
    },
    raw: (on) => counting(statement.raw(on)),
  })
  const counted = new Proxy(db, {
    get(target, key) {
      if (key === 'prepare')
        return (sql: string) => {
          const statement = target.prepare(sql)
          return /^SELECT .+ FROM readings WHERE seq > \? ORDER BY seq LIMIT \?$/.test(sql) ? counting(statement as unknown as Rows) : statement
        }
      const value = Reflect.get(target, key, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  const forwarder = new Forwarder({
    db: () => counted as Db,
    ...(options.advance ? { advance: options.advance } : {}),
    sink,
    clock: { now: () => Date.now() },
    log,
    batchSize: options.batchSize ?? 100,
    pollMs: 10,
    backoffMinMs: 20,
    backoffMaxMs: 160,
    random: options.random ?? (() => 1),
  })
  return { db, writer, forwarder, lines, journalRows }
}

describe('Forwarder decisions (scripted sink, real SQLite)', () => {
  test('it sends exactly the lines of the journal, anomaly flags included, once and in order, in batches', async () => {
    const sink = new ScriptedSink(() => undefined)
    const { db, writer, forwarder, journalRows } = setup(sink, { batchSize: 30 })
    const batch = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) =>
        reading(`d${i % 3}`, 'state', i % 10 === 0 ? { flagme: from + i, mode: 'on' } : { level: from + i }, 1_790_000_000_000 + from + i),
      )
    writer.commit(batch(0, 50), [])
    await forwarder.start()
    await waitFor('the first run', () => forwarder.cursor === 50)
    const last = writer.commit(batch(50, 50), []).at(-1)
    await waitFor('everything forwarded', () => forwarder.cursor === last)
    await forwarder.stop()
    const expected = readAfter(db, 0, 1000).map((e) => toLine(e))
    assert.equal(expected.length, 100)
    assert.deepEqual(sink.accepted, expected, 'the same lines, anomaly flags included, in seq order, once')
    assert.equal(journalRows.n, 100, 'each entry read back from the journal once')
    assert.ok(sink.requests.every((r) => r.length <= 30))
  })

  test('a refused point is isolated by halving (about 2·log2(n) requests), dead-lettered once, and the rest delivered in order', async () => {
    const sink = new ScriptedSink((lines) =>
      lines.some((l) => l.includes('poison')) ? new SinkError('rejected', 400, 'HTTP 400: bad point') : undefined,
    )
    const { db, writer, forwarder } = setup(sink, { batchSize: 64 })
    const readings = Array.from({ length: 64 }, (_, i) =>
      reading('d', 'climate', i === 37 ? { note: 'poison' } : { temp_c: i }, 1_790_000_000_000 + i),
    )
    const seqs = writer.commit(readings, [])
    await forwarder.start()
    await waitFor('the batch to be handled', () => forwarder.cursor === seqs.at(-1))
    await forwarder.stop()
    assert.equal(sink.accepted.length, 63)
    assert.deepEqual(
      sink.accepted.map((l) => Number(l.split(' ').at(-1)) - 1_790_000_000_000),
      Array.from({ length: 64 }, (_, i) => i).filter((i) => i !== 37),
    )
    assert.ok(sink.requests.length <= 2 * Math.log2(64) + 1, `${sink.requests.length} requests`)
    const dead = db.prepare("SELECT origin, CAST(payload AS TEXT) AS line FROM dead_letters WHERE source = 'timeseries'").all() as Array<{
      origin: string
      line: string
    }>
    assert.deepEqual(
      dead.map((d) => d.origin),
      [`scripted seq ${seqs[37]}`],
    )
    assert.match(dead[0]?.line ?? '', /note="poison"/)
  })

  test('unavailable, unauthorized and misconfigured keep the batch: no dead letters, retried with exponential backoff up to the cap', async () => {
    const kinds = ['unavailable', 'unauthorized', 'misconfigured', 'unavailable', 'unavailable', 'unavailable'] as const
    const at: number[] = []
    const sink = new ScriptedSink((_lines, attempt) => {
      at.push(performance.now())
      const kind = kinds[attempt - 1]
      return kind ? new SinkError(kind, kind === 'unavailable' ? 503 : kind === 'unauthorized' ? 401 : 404, `HTTP ${kind}`) : undefined
    })
    const { db, writer, forwarder, lines } = setup(sink)
    const seqs = writer.commit([reading('d', 'climate', { temp_c: 1 }, 1_790_000_000_000)], [])
    await forwarder.start()
    await waitFor('delivery after six failures', () => forwarder.cursor === seqs.at(-1), 10_000)
    await forwarder.stop()
    assert.equal(sink.accepted.length, 1)
    assert.equal(db.prepare('SELECT count(*) FROM dead_letters').pluck().get(), 0)
    // random() = 1: the full delay each time — 20, 40, 80, 160, 160, 160 ms.
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number))
    for (const [i, expected] of [20, 40, 80, 160, 160, 160].entries()) {
      assert.ok((gaps[i] as number) >= expected - 2 && (gaps[i] as number) < expected + 150, `gap ${i}: ${gaps[i]} ms, expected ≈ ${expected}`)
    }
    // One warning per change of failure kind, not per retry; one line when it recovers.
    const warned = lines().filter((l) => l.msg === 'cannot write to the time-series server; readings are kept and retried')
    assert.deepEqual(
      warned.map((l) => l.kind),
      ['unavailable', 'unauthorized', 'misconfigured', 'unavailable'],
    )
    assert.equal(lines().filter((l) => l.msg === 'time-series server reachable again; catching up').length, 1)
  })

  test('jitter: with random() = 0 each wait is half the exponential delay', async () => {
    const at: number[] = []
    const sink = new ScriptedSink((_l, attempt) => {
      at.push(performance.now())
      return attempt <= 3 ? new SinkError('unavailable', 503, 'HTTP 503') : undefined
    })
    const { writer, forwarder } = setup(sink, { random: () => 0 })
    const seqs = writer.commit([reading('d', 'climate', { temp_c: 1 }, 1_790_000_000_000)], [])
    await forwarder.start()
    await waitFor('delivery', () => forwarder.cursor === seqs.at(-1), 10_000)
    await forwarder.stop()
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number))
    for (const [i, expected] of [10, 20, 40].entries()) {
      assert.ok((gaps[i] as number) >= expected - 2 && (gaps[i] as number) < expected + 150, `gap ${i}: ${gaps[i]} ms, expected ≈ ${expected}`)
    }
  })

  test('given the journal, the cursor and dead letters ride in its group commit and move only once that is durable', async () => {
    const sink = new ScriptedSink((lines) =>
      lines.some((l) => l.includes('poison')) ? new SinkError('rejected', 400, 'HTTP 400: bad point') : undefined,
    )
    // The journal's WAL sync, held until the test lets it go.
    const syncs: Array<(err: Error | null) => void> = []
    const ride = { committer: undefined as JournalCommitter | undefined }
    const { db, writer, forwarder } = setup(sink, {
      advance: (seq, refused, now) =>
        (ride.committer as JournalCommitter).write((tx) => new ForwarderStore(tx, 'timeseries:scripted').advance(seq, refused, now)),
    })
    ride.committer = new JournalCommitter({
      writer: () => writer,
      clock: { now: () => Date.now() },
      log: captureLogger('silent').log,
      registry: new Registry(),
      maxBatch: 100,
      maxPending: 100,
      syncWal: (done) => syncs.push(done),
    })
    const seqs = writer.commit(
      Array.from({ length: 20 }, (_, i) => reading('d', 'state', i === 7 ? { note: 'poison' } : { level: i }, 1_790_000_000_000 + i)),
      [],
    )
    const stored = () => db.prepare("SELECT seq FROM cursors WHERE consumer = 'timeseries:scripted'").pluck().get() as number | undefined
    await forwarder.start()
    await waitFor('the batch written and its cursor committed', () => sink.accepted.length === 19 && syncs.length === 1)
    assert.equal(forwarder.cursor, 0, 'not moved before the commit is durable')
    assert.equal(stored(), seqs.at(-1), 'committed in the journal transaction (in the -wal file, not yet synced)')
    ;(syncs.shift() as (err: Error | null) => void)(null)
    await waitFor('the cursor moved', () => forwarder.cursor === seqs.at(-1))
    await forwarder.stop()
    await ride.committer.stop()
    assert.equal(
      db.prepare("SELECT count(*) FROM dead_letters WHERE source = 'timeseries'").pluck().get(),
      1,
      'the refused point, in the same commit',
    )
  })

  test('a cursor the journal refuses to record is not a sink failure: the batch is sent again, nothing is lost', async () => {
    const sink = new ScriptedSink(() => undefined)
    const refusals = { left: 1 }
    const { db, writer, forwarder, lines } = setup(sink, {
      advance: async (seq, refused, now) => {
        if (refusals.left-- > 0) throw new Error('journal queue full (3 waiting)')
        db.transaction(() => new ForwarderStore(db, 'timeseries:scripted').advance(seq, refused, now))()
      },
    })
    const seqs = writer.commit(
      Array.from({ length: 5 }, (_, i) => reading('d', 'state', { level: i }, 1_790_000_000_000 + i)),
      [],
    )
    await forwarder.start()
    await waitFor('delivered and recorded', () => forwarder.cursor === seqs.at(-1), 10_000)
    await forwarder.stop()
    assert.equal(sink.accepted.length, 10, 'the batch twice: the first write was not recorded, so it was sent again')
    assert.equal(new Set(sink.accepted).size, 5)
    assert.equal(lines().filter((l) => l.msg === 'cannot write to the time-series server; readings are kept and retried').length, 0)
    const refused = lines().filter((l) => l.msg === 'could not record the time-series cursor; the batch will be sent again')
    assert.equal(refused.length, 1)
    assert.match(String(refused[0]?.err), /journal queue full/)
  })

  test('restart resumes after the cursor: nothing acknowledged is sent again', async () => {
    const sink = new ScriptedSink(() => undefined)
    const { writer, forwarder, db } = setup(sink, { batchSize: 10 })
    const first = writer.commit(
      Array.from({ length: 25 }, (_, i) => reading('d', 'climate', { temp_c: i }, 1_790_000_000_000 + i)),
      [],
    )
    await forwarder.start()
    await waitFor('the first 25', () => forwarder.cursor === first.at(-1))
    await forwarder.stop()
    const more = writer.commit([reading('d', 'climate', { temp_c: 99 }, 1_790_000_001_000)], [])
    const again = new Forwarder({
      db: () => db,
      sink,
      clock: { now: () => Date.now() },
      log: captureLogger('silent').log,
      batchSize: 10,
      pollMs: 10,
      backoffMinMs: 20,
      backoffMaxMs: 160,
    })
    await again.start()
    await waitFor('the new one', () => again.cursor === more.at(-1))
    await again.stop()
    assert.equal(sink.accepted.length, 26)
    assert.equal(new Set(sink.accepted).size, 26)
  })
})

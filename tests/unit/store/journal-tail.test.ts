import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { CommittedReading } from '../../../gateway/src/core/events.js'
import { JournalTail } from '../../../gateway/src/store/journal-tail.js'
import { mulberry32 } from '../../_support/prng.js'

const committed = (seq: number, anomalies: readonly string[] = []): CommittedReading => ({
  seq,
  anomalies,
  reading: {
    deviceId: `d${seq % 7}`,
    measurement: 'climate',
    fields: { temp_c: seq / 10, humid_pct: 40 },
    tags: seq % 2 ? { room: 'hall' } : {},
    ts: 1_790_000_000_000 + seq,
    tsFromReceipt: false,
    receivedAt: 1_790_000_000_500 + seq,
    source: 'mqtt',
  },
})
const run = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => committed(from + i))
const seqs = (entries: ReadonlyArray<{ seq: number }> | null) => entries?.map((e) => e.seq) ?? null

describe('journal tail: the newest durable entries, for the forwarder', () => {
  test('answers for cursors inside its contiguous run, with entries shaped as the journal returns them', () => {
    const tail = new JournalTail(100)
    tail.append([committed(5, ['temp_c']), committed(6)])
    tail.append(run(7, 10))
    assert.deepEqual(seqs(tail.after(4, 100)), [5, 6, 7, 8, 9, 10])
    assert.deepEqual(seqs(tail.after(6, 2)), [7, 8], 'limit')
    assert.equal(tail.after(3, 10), null, 'the entry after the cursor is older than the tail')
    assert.equal(tail.after(10, 10), null, 'nothing newer held: the journal may have rows the tail never saw')
    const [first] = tail.after(4, 1) ?? []
    assert.deepEqual(first, {
      seq: 5,
      deviceId: 'd5',
      measurement: 'climate',
      fields: { temp_c: 0.5, humid_pct: 40 },
      tags: { room: 'hall' },
      ts: 1_790_000_000_005,
      tsFromReceipt: false,
      receivedAt: 1_790_000_000_505,
      source: 'mqtt',
      anomalies: ['temp_c'],
    })
  })

  test('a gap (readings it never saw) starts the run over, so it never answers across one', () => {
    const tail = new JournalTail(100)
    tail.append(run(1, 5))
    tail.append(run(8, 9)) // 6 and 7 were written by something else, or their sync failed
    assert.equal(tail.after(4, 10), null)
    assert.equal(tail.after(5, 10), null)
    assert.deepEqual(seqs(tail.after(7, 10)), [8, 9])
  })

  test('bounded: beyond capacity the oldest go; release drops what the consumer has passed', () => {
    const tail = new JournalTail(4)
    tail.append(run(1, 6))
    assert.equal(tail.size, 4)
    assert.equal(tail.after(1, 10), null)
    assert.deepEqual(seqs(tail.after(2, 10)), [3, 4, 5, 6])
    tail.release(4)
    assert.equal(tail.size, 2)
    assert.equal(tail.after(3, 10), null)
    assert.deepEqual(seqs(tail.after(4, 10)), [5, 6])
    tail.release(100)
    assert.equal(tail.size, 0)
    assert.equal(tail.after(6, 10), null)
    tail.append(run(7, 8))
    assert.deepEqual(seqs(tail.after(6, 10)), [7, 8], 'continues after being emptied')
  })

  // Two mixes: releases and gaps often (the run restarts a lot), and rarely (the array's dropped
  // front grows past the point where it is compacted).
  for (const [releaseP, gapP] of [
    [0.15, 0.05],
    [0.01, 0.002],
  ] as const) {
    test(`agrees with a plain model over 20,000 random appends, gaps, releases and reads (release ${releaseP}, gap ${gapP})`, () => {
      const rnd = mulberry32(7)
      const capacity = 50
      const tail = new JournalTail(capacity)
      let model: number[] = [] // the seqs the tail should hold
      let next = 1
      for (let step = 0; step < 20_000; step++) {
        const r = rnd()
        if (r < 0.45) {
          if (rnd() < gapP / 0.45) {
            next += 1 + Math.floor(rnd() * 3) // a gap
            model = []
          }
          const n = 1 + Math.floor(rnd() * 20)
          tail.append(run(next, next + n - 1))
          for (let i = 0; i < n; i++) model.push(next + i)
          next += n
          model = model.slice(-capacity)
        } else if (r < 0.45 + releaseP) {
          const cursor = (model[0] ?? next) - 2 + Math.floor(rnd() * (model.length + 4))
          tail.release(cursor)
          model = model.filter((s) => s > cursor)
        } else {
          const cursor = (model[0] ?? next) - 3 + Math.floor(rnd() * (model.length + 6))
          const limit = 1 + Math.floor(rnd() * 30)
          const i = model.indexOf(cursor + 1)
          const expected = i < 0 || cursor >= (model.at(-1) ?? 0) ? null : model.slice(i, i + limit)
          assert.deepEqual(seqs(tail.after(cursor, limit)), expected, `step ${step}: after(${cursor}, ${limit}) with ${model[0]}..${model.at(-1)}`)
          assert.equal(tail.size, model.length)
        }
      }
    })
  }

  test('refuses a capacity below 1', () => {
    assert.throws(() => new JournalTail(0), RangeError)
  })
})

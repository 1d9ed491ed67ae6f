import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { FieldValue } from '../../../gateway/src/core/reading.js'
import {
  type Bucket,
  type FoldInput,
  MAX_STATE_HOLD_MS,
  mergeBucket,
  RollupFold,
  type SeriesMemory,
  TIERS,
  type TierName,
} from '../../../gateway/src/timeseries/rollup-fold.js'

// Expectations are brute-forced from the raw reading list; bucket starts and widths are re-derived here.
const MIN = 60_000
const HOUR = 3_600_000
const WIDTH: Record<TierName, number> = { '1m': MIN, '5m': 5 * MIN, '1h': HOUR }
const startOf = (ts: number, width: number) => ts - (ts % width) // ts >= 0 throughout
const CASES = 200
const BASE_SEED = Number(process.env.ROLLUP_FOLD_SEED ?? 0x5eed)

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

type Key = Pick<Bucket, 'tier' | 'deviceId' | 'measurement' | 'field' | 'bucketStart'>
const keyOf = (b: Key) => `${b.tier}|${b.deviceId}|${b.measurement}|${b.field}|${b.bucketStart}`
const STATS = { count: 0, sum: null, min: null, max: null, last: null, lastTs: null, changes: 0, states: null, anomalies: 0 } as const
const empty = ({ tier, deviceId, measurement, field, bucketStart }: Key): Bucket => ({ tier, deviceId, measurement, field, bucketStart, ...STATS })
const getOrAdd = (m: Map<string, Bucket>, k: Key) => {
  const key = keyOf(k)
  const b = m.get(key) ?? empty(k)
  m.set(key, b)
  return b
}
const addState = (b: Bucket, state: string, ms: number, entries: number, n: number) => {
  b.states ??= {}
  b.states[state] ??= { ms: 0, entries: 0, n: 0 }
  b.states[state].ms += ms
  b.states[state].entries += entries
  b.states[state].n += n
}

interface Item {
  ts: number
  value: FieldValue
  anomalous: boolean
}
interface Series {
  deviceId: string
  measurement: string
  field: string
  items: Item[] // input order
  inOrder: Item[] // readings at or after the newest so far: the ones that move the series on
}

function seriesOf(readings: readonly FoldInput[]): Series[] {
  const out = new Map<string, Series>()
  for (const r of readings) {
    for (const [field, value] of Object.entries(r.fields)) {
      const k = `${r.deviceId}|${r.measurement}|${field}`
      const s = out.get(k) ?? out.set(k, { deviceId: r.deviceId, measurement: r.measurement, field, items: [], inOrder: [] }).get(k)
      assert.ok(s)
      const item = { ts: r.ts, value, anomalous: r.anomalies?.includes(field) === true }
      s.items.push(item)
      if (s.inOrder.length === 0 || r.ts >= (s.inOrder.at(-1)?.ts ?? 0)) s.inOrder.push(item)
    }
  }
  return [...out.values()]
}

function bruteForce(readings: readonly FoldInput[]): Map<string, Bucket> {
  const out = new Map<string, Bucket>()
  for (const s of seriesOf(readings)) {
    const stateful = typeof s.items[0]?.value !== 'number'
    for (const { name: tier } of TIERS) {
      const w = WIDTH[tier]
      const at = (bucketStart: number) => getOrAdd(out, { tier, deviceId: s.deviceId, measurement: s.measurement, field: s.field, bucketStart })
      const byBucket = new Map<number, Item[]>()
      for (const x of s.items) byBucket.get(startOf(x.ts, w))?.push(x) ?? byBucket.set(startOf(x.ts, w), [x])
      for (const [start, inside] of byBucket) {
        const b = at(start)
        assert.ok(inside.every((x) => x.ts >= start && x.ts < start + w))
        const nums = inside.map((x) => x.value).filter((v) => typeof v === 'number')
        b.count = inside.length
        if (nums.length > 0) [b.sum, b.min, b.max] = [nums.reduce((a, v) => a + v, 0), Math.min(...nums), Math.max(...nums)]
        for (const x of inside) if (b.lastTs === null || x.ts >= b.lastTs) [b.last, b.lastTs] = [x.value, x.ts]
        b.anomalies = inside.filter((x) => x.anomalous).length
        if (stateful) for (const x of inside) addState(b, String(x.value), 0, 0, 1) // n: readings with that value, in order or not
      }
      s.inOrder.forEach((x, i) => {
        const prev = s.inOrder[i - 1]
        if (prev !== undefined && prev.value === x.value) return
        if (prev !== undefined) at(startOf(x.ts, w)).changes += 1
        if (stateful) addState(at(startOf(x.ts, w)), String(x.value), 0, 1, 0)
        // durations are attributed below, independently of changes
      })
      if (!stateful) continue
      for (let i = 0; i + 1 < s.inOrder.length; i++) {
        const { ts: from, value } = s.inOrder[i] as Item
        const to = Math.min((s.inOrder[i + 1] as Item).ts, from + MAX_STATE_HOLD_MS)
        for (let b0 = startOf(from, w); b0 < to; b0 += w) {
          const overlap = Math.min(to, b0 + w) - Math.max(from, b0)
          if (overlap > 0) addState(at(b0), String(value), overlap, 0, 0)
        }
      }
    }
  }
  return out
}

function assertSame(actual: Map<string, Bucket>, expected: Map<string, Bucket>, what: string): void {
  assert.deepStrictEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: bucket set`)
  // A cheap comparison keeps 200 cases fast; deepStrictEqual only runs to show the diff of a mismatch.
  const sameStates = (x: Bucket['states'], y: Bucket['states']) =>
    x === null || y === null
      ? x === y
      : Object.keys(x).length === Object.keys(y).length &&
        Object.entries(x).every(([k, v]) => v.ms === y[k]?.ms && v.entries === y[k]?.entries && v.n === y[k]?.n)
  const same = (a: Bucket, e: Bucket) =>
    keyOf(a) === keyOf(e) &&
    (['count', 'min', 'max', 'last', 'lastTs', 'changes', 'anomalies'] as const).every((f) => a[f] === e[f]) &&
    sameStates(a.states, e.states)
  for (const [k, e] of expected) {
    const a = actual.get(k)
    assert.ok(a)
    if (e.sum === null || a.sum === null) assert.equal(a.sum, e.sum, `${what}: ${k} sum`)
    else assert.ok(Math.abs(a.sum - e.sum) <= 1e-9 * Math.max(1, Math.abs(e.sum)), `${what}: ${k} sum ${a.sum} vs ${e.sum}`)
    if (!same(a, e)) assert.deepStrictEqual({ ...a, sum: null }, { ...e, sum: null }, `${what}: ${k}`)
  }
}

const num = (rnd: () => number) => (rnd() < 0.3 ? Math.floor(rnd() * 3) : Math.round(rnd() * 20_000 - 10_000) / 10 + 0)
const KINDS: Array<(rnd: () => number) => Omit<FoldInput, 'ts'>> = [
  (rnd) => ({ deviceId: 'd1', measurement: 'env', fields: { temp: num(rnd), hum: num(rnd) } }),
  (rnd) => ({ deviceId: 'd1', measurement: 'door', fields: { contact: rnd() < 0.5 ? 'open' : 'closed' } }),
  (rnd) => ({ deviceId: 'd2', measurement: 'motion', fields: { occupancy: rnd() < 0.5 } }),
  (rnd) => ({ deviceId: 'd2', measurement: 'plug', fields: { power: num(rnd), on: rnd() < 0.7, mode: rnd() < 0.5 ? 'eco' : 'boost' } }),
]

function generate(rnd: () => number): FoldInput[] {
  const n = 200 + Math.floor(rnd() * 200)
  const gapAt = rnd() < 0.15 ? Math.floor(rnd() * n) : -1
  const gaps = [MAX_STATE_HOLD_MS - 1, MAX_STATE_HOLD_MS, MAX_STATE_HOLD_MS + 1, MAX_STATE_HOLD_MS + Math.floor(rnd() * 6 * HOUR)]
  let t = 1_700_000_000_000 - (1_700_000_000_000 % HOUR) + Math.floor(rnd() * HOUR)
  const out: FoldInput[] = []
  for (let i = 0; i < n; i++) {
    const p = rnd()
    let ts = t
    // a day-long gap; out of order (for its series, most likely); same ts; on a minute boundary; 1 ms before one; on (or 1 ms
    // before) a 5m or 1h boundary; else a step of up to 90 s
    if (i === gapAt) ts = t += gaps[Math.floor(rnd() * gaps.length)] as number
    else if (p < 0.06) ts = t - Math.floor(rnd() * 10 * MIN)
    else if (p < 0.1) ts = t
    else if (p < 0.22) ts = t = startOf(t, MIN) + MIN
    else if (p < 0.32) ts = t = startOf(t + 1, MIN) + MIN - 1
    else if (p < 0.37) ts = t = startOf(t, rnd() < 0.8 ? 5 * MIN : HOUR) + (rnd() < 0.8 ? 5 * MIN : HOUR) - (rnd() < 0.5 ? 1 : 0)
    else ts = t += Math.floor(rnd() * 1.5 * MIN)
    const r = (KINDS[Math.floor(rnd() * KINDS.length)] as (typeof KINDS)[number])(rnd)
    const anomalies = rnd() < 0.15 ? [...Object.keys(r.fields).filter(() => rnd() < 0.6), 'unrelated'] : undefined
    out.push(anomalies ? { ...r, ts, anomalies } : { ...r, ts })
  }
  return out
}

const foldAll = (readings: readonly FoldInput[]) => {
  const fold = new RollupFold(() => undefined)
  for (const r of readings) fold.add(r)
  // States are prototype-less records (no state name can reach Object.prototype); compare them as plain objects.
  return new Map(fold.drain().buckets.map((b) => [keyOf(b), { ...b, states: b.states && { ...b.states } }]))
}

function checkCase(seed: number): void {
  const rnd = mulberry32(seed)
  const readings = generate(rnd)
  const once = foldAll(readings)
  // 1, 4, 5, 6: every field of every bucket of every tier against the brute force
  assertSame(once, bruteForce(readings), 'fold vs brute force')

  // 4: total state time over the 1m buckets is the sum of the capped gaps between in-order readings
  const totals = new Map<string, number>()
  for (const b of once.values()) {
    const k = `${b.deviceId}|${b.measurement}|${b.field}`
    if (b.tier === '1m') totals.set(k, (totals.get(k) ?? 0) + Object.values(b.states ?? {}).reduce((x, st) => x + st.ms, 0))
  }
  for (const s of seriesOf(readings).filter((x) => typeof x.items[0]?.value !== 'number')) {
    const held = s.inOrder.slice(1).reduce((a, x, i) => a + Math.min(x.ts - (s.inOrder[i] as Item).ts, MAX_STATE_HOLD_MS), 0)
    assert.equal(totals.get(`${s.deviceId}|${s.measurement}|${s.field}`), held, `total state ms of ${s.measurement}.${s.field}`)
  }

  // 2: drain at random points, merging deltas into a "store" and restarting folds from its memory
  const store = new Map<string, SeriesMemory>()
  const rows = new Map<string, Bucket>()
  let fold = new RollupFold((k) => store.get(k))
  const flush = () => {
    const { buckets, memory } = fold.drain()
    for (const b of buckets) mergeBucket(getOrAdd(rows, b), b)
    for (const [k, m] of memory) store.set(k, m)
    if (rnd() < 0.5) fold = new RollupFold((k) => store.get(k))
  }
  for (const r of readings) {
    fold.add(r)
    if (rnd() < 0.03) flush()
  }
  flush()
  assertSame(rows, once, 'drained and merged vs folded at once')

  // 3: finer buckets merged in time order equal the coarser bucket
  const pairs = [
    ['1m', '5m'],
    ['5m', '1h'],
  ] as const
  for (const [fine, coarse] of pairs) {
    const merged = new Map<string, Bucket>()
    const fines = [...once.values()].filter((b) => b.tier === fine).sort((a, b) => a.bucketStart - b.bucketStart)
    for (const b of fines) mergeBucket(getOrAdd(merged, { ...b, tier: coarse, bucketStart: startOf(b.bucketStart, WIDTH[coarse]) }), b)
    assertSame(merged, new Map([...once].filter(([, b]) => b.tier === coarse)), `${fine} merged into ${coarse}`)
  }
}

describe('RollupFold (property)', () => {
  test(`${CASES} random journals (seeds ${BASE_SEED}..${BASE_SEED + CASES - 1}; ROLLUP_FOLD_SEED=n to replay)`, () => {
    for (let seed = BASE_SEED; seed < BASE_SEED + CASES; seed++) {
      try {
        checkCase(seed)
      } catch (e) {
        if (e instanceof Error) e.message = `seed ${seed} (ROLLUP_FOLD_SEED=${seed}): ${e.message}`
        throw e
      }
    }
  })
})

describe('RollupFold (examples)', () => {
  const door = (ts: number, contact: string, temp: number): FoldInput => ({ deviceId: 'd', measurement: 'door', fields: { contact, temp }, ts })
  const pick = (m: Map<string, Bucket>, tier: TierName, field: string, bucketStart: number) =>
    m.get(keyOf({ tier, deviceId: 'd', measurement: 'door', field, bucketStart }))

  test('an out-of-order reading is counted but changes neither changes, entries nor durations', () => {
    const t0 = 10 * MIN
    const m = foldAll([door(t0, 'open', 20), door(t0 + 2 * MIN, 'closed', 25), door(t0 + 1.5 * MIN, 'closed', 5), door(t0 + 3 * MIN, 'closed', 21)])
    const st = (ms: number, entries: number, n: number) => ({ ms, entries, n })
    const b = (at: number, count: number, last: string, lastTs: number, changes: number, states: Bucket['states']) => ({
      ...empty({ tier: '1m', deviceId: 'd', measurement: 'door', field: 'contact', bucketStart: at }),
      ...{ count, last, lastTs, changes, states },
    })
    const minutes = [0, 1, 2, 3].map((i) => pick(m, '1m', 'contact', t0 + i * MIN))
    assert.deepStrictEqual(minutes, [
      b(t0, 1, 'open', t0, 0, { open: st(MIN, 1, 1) }),
      b(t0 + MIN, 1, 'closed', t0 + 1.5 * MIN, 0, { open: st(MIN, 0, 0), closed: st(0, 0, 1) }),
      b(t0 + 2 * MIN, 1, 'closed', t0 + 2 * MIN, 1, { closed: st(MIN, 1, 1) }),
      b(t0 + 3 * MIN, 1, 'closed', t0 + 3 * MIN, 0, { closed: st(0, 0, 1) }),
    ])
    const five = pick(m, '5m', 'contact', t0)
    assert.deepStrictEqual([five?.count, five?.changes, five?.states], [4, 1, { open: st(2 * MIN, 1, 1), closed: st(MIN, 1, 3) }])
    const temp = pick(m, '5m', 'temp', t0)
    assert.deepStrictEqual([temp?.count, temp?.sum, temp?.min, temp?.max, temp?.last, temp?.changes], [4, 71, 5, 25, 21, 2])
  })

  test('a state held past MAX_STATE_HOLD_MS is capped (open at t0, next reading at t0 + 30 h)', () => {
    const t0 = 1_700_000_000_000 - (1_700_000_000_000 % HOUR) + 30_000
    const m = foldAll([door(t0, 'open', 1), door(t0 + 30 * HOUR, 'closed', 1)])
    for (const { name: tier } of TIERS) {
      const mine = [...m.values()].filter((b) => b.tier === tier && b.field === 'contact')
      assert.equal(
        mine.reduce((a, b) => a + (b.states?.open?.ms ?? 0), 0),
        24 * HOUR,
        `${tier}: open ms`,
      )
      assert.deepStrictEqual(
        mine.filter((b) => b.bucketStart >= t0 + 24 * HOUR).map((b) => [b.bucketStart, b.states]),
        [[startOf(t0 + 30 * HOUR, WIDTH[tier]), { closed: { ms: 0, entries: 1, n: 1 } }]],
      )
    }
    assert.equal([...m.values()].filter((b) => b.tier === '1m' && b.field === 'contact').length, 24 * 60 + 2)
  })

  test('a string state named like an Object.prototype member keeps its own stats', () => {
    const m = foldAll([door(0, 'toString', 1), door(30_000, 'open', 1)])
    assert.deepStrictEqual(pick(m, '1m', 'contact', 0)?.states, { toString: { ms: 30_000, entries: 1, n: 1 }, open: { ms: 0, entries: 1, n: 1 } })
  })
})

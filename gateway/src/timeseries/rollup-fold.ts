import type { FieldValue } from '../core/reading.js'

/**
 * Local history tiers. Every tier is folded from the same stream of readings (not cascaded from the
 * tier below), so a 5m bucket equals the merge of its five 1m buckets exactly: count, sum, min and
 * max are associative, `last` is the value with the newest timestamp, durations add up. Buckets are
 * UTC-aligned (bucket_start = floor(ts / width) * width): no DST folds, no local midnight.
 */
export const TIERS = [
  { name: '1m', ms: 60_000 },
  { name: '5m', ms: 300_000 },
  { name: '1h', ms: 3_600_000 },
] as const
export type TierName = (typeof TIERS)[number]['name']

/**
 * A state held longer than this without a new reading is not attributed past it: a sensor that went
 * quiet for a week did not prove the door was closed all week (and a week of 1m buckets would be
 * 10,080 rows from one reading).
 */
export const MAX_STATE_HOLD_MS = 24 * 3_600_000

export interface StateStat {
  /** Milliseconds the series spent in this state inside the bucket. */
  ms: number
  /** Times the series entered this state inside the bucket. */
  entries: number
  /** Readings with this value inside the bucket (a motion sensor repeating `true` is still motion). */
  n: number
}

/** One rollup row (or a delta for one), for one field of one series in one bucket. */
export interface Bucket {
  readonly tier: TierName
  readonly deviceId: string
  readonly measurement: string
  readonly field: string
  readonly bucketStart: number
  count: number
  /** Numeric fields only (null when the bucket saw no number). */
  sum: number | null
  min: number | null
  max: number | null
  last: FieldValue | null
  lastTs: number | null
  /** Readings whose value differed from the series' previous value. */
  changes: number
  /** Boolean and string fields only: time in and entries into each state (keys are String(value)). */
  states: Record<string, StateStat> | null
  /** Readings of this field flagged as anomalous at ingest. */
  anomalies: number
}

/** What the fold remembers of a series between readings: its previous value and time. */
export interface SeriesMemory {
  readonly value: FieldValue
  readonly ts: number
}

export interface FoldInput {
  readonly deviceId: string
  readonly measurement: string
  readonly fields: Readonly<Record<string, FieldValue>>
  readonly ts: number
  /** Field names flagged anomalous at ingest. */
  readonly anomalies?: readonly string[]
}

export const seriesKey = (deviceId: string, measurement: string, field: string): string => `${deviceId}\u0000${measurement}\u0000${field}`

const bucketKey = (tier: TierName, series: string, start: number) => `${tier}\u0000${series}\u0000${start}`

export const bucketStartOf = (ts: number, widthMs: number): number => Math.floor(ts / widthMs) * widthMs

const isState = (v: FieldValue) => typeof v !== 'number'

function emptyBucket(tier: TierName, deviceId: string, measurement: string, field: string, bucketStart: number): Bucket {
  return {
    tier,
    deviceId,
    measurement,
    field,
    bucketStart,
    count: 0,
    sum: null,
    min: null,
    max: null,
    last: null,
    lastTs: null,
    changes: 0,
    states: null,
    anomalies: 0,
  }
}

/**
 * State names are device-supplied strings ("open", but also "constructor" or "__proto__"): they key a
 * prototype-less record, so no name can reach Object.prototype (found by the property test).
 */
export function stateRecord(from?: Readonly<Record<string, StateStat>>): Record<string, StateStat> {
  const out = Object.create(null) as Record<string, StateStat>
  if (from) for (const [k, v] of Object.entries(from)) out[k] = { ms: v.ms, entries: v.entries, n: v.n }
  return out
}

const addState = (b: Bucket, state: string, ms: number, entries: number, n: number) => {
  b.states ??= stateRecord()
  const s = b.states[state] ?? { ms: 0, entries: 0, n: 0 }
  s.ms += ms
  s.entries += entries
  s.n += n
  b.states[state] = s
}

/**
 * Merge delta `d` into `into` (same tier/series/bucket). Associative and commutative except for
 * `last`, which the newer timestamp wins (ties: the later merge, i.e. the later journal entry).
 */
export function mergeBucket(into: Bucket, d: Bucket): Bucket {
  into.count += d.count
  if (d.sum !== null) into.sum = (into.sum ?? 0) + d.sum
  if (d.min !== null) into.min = into.min === null ? d.min : Math.min(into.min, d.min)
  if (d.max !== null) into.max = into.max === null ? d.max : Math.max(into.max, d.max)
  if (d.lastTs !== null && (into.lastTs === null || d.lastTs >= into.lastTs)) {
    into.last = d.last
    into.lastTs = d.lastTs
  }
  into.changes += d.changes
  if (d.states) for (const [k, s] of Object.entries(d.states)) addState(into, k, s.ms, s.entries, s.n)
  into.anomalies += d.anomalies
  return into
}

/**
 * Accumulates readings (in journal order) into bucket deltas for every tier, in memory, until
 * drained. Pure: the caller persists the deltas (merging them into stored rows) and the series
 * memory in one transaction with its cursor, so a restart neither loses nor double-counts a reading.
 *
 * Semantics, per field of a series:
 * - numeric values: count, sum, min, max, last;
 * - boolean/string values: count, last, and per state the time spent in it — the interval from the
 *   previous reading to this one is attributed to the previous value, split across buckets (capped
 *   at MAX_STATE_HOLD_MS) — the number of entries into it and the readings with that value
 *   (out-of-order readings count in `n` but are never entries);
 * - changes: readings whose value differs from the previous one (any type);
 * - a reading older than the series' previous one (out of order) is counted, but neither changes
 *   the series memory nor attributes durations (time cannot run backwards inside a state).
 */
export class RollupFold {
  readonly #memory: (key: string) => SeriesMemory | undefined
  #deltas = new Map<string, Bucket>()
  #touched = new Map<string, SeriesMemory>()
  /**
   * Per series, the bucket each tier is filling: consecutive readings of a series nearly always land
   * in the same buckets, so this skips building three map keys per field per reading (the fold was
   * a third of the gateway's CPU per message at the ingest ceiling before it).
   */
  #current = new Map<string, Array<Bucket | undefined>>()

  /** `memory` answers the remembered previous value of a series not yet seen by this fold. */
  constructor(memory: (key: string) => SeriesMemory | undefined) {
    this.#memory = memory
  }

  get pendingBuckets(): number {
    return this.#deltas.size
  }

  add(r: FoldInput): void {
    for (const [field, value] of Object.entries(r.fields)) {
      const key = seriesKey(r.deviceId, r.measurement, field)
      const prev = this.#touched.get(key) ?? this.#memory(key)
      const inOrder = prev === undefined || r.ts >= prev.ts
      const anomalous = r.anomalies?.includes(field) === true
      const changed = prev !== undefined && inOrder && prev.value !== value
      for (let i = 0; i < TIERS.length; i++) {
        const tier = TIERS[i] as (typeof TIERS)[number]
        const b = this.#currentBucket(i, tier.name, r, field, key, bucketStartOf(r.ts, tier.ms))
        b.count += 1
        if (typeof value === 'number') {
          b.sum = (b.sum ?? 0) + value
          b.min = b.min === null ? value : Math.min(b.min, value)
          b.max = b.max === null ? value : Math.max(b.max, value)
        }
        if (b.lastTs === null || r.ts >= b.lastTs) {
          b.last = value
          b.lastTs = r.ts
        }
        if (changed) b.changes += 1
        if (anomalous) b.anomalies += 1
        if (isState(value)) addState(b, String(value), 0, inOrder && (prev === undefined || prev.value !== value) ? 1 : 0, 1)
        if (prev !== undefined && inOrder && isState(prev.value)) this.#attribute(tier.name, tier.ms, r, field, key, prev)
      }
      if (inOrder) this.#touched.set(key, { value, ts: r.ts })
    }
  }

  /** The accumulated deltas and the series memory they leave behind; the fold starts empty again. */
  drain(): { buckets: Bucket[]; memory: Map<string, SeriesMemory> } {
    const out = { buckets: [...this.#deltas.values()], memory: this.#touched }
    this.#deltas = new Map()
    this.#touched = new Map()
    this.#current = new Map()
    return out
  }

  /** Attribute [prev.ts, r.ts) to prev's state, bucket by bucket. */
  #attribute(tier: TierName, width: number, r: FoldInput, field: string, key: string, prev: SeriesMemory): void {
    const end = Math.min(r.ts, prev.ts + MAX_STATE_HOLD_MS)
    for (let start = prev.ts; start < end; ) {
      const bucketStart = bucketStartOf(start, width)
      const stop = Math.min(end, bucketStart + width)
      addState(this.#bucket(tier, r, field, key, bucketStart), String(prev.value), stop - start, 0, 0)
      start = stop
    }
  }

  #currentBucket(tierIndex: number, tier: TierName, r: FoldInput, field: string, series: string, start: number): Bucket {
    let slots = this.#current.get(series)
    if (!slots) {
      slots = []
      this.#current.set(series, slots)
    }
    const cached = slots[tierIndex]
    if (cached !== undefined && cached.bucketStart === start) return cached
    const b = this.#bucket(tier, r, field, series, start)
    slots[tierIndex] = b
    return b
  }

  #bucket(tier: TierName, r: FoldInput, field: string, series: string, start: number): Bucket {
    const k = bucketKey(tier, series, start)
    let b = this.#deltas.get(k)
    if (!b) {
      b = emptyBucket(tier, r.deviceId, r.measurement, field, start)
      this.#deltas.set(k, b)
    }
    return b
  }
}

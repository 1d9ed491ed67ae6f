import type { FieldValue } from '../core/reading.js'

export interface AnomalySettings {
  /** Recent values per series the test compares against. */
  readonly window: number
  /** Values needed before anything is flagged. */
  readonly minSamples: number
  /** Distance from the mean, in standard deviations, beyond which a value is flagged. */
  readonly sigmas: number
}

/** The recent values of one numeric series: a ring buffer with running sums (O(1) per value). */
class Window {
  readonly #values: Float64Array
  #next = 0
  #size = 0
  #sum = 0
  #sumSq = 0
  #sinceExact = 0

  constructor(capacity: number) {
    this.#values = new Float64Array(capacity)
  }

  get size(): number {
    return this.#size
  }

  push(v: number): void {
    if (this.#size === this.#values.length) {
      const old = this.#values[this.#next] as number
      this.#sum -= old
      this.#sumSq -= old * old
    } else this.#size++
    this.#values[this.#next] = v
    this.#next = (this.#next + 1) % this.#values.length
    this.#sum += v
    this.#sumSq += v * v
    // Running sums drift with cancellation; recompute them exactly once per window length.
    if (++this.#sinceExact >= this.#values.length) this.#recompute()
  }

  /**
   * Whether `v` is more than `sigmas` standard deviations from the mean, the deviation floored at 1 %
   * of |mean| (no object per call: this runs for every numeric field of every reading).
   */
  isOutlier(v: number, sigmas: number): boolean {
    const mean = this.#sum / this.#size
    const sd = Math.sqrt(Math.max(0, this.#sumSq / this.#size - mean * mean))
    return Math.abs(v - mean) > sigmas * Math.max(sd, 0.01 * Math.abs(mean), 1e-9)
  }

  #recompute(): void {
    this.#sinceExact = 0
    this.#sum = 0
    this.#sumSq = 0
    for (let i = 0; i < this.#size; i++) {
      const v = this.#values[i] as number
      this.#sum += v
      this.#sumSq += v * v
    }
  }
}

/**
 * Flags numeric values far from their series' recent behaviour (the seed's risk list: "3σ or IQR
 * over a rolling window"): |x − mean| > sigmas × sd over the last `window` values, once
 * `minSamples` are known. The standard deviation has a floor of 1 % of |mean| so a series that was
 * constant does not flag its first tiny wobble (a thermostat at 21.0 °C reading 21.1 °C). A flagged
 * value still joins the window, so a genuine level shift stops being flagged after a while.
 *
 * Pure logic: the caller supplies, once per series, its recent history (`seed`) from the journal so
 * a restart does not start every series blind.
 */
export class AnomalyDetector {
  readonly #s: AnomalySettings
  readonly #seed: (deviceId: string, measurement: string) => ReadonlyArray<Readonly<Record<string, FieldValue>>>
  /**
   * Per device and measurement, per field: one key built per reading, not one per field (bench W3
   * profile: the per-field keys and their hashing were most of this class's 5 % of the event loop).
   */
  readonly #bySeries = new Map<string, Map<string, Window>>()
  #windows = 0

  constructor(settings: AnomalySettings, seed: (deviceId: string, measurement: string) => ReadonlyArray<Readonly<Record<string, FieldValue>>>) {
    this.#s = settings
    this.#seed = seed
  }

  /** The names of the reading's numeric fields that are anomalous; every numeric value joins its window. */
  check(deviceId: string, measurement: string, fields: Readonly<Record<string, FieldValue>>): readonly string[] {
    let flagged: string[] | undefined
    const windows = this.#series(deviceId, measurement)
    for (const field in fields) {
      const value = fields[field]
      if (typeof value !== 'number') continue
      const w = this.#window(windows, field)
      if (w.size >= this.#s.minSamples && w.isOutlier(value, this.#s.sigmas)) {
        flagged ??= []
        flagged.push(field)
      }
      w.push(value)
    }
    return flagged ?? NONE
  }

  /** Series tracked (memory is window × 8 bytes each). */
  get series(): number {
    return this.#windows
  }

  /** The windows of one device's measurement, seeded from its recent history the first time. */
  #series(deviceId: string, measurement: string): Map<string, Window> {
    const key = `${deviceId}\u0000${measurement}`
    let windows = this.#bySeries.get(key)
    if (windows) return windows
    windows = new Map()
    this.#bySeries.set(key, windows)
    for (const fields of this.#seed(deviceId, measurement)) {
      for (const field in fields) {
        const value = fields[field]
        if (typeof value === 'number') this.#window(windows, field).push(value)
      }
    }
    return windows
  }

  #window(windows: Map<string, Window>, field: string): Window {
    let w = windows.get(field)
    if (!w) {
      w = new Window(this.#s.window)
      windows.set(field, w)
      this.#windows++
    }
    return w
  }
}

const NONE: readonly string[] = Object.freeze([])

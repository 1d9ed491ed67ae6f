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

  stats(): { mean: number; sd: number } {
    const mean = this.#sum / this.#size
    return { mean, sd: Math.sqrt(Math.max(0, this.#sumSq / this.#size - mean * mean)) }
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
  readonly #windows = new Map<string, Window>()
  readonly #seeded = new Set<string>()

  constructor(settings: AnomalySettings, seed: (deviceId: string, measurement: string) => ReadonlyArray<Readonly<Record<string, FieldValue>>>) {
    this.#s = settings
    this.#seed = seed
  }

  /** The names of the reading's numeric fields that are anomalous; every numeric value joins its window. */
  check(deviceId: string, measurement: string, fields: Readonly<Record<string, FieldValue>>): string[] {
    const flagged: string[] = []
    this.#ensureSeeded(deviceId, measurement)
    for (const [field, value] of Object.entries(fields)) {
      if (typeof value !== 'number') continue
      const w = this.#window(`${deviceId}\u0000${measurement}\u0000${field}`)
      if (w.size >= this.#s.minSamples) {
        const { mean, sd } = w.stats()
        const floor = Math.max(0.01 * Math.abs(mean), 1e-9)
        if (Math.abs(value - mean) > this.#s.sigmas * Math.max(sd, floor)) flagged.push(field)
      }
      w.push(value)
    }
    return flagged
  }

  /** Series tracked (memory is window × 8 bytes each). */
  get series(): number {
    return this.#windows.size
  }

  #ensureSeeded(deviceId: string, measurement: string): void {
    const key = `${deviceId}\u0000${measurement}`
    if (this.#seeded.has(key)) return
    this.#seeded.add(key)
    for (const fields of this.#seed(deviceId, measurement)) {
      for (const [field, value] of Object.entries(fields)) {
        if (typeof value === 'number') this.#window(`${key}\u0000${field}`).push(value)
      }
    }
  }

  #window(key: string): Window {
    let w = this.#windows.get(key)
    if (!w) {
      w = new Window(this.#s.window)
      this.#windows.set(key, w)
    }
    return w
  }
}

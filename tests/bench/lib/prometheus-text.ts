// Reading the gateway's own view from two /metrics scrapes: counters as deltas, histograms as the
// bucket bound below which a quantile of the window's observations fell.

export type Scrape = ReadonlyMap<string, number>

/** `name{labels}` → value, for every sample line. */
export function parseScrape(text: string): Scrape {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

/** A sample's value (0 when absent: a labelled counter has no sample before its first increment). */
export function sample(s: Scrape, key: string): number {
  return s.get(key) ?? 0
}

/** Sum of every sample of `name` whatever its labels. */
export function sum(s: Scrape, name: string): number {
  let total = 0
  for (const [k, v] of s) if (k === name || k.startsWith(`${name}{`)) total += v
  return total
}

/**
 * The upper bound (in the metric's unit) of the bucket holding quantile q of the observations made
 * between two scrapes; null when nothing was observed, Infinity past the last bound.
 */
export function histogramQuantile(before: Scrape, after: Scrape, name: string, q: number): number | null {
  const buckets = bucketDeltas(before, after, name)
  const total = buckets.at(-1)?.n ?? 0
  if (total <= 0) return null
  return buckets.find((b) => b.n >= q * total)?.le ?? null
}

/** How many observations between two scrapes were above `bound` (one of the histogram's bucket bounds). */
export function histogramAbove(before: Scrape, after: Scrape, name: string, bound: number): number | null {
  const buckets = bucketDeltas(before, after, name)
  const at = buckets.find((b) => b.le === bound)
  return at ? (buckets.at(-1)?.n ?? 0) - at.n : null
}

/** A histogram's cumulative buckets over the window, by upper bound (+Inf last). */
function bucketDeltas(before: Scrape, after: Scrape, name: string): Array<{ le: number; n: number }> {
  const buckets: Array<{ le: number; n: number }> = []
  for (const [k, v] of after) {
    const m = new RegExp(`^${name}_bucket\\{(?:.*,)?le="([^"]+)"`).exec(k)
    if (!m) continue
    buckets.push({ le: m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), n: v - (before.get(k) ?? 0) })
  }
  return buckets.sort((a, b) => a.le - b.le)
}

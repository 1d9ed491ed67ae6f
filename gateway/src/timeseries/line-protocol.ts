import type { JournalEntry } from '../store/journal.js'

/**
 * InfluxDB line protocol (https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/),
 * millisecond precision. A point's identity is measurement + tag set + timestamp, so a replayed
 * journal entry produces the same point and overwrites itself — that is what makes forwarding
 * "exactly once in effect". The tags therefore come only from the journal entry (device, source and
 * the tags the device sent), never from mutable metadata such as the device's room.
 *
 * Numbers are always written as floats: an integer-looking value ("21") without the `i` suffix is a
 * float to InfluxDB, so a field never flips type between readings (a type conflict is a 400).
 */
const MEASUREMENT_SPECIAL = /[, \\]/g
const KEY_SPECIAL = /[,= \\]/g
const backslash = (c: string) => `\\${c}`

/**
 * Escaped names, cached: measurements, tag keys, field keys and device ids are a small, repeating set,
 * and escaping each one per point cost more than the rest of the line (measured: 20 ms per 5,000
 * points uncached). Bounded, so a device inventing names cannot grow it without limit.
 */
class EscapeCache {
  readonly #map = new Map<string, string>()
  readonly #escape: (s: string) => string
  constructor(escaper: (s: string) => string) {
    this.#escape = escaper
  }
  get(s: string): string {
    let e = this.#map.get(s)
    if (e === undefined) {
      if (this.#map.size >= 10_000) this.#map.clear()
      e = this.#escape(s)
      this.#map.set(s, e)
    }
    return e
  }
}
const measurements = new EscapeCache((s) => s.replace(MEASUREMENT_SPECIAL, backslash))
const keys = new EscapeCache((s) => s.replace(KEY_SPECIAL, backslash))
// Line protocol has no escape for a newline in a tag value and an empty one is invalid (left out).
const tagValues = new EscapeCache((s) => s.replace(/[\r\n]+/g, ' ').replace(KEY_SPECIAL, backslash))
// …nor in a string field; written as the two characters \n so the point stays on its line.
const escapeString = (s: string) => `"${s.replace(/[\\"]/g, backslash).replace(/\r?\n/g, '\\n')}"`

export function toLine(e: JournalEntry): string | null {
  let line = measurements.get(e.measurement)
  const own = Object.keys(e.tags)
  if (own.length === 0) {
    // The common case: device and source only, already in key order.
    line += `,device=${tagValues.get(e.deviceId)},source=${e.source}`
  } else {
    const tags: Record<string, string> = { ...e.tags, device: e.deviceId, source: e.source }
    for (const key of Object.keys(tags).sort()) {
      const value = tags[key] as string
      if (value !== '' && key !== '') line += `,${keys.get(key)}=${tagValues.get(value)}`
    }
  }
  let fields = ''
  for (const key in e.fields) {
    const value = e.fields[key] as number | boolean | string
    const v = typeof value === 'string' ? escapeString(value) : String(value)
    fields += `${fields ? ',' : ''}${keys.get(key)}=${v}`
  }
  // A point needs at least one field; the journal never holds such an entry, but be safe.
  if (!fields) return null
  return `${line} ${fields} ${e.ts}`
}

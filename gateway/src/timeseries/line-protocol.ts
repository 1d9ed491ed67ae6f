import type { JournalEntry } from '../store/journal-reads.js'

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
  const fields = fieldSet(e.fields)
  // A point needs at least one field; the journal never holds such an entry, but be safe.
  return fields ? `${lineHead(e.measurement, e.deviceId, e.source, e.tags)} ${fields} ${e.ts}` : null
}

/** Measurement and tag set: the device id and source from the journal, then the device's own tags, sorted. */
function lineHead(measurement: string, deviceId: string, source: string, tags: Readonly<Record<string, string>>): string {
  let line = measurements.get(measurement)
  const own = Object.keys(tags)
  if (own.length === 0) {
    // The common case: device and source only, already in key order.
    return `${line},device=${tagValues.get(deviceId)},source=${source}`
  }
  const all: Record<string, string> = { ...tags, device: deviceId, source }
  for (const key of Object.keys(all).sort()) {
    const value = all[key] as string
    if (value !== '' && key !== '') line += `,${keys.get(key)}=${tagValues.get(value)}`
  }
  return line
}

function fieldSet(values: Readonly<Record<string, number | boolean | string>>): string {
  let fields = ''
  for (const key in values) {
    const value = values[key] as number | boolean | string
    const v = typeof value === 'string' ? escapeString(value) : String(value)
    fields += `${fields ? ',' : ''}${keys.get(key)}=${v}`
  }
  return fields
}

/** A journal row as the forwarder reads it: an array, not an object, and fields and tags still JSON text. */
export type JournalLineRow = readonly [seq: number, deviceId: string, measurement: string, fields: string, tags: string, ts: number, source: string]

/**
 * Fields JSON that is already its own line protocol, but for the quotes around the keys: plain keys
 * (nothing to escape in either syntax) and number or boolean values. The journal's JSON comes from
 * JSON.stringify, so its keys are in the order JSON.parse gives them back, and each number is the
 * text String() gives for it, which is a valid line-protocol float.
 */
const PLAIN_FIELDS = /^\{(?:"[\w.-]+":(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false)(?:,(?!\})|(?=\})))+\}$/
const QUOTED_KEY = /"([^"]*)":/g

/**
 * Journal rows to lines without parsing them into entries: the forwarder's cost per point during a
 * catch-up. A row's measurement and tag set repeat for every reading of its series, so each is
 * built once and kept (bounded); plain fields are rewritten from their JSON text. Anything else
 * (strings, keys to escape) goes through toLine. Same line as toLine(entry) either way
 * (line-protocol.test.ts), so a replay still overwrites its point.
 */
export class LineEncoder {
  readonly #heads = new Map<string, string>()

  encode(row: JournalLineRow): string | null {
    const [, deviceId, measurement, fields, tags, ts, source] = row
    const key = `${measurement}\u0000${deviceId}\u0000${source}\u0000${tags}`
    let head = this.#heads.get(key)
    if (head === undefined) {
      if (this.#heads.size >= 10_000) this.#heads.clear()
      head = lineHead(measurement, deviceId, source, tags === '{}' ? {} : (JSON.parse(tags) as Record<string, string>))
      this.#heads.set(key, head)
    }
    if (PLAIN_FIELDS.test(fields)) return `${head} ${fields.slice(1, -1).replace(QUOTED_KEY, '$1=')} ${ts}`
    const set = fieldSet(JSON.parse(fields) as Record<string, number | boolean | string>)
    return set ? `${head} ${set} ${ts}` : null
  }
}

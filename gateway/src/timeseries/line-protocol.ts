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
const escapeMeasurement = (s: string) => s.replace(/[, \\]/g, (c) => `\\${c}`)
const escapeKey = (s: string) => s.replace(/[,= \\]/g, (c) => `\\${c}`)
// Line protocol has no escape for a newline in a string field; it would end the line (and the point).
const escapeString = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\r?\n/g, '\\n')}"`
// …nor in a tag value, and an empty tag value is invalid: such a tag is left out.
const escapeTagValue = (s: string) => s.replace(/[\r\n]+/g, ' ').replace(/[,= \\]/g, (c) => `\\${c}`)

export function toLine(e: JournalEntry): string | null {
  const tags: Record<string, string> = { ...e.tags, device: e.deviceId, source: e.source }
  let line = escapeMeasurement(e.measurement)
  for (const key of Object.keys(tags).sort()) {
    const value = tags[key] as string
    if (value !== '' && key !== '') line += `,${escapeKey(key)}=${escapeTagValue(value)}`
  }
  let fields = ''
  for (const [key, value] of Object.entries(e.fields)) {
    const v = typeof value === 'number' ? String(value) : typeof value === 'boolean' ? String(value) : escapeString(value)
    fields += `${fields ? ',' : ''}${escapeKey(key)}=${v}`
  }
  // A point needs at least one field; the journal never holds such an entry, but be safe.
  if (!fields) return null
  return `${line} ${fields} ${e.ts}`
}

import { z } from 'zod'
import type { FieldValue, NormalizeResult, Rejection, RejectReason } from '../core/reading.js'
import { fastFields, fieldsSchema, isPlainObject } from './measurements.js'

/**
 * MQTT payload → Reading (pure: no I/O, no clock — receivedAt comes in). CONTRACT payload:
 * `{ "ts": <ISO-8601 string | epoch ms>, "fields": {…}, "tags": {…} }`, `ts` optional (then the
 * receive time is used and the reading flagged).
 */
export interface NormalizeLimits {
  readonly maxPayloadBytes: number
  /** A timestamp further ahead of the receive time is refused (device clock wrong). */
  readonly maxFutureMs: number
  /** A timestamp older than this is refused (buffered readings from a long outage are fine up to it). */
  readonly maxPastMs: number
}

export const DEFAULT_LIMITS: NormalizeLimits = { maxPayloadBytes: 16 * 1024, maxFutureMs: 5 * 60_000, maxPastMs: 30 * 86_400_000 }

/** 2020-01-01: an ESP32 whose clock was never set by SNTP reports 1970. */
const EARLIEST_PLAUSIBLE = Date.UTC(2020, 0, 1)

const TAG_NAME = /^[a-z][a-z0-9_]{0,31}$/
const MAX_TAGS = 16
const MAX_TAG_VALUE = 128
const MAX_TS_TEXT = 40

const Envelope = z.strictObject({
  ts: z.union([z.string().max(MAX_TS_TEXT), z.number()]).optional(),
  fields: z.record(z.string(), z.unknown()),
  tags: z
    .record(z.string().regex(TAG_NAME, { error: 'tag names are lowercase letters, digits and "_"' }), z.string().max(MAX_TAG_VALUE))
    .refine((t) => Object.keys(t).length <= MAX_TAGS, { error: `at most ${MAX_TAGS} tags` })
    .optional(),
})

export interface Checked {
  readonly ts: string | number | undefined
  readonly fields: Record<string, FieldValue>
  readonly tags: Record<string, string>
}

const decoder = new TextDecoder('utf-8', { fatal: true })

export function normalizeMqttReading(
  input: { readonly deviceId: string; readonly measurement: string; readonly payload: Uint8Array; readonly receivedAt: number },
  limits: NormalizeLimits = DEFAULT_LIMITS,
): NormalizeResult {
  const reject = (reason: RejectReason, detail: string): NormalizeResult => ({ ok: false, rejection: { reason, detail } })
  if (input.payload.byteLength > limits.maxPayloadBytes) {
    return reject('payload_too_large', `payload is ${input.payload.byteLength} bytes; at most ${limits.maxPayloadBytes} are accepted`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(input.payload))
  } catch (err) {
    return reject('not_json', `payload is not UTF-8 JSON (${(err as Error).message})`)
  }
  const checked = fastCheck(parsed, input.measurement) ?? zodCheck(parsed, input.measurement)
  if ('reason' in checked) return { ok: false, rejection: checked }

  const ts = resolveTimestamp(checked.ts, input.receivedAt, limits)
  if (!ts.ok) return reject(ts.reason, ts.detail)
  return {
    ok: true,
    reading: {
      deviceId: input.deviceId,
      measurement: input.measurement,
      fields: checked.fields,
      tags: checked.tags,
      ts: ts.value,
      tsFromReceipt: checked.ts === undefined,
      receivedAt: input.receivedAt,
      source: 'mqtt',
    },
  }
}

/** The envelope and fields checked by zod: the authority, and the words of every refusal. */
export function zodCheck(parsed: unknown, measurement: string): Checked | Rejection {
  const envelope = Envelope.safeParse(parsed)
  if (!envelope.success) return { reason: 'schema', detail: describe(envelope.error) }
  const fields = fieldsSchema(measurement).safeParse(envelope.data.fields)
  if (!fields.success) return { reason: 'measurement_schema', detail: `${measurement}: ${describe(fields.error, 'fields')}` }
  return { ts: envelope.data.ts, fields: stripUndefined(fields.data), tags: envelope.data.tags ?? {} }
}

/**
 * What zodCheck would return for a valid payload, or null for "ask zod" (measurements.ts says why:
 * zod's parse cost ~9 % of the main thread at saturation, and nearly every payload is fine).
 */
export function fastCheck(parsed: unknown, measurement: string): Checked | null {
  if (!isPlainObject(parsed)) return null
  for (const k of Object.keys(parsed)) if (k !== 'ts' && k !== 'fields' && k !== 'tags') return null
  const { ts, tags } = parsed
  if (!(ts === undefined || typeof ts === 'number' || (typeof ts === 'string' && ts.length <= MAX_TS_TEXT))) return null
  if (tags !== undefined && !validTags(tags)) return null
  const fields = fastFields(measurement, parsed.fields)
  if (fields === null) return null
  return { ts, fields, tags: (tags as Record<string, string> | undefined) ?? {} }
}

function validTags(tags: unknown): boolean {
  if (!isPlainObject(tags)) return false
  const keys = Object.keys(tags)
  if (keys.length > MAX_TAGS) return false
  for (const k of keys) {
    const v = tags[k]
    if (!TAG_NAME.test(k) || typeof v !== 'string' || v.length > MAX_TAG_VALUE) return false
  }
  return true
}

type TsResult = { ok: true; value: number } | { ok: false; reason: RejectReason; detail: string }

export function resolveTimestamp(ts: string | number | undefined, receivedAt: number, limits: NormalizeLimits): TsResult {
  if (ts === undefined) return { ok: true, value: receivedAt }
  let value: number
  if (typeof ts === 'number') {
    if (!Number.isInteger(ts)) return { ok: false, reason: 'ts_invalid', detail: `ts ${ts}: epoch milliseconds must be an integer` }
    if (ts > 0 && ts < 1e11) return { ok: false, reason: 'ts_invalid', detail: `ts ${ts} looks like epoch seconds; send milliseconds` }
    value = ts
  } else {
    // ISO-8601 with a date, a time and a zone (Z or ±hh:mm): a zone-less time is ambiguous.
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(ts)) {
      return { ok: false, reason: 'ts_invalid', detail: `ts "${ts}": expected ISO-8601 with a time zone, e.g. 2026-11-27T10:00:00Z` }
    }
    value = Date.parse(ts)
    if (Number.isNaN(value) || !isRealCalendarDate(ts)) return { ok: false, reason: 'ts_invalid', detail: `ts "${ts}" is not a real date` }
  }
  if (value < EARLIEST_PLAUSIBLE)
    return { ok: false, reason: 'ts_invalid', detail: `ts ${iso(value)} is before 2020: is the device clock set (SNTP)?` }
  if (value - receivedAt > limits.maxFutureMs) {
    return {
      ok: false,
      reason: 'ts_future',
      detail: `ts ${iso(value)} is ${Math.round((value - receivedAt) / 1000)} s ahead of the gateway clock`,
    }
  }
  if (receivedAt - value > limits.maxPastMs) {
    return {
      ok: false,
      reason: 'ts_too_old',
      detail: `ts ${iso(value)} is older than the ${Math.round(limits.maxPastMs / 86_400_000)} days accepted`,
    }
  }
  return { ok: true, value }
}

/** Date.parse rolls 2031-02-30 over to March 2: refuse a day the month does not have. */
function isRealCalendarDate(ts: string): boolean {
  const [y, m, d] = ts.slice(0, 10).split('-').map(Number) as [number, number, number]
  const date = new Date(Date.UTC(y, m - 1, d))
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d
}

/** ISO text for messages; numbers beyond what a Date can hold (±8.64e15 ms) must not throw here. */
function iso(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms`
}

function describe(error: z.ZodError, prefix?: string): string {
  return error.issues
    .slice(0, 3)
    .map((i) => {
      const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.')
      return path ? `${path}: ${i.message}` : i.message
    })
    .join('; ')
}

function stripUndefined(fields: Record<string, FieldValue | undefined>): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {}
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v
  return out
}

import { z } from 'zod'
import type { FieldValue } from '../core/reading.js'

/**
 * Field rules of the measurements CareHub understands (CONTRACT topic `care/{device_id}/{measurement}`).
 * Units are in the field names so a number never travels without its unit. Ranges are physical
 * plausibility bounds: a value outside them is a broken sensor, refused with a reason rather than
 * charted. Unknown measurements fall back to generic fields (GENERIC).
 *
 * Each rule is written once, as data, and read twice: as a zod schema (the authority, and the
 * source of every error message) and as a hand-written check (fastFields) that only ever says
 * "valid, here are the fields" or "ask zod". At saturation zod's parse was ~9 % of the main
 * thread; readings that are fine — nearly all of them — no longer pay for it.
 */
type FieldRule =
  | { readonly type: 'number'; readonly min: number; readonly max: number }
  | { readonly type: 'boolean' }
  | { readonly type: 'string'; readonly maxLength: number }
  | { readonly type: 'enum'; readonly values: readonly [string, ...string[]] }

/** A fixed set of optional fields, at least one of `needsOneOf` present. */
interface FixedSpec {
  readonly kind: 'fixed'
  readonly fields: Readonly<Record<string, FieldRule>>
  readonly needsOneOf: readonly string[]
  readonly needsMessage: string
}

/** Free field names (FIELD_NAME), 1–32 of them, each value matching one of `values`. */
interface OpenSpec {
  readonly kind: 'open'
  readonly values: readonly FieldRule[]
  readonly keyMessage?: string
  readonly emptyMessage: string
}

type MeasurementSpec = FixedSpec | OpenSpec

const FIELD_NAME = /^[a-z][a-z0-9_]{0,63}$/
const MAX_FIELDS = 32

const num = (min: number, max: number): FieldRule => ({ type: 'number', min, max })
const bool: FieldRule = { type: 'boolean' }
const str = (maxLength: number): FieldRule => ({ type: 'string', maxLength })
const oneOf = (...values: [string, ...string[]]): FieldRule => ({ type: 'enum', values })

const SPECS = {
  climate: {
    kind: 'fixed',
    fields: {
      temp_c: num(-60, 100),
      humid_pct: num(0, 100),
      pressure_hpa: num(300, 1200),
      co2_ppm: num(0, 50_000),
      battery_pct: num(0, 100),
      rssi_dbm: num(-150, 0),
    },
    needsOneOf: ['temp_c', 'humid_pct', 'pressure_hpa', 'co2_ppm'],
    needsMessage: 'a climate reading needs at least one of temp_c, humid_pct, pressure_hpa, co2_ppm',
  },
  // Home Assistant reports voltage, current and power factor as entities of their own: any one
  // electrical quantity makes a power reading.
  power: {
    kind: 'fixed',
    fields: {
      power_w: num(-100_000, 100_000),
      energy_wh: num(0, 1e12),
      voltage_v: num(0, 1000),
      current_a: num(0, 1000),
      power_factor: num(-1, 1),
      rssi_dbm: num(-150, 0),
    },
    needsOneOf: ['power_w', 'energy_wh', 'voltage_v', 'current_a', 'power_factor'],
    needsMessage: 'a power reading needs one of power_w, energy_wh, voltage_v, current_a, power_factor',
  },
  state: { kind: 'open', values: [bool, str(64), num(-1e9, 1e9)], emptyMessage: 'a state reading needs at least one field' },
  event: {
    kind: 'fixed',
    fields: {
      door: oneOf('open', 'closed'),
      motion: bool,
      fall: bool,
      button: oneOf('single', 'double', 'long'),
      confidence: num(0, 1),
      battery_pct: num(0, 100),
    },
    needsOneOf: ['door', 'motion', 'fall', 'button'],
    needsMessage: 'an event needs one of door, motion, fall, button',
  },
} as const satisfies Record<string, MeasurementSpec>

export type KnownMeasurement = keyof typeof SPECS

/** Unknown measurements of a registered device: numbers, booleans and short strings, bounded. */
const GENERIC: OpenSpec = {
  kind: 'open',
  values: [num(-1e15, 1e15), bool, str(256)],
  keyMessage: 'field names are lowercase letters, digits and "_"',
  emptyMessage: 'fields must not be empty',
}

export function isKnownMeasurement(m: string): m is KnownMeasurement {
  return Object.hasOwn(SPECS, m)
}

/** The field names of a measurement with fixed fields (climate, power, event); [] for free ones. */
export function fixedFieldNames(measurement: KnownMeasurement): readonly string[] {
  const spec: MeasurementSpec = SPECS[measurement]
  return spec.kind === 'fixed' ? Object.keys(spec.fields) : []
}

const specOf = (measurement: string): MeasurementSpec => (isKnownMeasurement(measurement) ? SPECS[measurement] : GENERIC)

/** What a fields schema returns (zod leaves absent optional fields out, or undefined). */
type FieldsSchema = z.ZodType<Record<string, FieldValue | undefined>>

function ruleSchema(rule: FieldRule): z.ZodType {
  switch (rule.type) {
    case 'number':
      return z.number().finite().min(rule.min).max(rule.max)
    case 'boolean':
      return z.boolean()
    case 'string':
      return z.string().max(rule.maxLength)
    case 'enum':
      return z.enum(rule.values)
  }
}

function specSchema(spec: MeasurementSpec): FieldsSchema {
  if (spec.kind === 'fixed') {
    const shape = Object.fromEntries(Object.entries(spec.fields).map(([k, rule]) => [k, ruleSchema(rule).optional()]))
    return z.strictObject(shape).refine((f) => spec.needsOneOf.some((k) => f[k] !== undefined), { error: spec.needsMessage }) as FieldsSchema
  }
  const [first, ...rest] = spec.values.map(ruleSchema) as [z.ZodType, ...z.ZodType[]]
  return z
    .record(z.string().regex(FIELD_NAME, spec.keyMessage ? { error: spec.keyMessage } : undefined), rest.length ? z.union([first, ...rest]) : first)
    .refine((f) => Object.keys(f).length > 0, { error: spec.emptyMessage })
    .refine((f) => Object.keys(f).length <= MAX_FIELDS, { error: `at most ${MAX_FIELDS} fields per reading` }) as FieldsSchema
}

const SCHEMAS = new Map<MeasurementSpec, FieldsSchema>([...Object.values(SPECS), GENERIC].map((spec) => [spec, specSchema(spec)]))

/** The zod schema of a measurement's fields (unknown measurements: generic fields). */
export function fieldsSchema(measurement: string): FieldsSchema {
  return SCHEMAS.get(specOf(measurement)) as FieldsSchema
}

const passes = (rule: FieldRule, v: unknown): boolean => {
  switch (rule.type) {
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) && v >= rule.min && v <= rule.max
    case 'boolean':
      return typeof v === 'boolean'
    case 'string':
      return typeof v === 'string' && v.length <= rule.maxLength
    case 'enum':
      return typeof v === 'string' && rule.values.includes(v)
  }
}

/** A JSON object (what JSON.parse makes for `{…}`), not an array, null or anything exotic. */
export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype

/**
 * The fields as fieldsSchema(measurement) would return them, or null: "not sure, ask zod". Never
 * accepts what zod refuses (tests/unit/normalize/fast-fields.test.ts checks the two agree on
 * generated payloads). Key order matches zod's output: the spec's order for fixed fields, the
 * payload's for free ones — the journal stores the JSON text.
 */
export function fastFields(measurement: string, value: unknown): Record<string, FieldValue> | null {
  if (!isPlainObject(value)) return null
  const spec = specOf(measurement)
  const keys = Object.keys(value)
  if (spec.kind === 'open') {
    if (keys.length === 0 || keys.length > MAX_FIELDS) return null
    for (const k of keys) if (!FIELD_NAME.test(k) || !spec.values.some((rule) => passes(rule, value[k]))) return null
    return value as Record<string, FieldValue>
  }
  let needed = false
  for (const k of keys) {
    const rule = Object.hasOwn(spec.fields, k) ? spec.fields[k] : undefined
    if (rule === undefined || !passes(rule, value[k])) return null
    if (!needed && spec.needsOneOf.includes(k)) needed = true
  }
  if (!needed) return null
  const out: Record<string, FieldValue> = {}
  for (const k in spec.fields) if (Object.hasOwn(value, k)) out[k] = value[k] as FieldValue
  return out
}

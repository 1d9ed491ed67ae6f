import { z } from 'zod'

/**
 * Field schemas of the measurements CareHub understands (CONTRACT topic `care/{device_id}/{measurement}`).
 * Units are in the field names so a number never travels without its unit. Ranges are physical
 * plausibility bounds: a value outside them is a broken sensor, refused with a reason rather than
 * charted. Unknown measurements fall back to generic fields (see GENERIC_FIELDS).
 */
const FIELD_NAME = /^[a-z][a-z0-9_]{0,63}$/

const num = (min: number, max: number) => z.number().finite().min(min).max(max)

export const MEASUREMENT_SCHEMAS = {
  climate: z
    .strictObject({
      temp_c: num(-60, 100).optional(),
      humid_pct: num(0, 100).optional(),
      pressure_hpa: num(300, 1200).optional(),
      co2_ppm: num(0, 50_000).optional(),
      battery_pct: num(0, 100).optional(),
      rssi_dbm: num(-150, 0).optional(),
    })
    .refine((f) => Object.keys(f).some((k) => k !== 'battery_pct' && k !== 'rssi_dbm'), {
      error: 'a climate reading needs at least one of temp_c, humid_pct, pressure_hpa, co2_ppm',
    }),
  power: z
    .strictObject({
      power_w: num(-100_000, 100_000).optional(),
      energy_wh: num(0, 1e12).optional(),
      voltage_v: num(0, 1000).optional(),
      current_a: num(0, 1000).optional(),
      power_factor: num(-1, 1).optional(),
      rssi_dbm: num(-150, 0).optional(),
    })
    // Home Assistant reports voltage, current and power factor as entities of their own: any one
    // electrical quantity makes a power reading.
    .refine((f) => Object.keys(f).some((k) => k !== 'rssi_dbm'), {
      error: 'a power reading needs one of power_w, energy_wh, voltage_v, current_a, power_factor',
    }),
  state: z
    .record(z.string().regex(FIELD_NAME), z.union([z.boolean(), z.string().max(64), num(-1e9, 1e9)]))
    .refine((f) => Object.keys(f).length > 0, { error: 'a state reading needs at least one field' })
    .refine((f) => Object.keys(f).length <= 32, { error: 'at most 32 fields per reading' }),
  event: z
    .strictObject({
      door: z.enum(['open', 'closed']).optional(),
      motion: z.boolean().optional(),
      fall: z.boolean().optional(),
      button: z.enum(['single', 'double', 'long']).optional(),
      confidence: num(0, 1).optional(),
      battery_pct: num(0, 100).optional(),
    })
    .refine((f) => f.door !== undefined || f.motion !== undefined || f.fall !== undefined || f.button !== undefined, {
      error: 'an event needs one of door, motion, fall, button',
    }),
} as const

export type KnownMeasurement = keyof typeof MEASUREMENT_SCHEMAS

/** Unknown measurements of a registered device: numbers, booleans and short strings, bounded. */
export const GENERIC_FIELDS = z
  .record(
    z.string().regex(FIELD_NAME, { error: 'field names are lowercase letters, digits and "_"' }),
    z.union([num(-1e15, 1e15), z.boolean(), z.string().max(256)]),
  )
  .refine((f) => Object.keys(f).length > 0, { error: 'fields must not be empty' })
  .refine((f) => Object.keys(f).length <= 32, { error: 'at most 32 fields per reading' })

export function isKnownMeasurement(m: string): m is KnownMeasurement {
  return Object.hasOwn(MEASUREMENT_SCHEMAS, m)
}
